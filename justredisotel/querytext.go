package justredisotel

import (
	"strconv"
	"unicode/utf8"
)

// maxQueryText bounds db.query.text, so that a large value (a string may
// hold 512 MiB) costs a span no more than this.
const maxQueryText = 1024

// queryText renders the call's commands in redis-cli syntax, for
// WithQueryText, cut at maxQueryText bytes.
func queryText(c commands) string {
	var buf [256]byte
	b := buf[:0]
	for i := 0; i < c.Len() && len(b) <= maxQueryText; i++ {
		if i > 0 {
			b = append(b, "; "...)
		}
		b = appendCommandText(b, c.Args(i))
	}
	if len(b) > maxQueryText {
		cut := maxQueryText
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = append(b[:cut], "..."...)
	}
	return string(b)
}

// secretArgs are the commands whose arguments may carry a password: they
// are written "?" each, keeping the subcommand where there is one.
var secretArgs = map[string]bool{
	"AUTH": false, "HELLO": false, "MIGRATE": false,
	"ACL": true, "CONFIG": true, "SENTINEL": true,
}

func appendCommandText(b []byte, args []any) []byte {
	var name [maxNameLen]byte
	upperName, _ := appendUpper(name[:0], args)
	keepSub, secret := secretArgs[string(upperName)]
	for j, a := range args {
		if len(b) > maxQueryText {
			break
		}
		if j > 0 {
			b = append(b, ' ')
		}
		switch {
		case j == 0, !secret, j == 1 && keepSub && isWord(a):
			b = appendValue(b, a, maxQueryText+1-len(b))
		default:
			b = append(b, '?')
		}
	}
	return b
}

// isWord reports whether a is a short run of letters, as a subcommand
// ("SETUSER") is and a password seldom is.
func isWord(a any) bool {
	s, ok := a.(string)
	if !ok || s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !('a' <= c && c <= 'z' || s[i] == '-' || s[i] == '|') {
			return false
		}
	}
	return true
}

// appendValue writes one argument as redis-cli would take it back: plain
// when it is printable ASCII with no space or quote, quoted otherwise. At
// most about limit bytes of it are written.
func appendValue(b []byte, a any, limit int) []byte {
	switch v := a.(type) {
	case string:
		return appendText(b, v, limit)
	case []byte:
		if len(v) > limit {
			v = v[:limit]
		}
		return appendText(b, string(v), limit)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case int16:
		return strconv.AppendInt(b, int64(v), 10)
	case int8:
		return strconv.AppendInt(b, int64(v), 10)
	case uint:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10)
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case float32:
		return strconv.AppendFloat(b, float64(v), 'g', -1, 32)
	case bool:
		if v {
			return append(b, '1')
		}
		return append(b, '0')
	}
	return append(b, '?')
}

func appendText(b []byte, s string, limit int) []byte {
	if len(s) > limit {
		s = s[:max(limit, 0)]
	}
	if isPlain(s) {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}

func isPlain(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\' {
			return false
		}
	}
	return true
}
