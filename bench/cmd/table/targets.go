package main

import (
	"fmt"
	"io"
	"strings"
)

// A target compares the subject's median in every row of a workload with a
// bound: a peer's median times a factor, the best peer's, or a constant.
type target struct {
	what     string
	workload string  // row prefix, e.g. "ParallelGet/"
	unit     string  // metric
	peer     string  // "" = best peer, "-" = constant
	factor   float64 // subject must be >= factor×ref (rates) or <= factor×ref (costs)
}

var targets = []target{
	{"parallel GET ≥ 1.2× rueidis", "ParallelGet/", "gets/s", "rueidis", 1.2},
	{"parallel GET ≥ 2.5× go-redis", "ParallelGet/", "gets/s", "go-redis", 2.5},
	{"client CPU per parallel GET ≤ 0.8× rueidis", "ParallelGet/", "cpu-ns/op", "rueidis", 0.8},
	{"SET allocs = 0", "Seq/op=set/", "allocs/op", "-", 0},
	{"GET allocs ≤ 2", "Seq/op=get/", "allocs/op", "-", 2},
	{"100-GET pipeline allocs ≤ 10", "Pipeline/", "allocs/op", "-", 10},
	{"100-GET pipeline ≥ 1.0× best peer", "Pipeline/", "gets/s", "", 1.0},
	{"1 MiB GET ≥ 1.0× best peer", "GetLarge/", "MB/s", "", 1.0},
	{"sequential SET+GET at least on a par with the best peer", "Seq/op=setget/", "ns/op", "", 1.0},
	{"cluster parallel GET ≥ 1.0× best peer", "ClusterParallelGet/", "gets/s", "", 1.0},
	{"cluster parallel SET ≥ 1.0× best peer", "ClusterParallelSet/", "sets/s", "", 1.0},
	{"cache hit at least on a par with the best peer", "CacheHit/", "ns/op", "", 1.0},
}

func writeTargets(w io.Writer, r *results) {
	fmt.Fprintln(w, "## Targets")
	fmt.Fprintln(w)
	writeRow(w, []string{"target", "benchmark", subject, "bound", "met"})
	writeRow(w, separator(5))
	for _, t := range targets {
		for _, row := range r.rows {
			if !strings.HasPrefix(row, t.workload) {
				continue
			}
			sv, ok := r.median(row, t.unit, subject)
			if !ok {
				continue
			}
			var bound float64
			var label string
			switch t.peer {
			case "-":
				bound, label = t.factor, format(t.factor, t.unit)
			case "":
				best, bv, ok := r.bestPeer(row, t.unit)
				if !ok {
					continue
				}
				bound = t.factor * bv
				label = fmt.Sprintf("%.2f× %s = %s", t.factor, best, format(bound, t.unit))
			default:
				pv, ok := r.median(row, t.unit, t.peer)
				if !ok {
					continue
				}
				bound = t.factor * pv
				label = fmt.Sprintf("%.2f× %s = %s", t.factor, t.peer, format(bound, t.unit))
			}
			met := sv <= bound
			if higherIsBetter(t.unit) {
				met = sv >= bound
			}
			mark := "no"
			if met {
				mark = "yes"
			}
			writeRow(w, []string{t.what, row, format(sv, t.unit) + " " + t.unit, label, mark})
		}
	}
	fmt.Fprintln(w)
}
