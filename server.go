package justredis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// server keeps the connections to one address: one shared, pipelined
// connection per database, and dedicated connections at rest.
type server struct {
	addr   string
	s      *settings
	extras setupExtras // what the pool learns from handshakes; may be nil

	// shared maps a database (and, for cluster replicas, READONLY) to its
	// shared connection. It is replaced, never changed, so calls read it
	// without a lock.
	shared atomic.Pointer[map[connKey]*conn]
	// dialing is held while a shared connection is dialled, so concurrent
	// first callers wait for one dial instead of making several.
	dialing chan struct{}
	// slots holds a token per open connection when WithMaxConnections is
	// set.
	slots chan struct{}

	mu     sync.Mutex
	idle   []*conn // dedicated connections at rest
	all    map[*conn]struct{}
	closed bool
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
		all:     make(map[*conn]struct{}),
	}
	if s.maxConns > 0 {
		sv.slots = make(chan struct{}, s.maxConns)
	}
	return sv
}

// sharedConn returns the shared connection for db, dialling it first when
// there is none or it broke.
func (sv *server) sharedConn(ctx context.Context, db int) (*conn, error) {
	cn, _, err := sv.sharedWith(ctx, setupPlan{db: db})
	return cn, err
}

// readonlyConn returns the shared connection that sent READONLY, on which
// a cluster replica serves reads.
func (sv *server) readonlyConn(ctx context.Context) (*conn, error) {
	cn, _, err := sv.sharedWith(ctx, setupPlan{readonly: true})
	return cn, err
}

// sharedWith returns the shared connection set up as plan says, dialling it
// when there is none or it broke. info is the handshake's when it dialled,
// and zero otherwise.
func (sv *server) sharedWith(ctx context.Context, plan setupPlan) (*conn, serverInfo, error) {
	key := connKey{db: plan.db, readonly: plan.readonly}
	if m := sv.shared.Load(); m != nil {
		if cn := (*m)[key]; cn != nil && !cn.dead.Load() {
			return cn, serverInfo{}, nil
		}
	}
	select {
	case sv.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, serverInfo{}, ctx.Err()
	}
	defer func() { <-sv.dialing }()

	m := sv.shared.Load()
	var old *conn
	if m != nil {
		if old = (*m)[key]; old != nil && !old.dead.Load() {
			return old, serverInfo{}, nil // another caller dialled it meanwhile
		}
	}
	if old != nil {
		sv.forget(old)
	}
	cn, info, err := sv.openPlan(ctx, plan)
	if err != nil {
		return nil, serverInfo{}, err
	}
	next := make(map[connKey]*conn, 1)
	if m != nil {
		for k, v := range *m {
			next[k] = v
		}
	}
	next[key] = cn
	sv.shared.Store(&next)
	return cn, info, nil
}

// adoptShared makes cn the shared connection for its database unless
// there is one already, or one is being dialled; it reports whether it
// did.
func (sv *server) adoptShared(cn *conn) bool {
	select {
	case sv.dialing <- struct{}{}:
	default:
		return false
	}
	defer func() { <-sv.dialing }()
	key := connKey{db: cn.db}
	m := sv.shared.Load()
	if m != nil {
		if old := (*m)[key]; old != nil {
			if !old.dead.Load() {
				return false
			}
			sv.forget(old)
		}
	}
	next := make(map[connKey]*conn, 1)
	if m != nil {
		for k, v := range *m {
			next[k] = v
		}
	}
	next[key] = cn
	sv.shared.Store(&next)
	return true
}

// dedicatedConn returns a connection for one user at a time, at db.
func (sv *server) dedicatedConn(ctx context.Context, db int) (*conn, error) {
	for {
		sv.mu.Lock()
		if len(sv.idle) == 0 {
			sv.mu.Unlock()
			break
		}
		cn := sv.idle[len(sv.idle)-1]
		sv.idle = sv.idle[:len(sv.idle)-1]
		sv.mu.Unlock()
		if cn.brokenAtRest() {
			sv.forget(cn)
			continue
		}
		if cn.db != db {
			if _, err := cn.roundTrip(ctx, [][]any{{"SELECT", db}}, StringDecoder, nil); err != nil {
				sv.drop(cn)
				return nil, err
			}
			cn.db = db
		}
		return cn, nil
	}
	return sv.open(ctx, db)
}

// release takes back a dedicated connection that is clean: no transaction,
// no WATCH, no reply owed.
func (sv *server) release(cn *conn) {
	cn.trim()
	sv.mu.Lock()
	if !sv.closed && !cn.dead.Load() && len(sv.idle) < maxIdle {
		sv.idle = append(sv.idle, cn)
		sv.mu.Unlock()
		return
	}
	sv.mu.Unlock()
	sv.drop(cn)
}

// drop closes a connection whose state is unknown or unwanted.
func (sv *server) drop(cn *conn) {
	cn.close()
	sv.forget(cn)
}

// open dials a new connection, once a slot is free.
func (sv *server) open(ctx context.Context, db int) (*conn, error) {
	cn, _, err := sv.openPlan(ctx, setupPlan{db: db})
	return cn, err
}

// openPlan is open with more to set up than the database: what plan
// says, and what the server's extras ask for.
func (sv *server) openPlan(ctx context.Context, plan setupPlan) (*conn, serverInfo, error) {
	if err := sv.acquire(ctx); err != nil {
		return nil, serverInfo{}, err
	}
	own := len(plan.extra)
	var extra [][]any
	if sv.extras != nil {
		extra = sv.extras.extraSetup()
	}
	if len(extra) > 0 {
		plan.extra = append(plan.extra[:own:own], extra...)
	}
	cn, info, err := dial(ctx, sv.addr, sv.s, plan)
	if err != nil {
		sv.releaseSlot()
		return nil, serverInfo{}, err
	}
	if len(extra) > 0 {
		sv.extras.tookSetup(info.extra[own:])
		info.extra = info.extra[:own]
	}
	sv.mu.Lock()
	if sv.closed {
		sv.mu.Unlock()
		cn.close()
		sv.releaseSlot()
		return nil, serverInfo{}, ErrClosed
	}
	sv.all[cn] = struct{}{}
	sv.mu.Unlock()
	return cn, info, nil
}

// forget lets go of a closed connection and its slot.
func (sv *server) forget(cn *conn) {
	sv.mu.Lock()
	_, ok := sv.all[cn]
	delete(sv.all, cn)
	sv.mu.Unlock()
	if ok {
		sv.releaseSlot()
	}
}

// acquire takes a connection slot, closing an idle dedicated connection to
// free one if need be, and waits up to WithWaitTimeout otherwise.
func (sv *server) acquire(ctx context.Context) error {
	if sv.slots == nil {
		return nil
	}
	select {
	case sv.slots <- struct{}{}:
		return nil
	default:
	}
	sv.mu.Lock()
	var victim *conn
	if len(sv.idle) > 0 {
		victim = sv.idle[0]
		sv.idle = sv.idle[1:]
	}
	sv.mu.Unlock()
	if victim != nil {
		sv.drop(victim)
	}
	var expired <-chan time.Time
	if sv.s.waitTimeout > 0 {
		t := time.NewTimer(sv.s.waitTimeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case sv.slots <- struct{}{}:
		return nil
	case <-expired:
		return fmt.Errorf("%w: all %d connections to %s busy for %v", ErrPoolTimeout, sv.s.maxConns, sv.addr, sv.s.waitTimeout)
	case <-ctx.Done():
		return fmt.Errorf("%w: all %d connections to %s busy: %w", ErrPoolTimeout, sv.s.maxConns, sv.addr, ctx.Err())
	}
}

func (sv *server) releaseSlot() {
	if sv.slots != nil {
		<-sv.slots
	}
}

// close closes every connection; calls in flight fail with ErrClosed.
func (sv *server) close() {
	sv.mu.Lock()
	sv.closed = true
	conns := make([]*conn, 0, len(sv.all))
	for cn := range sv.all {
		conns = append(conns, cn)
	}
	sv.all = map[*conn]struct{}{}
	sv.idle = nil
	sv.mu.Unlock()
	for _, cn := range conns {
		cn.close()
	}
}
