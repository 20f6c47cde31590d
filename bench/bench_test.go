package bench

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Names are BenchmarkWorkload/param=…/net=…/client=…, three levels for every
// workload, so `-bench '.*/.*/.*/client=rueidis$'` picks one client everywhere and
// benchstat can put clients side by side (`benchstat -col /client`).

var nets = []string{"tcp", "unix"}

// BenchmarkSeq: one goroutine, one command at a time: latency, B/op and
// allocs/op of SET, of GET, and of a SET then a GET (op=setget, one op is
// the pair) of a 16-byte value.
func BenchmarkSeq(b *testing.B) {
	for _, op := range []string{"set", "get", "setget"} {
		for _, net := range nets {
			for _, name := range clientNames {
				b.Run(fmt.Sprintf("op=%s/net=%s/client=%s", op, net, name), func(b *testing.B) {
					c := getClient(b, name, standalone(b, net))
					loadKeys(b, c)
					benchSeq(b, c, op)
				})
			}
		}
	}
}

func benchSeq(b *testing.B, c client, op string) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	if err := seqOps(ctx, c, op, b.N); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// seqOps runs n of op (set, get or setget) over the data set, one after
// another, checking every reply.
func seqOps(ctx context.Context, c client, op string, n int) error {
	for i := 0; i < n; i++ {
		k := i % numKeys
		if op != "get" {
			if err := c.Set(ctx, keys[k], vals[k]); err != nil {
				return fmt.Errorf("SET %s: %w", keys[k], err)
			}
		}
		if op != "set" {
			v, err := c.Get(ctx, keys[k])
			if err != nil || v != vals[k] {
				return fmt.Errorf("GET %s: got %q, %v; want %q", keys[k], v, err, vals[k])
			}
		}
	}
	return nil
}

// BenchmarkParallelGet: conc goroutines (b.SetParallelism(conc/GOMAXPROCS);
// run with -cpu 2) doing GETs of 16-byte values on one shared client.
// Reports gets/s and cpu-ns/op: the benchmark process's CPU time
// (getrusage user+sys) per GET. The server is another process, so its CPU
// is not included.
func BenchmarkParallelGet(b *testing.B) {
	for _, conc := range []int{32, 64} {
		for _, net := range nets {
			for _, name := range clientNames {
				b.Run(fmt.Sprintf("conc=%d/net=%s/client=%s", conc, net, name), func(b *testing.B) {
					c := getClient(b, name, standalone(b, net))
					loadKeys(b, c)
					benchParallel(b, c, conc, "get")
				})
			}
		}
	}
}

// clusterConc is the number of goroutines in the cluster rows: enough to
// keep 15 masters busy at once.
const clusterConc = 64

// BenchmarkClusterParallelGet is BenchmarkParallelGet at conc=64 against
// clusters of 3 and 15 masters with no replicas; the 100 keys spread over
// all masters (every master holds some). Only the clients with a cluster
// client of the same kind take part: justredis, go-redis and rueidis.
func BenchmarkClusterParallelGet(b *testing.B) {
	benchCluster(b, "get")
}

// BenchmarkClusterParallelSet is BenchmarkClusterParallelGet with SETs of
// the same 16-byte values (so concurrent GETs elsewhere stay right);
// reports sets/s and cpu-ns/op.
func BenchmarkClusterParallelSet(b *testing.B) {
	benchCluster(b, "set")
}

func benchCluster(b *testing.B, op string) {
	for _, masters := range clusterSizes {
		for _, name := range clientNames {
			if !supportsCluster(name) {
				continue
			}
			b.Run(fmt.Sprintf("masters=%d/net=tcp/client=%s", masters, name), func(b *testing.B) {
				c := getClient(b, name, clusterTarget(b, masters))
				loadKeys(b, c)
				benchParallel(b, c, clusterConc, op)
			})
		}
	}
}

// benchParallel runs op ("get" or "set") from conc goroutines sharing c and
// reports the rate (gets/s or sets/s) and the client's CPU per op.
func benchParallel(b *testing.B, c client, conc int, op string) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((conc + procs - 1) / procs)
	warmUp(b, c, conc)

	var (
		start  atomic.Int64
		failed atomic.Bool
	)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		i := int(start.Add(37)) // each goroutine starts elsewhere in the key set
		for pb.Next() {
			k := i % numKeys
			i++
			if err := parallelOp(ctx, c, op, k); err != nil {
				if failed.CompareAndSwap(false, true) {
					b.Error(err)
				}
				return
			}
		}
	})
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), op+"s/s")
}

// parallelOp does one GET or SET of key k and checks its reply.
func parallelOp(ctx context.Context, c client, op string, k int) error {
	if op == "set" {
		if err := c.Set(ctx, keys[k], vals[k]); err != nil {
			return fmt.Errorf("SET %s: %w", keys[k], err)
		}
		return nil
	}
	v, err := c.Get(ctx, keys[k])
	if err != nil || v != vals[k] {
		return fmt.Errorf("GET %s: got %q, %v; want %q", keys[k], v, err, vals[k])
	}
	return nil
}

// warmUp makes conc concurrent GETs a few times, so a pool that dials
// lazily has its connections before the clock starts.
func warmUp(b *testing.B, c client, conc int) {
	var (
		wg  sync.WaitGroup
		bad atomic.Value
	)
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for j := 0; j < 5; j++ {
				k := (g + j) % numKeys
				if v, err := c.Get(ctx, keys[k]); err != nil || v != vals[k] {
					bad.Store(fmt.Sprintf("warm-up GET %s: got %q, %v", keys[k], v, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if msg := bad.Load(); msg != nil {
		b.Fatal(msg)
	}
}

// BenchmarkPipeline: one explicit pipeline of 100 GETs per op (DoMulti,
// Pipeline/Exec, Send/Flush/Receive, radix.Pipeline). ns/op, B/op and
// allocs/op are per batch; gets/s counts the GETs.
func BenchmarkPipeline(b *testing.B) {
	for _, net := range nets {
		for _, name := range clientNames {
			b.Run(fmt.Sprintf("size=%d/net=%s/client=%s", pipeSize, net, name), func(b *testing.B) {
				c := getClient(b, name, standalone(b, net))
				loadKeys(b, c)
				ks, want := keys[:pipeSize], vals[:pipeSize]
				batch := c.Pipeline(ks)
				ctx := context.Background()
				if err := batch(ctx, want); err != nil { // warm-up, checked
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := cpuTime()
				for i := 0; i < b.N; i++ {
					if err := batch(ctx, want); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*pipeSize), "cpu-ns/op")
				b.ReportMetric(float64(b.N*pipeSize)/b.Elapsed().Seconds(), "gets/s")
			})
		}
	}
}

// BenchmarkGetLarge: GET of a 1 MiB value through each library's []byte
// API; MB/s from b.SetBytes. Every reply is compared in full.
func BenchmarkGetLarge(b *testing.B) {
	for _, net := range nets {
		for _, name := range clientNames {
			b.Run(fmt.Sprintf("size=1MiB/net=%s/client=%s", net, name), func(b *testing.B) {
				c := getClient(b, name, standalone(b, net))
				ctx := context.Background()
				if err := c.Set(ctx, bigKey, bigVal); err != nil {
					b.Fatalf("SET %s: %v", bigKey, err)
				}
				var buf []byte
				b.SetBytes(bigLen)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					got, err := c.GetBytes(ctx, bigKey, buf)
					if err != nil || !bytes.Equal(got, bigBytes) {
						b.Fatalf("GET %s: %d bytes, %v; want the %d bytes set", bigKey, len(got), err, bigLen)
					}
					buf = got
				}
			})
		}
	}
}

// TestClients checks every client on every workload once, so a broken
// adapter shows up as a test failure rather than as a fast benchmark.
func TestClients(t *testing.T) {
	ctx := context.Background()
	for _, name := range clientNames {
		for _, net := range nets {
			t.Run(name+"/"+net, func(t *testing.T) {
				c := getClient(t, name, standalone(t, net))
				loadKeys(t, c)
				for i := range keys {
					if v, err := c.Get(ctx, keys[i]); err != nil || v != vals[i] {
						t.Fatalf("GET %s: got %q, %v; want %q", keys[i], v, err, vals[i])
					}
				}
				if err := c.Pipeline(keys[:pipeSize])(ctx, vals[:pipeSize]); err != nil {
					t.Fatalf("pipeline: %v", err)
				}
				// A pipeline whose expectations are wrong must fail.
				wrong := append([]string(nil), vals[:pipeSize]...)
				wrong[pipeSize-1] = "x"
				if err := c.Pipeline(keys[:pipeSize])(ctx, wrong); err == nil {
					t.Fatal("pipeline check passed with a wrong expectation")
				}
				if err := c.Set(ctx, bigKey, bigVal); err != nil {
					t.Fatalf("SET big: %v", err)
				}
				if got, err := c.GetBytes(ctx, bigKey, nil); err != nil || !bytes.Equal(got, bigBytes) {
					t.Fatalf("GET big: %d bytes, %v", len(got), err)
				}
			})
		}
		if !supportsCluster(name) || testing.Short() {
			continue
		}
		for _, masters := range clusterSizes {
			t.Run(fmt.Sprintf("%s/cluster-%d", name, masters), func(t *testing.T) {
				c := getClient(t, name, clusterTarget(t, masters))
				loadKeys(t, c)
				for i := range keys {
					if v, err := c.Get(ctx, keys[i]); err != nil || v != vals[i] {
						t.Fatalf("GET %s: got %q, %v; want %q", keys[i], v, err, vals[i])
					}
				}
			})
		}
	}
}
