package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// benchLines writes raw go test output: one "round: N" block per round,
// with a line per (client, figure) given for that round; a client without
// a figure in a round missed it.
func benchLines(row, unit string, rounds []map[string][]float64) string {
	var b strings.Builder
	for i, rd := range rounds {
		fmt.Fprintf(&b, "round: %d\n", i+1)
		for _, c := range []string{"justredis", "go-redis", "rueidis", "redigo", "radix"} {
			for _, v := range rd[c] {
				fmt.Fprintf(&b, "Benchmark%s/client=%s-2 1000 %g %s\n", row, c, v, unit)
			}
		}
	}
	return b.String()
}

func TestPairing(t *testing.T) {
	type peer struct {
		name   string
		median float64
		rounds int
	}
	for _, tc := range []struct {
		name     string
		row      string
		unit     string
		rounds   []map[string][]float64
		client   string  // whose versus() is checked
		peer     string  // the closest peer
		median   float64 // against it
		min, max float64
		peers    []peer
		leaders  string // the row of "Who leads", "" = no such row
	}{{
		// With the arithmetic mean of the middle two, justredis would read
		// (0.5+2.5)/2 = 1.5 against go-redis and go-redis (2+0.4)/2 = 1.2
		// against justredis: both bold, "ahead of every other client".
		name: "even count of rounds is symmetric",
		row:  "Seq/op=get/net=tcp", unit: "ns/op",
		rounds: []map[string][]float64{
			{"justredis": {200}, "go-redis": {100}, "rueidis": {1000}},
			{"justredis": {100}, "go-redis": {250}, "rueidis": {1000}},
		},
		client: "justredis", peer: "go-redis", median: math.Sqrt(0.5 * 2.5), min: 0.5, max: 2.5,
		peers:   []peer{{"go-redis", math.Sqrt(0.5 * 2.5), 2}, {"rueidis", math.Sqrt(5 * 10), 2}},
		leaders: "| Seq/op=get/net=tcp | ns/op | **1.12** | 0.89 | 0.14 |",
	}, {
		// Two clients level with each other and ahead of the third: neither
		// is ahead of every other client, so neither is bold.
		name: "a tie at 1 is not a lead",
		row:  "Seq/op=get/net=tcp", unit: "ns/op",
		rounds: []map[string][]float64{
			{"justredis": {100}, "go-redis": {100}, "rueidis": {200}},
			{"justredis": {120}, "go-redis": {120}, "rueidis": {200}},
			{"justredis": {90}, "go-redis": {90}, "rueidis": {200}},
		},
		client: "justredis", peer: "go-redis", median: 1, min: 1, max: 1,
		peers:   []peer{{"go-redis", 1, 3}, {"rueidis", 2, 3}},
		leaders: "| Seq/op=get/net=tcp | ns/op | 1.00 | 1.00 | 0.50 |",
	}, {
		// A rate: justredis's over the peer's. go-redis missed round 2, so
		// it pairs over rounds 1 and 3 only.
		name: "rate, a peer missed a round",
		row:  "ParallelGet/conc=32/net=tcp", unit: "gets/s",
		rounds: []map[string][]float64{
			{"justredis": {300}, "go-redis": {100}, "rueidis": {200}},
			{"justredis": {300}, "rueidis": {100}},
			{"justredis": {300}, "go-redis": {150}, "rueidis": {150}},
		},
		client: "justredis", peer: "rueidis", median: 2, min: 1.5, max: 3,
		peers:   []peer{{"go-redis", math.Sqrt(3 * 2), 2}, {"rueidis", 2, 3}},
		leaders: "| ParallelGet/conc=32/net=tcp | gets/s | **2.00** | 0.41 | 0.50 |",
	}, {
		// Two results for justredis in round 1 count with their median
		// (150); a zero, a NaN and an infinite figure drop their round.
		name: "two results in a round; zero, NaN and Inf figures",
		row:  "Seq/op=set/net=unix", unit: "ns/op",
		rounds: []map[string][]float64{
			{"justredis": {100, 200}, "rueidis": {150}},
			{"justredis": {100}, "rueidis": {0}},
			{"justredis": {0}, "rueidis": {100}},
			{"justredis": {math.NaN()}, "rueidis": {100}},
			{"justredis": {100}, "rueidis": {math.Inf(1)}},
			{"justredis": {100}, "rueidis": {300}},
		},
		client: "justredis", peer: "rueidis", median: math.Sqrt(1 * 3), min: 1, max: 3,
		peers: []peer{{"rueidis", math.Sqrt(3), 2}},
	}, {
		// Cluster rows: three clients. redigo and radix have no column
		// figure and no say.
		name: "three clients",
		row:  "ClusterParallelSet/masters=3/net=tcp", unit: "sets/s",
		rounds: []map[string][]float64{
			{"justredis": {200}, "go-redis": {50}, "rueidis": {100}},
			{"justredis": {180}, "go-redis": {60}, "rueidis": {120}},
			{"justredis": {210}, "go-redis": {40}, "rueidis": {100}},
		},
		client: "rueidis", peer: "justredis", median: 100.0 / 200, min: 120.0 / 180, max: 100.0 / 210,
		peers:   []peer{{"justredis", 0.5, 3}, {"go-redis", 2, 3}},
		leaders: "| ClusterParallelSet/masters=3/net=tcp | sets/s | **2.00** | 0.25 | 0.50 |",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parse(strings.NewReader(benchLines(tc.row, tc.unit, tc.rounds)))
			if err != nil {
				t.Fatal(err)
			}
			sp, ok := r.versus(tc.row, tc.client)
			if !ok {
				t.Fatal("no pairing")
			}
			if sp.peer != tc.peer || !near(sp.median, tc.median) || !near(sp.min, math.Min(tc.min, tc.max)) || !near(sp.max, math.Max(tc.min, tc.max)) {
				t.Errorf("got %s %v (%v–%v), want %s %v (%v–%v)", sp.peer, sp.median, sp.min, sp.max, tc.peer, tc.median, tc.min, tc.max)
			}
			if len(sp.peers) != len(tc.peers) {
				t.Fatalf("peers %+v, want %+v", sp.peers, tc.peers)
			}
			for i, p := range tc.peers {
				g := sp.peers[i]
				if g.peer != p.name || !near(g.median, p.median) || g.rounds != p.rounds {
					t.Errorf("peer %d: got %+v, want %+v", i, g, p)
				}
			}
			for _, x := range append([]float64{sp.median, sp.min, sp.max}, ratiosOf(sp)...) {
				if math.IsNaN(x) || math.IsInf(x, 0) || x <= 0 {
					t.Errorf("ratio %v in %+v", x, sp)
				}
			}
			// Each pair read both ways: one is the reciprocal of the other.
			for _, a := range r.clients {
				for _, b := range r.clients {
					pa, pb := r.pairMedian(tc.row, a, b), r.pairMedian(tc.row, b, a)
					if !math.IsNaN(pa) && !near(pa*pb, 1) {
						t.Errorf("%s against %s %v, the other way %v", a, b, pa, pb)
					}
				}
			}
			var w strings.Builder
			writeLeaders(&w, r)
			if tc.leaders == "" {
				if w.Len() != 0 {
					t.Errorf("leaders:\n%s", w.String())
				}
			} else if !strings.Contains(w.String(), tc.leaders+"\n") {
				t.Errorf("leaders lack %q:\n%s", tc.leaders, w.String())
			}
			if n := strings.Count(w.String(), "**"); n > 2*1+2 { // the explanation has one bold pair
				t.Errorf("more than one bold figure:\n%s", w.String())
			}
		})
	}
}

func ratiosOf(sp speedup) []float64 {
	var out []float64
	for _, rr := range sp.rounds {
		out = append(out, rr.ratio)
	}
	return out
}

// pairMedian is a's median against b on the row's main metric, NaN if they
// never ran in the same round.
func (r *results) pairMedian(row, a, b string) float64 {
	if a == b {
		return math.NaN()
	}
	unit, _ := r.mainUnit(row)
	rs := ratiosOf(speedup{rounds: r.paired(row, unit, a, b)})
	if len(rs) == 0 {
		return math.NaN()
	}
	return ratioMedian(rs)
}

// A client on some rows only: the rows without it leave its cell empty,
// and a row without justredis has no headline line.
func TestClientOnSomeRows(t *testing.T) {
	raw := benchLines("Seq/op=get/net=tcp", "ns/op", []map[string][]float64{
		{"justredis": {100}, "go-redis": {110}, "rueidis": {120}, "radix": {90}},
	}) + benchLines("Seq/op=set/net=tcp", "ns/op", []map[string][]float64{
		{"go-redis": {110}, "rueidis": {120}, "redigo": {130}},
	})
	r, err := parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := r.headline()
	if len(h.rows) != 1 || h.rows[0].row != "Seq/op=get/net=tcp" || h.rows[0].peer != "radix" || !near(h.rows[0].median, 0.9) {
		t.Errorf("headline %+v", h.rows)
	}
	var w strings.Builder
	writeLeaders(&w, r)
	for _, want := range []string{
		"| Seq/op=get/net=tcp | ns/op | 0.90 | 0.82 | 0.75 |  | **1.11** |\n",
		"| Seq/op=set/net=tcp | ns/op |  | **1.09** | 0.92 | 0.85 |  |\n",
	} {
		if !strings.Contains(w.String(), want) {
			t.Errorf("leaders lack %q:\n%s", want, w.String())
		}
	}
}
