package justredisotel

// commands is what naming a call needs of it; *justredis.Call has it, and
// tests can fake it.
type commands interface {
	Len() int
	Args(i int) []any
}

// maxNameLen bounds the command names taken as they are. The longest Redis
// command name is some twenty bytes: anything longer is left unnamed
// rather than copied.
const maxNameLen = 64

// opName returns the call's db.operation.name: the command name upper-cased
// for one command; for a batch or a transaction, "PIPELINE" or "MULTI",
// followed by the command name when all commands share it, as the Redis
// semantic conventions say. It returns "" when a single command's name is
// not text.
//
// Names are upper-cased, against the conventions' advice to keep the
// application's spelling, because Redis ignores case and "get" and "GET"
// would otherwise make two metric series for one command.
func (h *Hook) opName(op string, c commands) string {
	n := c.Len()
	prefix := ""
	switch {
	case op == "Transaction":
		prefix = "MULTI"
	case n != 1:
		prefix = "PIPELINE"
	}
	if n == 0 {
		return prefix
	}
	first := c.Args(0)
	if prefix == "" {
		// The common case, a name written in upper case, costs nothing.
		if len(first) == 0 {
			return ""
		}
		if s, ok := first[0].(string); ok && isUpperName(s) {
			return s
		}
	}
	var buf [len("PIPELINE ") + maxNameLen]byte
	b := buf[:0]
	if prefix != "" {
		b = append(b, prefix...)
		b = append(b, ' ')
	}
	start := len(b)
	b, ok := appendUpper(b, first)
	if !ok {
		return prefix
	}
	for i := 1; i < n; i++ {
		if !sameName(b[start:], c.Args(i)) {
			return prefix
		}
	}
	return h.names.intern(b)
}

// isUpperName reports whether s is a plausible command name already in
// upper case, so that it can be used as it is.
func isUpperName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			return false
		}
	}
	return true
}

// appendUpper appends the command name args[0] upper-cased, or reports
// false if it is not text, is empty, or is too long to be a name.
func appendUpper(b []byte, args []any) ([]byte, bool) {
	if len(args) == 0 {
		return b, false
	}
	switch s := args[0].(type) {
	case string:
		if s == "" || len(s) > maxNameLen {
			return b, false
		}
		for i := 0; i < len(s); i++ {
			b = append(b, upper(s[i]))
		}
	case []byte:
		if len(s) == 0 || len(s) > maxNameLen {
			return b, false
		}
		for _, c := range s {
			b = append(b, upper(c))
		}
	default:
		return b, false
	}
	return b, true
}

// sameName reports whether args[0] is the name name (upper case), in any
// case.
func sameName(name []byte, args []any) bool {
	if len(args) == 0 {
		return false
	}
	switch s := args[0].(type) {
	case string:
		if len(s) != len(name) {
			return false
		}
		for i := 0; i < len(s); i++ {
			if upper(s[i]) != name[i] {
				return false
			}
		}
	case []byte:
		if len(s) != len(name) {
			return false
		}
		for i, c := range s {
			if upper(c) != name[i] {
				return false
			}
		}
	default:
		return false
	}
	return true
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
