package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// roundRatio is how far the subject was ahead of the best peer in one
// round: above 1 = ahead.
type roundRatio struct {
	round int
	ratio float64
	peer  string // the best peer of that round
}

// speedup is one row of the headline: the subject against the best peer of
// each round, on the row's main metric.
type speedup struct {
	row, workload, network, unit string
	rounds                       []roundRatio // in round order
	median, min, max             float64
	peer                         string // the peer that was best in most rounds
}

// headline has a speedup per row that has one, in row order, and the
// networks seen, in order.
type headline struct {
	rows     []speedup
	networks []string
}

// mainUnit is the metric a row is judged by: its rate when it reports one
// (gets/s, MB/s, …), else its time per op.
func (r *results) mainUnit(row string) (string, bool) {
	for _, u := range r.units[row] {
		if higherIsBetter(u) {
			return u, true
		}
	}
	if _, ok := r.samples[row]["ns/op"]; ok {
		return "ns/op", true
	}
	return "", false
}

// speedup compares the subject with the best peer round by round. A ratio
// is the subject's figure over the peer's for a rate, the peer's over the
// subject's for a cost, so above 1 always means the subject was ahead.
// Rounds the subject or every peer missed are left out.
func (r *results) speedup(row string) (speedup, bool) {
	unit, ok := r.mainUnit(row)
	if !ok {
		return speedup{}, false
	}
	sp := speedup{row: row, unit: unit}
	sp.workload, sp.network = splitNet(row)
	seen := map[int]bool{}
	var rounds []int
	for _, s := range r.samples[row][unit][subject] {
		if !seen[s.round] {
			seen[s.round] = true
			rounds = append(rounds, s.round)
		}
	}
	sort.Ints(rounds)
	var ratios []float64
	wins := map[string]int{}
	for _, rd := range rounds {
		sv := median(r.values(row, unit, subject, rd))
		peer, pv, ok := r.bestPeerIn(row, unit, rd)
		if !ok {
			continue
		}
		x := sv / pv
		if !higherIsBetter(unit) {
			x = pv / sv
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		sp.rounds = append(sp.rounds, roundRatio{round: rd, ratio: x, peer: peer})
		ratios = append(ratios, x)
		wins[peer]++
	}
	if len(ratios) == 0 {
		return speedup{}, false
	}
	sp.median = median(ratios)
	sp.min, sp.max = ratios[0], ratios[0]
	for _, x := range ratios {
		sp.min, sp.max = math.Min(sp.min, x), math.Max(sp.max, x)
	}
	// The most frequent best peer; ties go to the one named first.
	for _, c := range r.clients {
		if wins[c] > wins[sp.peer] {
			sp.peer = c
		}
	}
	return sp, true
}

func (r *results) headline() headline {
	var h headline
	seenNet := map[string]bool{}
	for _, row := range r.rows {
		sp, ok := r.speedup(row)
		if !ok {
			continue
		}
		h.rows = append(h.rows, sp)
		if !seenNet[sp.network] {
			seenNet[sp.network] = true
			h.networks = append(h.networks, sp.network)
		}
	}
	return h
}

// workloads are the headline's rows without their network, in order.
func (h headline) workloads() []string {
	var out []string
	seen := map[string]bool{}
	for _, sp := range h.rows {
		if !seen[sp.workload] {
			seen[sp.workload] = true
			out = append(out, sp.workload)
		}
	}
	return out
}

func (h headline) find(workload, network string) (speedup, bool) {
	for _, sp := range h.rows {
		if sp.workload == workload && sp.network == network {
			return sp, true
		}
	}
	return speedup{}, false
}

// roundCount is the most rounds any row has.
func (h headline) roundCount() int {
	n := 0
	for _, sp := range h.rows {
		n = max(n, len(sp.rounds))
	}
	return n
}

// writeHeadline writes the table the README leads with: a workload per
// line, a network per column.
func writeHeadline(w io.Writer, h headline, chartPath string) {
	if len(h.rows) == 0 {
		return
	}
	fmt.Fprintf(w, "## %s against the best peer, round by round\n\n", subject)
	fmt.Fprintf(w, "Each round runs every client on each row once, one right after another. In each round, %s's figure "+
		"is divided by the best other client's figure of that same round (the other way round for times), "+
		"so **above 1 means %s was ahead**. Shown: the median of those ratios over the rounds (%d at most), "+
		"their range, and the peer that was best in most rounds. A row is judged by its rate where it has one, "+
		"else by ns/op.\n\n", subject, subject, h.roundCount())
	if chartPath != "" {
		fmt.Fprintf(w, "![%s against the best peer, median ratio per round](%s)\n\n", subject, chartPath)
	}
	header := []string{"workload", "metric"}
	header = append(header, h.networks...)
	writeRow(w, header)
	writeRow(w, separator(len(header)))
	for _, wl := range h.workloads() {
		cells := []string{wl, ""}
		for _, n := range h.networks {
			sp, ok := h.find(wl, n)
			if !ok {
				cells = append(cells, "n/a")
				continue
			}
			cells[1] = sp.unit
			cells = append(cells, fmt.Sprintf("**%.2f** (%.2f–%.2f, %s)", sp.median, sp.min, sp.max, sp.peer))
		}
		writeRow(w, cells)
	}
	fmt.Fprintln(w)
}

// writeRounds writes every round's ratio, for RESULTS.md.
func writeRounds(w io.Writer, h headline) {
	n := h.roundCount()
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "## Ratios per round")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%s against the best peer of each round (above 1 = ahead), and that peer.\n\n", subject)
	var rounds []int
	seen := map[int]bool{}
	for _, sp := range h.rows {
		for _, rr := range sp.rounds {
			if !seen[rr.round] {
				seen[rr.round] = true
				rounds = append(rounds, rr.round)
			}
		}
	}
	sort.Ints(rounds)
	header := []string{"benchmark", "metric"}
	for _, rd := range rounds {
		header = append(header, strconv.Itoa(rd))
	}
	header = append(header, "median")
	writeRow(w, header)
	writeRow(w, separator(len(header)))
	for _, sp := range h.rows {
		cells := []string{sp.row, sp.unit}
		for _, rd := range rounds {
			cell := "n/a"
			for _, rr := range sp.rounds {
				if rr.round == rd {
					cell = fmt.Sprintf("%.2f %s", rr.ratio, rr.peer)
				}
			}
			cells = append(cells, cell)
		}
		cells = append(cells, fmt.Sprintf("**%.2f**", sp.median))
		writeRow(w, cells)
	}
	fmt.Fprintln(w)
}
