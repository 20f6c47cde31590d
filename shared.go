package justredis

import (
	"context"
	"math"
	"sync/atomic"
)

// Shared connections: one pipelined connection per database (and READONLY
// state), which every call to that database uses. Each round trip leases
// it, so that the pool can close one that nobody uses to free its place
// (see reclaimLocked) without ever breaking a call.

// sharedConn is a shared connection as the pool hands it out: leased, so
// that it is never closed to free its place while a caller is about to
// use it. The caller calls done when its round trip is over.
type sharedConn struct {
	*conn
	sv *server
	// users counts the leases. Retiring the connection makes it negative
	// for good, so that nobody can lease it any more.
	users atomic.Int32
}

// retired is what users is set to when a shared connection is retired:
// far enough below zero that the leases attempted later never bring it
// back up.
const retired = math.MinInt32 / 2

// lease takes a lease on sc, unless it was retired.
func (sc *sharedConn) lease() bool { return sc.users.Add(1) > 0 }

// done gives the lease back. The last user of a connection lets a waiter
// have its place, if one is waiting.
func (sc *sharedConn) done() {
	if sc.users.Add(-1) == 0 && sc.sv.waiting.Load() > 0 {
		sv := sc.sv
		sv.mu.Lock()
		sv.serveLocked()
		sv.unlock()
	}
}

// sharedConn returns the shared connection for db, leased, dialling it
// first when there is none or it broke.
func (sv *server) sharedConn(ctx context.Context, db int) (*sharedConn, error) {
	sc, _, err := sv.sharedWith(ctx, setupPlan{db: db})
	return sc, err
}

// readonlyConn returns the shared connection that sent READONLY, on which
// a cluster replica serves reads, leased.
func (sv *server) readonlyConn(ctx context.Context) (*sharedConn, error) {
	sc, _, err := sv.sharedWith(ctx, setupPlan{readonly: true})
	return sc, err
}

// sharedWith returns the shared connection set up as plan says, leased,
// dialling it when there is none or it broke. info is the handshake's
// when it dialled, and zero otherwise.
func (sv *server) sharedWith(ctx context.Context, plan setupPlan) (*sharedConn, serverInfo, error) {
	key := connKey{db: plan.db, readonly: plan.readonly}
	if sc := sv.leaseShared(key); sc != nil {
		return sc, serverInfo{}, nil
	}
	select {
	case sv.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, serverInfo{}, sv.waitEnded(ctx.Err(), "while another call connects")
	case <-sv.ctx.Done():
		return nil, serverInfo{}, ErrClosed
	}
	defer func() { <-sv.dialing }()
	if sc := sv.leaseShared(key); sc != nil {
		return sc, serverInfo{}, nil // another caller dialled it meanwhile
	}
	cn, info, err := sv.openPlan(ctx, plan, false)
	if err != nil {
		return nil, serverInfo{}, err
	}
	sc := &sharedConn{conn: cn, sv: sv}
	sc.users.Store(1) // the caller's lease, taken before anyone can see it
	sv.mu.Lock()
	defer sv.unlock()
	if sv.closed {
		return nil, serverInfo{}, ErrClosed // close has closed cn
	}
	sv.setSharedLocked(key, sc)
	return sc, info, nil
}

// leaseShared returns the shared connection for key, leased, if there is
// one that is alive.
func (sv *server) leaseShared(key connKey) *sharedConn {
	m := sv.shared.Load()
	if m == nil {
		return nil
	}
	sc := (*m)[key]
	if sc == nil || !sc.lease() {
		return nil
	}
	if sc.dead.Load() || sc.goingAway() {
		sc.done()
		return nil
	}
	return sc
}

// setSharedLocked makes sc the shared connection for key. The one it
// replaces can only have broken or been retired, since dialing is held.
func (sv *server) setSharedLocked(key connKey, sc *sharedConn) {
	next := make(map[connKey]*sharedConn, 1)
	if m := sv.shared.Load(); m != nil {
		for k, v := range *m {
			next[k] = v
		}
		if old := (*m)[key]; old != nil {
			sv.forgetLocked(old.conn)
		}
	}
	next[key] = sc
	sc.pooled = true // before any other caller can see it
	sv.shared.Store(&next)
	if sv.all[sc.conn] {
		sv.all[sc.conn] = false // a dedicated connection adopted
		sv.dedicated--
	}
}

// removeSharedLocked takes key's shared connection out of the map.
func (sv *server) removeSharedLocked(key connKey) {
	m := sv.shared.Load()
	next := make(map[connKey]*sharedConn, len(*m))
	for k, v := range *m {
		if k != key {
			next[k] = v
		}
	}
	sv.shared.Store(&next)
}

// adoptShared makes cn, a connection probe dialled as a shared one, the
// shared connection for its database unless there is one already, or one
// is being dialled; it reports whether it did.
func (sv *server) adoptShared(cn *conn) bool {
	select {
	case sv.dialing <- struct{}{}:
	default:
		return false
	}
	defer func() { <-sv.dialing }()
	key := connKey{db: cn.db}
	sv.mu.Lock()
	defer sv.unlock()
	if sv.closed {
		return false
	}
	if m := sv.shared.Load(); m != nil {
		if old := (*m)[key]; old != nil && !old.dead.Load() && !old.goingAway() && old.users.Load() >= 0 {
			return false
		}
	}
	sv.setSharedLocked(key, &sharedConn{conn: cn, sv: sv})
	return true
}
