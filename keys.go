package justredis

import (
	"bytes"
	"fmt"
)

// keyFinder finds a command's keys in its arguments the way the server
// does, from what its COMMAND reply says: the key specifications of Redis
// 7, or the first/last/step positions of older servers. When they do not
// tell the whole story (SORT ... STORE, MIGRATE, and every command with
// movable keys before Redis 7), the server is asked with COMMAND GETKEYS.
type keyFinder struct {
	specs   []keySpec
	getKeys bool // only COMMAND GETKEYS knows
}

// keySpec is one key specification: where the search for keys begins, and
// how the keys are laid out from there. Positions count the command name
// as 0.
type keySpec struct {
	// Begin search: at index, or after keyword, looked for from startFrom
	// onwards (backwards from the end when startFrom is negative).
	index     int
	keyword   string
	startFrom int
	// Find keys: a range of them, up to lastKey (relative to the beginning;
	// negative counts from the end, and then limit, when set, divides the
	// rest of the arguments), every keyStep; or, with keyNum, a count at
	// keyNumIdx followed from firstKey by that many keys, every keyStep.
	keyNum                       bool
	lastKey, limit               int
	keyNumIdx, firstKey, keyStep int
}

// newKeyFinder compiles what the server says of cmd; nil (a command the
// server does not know) finds no key.
func newKeyFinder(cmd *command) *keyFinder {
	f := &keyFinder{}
	if cmd == nil {
		return f
	}
	for _, raw := range cmd.keySpecs {
		s, complete := parseKeySpec(raw)
		if complete {
			f.specs = append(f.specs, s)
		} else if cmd.movableKeys {
			return &keyFinder{getKeys: true}
		}
	}
	if len(cmd.keySpecs) > 0 {
		return f
	}
	// A server before Redis 7: only the legacy positions.
	if cmd.movableKeys {
		return &keyFinder{getKeys: true}
	}
	if cmd.firstKey > 0 {
		last := cmd.lastKey
		if last >= 0 {
			last -= cmd.firstKey
		}
		f.specs = []keySpec{{index: cmd.firstKey, lastKey: last, keyStep: max(cmd.keyStep, 1)}}
	}
	return f
}

// parseKeySpec reads one key specification, a map under RESP3 and a flat
// list of names and values under RESP2. It reports false for those the
// server itself marks unknown or incomplete.
func parseKeySpec(raw any) (keySpec, bool) {
	var s keySpec
	for _, flag := range asList(field(raw, "flags")) {
		if flag == "incomplete" {
			return s, false
		}
	}
	bs, fk := field(raw, "begin_search"), field(raw, "find_keys")
	bsSpec, fkSpec := field(bs, "spec"), field(fk, "spec")
	switch field(bs, "type") {
	case "index":
		s.index = fieldInt(bsSpec, "index")
	case "keyword":
		s.keyword, _ = field(bsSpec, "keyword").(string)
		s.startFrom = fieldInt(bsSpec, "startfrom")
		if s.keyword == "" {
			return s, false
		}
	default:
		return s, false
	}
	switch field(fk, "type") {
	case "range":
		s.lastKey = fieldInt(fkSpec, "lastkey")
		s.keyStep = fieldInt(fkSpec, "keystep")
		s.limit = fieldInt(fkSpec, "limit")
	case "keynum":
		s.keyNum = true
		s.keyNumIdx = fieldInt(fkSpec, "keynumidx")
		s.firstKey = fieldInt(fkSpec, "firstkey")
		s.keyStep = fieldInt(fkSpec, "keystep")
	default:
		return s, false
	}
	s.keyStep = max(s.keyStep, 1)
	return s, true
}

// field returns the value named name in a RESP3 map or a RESP2 flat list
// of names and values; nil when absent.
func field(v any, name string) any {
	switch m := v.(type) {
	case map[string]any:
		return m[name]
	case []any:
		for i := 0; i+1 < len(m); i += 2 {
			if m[i] == name {
				return m[i+1]
			}
		}
	}
	return nil
}

func fieldInt(v any, name string) int {
	n, _ := field(v, name).(int64)
	return int(n)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// slot returns the one slot all keys of args hash to, or -1 for a command
// without keys. Keys in different slots are refused with a CROSSSLOT error
// before anything is sent. For a finder that must ask (f.getKeys), asked are
// the keys the server named (COMMAND GETKEYS).
func (f *keyFinder) slot(args, asked []any) (int, error) {
	sl := slotOf{slot: -1}
	if f.getKeys {
		for _, k := range asked {
			sl.add(-1, k)
		}
		return sl.result(args)
	}
	for i := range f.specs {
		first, last, step := f.specs[i].bounds(args)
		for p := first; p <= last && !sl.err; p += step {
			sl.add(p, args[p])
		}
	}
	return sl.result(args)
}

// bounds returns the positions of the keys s finds in args: from first to
// last, every step; none when last < first, as for a command with a
// syntax error, which the server then reports.
func (s *keySpec) bounds(args []any) (first, last, step int) {
	argc := len(args)
	if s.keyword == "" {
		first = s.index
	} else {
		first = -1
		if s.startFrom >= 0 {
			for i := max(s.startFrom, 1); i < argc; i++ {
				if equalFold(args[i], s.keyword) {
					first = i + 1
					break
				}
			}
		} else {
			for i := argc + s.startFrom; i >= 1; i-- {
				if equalFold(args[i], s.keyword) {
					first = i + 1
					break
				}
			}
		}
		if first < 0 {
			return 0, -1, 1
		}
	}
	if s.keyNum {
		at := first + s.keyNumIdx
		if at >= argc {
			return 0, -1, 1
		}
		n, ok := argInt(args[at])
		if !ok || n < 0 || n > int64(argc) {
			return 0, -1, 1
		}
		first += s.firstKey
		last = first + int(n) - 1
	} else {
		switch {
		case s.lastKey >= 0:
			last = first + s.lastKey
		case s.limit == 0:
			last = argc + s.lastKey
		default:
			last = first + (argc-first)/s.limit + s.lastKey
		}
	}
	if first < 1 || first >= argc || last >= argc {
		return 0, -1, 1
	}
	return first, last, s.keyStep
}

// equalFold reports whether argument a is word, ignoring case.
func equalFold(a any, word string) bool {
	var buf [32]byte
	b, ok := argText(buf[:0], a)
	return ok && bytes.EqualFold(b, []byte(word))
}

// slotOf collects the slots of a command's keys.
type slotOf struct {
	slot      int
	at, other int // argument positions of two keys in different slots
	otherSlot int
	err       bool
}

func (s *slotOf) add(pos int, key any) {
	var buf [64]byte
	text, ok := argText(buf[:0], key)
	if !ok {
		return // not encodable: the encoder reports it
	}
	slot := hashSlot(text)
	switch {
	case s.slot < 0:
		s.slot, s.at = slot, pos
	case slot != s.slot && !s.err:
		s.err, s.other, s.otherSlot = true, pos, slot
	}
}

func (s *slotOf) result(args []any) (int, error) {
	if !s.err {
		return s.slot, nil
	}
	name, _ := argText(nil, args[0])
	return -1, s.crossSlot(string(bytes.ToUpper(name))+" argument", s.at, s.other)
}

// keysResult is result for the keys given to Connection, Transaction or
// PushConnection, which the error names as such (key 1 is the first):
// the name of a command would send the reader looking for one.
func (s *slotOf) keysResult() (int, error) {
	if !s.err {
		return s.slot, nil
	}
	return -1, s.crossSlot("key", s.at, s.other)
}

// crossSlot describes two keys in different slots, each as what and its
// position (0 when not known).
func (s *slotOf) crossSlot(what string, at, other int) error {
	var where string
	if at > 0 && other > 0 {
		where = fmt.Sprintf("%s %d (slot %d) and %s %d (slot %d)", what, at, s.slot, what, other, s.otherSlot)
	} else {
		where = fmt.Sprintf("slots %d and %d", s.slot, s.otherSlot)
	}
	return &crossSlotError{fmt.Sprintf("CROSSSLOT Keys in request don't hash to the same slot: %s; nothing was sent (give keys that must go together a common hash tag, such as {user1000})",
		where)}
}

// crossSlotError refuses a command whose keys live in different slots of a
// cluster, before it is sent. Its text begins like the server's, with
// CROSSSLOT; it matches ErrInvalidArgument.
type crossSlotError struct{ msg string }

func (e *crossSlotError) Error() string        { return e.msg }
func (e *crossSlotError) Is(target error) bool { return target == ErrInvalidArgument }
