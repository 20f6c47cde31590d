package justredis

import (
	"context"
	"log/slog"
	"time"
)

// A Hook observes what a client does, for tracing, metrics and logs. It is
// given to New with WithHook; several hooks run in the order given.
//
// Its methods are called from the goroutines that make the calls, often
// many at once, so they must be safe for concurrent use, and quick: a call
// waits for its hooks. They must not keep the *Call or *Event past their
// return, nor change them.
//
// With no hook a call costs nothing extra: no allocation, no time lookup.
//
// The shape follows what tracing adapters need. CallStart returns the
// context the call goes on with, so a span started there is the parent of
// anything the call does (a redirected attempt, a dial), and CallEnd gets
// that same context back. Connection events (dials, closes, slot-map
// refreshes, failovers, resubscribes, waits for a pooled connection) come
// to Event, with the context of the call that caused them when there is
// one, and context.Background() otherwise.
type Hook interface {
	CallStart(ctx context.Context, call *Call) context.Context
	CallEnd(ctx context.Context, call *Call)
	Event(ctx context.Context, ev *Event)
}

// Call describes one call as a hook sees it: a Do, one DoMulti batch, one
// round trip of a Connection, or a Transaction's EXEC.
//
// It names the commands but holds no argument values unless the hook asks
// for them with Args, since values are often personal data or secrets.
type Call struct {
	// Op is what the user called: "Do", "DoMulti", "Connection.Do",
	// "Connection.DoMulti" or "Transaction".
	Op string
	// Addr is the server that answered ("host:port" or a socket path), or
	// "" when the call reached no server or, in a cluster, several.
	Addr string
	// DB is the database the call ran against.
	DB int
	// Start is when the call began; Duration and the fields below it are
	// set only for CallEnd.
	Start    time.Time
	Duration time.Duration
	// Err is the call's error: what Do returns, or, for a batch, the round
	// trip's failure. Error replies inside a batch are not errors of the
	// call.
	Err error
	// Retried is set when the call, or part of it, was sent again after a
	// connection failed before it could have run.
	Retried bool
	// Redirected is set when a Redis Cluster sent the call elsewhere
	// (MOVED, ASK) or asked it to wait (TRYAGAIN, CLUSTERDOWN).
	Redirected bool
	// CacheHit is set when the client-side cache answered every command of
	// the call, so that no server saw it.
	CacheHit bool

	cmds [][]any
}

// Len is the number of commands in the call: 1 for Do.
func (c *Call) Len() int { return len(c.cmds) }

// Name is the name of command i, upper-cased ("GET", "CLIENT"), or "" when
// the first argument is not text. Subcommands are not included: a hook
// that wants "CLIENT LIST" asks for Args.
func (c *Call) Name(i int) string {
	var buf [32]byte
	name, ok := lowerName(buf[:0], c.cmds[i][0])
	if !ok {
		return ""
	}
	for j, b := range name {
		if 'a' <= b && b <= 'z' {
			name[j] = b - 'a' + 'A'
		}
	}
	return string(name)
}

// Args returns the arguments of command i, the name first, as the caller
// gave them. Record values only where that is safe: they may hold
// passwords (AUTH, HELLO, MIGRATE, ACL SETUSER) and personal data. The
// slice must not be changed or kept past the hook's return.
func (c *Call) Args(i int) []any { return c.cmds[i] }

// EventKind tells connection events apart.
type EventKind uint8

const (
	// EventDial: a connection was made and set up (Duration is how long it
	// took) or, with Err set, could not be.
	EventDial EventKind = iota + 1
	// EventClose: a connection was closed; Err says why when it broke.
	EventClose
	// EventRefresh: a cluster's slot map was fetched again, from Addr (Err
	// set when no node answered).
	EventRefresh
	// EventFailover: the master of a Sentinel deployment changed to Addr.
	EventFailover
	// EventResubscribe: a push connection lost its server and subscribed
	// again, on Addr.
	EventResubscribe
	// EventPoolWait: a caller waited Duration for a connection to Addr
	// under WithMaxConnections; Err is set when it gave up (ErrPoolTimeout).
	EventPoolWait
	// EventDropped: a push connection's buffer was full, so messages were
	// dropped (Count of them).
	EventDropped
)

// String returns the kind's name in lower case: "dial", "close", ...
func (k EventKind) String() string {
	switch k {
	case EventDial:
		return "dial"
	case EventClose:
		return "close"
	case EventRefresh:
		return "refresh"
	case EventFailover:
		return "failover"
	case EventResubscribe:
		return "resubscribe"
	case EventPoolWait:
		return "pool-wait"
	case EventDropped:
		return "dropped"
	}
	return "unknown"
}

// Event is something that happened to the client's connections rather than
// to one call.
type Event struct {
	Kind     EventKind
	Addr     string        // the server concerned
	Duration time.Duration // how long it took, where that means something
	Count    int           // how many, for EventDropped
	Err      error         // the failure, if it failed
}

// WithHook adds h to the client's hooks. Hooks run in the order given:
// CallStart in that order, CallEnd and Event too.
func WithHook(h Hook) Option {
	return poolOption(func(s *settings) error {
		if h == nil {
			return invalidArg("WithHook(nil)")
		}
		s.hooks = append(s.hooks[:len(s.hooks):len(s.hooks)], h)
		return nil
	})
}

// WithLogger makes the client log what an operator wants to know:
// reconnects and failed dials (Warn), failovers and slot-map refreshes
// (Info), dropped push messages and pool time-outs (Warn), and connections
// opened and closed (Debug). Records carry structured attributes (addr,
// err, duration); they never hold a password or an argument value. The
// default is no logging.
func WithLogger(l *slog.Logger) Option {
	return poolOption(func(s *settings) error {
		if l == nil {
			return invalidArg("WithLogger(nil)")
		}
		s.logger = l
		return nil
	})
}
