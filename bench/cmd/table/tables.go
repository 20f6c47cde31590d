package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

func writeMeta(w io.Writer, meta []string) {
	for _, m := range meta {
		k, v, ok := strings.Cut(m, "=")
		if !ok {
			fmt.Fprintf(w, "%s  \n", m)
			continue
		}
		fmt.Fprintf(w, "**%s:** %s  \n", k, v)
	}
	fmt.Fprintln(w)
}

func writeMedians(w io.Writer, r *results) {
	fmt.Fprintln(w, "## Medians")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Median over all repeats. ↑: higher is better, ↓: lower is better. "+
		"**Bold**: the best peer (best client other than "+subject+"). "+
		"Parallel and pipeline rows count GETs in gets/s (SETs in sets/s); pipeline B/op and allocs/op are per batch of 100.")
	fmt.Fprintln(w)
	header := []string{"benchmark", "metric"}
	header = append(header, r.clients...)
	header = append(header, subject+" ÷ best peer")
	writeRow(w, header)
	writeRow(w, separator(len(header)))
	for _, row := range r.rows {
		for _, unit := range r.shownUnits(row) {
			best, bestV, hasBest := r.bestPeer(row, unit)
			cells := []string{row, unitLabel(unit)}
			for _, c := range r.clients {
				v, ok := r.median(row, unit, c)
				switch {
				case !ok:
					cells = append(cells, "n/a")
				case c == best:
					cells = append(cells, "**"+format(v, unit)+"**")
				default:
					cells = append(cells, format(v, unit))
				}
			}
			sv, ok := r.median(row, unit, subject)
			if ok && hasBest {
				cells = append(cells, ratio(sv, bestV))
			} else {
				cells = append(cells, "n/a")
			}
			writeRow(w, cells)
		}
	}
	fmt.Fprintln(w)
}

func writeRatios(w io.Writer, r *results) {
	fmt.Fprintln(w, "## Ratios to the best peer")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Each client's median divided by the best peer's median in the same row "+
		"(so the best peer shows 1.00). For ↑ metrics above 1 is better, for ↓ metrics below 1 is better.")
	fmt.Fprintln(w)
	header := []string{"benchmark", "metric"}
	header = append(header, r.clients...)
	writeRow(w, header)
	writeRow(w, separator(len(header)))
	for _, row := range r.rows {
		for _, unit := range r.shownUnits(row) {
			_, bestV, hasBest := r.bestPeer(row, unit)
			cells := []string{row, unitLabel(unit)}
			for _, c := range r.clients {
				v, ok := r.median(row, unit, c)
				if !ok || !hasBest {
					cells = append(cells, "n/a")
					continue
				}
				cells = append(cells, ratio(v, bestV))
			}
			writeRow(w, cells)
		}
	}
	fmt.Fprintln(w)
}

func writeCeiling(w io.Writer, r *results) {
	fmt.Fprintln(w, "## Server ceiling: redis-benchmark")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "`redis-benchmark -t set,get -d 16 -c 50` against the same server, in the same loop as the clients; GET rate, median over all repeats.")
	fmt.Fprintln(w)
	writeRow(w, []string{"run", "gets/s ↑", "repeats"})
	writeRow(w, separator(3))
	for _, row := range r.rows {
		for _, c := range r.clients {
			xs := r.values(row, "gets/s", c, 0)
			if len(xs) == 0 {
				continue
			}
			writeRow(w, []string{row, formatCount(median(xs)), strconv.Itoa(len(xs))})
		}
	}
	fmt.Fprintln(w)
}
