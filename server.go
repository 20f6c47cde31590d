package justredis

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// server keeps the connections to one address: one shared, pipelined
// connection per database (shared.go), and dedicated connections at rest.
// With WithMaxConnections, each connection holds one of the server's
// places (places.go).
type server struct {
	addr   string
	s      *settings
	extras setupExtras // what the pool learns from handshakes; may be nil

	// shared maps a database (and, for cluster replicas, READONLY) to its
	// shared connection. It is replaced, never changed, under mu, so calls
	// read it without a lock.
	shared atomic.Pointer[map[connKey]*sharedConn]
	// dialing is held while a shared connection is dialled, so concurrent
	// first callers wait for one dial instead of making several.
	dialing chan struct{}
	// ctx ends when the server is closed, which wakes the callers waiting
	// for a place and aborts the dials under way.
	ctx    context.Context
	cancel context.CancelFunc
	// waiting is len(waiters), for the last user of a shared connection to
	// see without the lock that someone may want its place.
	waiting atomic.Int32
	// scripts are the scripts known to be in the server's script cache,
	// for transparent EVALSHA (scripts.go).
	scripts loadedScripts
	// track holds the connections of the client-side cache (tracking.go).
	track serverTracking
	// counters are what Stats reports beyond the connections open.
	counters serverCounters
	// health spaces out connects to a server that is down (health.go).
	health health

	mu        sync.Mutex
	idle      []*conn        // dedicated connections at rest, oldest first
	all       map[*conn]bool // open connections; true for dedicated ones
	places    int            // places held: open connections and dials under way
	dedicated int            // of those, by connections of their own
	waiters   []*waiter      // callers waiting for a place, in order of arrival
	doomed    []*conn        // let go of under mu, closed by unlock
	closed    bool

	// resets are the Connection resets under way (see reset); close
	// waits for them, once they are aborted. Added to under mu, before
	// closed is set.
	resets sync.WaitGroup
}

// setupExtras lets the owner of servers learn about the deployment from
// the handshakes of new connections, at no cost in round trips (the
// pool fetches the COMMAND table this way). The server knows nothing of
// what the commands are.
type setupExtras interface {
	// extraSetup returns the commands to add to a new connection's
	// handshake now; nil for none.
	extraSetup() [][]any
	// tookSetup is given their replies, error replies included.
	tookSetup(replies []any)
}

// connKey tells shared connections apart by the state their setup gave
// them.
type connKey struct {
	db       int
	readonly bool // READONLY was sent: a cluster replica serves reads on it
}

// maxIdle bounds the dedicated connections kept at rest per server.
const maxIdle = 16

func newServer(addr string, s *settings, extras setupExtras) *server {
	sv := &server{
		addr:    addr,
		s:       s,
		extras:  extras,
		dialing: make(chan struct{}, 1),
		all:     make(map[*conn]bool),
	}
	sv.ctx, sv.cancel = context.WithCancel(context.Background())
	return sv
}

// dedicatedConn returns a connection for one user at a time, at db: one at
// rest, or a new one.
func (sv *server) dedicatedConn(ctx context.Context, db int) (*conn, error) {
	for {
		cn, err := sv.acquire(ctx, true, true)
		if err != nil {
			return nil, err
		}
		if cn == nil {
			cn, _, err := sv.connect(ctx, setupPlan{db: db}, true)
			return cn, err
		}
		if cn.brokenAtRest() {
			sv.forget(cn)
			continue
		}
		if cn.db != db {
			if _, err := cn.roundTrip(ctx, [][]any{{"SELECT", db}}, StringDecoder, nil); err != nil {
				sv.drop(cn)
				return nil, ownCommand(err)
			}
			cn.db = db
		}
		return cn, nil
	}
}

// release takes back a dedicated connection that is clean: no transaction,
// no WATCH, no reply owed.
func (sv *server) release(cn *conn) {
	cn.trim()
	sv.mu.Lock()
	sv.restLocked(cn)
	sv.serveLocked()
	sv.unlock()
}

// reset sends cmds on cn, a dedicated connection a Connection gave back,
// to undo the state it left (DISCARD, UNWATCH, SELECT db), and then takes
// cn back, or closes it when they failed. It runs in the background, so
// that Connection.Close never waits on the network; cn keeps its place
// meanwhile, so WithMaxConnections holds. The reset is bounded by the
// connect timeout, and close aborts it.
func (sv *server) reset(cn *conn, cmds [][]any, db int) {
	sv.mu.Lock()
	if sv.closed {
		sv.dropLocked(cn)
		sv.unlock()
		return
	}
	sv.resets.Add(1)
	sv.mu.Unlock()
	go func() {
		defer sv.resets.Done()
		timeout := sv.s.connectTimeout
		if timeout == 0 {
			timeout = 10 * time.Second
		}
		ctx, cancel := context.WithTimeout(sv.ctx, timeout)
		defer cancel()
		vals := make([]any, len(cmds))
		if _, err := cn.roundTrip(ctx, cmds, StringDecoder, vals); err != nil || firstError(sv.addr, vals) != nil {
			sv.drop(cn)
			return
		}
		cn.db = db
		sv.release(cn)
	}()
}

// restLocked puts cn at rest, or closes it when it is not wanted there.
func (sv *server) restLocked(cn *conn) {
	isDedicated, ok := sv.all[cn]
	if !ok || sv.closed || cn.dead.Load() || len(sv.idle) >= maxIdle {
		sv.dropLocked(cn)
		return
	}
	if !isDedicated {
		// Dialled as a shared connection (by probe) but not adopted.
		if sv.dedicated >= sv.dedicatedCap() {
			sv.dropLocked(cn)
			return
		}
		sv.all[cn] = true
		sv.dedicated++
	}
	sv.idle = append(sv.idle, cn)
}

// drop closes a connection whose state is unknown or unwanted.
func (sv *server) drop(cn *conn) {
	sv.mu.Lock()
	sv.dropLocked(cn)
	sv.serveLocked()
	sv.unlock()
}

func (sv *server) dropLocked(cn *conn) {
	sv.forgetLocked(cn)
	sv.doomed = append(sv.doomed, cn)
}

// forget lets go of a closed connection and its place.
func (sv *server) forget(cn *conn) {
	sv.mu.Lock()
	sv.forgetLocked(cn)
	sv.serveLocked()
	sv.unlock()
}

// forgetLocked gives cn's place back, once however often it is called.
func (sv *server) forgetLocked(cn *conn) {
	isDedicated, ok := sv.all[cn]
	if !ok {
		return
	}
	delete(sv.all, cn)
	sv.places--
	if isDedicated {
		sv.dedicated--
	}
	if cn.brokeOnItsOwn() || len(sv.all) == 0 {
		// The server may have restarted or failed over, which empties
		// its script cache (scripts.go). With no connection left open,
		// none would break to tell of a restart: the next one may be
		// to a server that never saw the scripts.
		sv.scripts.clear()
	}
}

// unlock releases mu, then closes the connections let go of while it was
// held: closing may wait on the network (a TLS goodbye), which must not
// hold up the pool.
func (sv *server) unlock() {
	doomed := sv.doomed
	sv.doomed = nil
	sv.mu.Unlock()
	for _, cn := range doomed {
		cn.close()
	}
}

// openPlan dials a new connection, once a place is free, set up as plan
// says; dedicated says which kind of place it takes.
func (sv *server) openPlan(ctx context.Context, plan setupPlan, dedicated bool) (*conn, serverInfo, error) {
	if _, err := sv.acquire(ctx, dedicated, false); err != nil {
		return nil, serverInfo{}, err
	}
	return sv.connect(ctx, plan, dedicated)
}

// connect dials a connection into the place acquire took for it, set up
// as plan says and as the server's extras ask.
func (sv *server) connect(ctx context.Context, plan setupPlan, dedicated bool) (*conn, serverInfo, error) {
	own := len(plan.extra)
	var extra [][]any
	if sv.extras != nil {
		extra = sv.extras.extraSetup()
	}
	if len(extra) > 0 {
		plan.extra = append(plan.extra[:own:own], extra...)
	}
	try, err := sv.health.admit(ctx, sv)
	if err != nil {
		sv.mu.Lock()
		defer sv.unlock()
		if !sv.closed {
			sv.unreserveLocked(dedicated)
			sv.serveLocked()
		}
		return nil, serverInfo{}, err
	}
	dctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(sv.ctx, cancel) // Close aborts the dial
	start := time.Now()
	cn, info, failed, err := dial(dctx, sv.addr, sv.s, plan)
	stop()
	cancel()
	sv.health.tried(try, failed, err)
	sv.counters.dials.Add(1)
	if err != nil {
		sv.counters.dialFailures.Add(1)
	}
	if sv.s.observed() {
		sv.s.emit(ctx, &Event{Kind: EventDial, Addr: sv.addr, Duration: time.Since(start), Err: err})
		if cn != nil {
			addr := sv.addr
			cn.onClose = func(err error) {
				sv.s.emit(context.Background(), &Event{Kind: EventClose, Addr: addr, Err: err})
			}
		}
	}
	if err == nil && len(extra) > 0 {
		sv.extras.tookSetup(info.extra[own:])
		info.extra = info.extra[:own]
	}
	sv.mu.Lock()
	defer sv.unlock()
	if sv.closed {
		if cn != nil {
			sv.doomed = append(sv.doomed, cn)
		}
		return nil, serverInfo{}, ErrClosed
	}
	if err != nil {
		sv.unreserveLocked(dedicated)
		sv.serveLocked()
		return nil, serverInfo{}, err
	}
	sv.all[cn] = dedicated
	// A new connection may have reached a server that restarted, or one
	// that took over the address, with an empty script cache, while the
	// connections that would tell of it by breaking sit idle: what is
	// sent on it must not rely on scripts learnt before (scripts.go).
	sv.scripts.clear()
	return cn, info, nil
}

// close closes every connection; calls in flight fail with ErrClosed, and
// so do those waiting for a place or dialling.
func (sv *server) close() {
	sv.mu.Lock()
	sv.closed = true
	sv.cancel()
	for cn := range sv.all {
		sv.doomed = append(sv.doomed, cn)
	}
	sv.all = map[*conn]bool{}
	sv.idle = nil
	sv.places, sv.dedicated = 0, 0
	sv.shared.Store(nil)
	sv.unlock()
	sv.resets.Wait() // aborted by cancel, their connections closed
}

// closeIdle closes the connections to sv that nobody uses: dedicated ones
// at rest, and shared ones with no lease, which are retired so that no call
// starts on them. Connections in use are left to finish; a later call
// closes them once idle. It is for a server the deployment no longer lists.
func (sv *server) closeIdle() {
	sv.mu.Lock()
	defer sv.unlock()
	for _, cn := range sv.idle {
		sv.dropLocked(cn)
	}
	sv.idle = nil
	if m := sv.shared.Load(); m != nil {
		for key, sc := range *m {
			if sc.users.CompareAndSwap(0, retired) {
				sv.removeSharedLocked(key)
				sv.dropLocked(sc.conn)
			}
		}
	}
	sv.serveLocked()
}
