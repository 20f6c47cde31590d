package justredis

import (
	"strconv"
	"testing"
)

// TestParseLength: every short prefix, the digits read at once included,
// is read as strconv reads it, within -1 and maxLength, and anything
// else is refused.
func TestParseLength(t *testing.T) {
	const alphabet = "0123456789+-x "
	var check func(b []byte)
	check = func(b []byte) {
		want, err := strconv.ParseInt(string(b), 10, 64)
		ok := err == nil && want >= -1 && want <= maxLength
		got, gotErr := parseLength(b)
		if ok != (gotErr == nil) || ok && got != want {
			t.Errorf("parseLength(%q) = %d, %v", b, got, gotErr)
		}
		if len(b) < 3 {
			for i := 0; i < len(alphabet); i++ {
				check(append(b[:len(b):len(b)], alphabet[i]))
			}
		}
	}
	check(nil)
	for _, s := range []string{"536870912", "536870913", "9223372036854775807", "99999999999999999999", "00000000000000000001"} {
		check([]byte(s))
	}
}
