package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The rows a single goroutine runs (Seq, Pipeline, GetLarge) are measured
// by run.sh with every client in one process, taking turns.
//
// On a shared virtual machine a single caller's round trip drifts by 2-4x
// from one second to the next, as the hypervisor moves the vCPUs the
// client and the server run on; run as benchmarks, one process per client,
// the clients of a round are measured seconds apart, and the ratio between
// two of them scattered by ±30% or more from round to round. Taking turns
// of a few tens of milliseconds puts every client under the same drift:
// the turns of one round interleave, so each client's sum over them sees
// what its peers' sums saw.
//
// TestTurns runs when BENCH_TURNS_ROW names a row (e.g.
// Seq/op=get/net=unix). BENCH_TURNS_CLIENTS lists the clients (default:
// all), BENCH_TURNS the number of turns each takes (default 10), and
// BENCH_TURN how long a turn lasts (default 50ms). Before its first turn
// each client runs one turn's worth untimed, which also sizes its turns.
// The order of the clients rotates from turn to turn, and the heap is
// collected between turns, outside the timing, so no client pays for
// another's garbage. Each client's turns add up to one line in `go test
// -bench` format, with the metrics its benchmark reports, on stdout.
func TestTurns(t *testing.T) {
	row := os.Getenv("BENCH_TURNS_ROW")
	if row == "" {
		t.Skip("BENCH_TURNS_ROW is not set: run by run.sh")
	}
	names := strings.Fields(os.Getenv("BENCH_TURNS_CLIENTS"))
	if len(names) == 0 {
		names = clientNames
	}
	turns := envInt(t, "BENCH_TURNS", 10)
	turn := 50 * time.Millisecond
	if s := os.Getenv("BENCH_TURN"); s != "" {
		var err error
		if turn, err = time.ParseDuration(s); err != nil {
			t.Fatalf("BENCH_TURN: %v", err)
		}
	}
	w, err := parseRow(row)
	if err != nil {
		t.Fatal(err)
	}
	ws := make([]workload, len(names))
	for i, name := range names {
		ws[i] = w.prepare(t, name)
	}
	total := make([]turnTotal, len(names))
	for i := range ws {
		total[i].size = sizeTurn(t, ws[i], turn)
	}
	for k := 0; k < turns; k++ {
		for j := range names {
			i := (j + k) % len(names) // rotate, so no one always goes first
			runtime.GC()
			total[i].add(t, ws[i], total[i].size)
		}
	}
	for i, name := range names {
		fmt.Println(total[i].line(w, name))
	}
}

// A workload is one row's operation bound to one client: run does n of
// them, checking every reply.
type workload struct {
	kind string // Seq, Pipeline or GetLarge
	op   string // set, get or setget, for Seq
	net  string
	row  string
	run  func(ctx context.Context, n int) error
}

// parseRow reads a row's name: Seq/op=get/net=unix, Pipeline/size=100/net=tcp,
// GetLarge/size=1MiB/net=unix.
func parseRow(row string) (workload, error) {
	parts := strings.Split(row, "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "net=") {
		return workload{}, fmt.Errorf("row %q: want Workload/param=…/net=…", row)
	}
	w := workload{kind: parts[0], net: strings.TrimPrefix(parts[2], "net="), row: row}
	switch {
	case w.kind == "Seq" && strings.HasPrefix(parts[1], "op="):
		w.op = strings.TrimPrefix(parts[1], "op=")
		if w.op != "set" && w.op != "get" && w.op != "setget" {
			return workload{}, fmt.Errorf("row %q: unknown op %q", row, w.op)
		}
	case w.kind == "Pipeline" && parts[1] == fmt.Sprintf("size=%d", pipeSize):
	case w.kind == "GetLarge" && parts[1] == "size=1MiB":
	default:
		return workload{}, fmt.Errorf("row %q: not a single-caller row", row)
	}
	return w, nil
}

// prepare binds w to the client name, with its data loaded.
func (w workload) prepare(t *testing.T, name string) workload {
	c := getClient(t, name, standalone(t, w.net))
	ctx := context.Background()
	switch w.kind {
	case "Seq":
		loadKeys(t, c)
		w.run = func(ctx context.Context, n int) error { return seqOps(ctx, c, w.op, n) }
	case "Pipeline":
		loadKeys(t, c)
		batch := c.Pipeline(keys[:pipeSize])
		want := vals[:pipeSize]
		w.run = func(ctx context.Context, n int) error {
			for i := 0; i < n; i++ {
				if err := batch(ctx, want); err != nil {
					return err
				}
			}
			return nil
		}
	case "GetLarge":
		if err := c.Set(ctx, bigKey, bigVal); err != nil {
			t.Fatalf("SET %s: %v", bigKey, err)
		}
		var buf []byte
		w.run = func(ctx context.Context, n int) error {
			for i := 0; i < n; i++ {
				got, err := c.GetBytes(ctx, bigKey, buf)
				if err != nil || !bytes.Equal(got, bigBytes) {
					return fmt.Errorf("GET %s: %d bytes, %v; want the %d bytes set", bigKey, len(got), err, bigLen)
				}
				buf = got
			}
			return nil
		}
	}
	return w
}

// sizeTurn runs w untimed for about one turn and returns how many
// operations a turn has.
func sizeTurn(t *testing.T, w workload, turn time.Duration) int {
	ctx := context.Background()
	n := 0
	start := time.Now()
	for time.Since(start) < turn {
		if err := w.run(ctx, 1); err != nil {
			t.Fatalf("%s: %v", w.row, err)
		}
		n++
	}
	return n
}

// turnTotal adds up one client's turns.
type turnTotal struct {
	size               int // operations per turn
	ops                int
	wall, cpu          time.Duration
	allocs, allocBytes uint64
}

func (tt *turnTotal) add(t *testing.T, w workload, n int) {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	start := time.Now()
	err := w.run(context.Background(), n)
	wall := time.Since(start)
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatalf("%s: %v", w.row, err)
	}
	tt.ops += n
	tt.wall += wall
	tt.cpu += cpu
	tt.allocs += m1.Mallocs - m0.Mallocs
	tt.allocBytes += m1.TotalAlloc - m0.TotalAlloc
}

// line is the total as its benchmark would report it: per operation (a
// pipeline's cpu-ns/op per GET, as BenchmarkPipeline), with the rows'
// rates.
func (tt *turnTotal) line(w workload, name string) string {
	ops := float64(tt.ops)
	nsPerOp := float64(tt.wall.Nanoseconds()) / ops
	var b strings.Builder
	fmt.Fprintf(&b, "Benchmark%s/client=%s-%d\t%d\t%.0f ns/op", w.row, name, runtime.GOMAXPROCS(0), tt.ops, nsPerOp)
	switch w.kind {
	case "Seq":
		fmt.Fprintf(&b, "\t%.0f cpu-ns/op", float64(tt.cpu.Nanoseconds())/ops)
	case "Pipeline":
		fmt.Fprintf(&b, "\t%.0f cpu-ns/op\t%.0f gets/s", float64(tt.cpu.Nanoseconds())/(ops*pipeSize), ops*pipeSize/tt.wall.Seconds())
	case "GetLarge":
		fmt.Fprintf(&b, "\t%.2f MB/s", ops*bigLen/1e6/tt.wall.Seconds())
	}
	fmt.Fprintf(&b, "\t%.0f B/op\t%.0f allocs/op", float64(tt.allocBytes)/ops, float64(tt.allocs)/ops)
	return b.String()
}

func envInt(t *testing.T, key string, def int) int {
	s := os.Getenv(key)
	if s == "" {
		return def
	}
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", key, s)
	}
	return n
}

// Every row run.sh hands to TestTurns must parse; a row of many callers
// must not, so it is never measured one goroutine at a time.
func TestTurnsRows(t *testing.T) {
	for _, row := range []string{"Seq/op=set/net=tcp", "Seq/op=get/net=unix", "Seq/op=setget/net=tcp",
		fmt.Sprintf("Pipeline/size=%d/net=unix", pipeSize), "GetLarge/size=1MiB/net=tcp"} {
		if _, err := parseRow(row); err != nil {
			t.Errorf("%s: %v", row, err)
		}
	}
	for _, row := range []string{"ParallelGet/conc=32/net=tcp", "Seq/op=del/net=tcp", "Seq/op=get", "CacheHit/conc=1/net=tcp"} {
		if _, err := parseRow(row); err == nil {
			t.Errorf("%s: parsed", row)
		}
	}
}
