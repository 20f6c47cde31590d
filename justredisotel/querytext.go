package justredisotel

import (
	"strconv"
	"unicode/utf8"
)

// maxQueryText bounds db.query.text, so that a large value (a string may
// hold 512 MiB) costs a span no more than this.
const maxQueryText = 1024

// queryText renders a call's commands (Call.Args) in redis-cli syntax,
// for WithQueryText, cut at maxQueryText bytes.
func queryText(cmds [][]string) string {
	var buf [256]byte
	b := buf[:0]
	for i := 0; i < len(cmds) && len(b) <= maxQueryText; i++ {
		if i > 0 {
			b = append(b, "; "...)
		}
		b = appendCommandText(b, cmds[i])
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

func appendCommandText(b []byte, args []string) []byte {
	if len(args) == 0 {
		return b
	}
	var name [maxNameLen]byte
	upperName := name[:0]
	if isName(args[0]) {
		for i := 0; i < len(args[0]); i++ {
			upperName = append(upperName, upper(args[0][i]))
		}
	}
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
			b = appendText(b, a, maxQueryText+1-len(b))
		default:
			b = append(b, '?')
		}
	}
	return b
}

// isWord reports whether s is a short run of letters, as a subcommand
// ("SETUSER") is and a password seldom is.
func isWord(s string) bool {
	if s == "" || len(s) > 32 {
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

// appendText writes one argument as redis-cli would take it back: plain
// when it is printable ASCII with no space or quote, quoted otherwise. At
// most about limit bytes of it are written.
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
