package justredis

import (
	"math"
	"strconv"
	"time"
)

// A blocking command keeps the server silent for as long as its own timeout
// argument says, and WithSocketTimeout must not take that silence for a
// dead server. So a connection waiting for such a command's reply allows
// the command's timeout on top of the socket timeout, and no socket timeout
// at all when the command may wait for ever (a timeout of 0) or its timeout
// cannot be found (a module's blocking command, say).
//
// Where the timeout stands, and its unit, differs per command; Redis's
// COMMAND metadata does not say, so it is written down here.

// blockWait says how long a blocking command may keep the server silent:
// wait, or without bound when forever is set.
type blockWait struct {
	wait    time.Duration
	forever bool
}

// add sums the waits of commands sent together: the server runs them one
// after the other. Each wait may be near math.MaxInt64 (XREAD BLOCK
// 9223372036854, say), so a sum past it is no bound at all: forever, not
// a wrapped sum that may come out as a short wait and time out a command
// still rightly waiting.
func (b blockWait) add(o blockWait) blockWait {
	w := saturatingAdd(int64(b.wait), int64(o.wait))
	if w == math.MaxInt64 {
		return blockWait{forever: true}
	}
	return blockWait{wait: time.Duration(w), forever: b.forever || o.forever}
}

// saturatingAdd is a+b for a, b >= 0, or math.MaxInt64 for a sum past it.
// Waits, timeouts and expiries in nanoseconds come from callers and
// servers near that bound (WithCache(math.MaxInt64), XREAD BLOCK
// 9223372036854, a key's PTTL centuries off): a wrapped sum would read
// as a time long past or a wait cut short.
func saturatingAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// nanos is b as conn.wait holds it.
func (b blockWait) nanos() int64 {
	if b.forever {
		return noDeadline
	}
	return int64(b.wait)
}

// noDeadline in conn.wait lifts the socket timeout.
const noDeadline = -1

// serverLate is what a blocking command may wait past its own timeout:
// Redis times blocked clients out at its next timer tick, up to 1000/hz
// milliseconds late (100ms at the default hz of 10; hz may be as low as
// 1), so a reply exactly one timeout after the command would come too
// late for a socket timeout shorter than that lateness, and a
// connection rightly silent would be taken for dead.
const serverLate = time.Second

// timed is the wait of a command that the server times out after d, d >
// 0: d and the server's lateness, or forever when the sum is too large
// to count.
func timed(d time.Duration) blockWait {
	return blockWait{wait: d}.add(blockWait{wait: serverLate})
}

// commandWait returns how long args, a command the server flags blocking,
// may wait on the server.
func commandWait(args []any) blockWait {
	w, _ := knownWait(args)
	return w
}

// guessedWait is commandWait for a command the client knows nothing of,
// having no COMMAND table: the blocking commands of Redis wait as their
// timeout says, and anything else is taken to answer at once, so that
// the socket timeout still applies to it.
func guessedWait(args []any) blockWait {
	if w, known := knownWait(args); known {
		return w
	}
	return blockWait{}
}

// knownWait is commandWait; known reports whether the command is one of
// the blocking commands of Redis.
func knownWait(args []any) (w blockWait, known bool) {
	var buf [32]byte
	name, ok := lowerName(buf[:0], args[0])
	if !ok {
		return blockWait{forever: true}, false
	}
	if !blockingNames[string(name)] {
		return blockWait{forever: true}, false
	}
	return nameWait(string(name), args), true
}

func nameWait(name string, args []any) blockWait {
	switch name {
	case "blpop", "brpop", "bzpopmin", "bzpopmax", "brpoplpush", "blmove":
		return secondsArg(args, len(args)-1)
	case "blmpop", "bzmpop":
		return secondsArg(args, 1)
	case "wait", "waitaof":
		return millisArg(args, len(args)-1)
	case "xread", "xreadgroup":
		// BLOCK <ms> stands among the options, which end at STREAMS;
		// without it the command does not block. XREADGROUP's options
		// follow GROUP <group> <consumer>, names that may read "STREAMS"
		// or "BLOCK" too.
		first := 1
		if name == "xreadgroup" {
			first = 4
		}
		for i := first; i < len(args)-1; i++ {
			switch {
			case equalFold(args[i], "STREAMS"):
				return blockWait{}
			case equalFold(args[i], "BLOCK"):
				return millisArg(args, i+1)
			}
		}
		return blockWait{}
	}
	return blockWait{forever: true}
}

// blockingNames are the commands nameWait knows.
var blockingNames = map[string]bool{
	"blpop": true, "brpop": true, "bzpopmin": true, "bzpopmax": true, "brpoplpush": true, "blmove": true,
	"blmpop": true, "bzmpop": true, "wait": true, "waitaof": true, "xread": true, "xreadgroup": true,
}

// secondsArg reads a timeout in seconds, fractions allowed, at args[i].
func secondsArg(args []any, i int) blockWait {
	if i < 1 || i >= len(args) {
		return blockWait{forever: true}
	}
	var buf [32]byte
	text, ok := argText(buf[:0], args[i])
	if !ok {
		return blockWait{forever: true}
	}
	f, err := strconv.ParseFloat(string(text), 64)
	switch {
	case err != nil || math.IsNaN(f):
		return blockWait{forever: true}
	case f == 0:
		return blockWait{forever: true} // 0 waits for ever
	case f < 0:
		return blockWait{} // refused by the server at once
	case f > float64(math.MaxInt64/int64(time.Second)):
		return blockWait{forever: true}
	}
	return timed(time.Duration(f * float64(time.Second)))
}

// millisArg reads a timeout in milliseconds at args[i].
func millisArg(args []any, i int) blockWait {
	if i < 1 || i >= len(args) {
		return blockWait{forever: true}
	}
	ms, ok := argInt(args[i])
	switch {
	case !ok || ms == 0 || ms > math.MaxInt64/int64(time.Millisecond):
		return blockWait{forever: true}
	case ms < 0:
		return blockWait{}
	}
	return timed(time.Duration(ms) * time.Millisecond)
}
