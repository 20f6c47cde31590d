package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

func format(v float64, unit string) string {
	switch unit {
	case "ns/op", "cpu-ns/op":
		return formatDuration(v)
	case "gets/s", "sets/s":
		return formatCount(v)
	case "MB/s":
		return fmt.Sprintf("%.0f", v)
	case "allocs/op", "B/op":
		if v == math.Trunc(v) {
			return fmt.Sprintf("%.0f", v)
		}
		return fmt.Sprintf("%.1f", v)
	}
	return sig3(v)
}

func formatDuration(ns float64) string {
	switch {
	case ns >= 1e6:
		return sig3(ns/1e6) + " ms"
	case ns >= 1e3:
		return sig3(ns/1e3) + " µs"
	}
	return sig3(ns) + " ns"
}

func formatCount(v float64) string {
	switch {
	case v >= 1e6:
		return sig3(v/1e6) + "M"
	case v >= 1e3:
		return sig3(v/1e3) + "k"
	}
	return sig3(v)
}

// sig3 prints three significant digits without an exponent.
func sig3(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func unitLabel(unit string) string {
	arrow := " ↓"
	if higherIsBetter(unit) {
		arrow = " ↑"
	}
	return unit + arrow
}

func separator(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = "---"
	}
	return s
}

func writeRow(w io.Writer, cells []string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}
