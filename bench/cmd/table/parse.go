package main

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
)

// sample is one result of one metric, and the round it came from.
type sample struct {
	round int
	v     float64
}

type results struct {
	rows    []string                                  // in order of first appearance
	clients []string                                  // columns
	units   map[string][]string                       // row -> units in order of appearance
	samples map[string]map[string]map[string][]sample // row -> unit -> client -> samples
}

func newResults() *results {
	return &results{units: map[string][]string{}, samples: map[string]map[string]map[string][]sample{}}
}

func parseFile(path string) (*results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f)
}

// parse reads the benchmark lines of go test output, and the "round: N"
// lines between them, and ignores the rest.
func parse(r io.Reader) (*results, error) {
	res := newResults()
	seenClient := map[string]bool{}
	round := 0 // 0: no round line yet, so results count their own rounds
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "round:"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				round = n
			}
			continue
		}
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
			res.samples[row] = map[string]map[string][]sample{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			if res.samples[row][unit] == nil {
				res.samples[row][unit] = map[string][]sample{}
				res.units[row] = append(res.units[row], unit)
			}
			have := res.samples[row][unit][client]
			rd := round
			if rd == 0 {
				rd = len(have) + 1
			}
			res.samples[row][unit][client] = append(have, sample{round: rd, v: v})
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

// splitNet takes the net=… element out of a row:
// "Seq/op=get/net=unix" is workload "Seq/op=get" on network "unix".
func splitNet(row string) (workload, network string) {
	var keep []string
	for _, part := range strings.Split(row, "/") {
		if n, ok := strings.CutPrefix(part, "net="); ok {
			network = n
			continue
		}
		keep = append(keep, part)
	}
	return strings.Join(keep, "/"), network
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
