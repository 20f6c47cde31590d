package main

import (
	"encoding/xml"
	"fmt"
	"math"
	"strings"
)

// The chart: a horizontal bar per (workload, network) from the line at 1.0
// to the median ratio, on a log scale so that twice as fast and half as
// fast are the same length; a thin line across each bar spans the rounds'
// range. Written by hand, so the bench module needs nothing to draw it.

const (
	fontSize  = 12
	charWidth = 7 // a generous average width of a 12px sans-serif glyph
	barHeight = 14
	rowStep   = 20 // bar plus gap
	groupGap  = 8  // extra space between workloads
	plotWidth = 520
	padLeft   = 40 // room for a value label left of the shortest bar
	padRight  = 70
	topMargin = 74
	botMargin = 40
)

// netColors are fill colours per network; others get grey.
var netColors = map[string]string{"tcp": "#4c78a8", "unix": "#f58518"}

func netColor(n string) string {
	if c, ok := netColors[n]; ok {
		return c
	}
	return "#888888"
}

// esc makes s safe as SVG text or attribute content.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// logScale maps ratios to x positions, log2-spaced between lo and hi.
type logScale struct {
	lo, hi   float64 // powers of two around every value, at least 0.5 to 2
	x0, xEnd float64
}

func newLogScale(h headline, x0, width float64) logScale {
	lo, hi := 0.5, 2.0
	for _, sp := range h.rows {
		lo = math.Min(lo, math.Min(sp.min, sp.median))
		hi = math.Max(hi, math.Max(sp.max, sp.median))
	}
	return logScale{
		lo: math.Exp2(math.Floor(math.Log2(lo))),
		hi: math.Exp2(math.Ceil(math.Log2(hi))),
		x0: x0, xEnd: x0 + width,
	}
}

func (s logScale) x(v float64) float64 {
	v = math.Max(s.lo, math.Min(s.hi, v))
	f := (math.Log2(v) - math.Log2(s.lo)) / (math.Log2(s.hi) - math.Log2(s.lo))
	return s.x0 + f*(s.xEnd-s.x0)
}

// ticks are the powers of two in range, with 0.75, 1.5, 3… between them
// when there are few octaves to show.
func (s logScale) ticks() []float64 {
	var out []float64
	octaves := math.Log2(s.hi) - math.Log2(s.lo)
	for v := s.lo; v <= s.hi*1.0001; v *= 2 {
		out = append(out, v)
		if octaves <= 3 && v*1.5 < s.hi {
			out = append(out, v*1.5)
		}
	}
	return out
}

// chart draws the headline as an SVG document. meta's Date and Machine
// lines, when given, become its subtitle.
func chart(h headline, meta []string) string {
	labels := make([]string, len(h.rows))
	longest := 0
	for i, sp := range h.rows {
		labels[i] = sp.workload
		if sp.network != "" {
			labels[i] += " (" + sp.network + ")"
		}
		longest = max(longest, len(labels[i]))
	}
	labelWidth := float64(longest*charWidth + 12)
	x0 := labelWidth + padLeft
	sc := newLogScale(h, x0, plotWidth)
	groups := len(h.workloads())
	height := topMargin + len(h.rows)*rowStep + max(groups-1, 0)*groupGap + botMargin
	width := int(x0) + plotWidth + padRight

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d">`+"\n",
		width, height, width, height, fontSize)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	// Short enough for the chart's width in DejaVu Sans Bold, which is
	// wider than Arial: about 770 px of 887 with the current rows.
	title := fmt.Sprintf("%s ÷ its closest peer, median of %d paired rounds (log scale, above 1 = ahead of every peer)",
		subject, h.roundCount())
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", esc(title))
	if sub := subtitle(meta); sub != "" {
		fmt.Fprintf(&b, `<text x="10" y="38" fill="#555555">%s</text>`+"\n", esc(sub))
	}
	// Legend: one swatch per network.
	lx := x0
	for _, n := range h.networks {
		fmt.Fprintf(&b, `<rect x="%.1f" y="48" width="12" height="12" fill="%s"/>`, lx, netColor(n))
		fmt.Fprintf(&b, `<text x="%.1f" y="58">%s</text>`+"\n", lx+16, esc(n))
		lx += float64(len(n)*charWidth + 36)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="58" fill="#555555">thin line: range over the rounds</text>`+"\n", lx)

	plotTop := float64(topMargin - 6)
	plotBottom := float64(height - botMargin + 4)
	for _, t := range sc.ticks() {
		x := sc.x(t)
		fmt.Fprintf(&b, `<line class="tick" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`, x, plotTop, x, plotBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555555">%s</text>`+"\n",
			x, plotBottom+14, esc(fmt.Sprintf("%g", t)))
	}
	one := sc.x(1)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#555555">← behind</text>`, one-6, plotBottom+30)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#555555">ahead →</text>`+"\n", one+6, plotBottom+30)

	y := float64(topMargin)
	prev := ""
	for i, sp := range h.rows {
		if i > 0 && sp.workload != prev {
			y += groupGap
		}
		prev = sp.workload
		mid := y + barHeight/2
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`, labelWidth, mid+4, esc(labels[i]))
		xv := sc.x(sp.median)
		left, right := math.Min(one, xv), math.Max(one, xv)
		tip := fmt.Sprintf("%s, %s: median %.2f over %d rounds against %s, the closest peer, range %.2f–%.2f",
			sp.row, sp.unit, sp.median, len(sp.rounds), sp.peer, sp.min, sp.max)
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`,
			left, y, math.Max(right-left, 1), barHeight, netColor(sp.network), esc(tip))
		xmin, xmax := sc.x(sp.min), sc.x(sp.max)
		fmt.Fprintf(&b, `<line class="range" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`, xmin, mid, xmax, mid)
		for _, xe := range []float64{xmin, xmax} {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`, xe, mid-3, xe, mid+3)
		}
		value := esc(fmt.Sprintf("%.2f", sp.median))
		if sp.median >= 1 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", math.Max(xv, xmax)+4, mid+4, value)
		} else {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", math.Min(xv, xmin)-4, mid+4, value)
		}
		y += rowStep
	}
	// The line at 1.0 goes over the bars, so it shows where each starts.
	fmt.Fprintf(&b, `<line class="one" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000000" stroke-width="1.5"/>`+"\n",
		one, plotTop, one, plotBottom)
	b.WriteString("</svg>\n")
	return b.String()
}

// subtitle is the run's date and machine from the header lines.
func subtitle(meta []string) string {
	var parts []string
	for _, m := range meta {
		k, v, ok := strings.Cut(m, "=")
		if ok && (k == "Date" || k == "Machine") {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " · ")
}
