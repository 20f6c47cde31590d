package justredis

import (
	"regexp"
	"testing"
	"time"
)

// wellFormed is time.ParseDuration's grammar: one optional sign, then one
// or more numbers each followed by a unit. ("0" alone is a duration too,
// and always parses.)
var wellFormed = regexp.MustCompile(`^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// FuzzDurationShaped: a URL duration that time.ParseDuration refuses is
// called "too long" exactly when it is well formed; a malformed one is
// never "too long", a well-formed one never "not a duration".
func FuzzDurationShaped(f *testing.F) {
	for _, s := range []string{"1s", "2562048h", "--1s", "+-1h", "-+5m", "1.s", ".5ms", "1h2m3s", "1..5s", "1e3s", "µs", "1µs1", "99999999999999999999ms"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := time.ParseDuration(s)
		want := wellFormed.MatchString(s)
		if err == nil {
			if !want && s != "0" && s != "+0" && s != "-0" {
				t.Fatalf("the oracle calls %q malformed, but ParseDuration reads it", s)
			}
			return
		}
		if got := durationShaped(s); got != want {
			t.Fatalf("durationShaped(%q) = %v, want %v (ParseDuration: %v)", s, got, want, err)
		}
	})
}

// TestURLDurationTwoSigns: a duration with two signs is malformed, not
// too long.
func TestURLDurationTwoSigns(t *testing.T) {
	_, err := FromURL("redis://h?read_timeout=--1s")
	if err == nil || !regexp.MustCompile(`not a duration`).MatchString(err.Error()) {
		t.Fatalf("FromURL with read_timeout=--1s: %v, want \"not a duration\"", err)
	}
}
