package justredis

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Redis is a client for one Redis deployment: a single server, a cluster,
// or the master (and replicas) of a Sentinel deployment. It is safe for
// concurrent use by any number of goroutines, and meant to be made once
// and shared.
//
// Copies made by Modify share its connections and differ only in per-call
// settings; closing any of them closes them all.
type Redis struct {
	p    *pool
	call callSettings
	err  error // an invalid CallOption given to Modify, returned by every call
}

// New returns a client configured by opts. It never dials: the first call
// connects, so New fails only on invalid settings.
func New(opts ...Option) (*Redis, error) {
	s := defaultSettings()
	for _, o := range opts {
		if o == nil {
			return nil, invalidArg("nil Option")
		}
		if err := o.applyTo(&s); err != nil {
			return nil, err
		}
	}
	if s.mode == ModeCluster && s.call.db != 0 {
		return nil, dbInCluster(s.call.db)
	}
	if err := s.sentinel.check(s.mode); err != nil {
		return nil, err
	}
	return &Redis{p: newPool(s), call: s.call}, nil
}

// String describes the client without its credentials.
func (r *Redis) String() string {
	if r == nil || r.p == nil {
		return "justredis.Redis{not made by New}"
	}
	if r.p.s.sentinel.master != "" {
		return fmt.Sprintf("justredis.Redis{%s, db: %d}", r.p.s.sentinel.describe(), r.call.db)
	}
	return fmt.Sprintf("justredis.Redis{addrs: %s, db: %d}", strings.Join(r.p.s.addrs, ","), r.call.db)
}

// GoString is String, so that %#v shows no credentials either.
func (r *Redis) GoString() string { return r.String() }

// Modify returns a copy of r that makes its calls with opts applied. The
// copy shares r's connections, so it is cheap: make one per call if you
// like.
func (r *Redis) Modify(opts ...CallOption) *Redis {
	if r == nil {
		// A copy of nothing: its calls fail with the error of a Redis
		// not made by New, rather than Modify panicking.
		r = &Redis{}
	}
	c := *r
	c.call, c.err = modified(c.call, c.err, opts)
	return &c
}

// Close closes every connection of r and of all its copies. Calls in flight
// and later calls fail with ErrClosed.
func (r *Redis) Close() error {
	if r == nil || r.p == nil {
		return errNotNew
	}
	r.p.close()
	return nil
}

// Do sends one command and returns its reply, decoded as the table in the
// package documentation says. An error reply is returned as an *Error; a
// null reply (a missing key) as (nil, nil).
//
// Commands whose state would leak to other callers (SELECT, MULTI, WATCH,
// SUBSCRIBE, CLIENT SETNAME, CLIENT TRACKING, READONLY, ...) are refused
// with ErrInvalidArgument naming the API to use instead. Blocking commands get a connection of their own, so they never
// delay other calls.
//
// In a Redis Cluster the command goes to the master that serves its keys,
// found from the server's COMMAND metadata; keys in different slots are
// refused before sending, with an error that starts with CROSSSLOT and
// matches ErrInvalidArgument. Keyless commands go to the master of slot 0.
// MOVED and ASK are followed (16 times at most), and TRYAGAIN and
// CLUSTERDOWN retried with backoff until ctx ends: give ctx a deadline, or
// use WithTimeout. Those replies prove the command did not run, so
// following them never runs a command twice. A script may return such a
// text as its own error: for scripts and functions, MOVED and ASK are
// followed only once the cluster confirms them, and TRYAGAIN and
// CLUSTERDOWN are returned as they are.
//
// In any deployment, a LOADING reply (the server is still loading its data
// set) is retried with backoff until ctx ends, or for 30s when ctx has no
// deadline, after which it is returned; it proves the command did not run.
// A script's LOADING is returned as it is.
func (r *Redis) Do(ctx context.Context, args ...any) (any, error) {
	if err := r.usable(ctx); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, invalidArg("empty command")
	}
	if err := checkRefused(args, false); err != nil {
		return nil, err
	}
	ctx, cancel := r.withTimeout(ctx)
	if cancel != nil {
		defer cancel()
	}
	if len(r.p.s.hooks) > 0 {
		v, _, err := r.dispatchHooked(ctx, [][]any{args}, false)
		return v, err
	}
	v, _, err := r.dispatch(ctx, [][]any{args}, false)
	return v, err
}

// DoMulti sends cmds as one pipeline, in one round trip, and returns one
// reply per command, in order. A command that failed has its *Error at its
// index; the returned error is set only when the round trip itself failed
// (network, closed, context), and then no reply is returned.
//
// In a Redis Cluster, the commands are split by node, one pipeline per
// node, sent at once; redirections are followed per command. Commands to
// one node keep their order; commands to different nodes have none. When
// the round trip to one node fails, the others' replies are returned with
// the error, which also stands at the indexes of the failed node's
// commands, since commands to the other nodes did run.
//
// When a server answers LOADING to every command sent to it (in a cluster,
// to every command of that node's pipeline), none ran: they go again, as
// Do sends one. When only some of the replies are LOADING, they are
// returned as they are: sending those commands again would run them after
// later ones that did run. A pipeline with a script is not sent again.
func (r *Redis) DoMulti(ctx context.Context, cmds ...[]any) ([]any, error) {
	if err := r.usable(ctx); err != nil {
		return nil, err
	}
	var prev []any
	for i, args := range cmds {
		if len(args) == 0 {
			return nil, invalidArg(fmt.Sprintf("command %d is empty", i))
		}
		if err := checkRefusedNext(args, prev, false); err != nil {
			return nil, fmt.Errorf("command %d: %w", i, err)
		}
		prev = args
	}
	if len(cmds) == 0 {
		return []any{}, nil
	}
	ctx, cancel := r.withTimeout(ctx)
	if cancel != nil {
		defer cancel()
	}
	if d := forSeveral(r.call.decoder); d != r.call.decoder {
		c := *r
		c.call.decoder = d
		r = &c
	}
	if len(r.p.s.hooks) > 0 {
		_, vals, err := r.dispatchHooked(ctx, cmds, true)
		return vals, err
	}
	_, vals, err := r.dispatch(ctx, cmds, true)
	return vals, err
}

// dispatch is the one way every command sent through a Redis goes, once
// checked and given its timeout: Do's one command (multi false: its reply
// is v) and DoMulti's batch (multi true: the replies are vals). With a
// client-side cache it goes by the cache first.
//
// Do's arguments stay on its caller's stack, which saves an allocation per
// call: nothing on this path may keep them, nor pass them through an
// interface (see router.go). Check with go build -gcflags=-m.
func (r *Redis) dispatch(ctx context.Context, cmds [][]any, multi bool) (v any, vals []any, err error) {
	if multi {
		// Here, where hooks see it, rather than with the refusals of
		// DoMulti, which they do not.
		for i, args := range cmds {
			if err := checkArgs(args); err != nil {
				return nil, nil, fmt.Errorf("command %d: %w", i, err)
			}
		}
	}
	if r.p.cache != nil {
		return r.dispatchCached(ctx, cmds, multi) // cached.go
	}
	return r.route(ctx, cmds, multi)
}

// route sends a call where WithEndpoint says, or asks the router.
func (r *Redis) route(ctx context.Context, cmds [][]any, multi bool) (v any, vals []any, err error) {
	cs := &r.call
	if cs.endpoint != "" {
		return r.onEndpoint(ctx, cmds, multi)
	}
	rt := r.p.router()
	for {
		switch rt := rt.(type) {
		case *standalone:
			if multi {
				vals, err = rt.doMulti(ctx, cs, cmds)
				return nil, vals, err
			}
			v, err = rt.do(ctx, cs, cmds[0])
			return v, nil, err
		case *cluster:
			if multi {
				vals, err = rt.doMulti(ctx, cs, cmds)
				return nil, vals, err
			}
			v, err = rt.do(ctx, cs, cmds[0])
			return v, nil, err
		case *sentinel:
			if multi {
				vals, err = rt.doMulti(ctx, cs, cmds)
				return nil, vals, err
			}
			v, err = rt.do(ctx, cs, cmds[0])
			return v, nil, err
		}
		// The detector: find out what the deployment is, and go again with
		// its router.
		d, ok := rt.(*detector)
		if !ok {
			return nil, nil, fmt.Errorf("justredis: no dispatch for router %T", rt) // a bug
		}
		if rt, err = d.detect(ctx, false); err != nil {
			return nil, nil, err
		}
	}
}

// onEndpoint sends a call to the server WithEndpoint names, or, for one
// command with Masters, to every master at once.
func (r *Redis) onEndpoint(ctx context.Context, cmds [][]any, multi bool) (any, []any, error) {
	cs := &r.call
	if err := r.p.router().check(cs); err != nil {
		return nil, nil, err
	}
	if cs.endpoint == Masters && !multi {
		v, err := r.onMasters(ctx, cmds[0])
		return v, nil, err
	}
	if cs.endpoint == Masters {
		// Fanned out, a pipeline's commands would have to outlive the
		// call in goroutines, and so escape to the heap on every call's
		// path; refused, rather than sent to one node without a word.
		return nil, nil, invalidArg("WithEndpoint(Masters) runs one command on every master, through Do: DoMulti needs one server, or routing by key")
	}
	sv, err := r.p.endpoint(ctx, cs.endpoint)
	if err != nil {
		return nil, nil, err
	}
	if multi {
		vals, err := r.p.doMultiOn(ctx, sv, cs, cmds, true)
		return nil, vals, err
	}
	v, err := r.p.doOn(ctx, sv, cs, cmds[0], true)
	return v, nil, err
}

// onMasters runs a command on every master at once. The command is
// encoded once, here, so that Do's arguments never outlive its call. A
// blocking command (BLPOP, WAIT, ...) gets a connection of its own on each
// master, as Do gives it one: on the shared connection it would stall
// every call queued behind it, and one abandoned would wedge it.
//
// The map holds every master's reply or error; when a round trip failed
// (network, closed, context), the first such error in the masters' order
// is returned too, naming its address, as cluster DoMulti does.
func (r *Redis) onMasters(ctx context.Context, args []any) (any, error) {
	encoded, err := appendCommand(nil, args)
	if err != nil {
		return nil, err
	}
	if d := forSeveral(r.call.decoder); d != r.call.decoder {
		c := *r
		c.call.decoder = d
		r = &c
	}
	masters, err := r.p.router().masters(ctx, &r.call)
	if err != nil {
		return nil, err
	}
	var cmd *command
	if len(masters) > 0 {
		// The table comes with the first handshake: make sure of it.
		if cmd, err = r.p.command(ctx, masters[0], r.call.db, args); err != nil {
			return nil, err
		}
	}
	blocking, wait := r.p.blocking(cmd, args)
	loading := !runsScript(cmd, args)
	flush := cmd != nil && cmd.evalsha == scriptFlush // SCRIPT FLUSH: the masters forget their scripts (scripts.go)
	closes := mayClose(cmd, args)
	out := make(map[string]any, len(masters))
	failed := make([]error, len(masters))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, sv := range masters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v any
			var err error
			if flush {
				sv.scripts.clear() // before it is sent: see scripts.go
			}
			if blocking {
				v, err = r.p.blockingOn(ctx, sv, &r.call, nil, encoded, nil, wait, closes, loading)
			} else {
				v, err = r.p.doEncodedOn(ctx, sv, &r.call, encoded, closes, loading)
			}
			if err != nil {
				if !isServerError(err) {
					r.p.lost(sv)
					err = atAddress(sv.addr, err)
					failed[i] = err
				}
				v = err
			} else if flush {
				sv.scripts.clear()
			}
			mu.Lock()
			out[sv.addr] = v
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, err := range failed {
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// atAddress makes sure err names addr, for an error that does not (a
// context's, say) among the replies of several servers.
func atAddress(addr string, err error) error {
	if strings.Contains(err.Error(), addr) {
		return err
	}
	return fmt.Errorf("justredis: %s: %w", addr, err)
}

// Connection returns a connection of its own, for transactions (WATCH,
// MULTI, EXEC) and other commands that change a connection's state. In a
// cluster, keys choose the node: they must all hash to one slot. Close it
// when done, which hands it back clean.
func (r *Redis) Connection(ctx context.Context, keys ...string) (*Connection, error) {
	if err := r.usable(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := r.withTimeout(ctx)
	if cancel != nil {
		defer cancel()
	}
	sv, err := r.p.serverFor(ctx, &r.call, keys)
	if err != nil {
		return nil, err
	}
	cn, err := sv.dedicatedConn(ctx, r.call.db)
	if err != nil {
		return nil, err
	}
	d := &dedicated{p: r.p, sv: sv, cn: cn, baseDB: r.call.db, ownDB: r.call.db}
	call := r.call
	call.dbSet = false
	return &Connection{d: d, call: call}, nil
}

// Endpoints lists every server of the deployment once, with its role. In
// a cluster it answers from the topology the client holds, refreshed in
// the background, and lists the masters that serve no slot (yet, or any
// more) and their replicas too; a node the cluster sees as failing, or
// still in handshake, is left out.
func (r *Redis) Endpoints(ctx context.Context) ([]Endpoint, error) {
	if err := r.usable(ctx); err != nil {
		return nil, err
	}
	return r.p.router().endpoints(ctx)
}

// Endpoint is one server of a deployment, as Endpoints lists it.
type Endpoint struct {
	Address string // host:port (or socket path) as the client dials it
	Role    string // "master", "replica" or "standalone"
}

// usable checks what every call checks first: a Redis made by New, a
// ctx, and the settings Modify was given. One comparison each, so that
// the checks cost nothing on the path of every call.
func (r *Redis) usable(ctx context.Context) error {
	if r == nil || r.p == nil {
		return errNotNew
	}
	if ctx == nil {
		return errNilContext
	}
	if r.err != nil {
		return r.err
	}
	if r.p.closed.Load() {
		return ErrClosed
	}
	return nil
}

func (r *Redis) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return r.call.withTimeout(ctx)
}

// reply turns a decoded value into Do's results: a top-level error reply
// (or a malformed one) becomes the error.
func reply(v any) (any, error) {
	switch e := v.(type) {
	case *Error:
		return nil, e
	case error:
		return nil, e
	}
	return v, nil
}
