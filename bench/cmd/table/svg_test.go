package main

import (
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// svgElem is just enough of an SVG element to check the chart's structure.
type svgElem struct {
	XMLName xml.Name
	Class   string    `xml:"class,attr"`
	X       string    `xml:"x,attr"`
	Width   string    `xml:"width,attr"`
	X1      string    `xml:"x1,attr"`
	X2      string    `xml:"x2,attr"`
	Title   string    `xml:"title"`
	Text    string    `xml:",chardata"`
	Kids    []svgElem `xml:",any"`
}

func parseSVG(t *testing.T, doc string) svgElem {
	t.Helper()
	// Every token must parse: a well-formed document, not just a root.
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("malformed SVG: %v\n%s", err, doc)
		}
	}
	var root svgElem
	if err := xml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root is %v, want svg in the SVG namespace", root.XMLName)
	}
	return root
}

func float(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return v
}

func TestChartWellFormed(t *testing.T) {
	raw := roundsRaw + `round: 1
BenchmarkSeq/op=setget/net=tcp/client=justredis-2 1000 100 ns/op
BenchmarkSeq/op=setget/net=tcp/client=radix-2 1000 100 ns/op
BenchmarkCacheHit/conc=64/net=tcp/client=justredis-2 1000 20 ns/op
BenchmarkCacheHit/conc=64/net=tcp/client=rueidis-2 1000 400 ns/op
`
	r, err := parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := r.headline()
	// Characters XML cares about, in the subtitle, must come out escaped.
	doc := chart(h, []string{"Date=today", "Machine=2 cores <AMD & co>", "Command=`x`"})
	root := parseSVG(t, doc)

	var bars, ones []svgElem
	var texts []string
	var walk func(e svgElem)
	walk = func(e svgElem) {
		switch {
		case e.XMLName.Local == "rect" && e.Class == "bar":
			bars = append(bars, e)
		case e.XMLName.Local == "line" && e.Class == "one":
			ones = append(ones, e)
		case e.XMLName.Local == "text":
			texts = append(texts, e.Text)
		}
		for _, k := range e.Kids {
			walk(k)
		}
	}
	walk(root)

	if len(bars) != 3 {
		t.Fatalf("%d bars, want one per workload×network (3)", len(bars))
	}
	if len(ones) != 1 || ones[0].X1 != ones[0].X2 {
		t.Fatalf("want one vertical line at 1.0, got %+v", ones)
	}
	one := float(t, ones[0].X1)
	// Every bar starts or ends on the 1.0 line: behind to its left, ahead
	// to its right, and the 1.00 row is a sliver on it.
	for i, b := range bars {
		x, w := float(t, b.X), float(t, b.Width)
		sp := h.rows[i]
		switch {
		case sp.median > 1 && !near(x, one):
			t.Errorf("bar %d (%.2f) starts at %v, want the 1.0 line at %v", i, sp.median, x, one)
		case sp.median < 1 && !near(x+w, one):
			t.Errorf("bar %d (%.2f) ends at %v, want the 1.0 line at %v", i, sp.median, x+w, one)
		}
		if !strings.Contains(b.Title, sp.row) {
			t.Errorf("bar %d's tooltip %q does not name %s", i, b.Title, sp.row)
		}
	}
	// The 20× cache row widens the scale instead of running off the chart.
	if w := float(t, bars[2].Width); float(t, bars[2].X)+w > float(t, root.Width) {
		t.Errorf("the 20× bar runs past the chart's width")
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{"Seq/op=setget (unix)", "CacheHit/conc=64 (tcp)", "20.00", "1.50",
		"2 cores <AMD & co>", "today"} {
		if !strings.Contains(all, want) {
			t.Errorf("chart text lacks %q", want)
		}
	}
	if strings.Contains(all, "`x`") {
		t.Error("the subtitle carries more than Date and Machine")
	}
}

// A run with no ratio to draw still gives a valid, if empty, document.
func TestChartEmpty(t *testing.T) {
	parseSVG(t, chart(headline{}, nil))
}

func TestLogScale(t *testing.T) {
	h := headline{rows: []speedup{{median: 0.7, min: 0.6, max: 0.8}, {median: 2.6, min: 2.2, max: 3.1}}}
	s := newLogScale(h, 0, 300)
	if s.lo != 0.5 || s.hi != 4 {
		t.Fatalf("range %v–%v, want 0.5–4", s.lo, s.hi)
	}
	// Log scale: 0.5→1 is as long as 1→2 and 2→4.
	if !near(s.x(1)-s.x(0.5), 100) || !near(s.x(4)-s.x(2), 100) {
		t.Errorf("x(0.5)=%v x(1)=%v x(2)=%v x(4)=%v", s.x(0.5), s.x(1), s.x(2), s.x(4))
	}
	var got []string
	for _, v := range s.ticks() {
		got = append(got, strconv.FormatFloat(v, 'g', -1, 64))
	}
	if strings.Join(got, " ") != "0.5 0.75 1 1.5 2 3 4" {
		t.Errorf("ticks %v", got)
	}
}
