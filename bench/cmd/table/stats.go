package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

func median(xs []float64) float64 {
	lo, hi := middle(xs)
	if lo == hi {
		return lo
	}
	return (lo + hi) / 2
}

// ratioMedian is the median of ratios, taken in log space: for an even
// count, the geometric mean of the middle two, not their mean. So the
// median of the reciprocals is the reciprocal of the median, and of two
// clients paired over the same rounds at most one reads above 1 (with the
// arithmetic mean, ratios 0.5 and 2.5 give 1.5 one way and 1.2 the other).
func ratioMedian(xs []float64) float64 {
	lo, hi := middle(xs)
	if lo == hi {
		return lo
	}
	return math.Sqrt(lo * hi)
}

// middle is the middle value of xs twice, or its middle two for an even
// count; NaN for none.
func middle(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], s[n/2]
	}
	return s[n/2-1], s[n/2]
}

// higherIsBetter: rates (gets/s, MB/s) are better high, costs (ns/op,
// cpu-ns/op, B/op, allocs/op) low.
func higherIsBetter(unit string) bool { return strings.HasSuffix(unit, "/s") }

// values are all of a client's results for a row and metric; round 0 means
// every round.
func (r *results) values(row, unit, client string, round int) []float64 {
	var out []float64
	for _, s := range r.samples[row][unit][client] {
		if round == 0 || s.round == round {
			out = append(out, s.v)
		}
	}
	return out
}

// median is a client's median over every round.
func (r *results) median(row, unit, client string) (float64, bool) {
	xs := r.values(row, unit, client, 0)
	if len(xs) == 0 {
		return 0, false
	}
	return median(xs), true
}

// bestPeer is the best median over all rounds among clients other than
// the subject.
func (r *results) bestPeer(row, unit string) (string, float64, bool) {
	best, bestV, found := "", 0.0, false
	for _, c := range r.clients {
		if c == subject {
			continue
		}
		v, ok := r.median(row, unit, c)
		if !ok {
			continue
		}
		if !found || (higherIsBetter(unit) && v > bestV) || (!higherIsBetter(unit) && v < bestV) {
			best, bestV, found = c, v, true
		}
	}
	return best, bestV, found
}

func ratio(v, best float64) string {
	switch {
	case best == 0 && v == 0:
		return "1.00"
	case best == 0:
		return "∞"
	}
	return fmt.Sprintf("%.2f", v/best)
}

// shownUnits picks the metrics of a row worth a table line: ns/op only
// where no rate says the same thing better.
func (r *results) shownUnits(row string) []string {
	units := r.units[row]
	hasRate := false
	for _, u := range units {
		if higherIsBetter(u) {
			hasRate = true
		}
	}
	rank := func(u string) int {
		switch {
		case higherIsBetter(u):
			return 0
		case u == "ns/op":
			return 1
		case u == "cpu-ns/op":
			return 2
		case u == "allocs/op":
			return 3
		case u == "B/op":
			return 4
		}
		return 5
	}
	var out []string
	for _, u := range units {
		if u == "ns/op" && hasRate {
			continue
		}
		out = append(out, u)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}
