package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// roundRatio is how far a client was ahead of one peer in one round:
// above 1 = ahead.
type roundRatio struct {
	round int
	ratio float64
}

// speedup is one row of the headline: a client against its closest peer.
//
// The client is paired with each peer round by round (one round runs every
// client on the row, within seconds of each other, so the host's drift
// cancels), and each pairing gives the median of its ratios. The closest
// peer is the one whose median is least: above 1 means the client was ahead
// of every peer. Pairing with each peer, rather than with the best peer of
// each round, is what lets a lead show: with four peers whose figures
// scatter by ±30% from round to round, the best of them in a round is
// usually one that got lucky, so even a client identical to its peers
// would read well below 1 against "the best peer of each round", however
// many rounds were run. Each pairwise median tends to the true ratio as
// rounds are added.
type speedup struct {
	row, workload, network, unit string
	peer                         string       // the closest peer
	rounds                       []roundRatio // against that peer, in round order
	median, min, max             float64      // of those ratios
	peers                        []peerMedian // the median against every peer, in client order
}

// peerMedian is a client's median ratio against one peer.
type peerMedian struct {
	peer   string
	median float64
	rounds int
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

// speedup is the subject against its closest peer on the row.
func (r *results) speedup(row string) (speedup, bool) {
	return r.versus(row, subject)
}

// versus compares client with every other client of the row, pair by pair,
// on the row's main metric (see speedup).
func (r *results) versus(row, client string) (speedup, bool) {
	unit, ok := r.mainUnit(row)
	if !ok {
		return speedup{}, false
	}
	sp := speedup{row: row, unit: unit}
	sp.workload, sp.network = splitNet(row)
	for _, peer := range r.clients {
		if peer == client {
			continue
		}
		rounds := r.paired(row, unit, client, peer)
		if len(rounds) == 0 {
			continue
		}
		ratios := make([]float64, len(rounds))
		for i, rr := range rounds {
			ratios[i] = rr.ratio
		}
		m := ratioMedian(ratios)
		sp.peers = append(sp.peers, peerMedian{peer: peer, median: m, rounds: len(rounds)})
		if sp.peer != "" && m >= sp.median {
			continue // ties go to the peer named first
		}
		sp.peer, sp.rounds, sp.median = peer, rounds, m
		sp.min, sp.max = ratios[0], ratios[0]
		for _, x := range ratios {
			sp.min, sp.max = math.Min(sp.min, x), math.Max(sp.max, x)
		}
	}
	return sp, sp.peer != ""
}

// paired is client's ratio to peer in every round both ran, in round
// order. A ratio is client's figure over the peer's for a rate, the peer's
// over client's for a cost, so above 1 always means client was ahead. A
// client with several results in a round counts with their median.
func (r *results) paired(row, unit, client, peer string) []roundRatio {
	seen := map[int]bool{}
	var rounds []int
	for _, s := range r.samples[row][unit][client] {
		if !seen[s.round] {
			seen[s.round] = true
			rounds = append(rounds, s.round)
		}
	}
	sort.Ints(rounds)
	var out []roundRatio
	for _, rd := range rounds {
		pvs := r.values(row, unit, peer, rd)
		if len(pvs) == 0 {
			continue
		}
		cv, pv := median(r.values(row, unit, client, rd)), median(pvs)
		x := cv / pv
		if !higherIsBetter(unit) {
			x = pv / cv
		}
		if math.IsNaN(x) || math.IsInf(x, 0) || x <= 0 {
			continue
		}
		out = append(out, roundRatio{round: rd, ratio: x})
	}
	return out
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
	fmt.Fprintf(w, "## %s against its closest peer, round by round\n\n", subject)
	fmt.Fprintf(w, "Each round runs every client on each row once, one right after another. %s is paired with each peer "+
		"round by round: its figure divided by that peer's figure of the same round (the other way round for times), "+
		"and the median of those ratios over the rounds (%d at most). Shown: the least of those medians, the peer it is "+
		"against (the closest peer), and the range of that pairing's ratios; so **above 1 means %s was ahead of every peer**. "+
		"A row is judged by its rate where it has one, else by ns/op.\n\n", subject, h.roundCount(), subject)
	if chartPath != "" {
		fmt.Fprintf(w, "![%s against its closest peer, median ratio per round](%s)\n\n", subject, chartPath)
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
	fmt.Fprintf(w, "%s against its closest peer on the row (above 1 = ahead), round by round.\n\n", subject)
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
	header := []string{"benchmark", "metric", "peer"}
	for _, rd := range rounds {
		header = append(header, strconv.Itoa(rd))
	}
	header = append(header, "median")
	writeRow(w, header)
	writeRow(w, separator(len(header)))
	for _, sp := range h.rows {
		cells := []string{sp.row, sp.unit, sp.peer}
		for _, rd := range rounds {
			cell := "n/a"
			for _, rr := range sp.rounds {
				if rr.round == rd {
					cell = fmt.Sprintf("%.2f", rr.ratio)
				}
			}
			cells = append(cells, cell)
		}
		cells = append(cells, fmt.Sprintf("**%.2f**", sp.median))
		writeRow(w, cells)
	}
	fmt.Fprintln(w)
}

// writeLeaders writes, for every row, each client against the others as
// the headline sets the subject against its peers: the least of its
// pairwise medians. A client above 1 was ahead of every other in the
// median; at most one per row can be (see ratioMedian). That is not proof
// of a lead: among equally fast clients that scatter as the sequential rows
// do, noise alone puts one above 1 in most runs.
func writeLeaders(w io.Writer, r *results) {
	var lines [][]string
	for _, row := range r.rows {
		unit, ok := r.mainUnit(row)
		if !ok || len(r.clientsIn(row, unit)) < 3 {
			continue // a pair is the headline already
		}
		cells := []string{row, unit}
		for _, c := range r.clients {
			sp, ok := r.versus(row, c)
			switch {
			case !ok || len(r.values(row, unit, c, 0)) == 0:
				cells = append(cells, "")
			case sp.median > 1:
				cells = append(cells, fmt.Sprintf("**%.2f**", sp.median))
			default:
				cells = append(cells, fmt.Sprintf("%.2f", sp.median))
			}
		}
		lines = append(lines, cells)
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "## Who leads each row")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every client against all the others, as the table above sets "+subject+" against its peers: "+
		"the least of its medians paired round by round. **Bold**: above 1, ahead of every other client in the median; "+
		"at most one per row. A bold figure near 1 is not yet a lead: where the clients are about as fast as each other "+
		"and their figures scatter from round to round, noise alone makes one of them read above 1 in most runs "+
		"(bench/README.md says how often). A lead is one that holds from run to run.")
	fmt.Fprintln(w)
	header := append([]string{"benchmark", "metric"}, r.clients...)
	writeRow(w, header)
	writeRow(w, separator(len(header)))
	for _, cells := range lines {
		writeRow(w, cells)
	}
	fmt.Fprintln(w)
}

// clientsIn are the clients with results for the row's metric.
func (r *results) clientsIn(row, unit string) []string {
	var out []string
	for _, c := range r.clients {
		if len(r.values(row, unit, c, 0)) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// writePeers writes the subject's median against every peer, for
// RESULTS.md: the headline keeps only the least of them.
func writePeers(w io.Writer, h headline, clients []string) {
	if len(h.rows) == 0 {
		return
	}
	fmt.Fprintf(w, "## %s against each peer\n\n", subject)
	fmt.Fprintf(w, "The median over the rounds of %s's figure divided by the peer's of the same round "+
		"(the other way round for times): above 1 = %s ahead of that peer.\n\n", subject, subject)
	header := []string{"benchmark", "metric"}
	for _, c := range clients {
		if c != subject {
			header = append(header, c)
		}
	}
	writeRow(w, header)
	writeRow(w, separator(len(header)))
	for _, sp := range h.rows {
		cells := []string{sp.row, sp.unit}
		for _, c := range header[2:] {
			cell := ""
			for _, pm := range sp.peers {
				if pm.peer == c {
					cell = fmt.Sprintf("%.2f", pm.median)
				}
			}
			cells = append(cells, cell)
		}
		writeRow(w, cells)
	}
	fmt.Fprintln(w)
}
