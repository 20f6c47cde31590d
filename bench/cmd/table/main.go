// Command table turns raw `go test -bench` output into bench/RESULTS.md and
// bench/results/ratios.svg:
//
//   - justredis against its closest peer: paired with each peer round by
//     round (one round runs every client once), the median of justredis's
//     figure over that peer's; the least of those medians, as a table and
//     as a chart (-svg); and every client against the others the same way,
//     which tells a row where somebody leads from one within the noise;
//   - the median of every metric per (row, client), and each client's ratio
//     to the best peer's median (best = highest for a per-second unit,
//     lowest otherwise, among the clients other than justredis);
//   - the targets checked against those medians;
//   - redis-benchmark's numbers as the server's ceiling, and benchstat's
//     output appended verbatim.
//
// A row is a benchmark name without its client=… element and the -GOMAXPROCS
// suffix, e.g. ParallelGet/conc=64/net=tcp. A "round: N" line in the raw
// output (run.sh writes one before each client's run) says which round the
// results after it belong to; without such lines the k-th result of a
// (row, client) is taken to be from round k.
//
//	table -raw bench.txt -ceiling redis-benchmark.txt -benchstat benchstat.txt \
//	      -out RESULTS.md -svg results/ratios.svg -readme README.md \
//	      -meta 'Date=…' -meta 'Machine=…'
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The library the table is about; the others are its peers.
const subject = "justredis"

// Column order; clients not listed come after, in order of appearance.
var clientOrder = []string{"justredis", "go-redis", "rueidis", "redigo", "radix"}

type metaList []string

func (m *metaList) String() string     { return strings.Join(*m, "; ") }
func (m *metaList) Set(v string) error { *m = append(*m, v); return nil }

// config is what one run of the tool reads and writes.
type config struct {
	raw, ceiling, benchstat string // inputs; only raw is required
	out, svg, readme        string // outputs; out "" = stdout
	meta                    []string
}

func main() {
	var c config
	var meta metaList
	flag.StringVar(&c.raw, "raw", "", "raw go test -bench output (required)")
	flag.StringVar(&c.ceiling, "ceiling", "", "redis-benchmark results in benchmark format")
	flag.StringVar(&c.benchstat, "benchstat", "", "benchstat output to append")
	flag.StringVar(&c.out, "out", "", "Markdown file to write (default stdout)")
	flag.StringVar(&c.svg, "svg", "", "SVG chart of the per-round ratios to write")
	flag.StringVar(&c.readme, "readme", "", "README whose results block to replace")
	flag.Var(&meta, "meta", "Key=Value line for the header (repeatable)")
	flag.Parse()
	c.meta = meta
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.raw == "" {
		return fmt.Errorf("-raw is required")
	}
	res, err := parseFile(c.raw)
	if err != nil {
		return err
	}
	if len(res.rows) == 0 {
		return fmt.Errorf("%s has no benchmark results", c.raw)
	}
	var ceil *results
	if c.ceiling != "" {
		if ceil, err = parseFile(c.ceiling); err != nil {
			return err
		}
	}
	head := res.headline()

	if c.svg != "" {
		if err := os.WriteFile(c.svg, []byte(chart(head, c.meta)), 0o644); err != nil {
			return err
		}
	}

	// The README gets the summary; RESULTS.md also the ratios round by
	// round and benchstat.
	var summary strings.Builder
	writeMeta(&summary, c.meta)
	writeHeadline(&summary, head, chartLink(c.out, c.svg))
	writeLeaders(&summary, res)
	writeTargets(&summary, res)
	writeMedians(&summary, res)
	writeRatios(&summary, res)
	if ceil != nil && len(ceil.rows) > 0 {
		writeCeiling(&summary, ceil)
	}

	var doc strings.Builder
	doc.WriteString("# Benchmark results\n\n")
	doc.WriteString(summary.String())
	writePeers(&doc, head, res.clients)
	writeRounds(&doc, head)
	if c.benchstat != "" {
		stat, err := os.ReadFile(c.benchstat)
		if err != nil {
			return err
		}
		doc.WriteString("## benchstat\n\n```\n" + strings.TrimRight(string(stat), "\n") + "\n```\n")
	}
	if c.out == "" {
		_, err = io.WriteString(os.Stdout, doc.String())
		return err
	}
	if err := os.WriteFile(c.out, []byte(doc.String()), 0o644); err != nil {
		return err
	}
	if c.readme != "" {
		return replaceBlock(c.readme, summary.String())
	}
	return nil
}

// chartLink is where the chart is as seen from the Markdown file, or "" when
// there is no chart.
func chartLink(outPath, svgPath string) string {
	if svgPath == "" {
		return ""
	}
	if outPath == "" {
		return filepath.ToSlash(svgPath)
	}
	rel, err := filepath.Rel(filepath.Dir(outPath), svgPath)
	if err != nil {
		return filepath.ToSlash(svgPath)
	}
	return filepath.ToSlash(rel)
}
