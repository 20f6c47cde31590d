package main

import (
	"math"
	"strings"
	"testing"
)

// Three rounds with markers, as run.sh writes them. Paired with go-redis,
// justredis reads 0.5, 3.75 and 2 (median 2); with rueidis 0.75, 1.5 and
// 2.2 (median 1.5), so rueidis is the closest peer. A round with two
// results for a client uses their median.
const roundsRaw = `round: 1
BenchmarkSeq/op=setget/net=unix/client=justredis-2 1000 200 ns/op 32 B/op 2 allocs/op
BenchmarkSeq/op=setget/net=unix/client=go-redis-2 1000 100 ns/op 500 B/op 15 allocs/op
BenchmarkSeq/op=setget/net=unix/client=rueidis-2 1000 150 ns/op 16 B/op 1 allocs/op
round: 2
BenchmarkSeq/op=setget/net=unix/client=rueidis-2 1000 120 ns/op 16 B/op 1 allocs/op
BenchmarkSeq/op=setget/net=unix/client=go-redis-2 1000 300 ns/op 500 B/op 15 allocs/op
BenchmarkSeq/op=setget/net=unix/client=justredis-2 1000 60 ns/op 32 B/op 2 allocs/op
BenchmarkSeq/op=setget/net=unix/client=justredis-2 1000 100 ns/op 32 B/op 2 allocs/op
round: 3
BenchmarkSeq/op=setget/net=unix/client=go-redis-2 1000 100 ns/op 500 B/op 15 allocs/op
BenchmarkSeq/op=setget/net=unix/client=justredis-2 1000 50 ns/op 32 B/op 2 allocs/op
BenchmarkSeq/op=setget/net=unix/client=rueidis-2 1000 110 ns/op 16 B/op 1 allocs/op
`

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestRatiosPerRound(t *testing.T) {
	r, err := parse(strings.NewReader(roundsRaw))
	if err != nil {
		t.Fatal(err)
	}
	sp, ok := r.speedup("Seq/op=setget/net=unix")
	if !ok {
		t.Fatal("no speedup")
	}
	// Times: the peer's over justredis's, so above 1 = justredis ahead.
	want := []roundRatio{{1, 150.0 / 200}, {2, 120.0 / 80}, {3, 110.0 / 50}}
	if len(sp.rounds) != len(want) {
		t.Fatalf("rounds %+v", sp.rounds)
	}
	for i, w := range want {
		if g := sp.rounds[i]; g.round != w.round || !near(g.ratio, w.ratio) {
			t.Errorf("round %d: got %+v, want %+v", i+1, g, w)
		}
	}
	if !near(sp.median, 1.5) || !near(sp.min, 0.75) || !near(sp.max, 2.2) {
		t.Errorf("median %v, range %v–%v; want 1.5, 0.75–2.2", sp.median, sp.min, sp.max)
	}
	if sp.peer != "rueidis" || sp.unit != "ns/op" || sp.workload != "Seq/op=setget" || sp.network != "unix" {
		t.Errorf("got %+v", sp)
	}
	var b strings.Builder
	writePeers(&b, r.headline(), r.clients)
	if want := "| Seq/op=setget/net=unix | ns/op | 2.00 | 1.50 |"; !strings.Contains(b.String(), want) {
		t.Errorf("per-peer table lacks %q:\n%s", want, b.String())
	}
	if len(sp.peers) != 2 || sp.peers[0] != (peerMedian{"go-redis", 2, 3}) || sp.peers[1] != (peerMedian{"rueidis", 1.5, 3}) {
		t.Errorf("per peer %+v", sp.peers)
	}
}

// A client that beats every peer in two rounds of three, but some peer in
// every round, is ahead of each of them, and reads so. Against the best
// peer of each round it would read 0.9 in every round.
func TestAheadOfEachPeerNotOfTheLuckiest(t *testing.T) {
	raw := `round: 1
BenchmarkSeq/op=get/net=tcp/client=justredis-2 1000 100 ns/op
BenchmarkSeq/op=get/net=tcp/client=go-redis-2 1000 90 ns/op
BenchmarkSeq/op=get/net=tcp/client=rueidis-2 1000 110 ns/op
BenchmarkSeq/op=get/net=tcp/client=redigo-2 1000 110 ns/op
round: 2
BenchmarkSeq/op=get/net=tcp/client=justredis-2 1000 100 ns/op
BenchmarkSeq/op=get/net=tcp/client=go-redis-2 1000 110 ns/op
BenchmarkSeq/op=get/net=tcp/client=rueidis-2 1000 90 ns/op
BenchmarkSeq/op=get/net=tcp/client=redigo-2 1000 110 ns/op
round: 3
BenchmarkSeq/op=get/net=tcp/client=justredis-2 1000 100 ns/op
BenchmarkSeq/op=get/net=tcp/client=go-redis-2 1000 110 ns/op
BenchmarkSeq/op=get/net=tcp/client=rueidis-2 1000 110 ns/op
BenchmarkSeq/op=get/net=tcp/client=redigo-2 1000 90 ns/op
`
	r, err := parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	sp, ok := r.speedup("Seq/op=get/net=tcp")
	if !ok || !near(sp.median, 1.1) || sp.peer != "go-redis" {
		t.Fatalf("got %+v; want 1.1 against go-redis (the first of three tied peers)", sp)
	}
	var b strings.Builder
	writeLeaders(&b, r)
	if want := "| Seq/op=get/net=tcp | ns/op | **1.10** | 0.91 | 0.91 | 0.91 |"; !strings.Contains(b.String(), want) {
		t.Errorf("leaders lack %q:\n%s", want, b.String())
	}
}

// Without markers, the k-th result of a (row, client) is round k.
func TestRoundsByOrder(t *testing.T) {
	raw := `BenchmarkParallelGet/conc=32/net=tcp/client=justredis-2 10 5 ns/op 300 gets/s
BenchmarkParallelGet/conc=32/net=tcp/client=rueidis-2 10 5 ns/op 100 gets/s
BenchmarkParallelGet/conc=32/net=tcp/client=justredis-2 10 5 ns/op 100 gets/s
BenchmarkParallelGet/conc=32/net=tcp/client=rueidis-2 10 5 ns/op 200 gets/s
`
	r, err := parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	sp, ok := r.speedup("ParallelGet/conc=32/net=tcp")
	if !ok || sp.unit != "gets/s" || len(sp.rounds) != 2 {
		t.Fatalf("got %+v", sp)
	}
	// A rate: justredis's over the peer's. Two rounds: the geometric mean
	// of the two, as rueidis against justredis is its reciprocal (the
	// arithmetic mean would give 1.75 and, the other way, 1.17).
	if !near(sp.rounds[0].ratio, 3) || !near(sp.rounds[1].ratio, 0.5) || !near(sp.median, math.Sqrt(1.5)) {
		t.Errorf("rounds %+v, median %v", sp.rounds, sp.median)
	}
}

// A round justredis or every peer missed is left out, not counted as 0.
func TestRoundMissing(t *testing.T) {
	raw := `round: 1
BenchmarkPipeline/size=100/net=tcp/client=justredis-2 10 5 ns/op 100 gets/s
round: 2
BenchmarkPipeline/size=100/net=tcp/client=redigo-2 10 5 ns/op 100 gets/s
round: 3
BenchmarkPipeline/size=100/net=tcp/client=justredis-2 10 5 ns/op 120 gets/s
BenchmarkPipeline/size=100/net=tcp/client=redigo-2 10 5 ns/op 100 gets/s
`
	r, _ := parse(strings.NewReader(raw))
	sp, ok := r.speedup("Pipeline/size=100/net=tcp")
	if !ok || len(sp.rounds) != 1 || sp.rounds[0].round != 3 || !near(sp.median, 1.2) {
		t.Fatalf("got %+v", sp)
	}
}

// The cache helper's rows (BenchmarkCacheHit/conc=…/net=tcp, justredis and
// rueidis only, ns/op) show up in the headline like any other workload.
func TestCacheHitRow(t *testing.T) {
	raw := roundsRaw + `round: 1
BenchmarkCacheHit/conc=1/net=tcp/client=justredis-2 1000 50 ns/op 0 B/op 0 allocs/op
BenchmarkCacheHit/conc=1/net=tcp/client=rueidis-2 1000 100 ns/op 0 B/op 0 allocs/op
BenchmarkCacheHit/conc=64/net=tcp/client=justredis-2 1000 20 ns/op 0 B/op 0 allocs/op
BenchmarkCacheHit/conc=64/net=tcp/client=rueidis-2 1000 30 ns/op 0 B/op 0 allocs/op
`
	r, err := parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := r.headline()
	if got := strings.Join(h.workloads(), ","); got != "Seq/op=setget,CacheHit/conc=1,CacheHit/conc=64" {
		t.Fatalf("workloads %s", got)
	}
	if got := strings.Join(h.networks, ","); got != "unix,tcp" {
		t.Fatalf("networks %s", got)
	}
	var b strings.Builder
	writeHeadline(&b, h, "results/ratios.svg")
	for _, want := range []string{
		"| workload | metric | unix | tcp |",
		"| Seq/op=setget | ns/op | **1.50** (0.75–2.20, rueidis) | n/a |",
		"| CacheHit/conc=1 | ns/op | n/a | **2.00** (2.00–2.00, rueidis) |",
		"![justredis against its closest peer, median ratio per round](results/ratios.svg)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("headline lacks %q:\n%s", want, b.String())
		}
	}
	var tg strings.Builder
	writeTargets(&tg, r)
	if want := "| cache hit at least on a par with the best peer | CacheHit/conc=1/net=tcp | 50.0 ns ns/op | 1.00× rueidis = 100 ns | yes |"; !strings.Contains(tg.String(), want) {
		t.Errorf("targets lack %q:\n%s", want, tg.String())
	}
}

func TestWriteRounds(t *testing.T) {
	r, _ := parse(strings.NewReader(roundsRaw))
	var b strings.Builder
	writeRounds(&b, r.headline())
	want := "| Seq/op=setget/net=unix | ns/op | rueidis | 0.75 | 1.50 | 2.20 | **1.50** |"
	if !strings.Contains(b.String(), want) || !strings.Contains(b.String(), "| benchmark | metric | peer | 1 | 2 | 3 | median |") {
		t.Errorf("lacks %q:\n%s", want, b.String())
	}
}
