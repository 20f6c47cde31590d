package justredisotel

// maxNameLen bounds the command names taken as they are. The longest Redis
// command name is some twenty bytes: anything longer is left unnamed
// rather than copied. (justredis leaves such names out of Call.Names
// already; a Call made elsewhere may not.)
const maxNameLen = 64

// opName returns the db.operation.name of a call whose commands are named
// names (Call.Names): the name for one command; for a batch, "PIPELINE",
// followed by the command name when all commands share it, as the Redis
// semantic conventions say. A batch sent as MULTI, commands, EXEC (what a
// Transaction sends) is named "MULTI" the same way, after the commands
// between. It returns "" when a single command's name is unknown (not
// text).
//
// Names are upper case, against the conventions' advice to keep the
// application's spelling, because Redis ignores case and "get" and "GET"
// would otherwise make two metric series for one command. justredis gives
// them so; a name that is not is upper-cased here.
func (h *Hook) opName(names []string) string {
	prefix := ""
	switch {
	case isTransaction(names):
		prefix = "MULTI"
		names = names[1 : len(names)-1]
	case len(names) != 1:
		prefix = "PIPELINE"
	}
	if len(names) == 0 {
		return prefix
	}
	first := names[0]
	if !isName(first) {
		return prefix
	}
	if prefix == "" && isUpper(first) {
		// The common case costs nothing: the client's own string.
		return first
	}
	for _, n := range names[1:] {
		if !sameName(first, n) {
			return prefix
		}
	}
	var buf [len("PIPELINE ") + maxNameLen]byte
	b := buf[:0]
	if prefix != "" {
		b = append(b, prefix...)
		b = append(b, ' ')
	}
	for i := 0; i < len(first); i++ {
		b = append(b, upper(first[i]))
	}
	return h.names.intern(b)
}

// isTransaction reports whether names are those of a transaction sent in
// one round trip: MULTI first, EXEC last.
func isTransaction(names []string) bool {
	return len(names) >= 2 && sameName("MULTI", names[0]) && sameName("EXEC", names[len(names)-1])
}

// isName reports whether s can be a command name: not empty, not too long.
func isName(s string) bool {
	return s != "" && len(s) <= maxNameLen
}

// isUpper reports whether s has no lower-case letter, so that it can be
// used as it is.
func isUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			return false
		}
	}
	return true
}

// sameName reports whether a and b are the same name, in any case.
func sameName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if upper(a[i]) != upper(b[i]) {
			return false
		}
	}
	return true
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
