// Command table turns raw `go test -bench` output into bench/RESULTS.md: the
// median of every metric per (row, client), each client's ratio to the best
// peer of that row (best = highest for a per-second unit, lowest otherwise,
// among the clients other than justredis), the targets checked
// against those medians, redis-benchmark's numbers as the server's ceiling,
// and benchstat's output appended verbatim.
//
// A row is a benchmark name without its client=… element and the -GOMAXPROCS
// suffix, e.g. ParallelGet/conc=64/net=tcp.
//
//	table -raw bench.txt -ceiling redis-benchmark.txt -benchstat benchstat.txt \
//	      -out RESULTS.md -readme README.md -meta 'Date=…' -meta 'Machine=…'
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// The library the table is about; the others are its peers.
const subject = "justredis"

// Column order; clients not listed come after, in order of appearance.
var clientOrder = []string{"justredis", "go-redis", "rueidis", "redigo", "radix"}

type metaList []string

func (m *metaList) String() string     { return strings.Join(*m, "; ") }
func (m *metaList) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var (
		raw       = flag.String("raw", "", "raw go test -bench output (required)")
		ceiling   = flag.String("ceiling", "", "redis-benchmark results in benchmark format")
		benchstat = flag.String("benchstat", "", "benchstat output to append")
		out       = flag.String("out", "", "Markdown file to write (default stdout)")
		readme    = flag.String("readme", "", "README whose results block to replace")
		meta      metaList
	)
	flag.Var(&meta, "meta", "Key=Value line for the header (repeatable)")
	flag.Parse()
	if err := run(*raw, *ceiling, *benchstat, *out, *readme, meta); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

func run(rawPath, ceilingPath, statPath, outPath, readmePath string, meta []string) error {
	if rawPath == "" {
		return fmt.Errorf("-raw is required")
	}
	res, err := parseFile(rawPath)
	if err != nil {
		return err
	}
	if len(res.rows) == 0 {
		return fmt.Errorf("%s has no benchmark results", rawPath)
	}
	var ceil *results
	if ceilingPath != "" {
		if ceil, err = parseFile(ceilingPath); err != nil {
			return err
		}
	}

	var body strings.Builder
	writeMeta(&body, meta)
	writeTargets(&body, res)
	writeMedians(&body, res)
	writeRatios(&body, res)
	if ceil != nil && len(ceil.rows) > 0 {
		writeCeiling(&body, ceil)
	}
	tables := body.String()

	doc := "# Benchmark results\n\n" + tables
	if statPath != "" {
		stat, err := os.ReadFile(statPath)
		if err != nil {
			return err
		}
		doc += "## benchstat\n\n```\n" + strings.TrimRight(string(stat), "\n") + "\n```\n"
	}
	if outPath == "" {
		_, err = io.WriteString(os.Stdout, doc)
		return err
	}
	if err := os.WriteFile(outPath, []byte(doc), 0o644); err != nil {
		return err
	}
	if readmePath != "" {
		return replaceBlock(readmePath, tables)
	}
	return nil
}

// ------------------------------------------------------------------ parsing

type results struct {
	rows    []string                                   // in order of first appearance
	clients []string                                   // columns
	units   map[string][]string                        // row -> units in order of appearance
	samples map[string]map[string]map[string][]float64 // row -> unit -> client -> values
}

func newResults() *results {
	return &results{units: map[string][]string{}, samples: map[string]map[string]map[string][]float64{}}
}

func parseFile(path string) (*results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f)
}

// parse reads the benchmark lines of go test output and ignores the rest.
func parse(r io.Reader) (*results, error) {
	res := newResults()
	seenClient := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		row, client := splitName(f[0])
		if client == "" {
			continue
		}
		if !seenClient[client] {
			seenClient[client] = true
			res.clients = append(res.clients, client)
		}
		if res.samples[row] == nil {
			res.rows = append(res.rows, row)
			res.samples[row] = map[string]map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			if res.samples[row][unit] == nil {
				res.samples[row][unit] = map[string][]float64{}
				res.units[row] = append(res.units[row], unit)
			}
			res.samples[row][unit][client] = append(res.samples[row][unit][client], v)
		}
	}
	res.clients = orderClients(res.clients)
	return res, sc.Err()
}

// splitName turns "BenchmarkParallelGet/conc=64/net=tcp/client=rueidis-2"
// into ("ParallelGet/conc=64/net=tcp", "rueidis").
func splitName(name string) (row, client string) {
	name = strings.TrimPrefix(name, "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	var keep []string
	for _, part := range strings.Split(name, "/") {
		if c, ok := strings.CutPrefix(part, "client="); ok {
			client = c
			continue
		}
		keep = append(keep, part)
	}
	return strings.Join(keep, "/"), client
}

func orderClients(seen []string) []string {
	var out []string
	have := map[string]bool{}
	for _, c := range seen {
		have[c] = true
	}
	for _, c := range clientOrder {
		if have[c] {
			out = append(out, c)
			delete(have, c)
		}
	}
	for _, c := range seen {
		if have[c] {
			out = append(out, c)
		}
	}
	return out
}

// ---------------------------------------------------------------- statistics

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// higherIsBetter: rates (gets/s, MB/s) are better high, costs (ns/op,
// cpu-ns/op, B/op, allocs/op) low.
func higherIsBetter(unit string) bool { return strings.HasSuffix(unit, "/s") }

func (r *results) median(row, unit, client string) (float64, bool) {
	xs := r.samples[row][unit][client]
	if len(xs) == 0 {
		return 0, false
	}
	return median(xs), true
}

// bestPeer is the best median among clients other than the subject.
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

// ---------------------------------------------------------------- formatting

func format(v float64, unit string) string {
	switch unit {
	case "ns/op", "cpu-ns/op":
		return formatDuration(v)
	case "gets/s":
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
		"Parallel and pipeline rows count GETs in gets/s; pipeline B/op and allocs/op are per batch of 100.")
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
			xs := r.samples[row]["gets/s"][c]
			if len(xs) == 0 {
				continue
			}
			writeRow(w, []string{row, formatCount(median(xs)), strconv.Itoa(len(xs))})
		}
	}
	fmt.Fprintln(w)
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

// ------------------------------------------------------------------- targets

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
	{"100-GET pipeline allocs ≤ 110", "Pipeline/", "allocs/op", "-", 110},
	{"100-GET pipeline ≥ 1.0× best peer", "Pipeline/", "gets/s", "", 1.0},
	{"1 MiB GET ≥ 1.0× best peer", "GetLarge/", "MB/s", "", 1.0},
	{"sequential SET+GET within 1.05× of best peer", "Seq/op=setget/", "ns/op", "", 1.05},
	{"cluster parallel GET ≥ 1.0× rueidis", "ClusterParallelGet/", "gets/s", "rueidis", 1.0},
	{"cache-hit GET ≤ 1.0× rueidis DoCache", "CacheHit/", "ns/op", "rueidis", 1.0},
	{"cache-hit GET allocs ≤ rueidis DoCache", "CacheHit/", "allocs/op", "rueidis", 1.0},
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

// ------------------------------------------------------------------- README

const (
	beginMark = "<!-- results:begin -->"
	endMark   = "<!-- results:end -->"
)

// replaceBlock puts text between the README's result markers.
func replaceBlock(path, text string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i := strings.Index(s, beginMark)
	j := strings.Index(s, endMark)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s … %s block", path, beginMark, endMark)
	}
	s = s[:i+len(beginMark)] + "\n" + text + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
