package justredis

import (
	"context"
	"log/slog"
	"sync"
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
// With hooks, a call copies its arguments for them to read.
//
// The shape follows what tracing adapters need. CallStart returns the
// context the call goes on with, so a span started there is the parent of
// anything the call does (a redirected attempt, a dial), and CallEnd gets
// that same context back. A CallStart that returns nil is taken to have
// returned the context it was given: the call goes on with that, and
// CallEnd gets it. Connection events (dials, closes, slot-map
// refreshes, failovers, resubscribes, waits for a pooled connection) come
// to Event, with the context of the call that caused them when there is
// one, and context.Background() otherwise.
type Hook interface {
	CallStart(ctx context.Context, call *Call) context.Context
	CallEnd(ctx context.Context, call *Call)
	Event(ctx context.Context, ev *Event)
}

// Call describes one call as a hook sees it: a Do, one DoMulti batch, or
// one round trip of a Connection.
//
// It names the commands but holds no argument values unless a hook asks
// for them (see ArgsHook), since values are often personal data or
// secrets.
type Call struct {
	// Op is what the user called: "Do", "DoMulti", "Connection.Do" or
	// "Connection.DoMulti" (a Transaction's round trips are the latter).
	Op string
	// Names holds each command's name, upper-cased ("GET", "CLIENT"), in
	// order: one for Do. Subcommands are not included.
	Names []string
	// Args holds each command's arguments as text, the name first, only
	// when a hook implements ArgsHook and asks for them; nil otherwise. An
	// argument longer than 4 KiB is cut there and ends in "...".
	Args [][]string
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
	// connection failed before it could have run, or after a LOADING reply.
	Retried bool
	// Redirected is set when a Redis Cluster sent the call elsewhere
	// (MOVED, ASK) or asked it to wait (TRYAGAIN, CLUSTERDOWN), or when
	// the master of a Sentinel deployment had become a replica (READONLY).
	Redirected bool
	// CacheHit is set when the client-side cache answered every command of
	// the call, so that no server saw it.
	CacheHit bool
}

// ArgsHook is a Hook that wants argument values in Call.Args. Record them
// only where that is safe: they may hold passwords (AUTH, HELLO, MIGRATE,
// ACL SETUSER) and personal data. Copying them costs a call time and
// memory in proportion to its arguments, which is why it is asked for.
type ArgsHook interface {
	Hook
	WantArgs() bool
}

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
	// EventDropped: a push connection's buffer was full, so it began
	// dropping messages. It comes at the first dropped message of an
	// overflow (Count 1), not once per message, and again when NextMessage
	// tells the user how many went, with the rest of them (Count, when
	// more than one went): the Counts add up to the messages dropped.
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
	Count    int           // messages dropped, for EventDropped
	Err      error         // the failure, if it failed
}

// WithHook adds h to the client's hooks. Hooks run in the order given:
// CallStart and Event in that order, CallEnd in the reverse order, so that
// the first hook's span encloses the others'.
func WithHook(h Hook) Option {
	return poolOption(func(s *settings) error {
		if h == nil {
			return invalidArg("WithHook(nil)")
		}
		s.hooks = append(s.hooks[:len(s.hooks):len(s.hooks)], h)
		return nil
	})
}

// WithLogger makes the client log what an operator wants to know: failed
// dials, failed slot-map refreshes, failovers, dropped push messages and
// pool time-outs (Warn); broken connections, slot-map refreshes and push
// connections that subscribed again (Info); connections opened and closed
// (Debug). Records carry structured attributes (addr,
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

// callTrace collects, while a call is routed, what its hooks are told at
// its end. The routers mark it through nil-safe methods, so a call without
// hooks (trace nil) pays a nil check per mark and nothing else. A call in
// a cluster may run on several nodes at once, hence the lock.
type callTrace struct {
	mu         sync.Mutex
	addr       string
	servers    int // distinct servers seen; Addr is "" past one
	retried    bool
	redirected bool
	cacheHit   bool
	// also is told of the servers too: the trace a caller inside the
	// package (Scan) set on the call, which the hooks' own replaces.
	also *callTrace
}

func (t *callTrace) served(addr string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if t.servers == 0 || t.addr != addr {
		t.servers++
		t.addr = addr
	}
	t.mu.Unlock()
	t.also.served(addr)
}

func (t *callTrace) retry() {
	if t != nil {
		t.mu.Lock()
		t.retried = true
		t.mu.Unlock()
	}
}

func (t *callTrace) redirect() {
	if t != nil {
		t.mu.Lock()
		t.redirected = true
		t.mu.Unlock()
	}
}

func (t *callTrace) hit() {
	if t != nil {
		t.mu.Lock()
		t.cacheHit = true
		t.mu.Unlock()
	}
}

// hooked runs run as a call the hooks see: CallStart in order, each given
// the context the one before returned; run with the last; CallEnd in the
// reverse order, each given the context its own CallStart returned, so a
// hook that keeps a span in the context finds its own. A CallStart that
// returns nil leaves the context as it was given.
func hooked(ctx context.Context, hooks []Hook, call *Call, run func(ctx context.Context, trace *callTrace) error) {
	call.Start = time.Now()
	ctxs := make([]context.Context, len(hooks))
	for i, h := range hooks {
		if c := h.CallStart(ctx, call); c != nil {
			ctx = c
		}
		ctxs[i] = ctx
	}
	var trace callTrace
	call.Err = run(ctx, &trace)
	call.Duration = time.Since(call.Start)
	if trace.servers == 1 {
		call.Addr = trace.addr
	}
	call.Retried, call.Redirected, call.CacheHit = trace.retried, trace.redirected, trace.cacheHit
	for i := len(hooks) - 1; i >= 0; i-- {
		hooks[i].CallEnd(ctxs[i], call)
	}
}

// newCall describes cmds for hooks. It copies what it keeps (names, and
// argument text for hooks that ask), never the arguments themselves, so
// that Do's arguments stay on its caller's stack with hooks or without.
func newCall(hooks []Hook, op string, db int, cmds [][]any) *Call {
	call := &Call{Op: op, DB: db, Names: make([]string, len(cmds))}
	for i, args := range cmds {
		call.Names[i] = commandName(args)
	}
	for _, h := range hooks {
		if ah, ok := h.(ArgsHook); ok && ah.WantArgs() {
			call.Args = make([][]string, len(cmds))
			for i, args := range cmds {
				call.Args[i] = argTexts(args)
			}
			break
		}
	}
	return call
}

// commandName is args's command name, upper-cased, or "" when it is not
// text.
func commandName(args []any) string {
	var buf [32]byte
	name, ok := lowerName(buf[:0], args[0])
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

// maxArgText bounds each argument copied for hooks: a value may hold
// 512 MiB, and no trace or log wants that.
const maxArgText = 4 << 10

func argTexts(args []any) []string {
	out := make([]string, len(args))
	var buf [64]byte
	for i, a := range args {
		if text, ok := argText(buf[:0], a); ok {
			if len(text) > maxArgText {
				out[i] = string(text[:maxArgText]) + "..."
				continue
			}
			out[i] = string(text)
		}
	}
	return out
}

// dispatchHooked is dispatch for a client with hooks.
func (r *Redis) dispatchHooked(ctx context.Context, cmds [][]any, multi bool) (v any, vals []any, err error) {
	op := "Do"
	if multi {
		op = "DoMulti"
	}
	call := newCall(r.p.s.hooks, op, r.call.db, cmds)
	hooked(ctx, r.p.s.hooks, call, func(ctx context.Context, trace *callTrace) error {
		c := *r
		trace.also = r.call.trace
		c.call.trace = trace
		v, vals, err = c.dispatch(ctx, cmds, multi)
		return err
	})
	return v, vals, err
}
