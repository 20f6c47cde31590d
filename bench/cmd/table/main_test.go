package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const rawSample = `goos: linux
pkg: github.com/justredis/justredis/bench
BenchmarkSeq/op=get/net=tcp/client=justredis-2   	    4375	     30000 ns/op	      32 B/op	       2 allocs/op
BenchmarkSeq/op=get/net=tcp/client=rueidis-2     	    9696	     37944 ns/op	      16 B/op	       1 allocs/op
BenchmarkSeq/op=get/net=tcp/client=go-redis-2    	    9696	     31000 ns/op	     240 B/op	       7 allocs/op
BenchmarkSeq/op=get/net=tcp/client=justredis-2   	    4375	     32000 ns/op	      32 B/op	       2 allocs/op
BenchmarkSeq/op=get/net=tcp/client=justredis-2   	    4375	     90000 ns/op	      32 B/op	       2 allocs/op
BenchmarkParallelGet/conc=64/net=tcp/client=justredis-2 	   58801	      4930 ns/op	      4142 cpu-ns/op	    202840 gets/s	      80 B/op	       4 allocs/op
BenchmarkParallelGet/conc=64/net=tcp/client=rueidis-2   	   30543	      9468 ns/op	      6290 cpu-ns/op	    105620 gets/s	      16 B/op	       1 allocs/op
--- FAIL: BenchmarkSomething
PASS
`

func TestParse(t *testing.T) {
	r, err := parse(strings.NewReader(rawSample))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.rows, ","); got != "Seq/op=get/net=tcp,ParallelGet/conc=64/net=tcp" {
		t.Fatalf("rows %s", got)
	}
	if got := strings.Join(r.clients, ","); got != "justredis,go-redis,rueidis" {
		t.Fatalf("clients %s", got)
	}
	if v, _ := r.median("Seq/op=get/net=tcp", "ns/op", "justredis"); v != 32000 {
		t.Fatalf("median %v", v)
	}
	if c, v, _ := r.bestPeer("Seq/op=get/net=tcp", "ns/op"); c != "go-redis" || v != 31000 {
		t.Fatalf("best peer for a cost: %s %v", c, v)
	}
	if c, _, _ := r.bestPeer("Seq/op=get/net=tcp", "allocs/op"); c != "rueidis" {
		t.Fatalf("best peer for allocs: %s", c)
	}
	if got := strings.Join(r.shownUnits("ParallelGet/conc=64/net=tcp"), ","); got != "gets/s,cpu-ns/op,allocs/op,B/op" {
		t.Fatalf("units %s", got)
	}
}

func TestSplitName(t *testing.T) {
	row, c := splitName("BenchmarkGetLarge/size=1MiB/net=unix/client=go-redis-2")
	if row != "GetLarge/size=1MiB/net=unix" || c != "go-redis" {
		t.Fatalf("%q %q", row, c)
	}
	row, c = splitName("BenchmarkRedisBenchmark/P=16/net=tcp/client=redis-benchmark")
	if row != "RedisBenchmark/P=16/net=tcp" || c != "redis-benchmark" {
		t.Fatalf("%q %q", row, c)
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Fatal(m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Fatal(m)
	}
}

func TestRunWritesFiles(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.txt")
	readme := filepath.Join(dir, "README.md")
	out := filepath.Join(dir, "RESULTS.md")
	os.WriteFile(raw, []byte(rawSample), 0o644)
	os.WriteFile(readme, []byte("intro\n"+beginMark+"\nSTALE-TABLE\n"+endMark+"\nend\n"), 0o644)
	svg := filepath.Join(dir, "results", "ratios.svg")
	os.Mkdir(filepath.Dir(svg), 0o755)
	if err := run(config{raw: raw, out: out, svg: svg, readme: readme, meta: []string{"Date=today"}}); err != nil {
		t.Fatal(err)
	}
	doc, _ := os.ReadFile(out)
	for _, want := range []string{"**Date:** today", "## Medians", "## Ratios", "## Targets",
		"## Ratios per round", "](results/ratios.svg)",
		"| parallel GET ≥ 1.2× rueidis | ParallelGet/conc=64/net=tcp | 203k gets/s | 1.20× rueidis = 127k | yes |",
		"| GET allocs ≤ 2 | Seq/op=get/net=tcp | 2 allocs/op | 2 | yes |"} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, doc)
		}
	}
	if _, err := os.Stat(svg); err != nil {
		t.Errorf("no chart: %v", err)
	}
	rd, _ := os.ReadFile(readme)
	if strings.Contains(string(rd), "## Ratios per round") {
		t.Error("README got the round-by-round table, which belongs in RESULTS.md only")
	}
	if strings.Contains(string(rd), "STALE-TABLE") || !strings.HasSuffix(string(rd), endMark+"\nend\n") || !strings.Contains(string(rd), "## Medians") {
		t.Errorf("README block not replaced:\n%s", rd)
	}
}
