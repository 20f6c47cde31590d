package justredis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// The connections the client-side cache reads through (cached.go sends
// the reads, cache.go keeps the replies).
//
// Each server has, per database (and, on a cluster replica, for READONLY),
// one tracked connection: CLIENT TRACKING is on in OPTIN mode, so the
// server remembers only the keys of the reads that follow CLIENT CACHING
// yes, which the cache sends in the same write as each miss. A goroutine of
// its own reads it for as long as it lives, so that an invalidation is
// seen when it arrives, not at the next call, and a connection that breaks
// (and with it the server's tracking of its keys) is noticed at once and
// its entries dropped.
//
// Under RESP3 the invalidations arrive on the tracked connection itself,
// as pushes, in order with its replies. Under RESP2 a connection cannot
// receive pushes while it serves commands: tracking is redirected
// (CLIENT TRACKING on REDIRECT id) to one more connection per server,
// subscribed to __redis__:invalidate, and read by a goroutine too. If that
// one breaks, the tracked connections redirected to it are closed, since
// their invalidations go nowhere, and their entries dropped.

// serverTracking is one server's connections for the client-side cache.
type serverTracking struct {
	mu      sync.Mutex
	conns   map[connKey]*conn
	inval   *conn         // RESP2: where the tracked connections' invalidations go
	invalID int64         // its CLIENT ID
	dialing chan struct{} // held while one is dialled; made at first use
	retryAt time.Time     // after a failed dial, misses are not cached until then
}

// trackedRetry is how long the cache leaves a server alone after failing
// to set up a tracked connection to it: the reads meanwhile go uncached.
const trackedRetry = time.Second

// errNoTracking says why a miss could not be read through a tracked
// connection; the read then goes the usual way, uncached.
var errNoTracking = errors.New("no tracked connection")

// trackedConn returns sv's tracked connection for key, dialling it when
// there is none or it broke.
func (sv *server) trackedConn(ctx context.Context, key connKey, cache *clientCache) (*conn, error) {
	t := &sv.track
	t.mu.Lock()
	cn := t.conns[key]
	if cn != nil && !cn.dead.Load() {
		t.mu.Unlock()
		return cn, nil
	}
	if time.Now().Before(t.retryAt) {
		t.mu.Unlock()
		return nil, errNoTracking
	}
	if t.dialing == nil {
		t.dialing = make(chan struct{}, 1)
	}
	dialing := t.dialing
	t.mu.Unlock()

	select {
	case dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-dialing }()
	t.mu.Lock()
	cn = t.conns[key]
	t.mu.Unlock()
	if cn != nil && !cn.dead.Load() {
		return cn, nil // dialled by another caller meanwhile
	}
	cn, err := sv.dialTracked(ctx, key, cache)
	if err != nil {
		if ctx.Err() == nil {
			t.mu.Lock()
			t.retryAt = time.Now().Add(trackedRetry)
			t.mu.Unlock()
		}
		return nil, err
	}
	return cn, nil
}

// dialTracked opens the tracked connection for key, turns tracking on, and
// starts its reader. dialing is held.
func (sv *server) dialTracked(ctx context.Context, key connKey, cache *clientCache) (*conn, error) {
	if !sv.tryPlace() {
		return nil, errNoTracking
	}
	cn, info, err := sv.connect(ctx, setupPlan{db: key.db, readonly: key.readonly}, true)
	if err != nil {
		return nil, err
	}
	track := []any{"CLIENT", "TRACKING", "on", "OPTIN"}
	var inval *conn
	if info.resp == 2 {
		var id int64
		if inval, id, err = sv.invalidationConn(ctx, cache); err != nil {
			sv.drop(cn)
			return nil, err
		}
		track = []any{"CLIENT", "TRACKING", "on", "REDIRECT", id, "OPTIN"}
	}
	v, err := cn.roundTrip(ctx, [][]any{track}, StringDecoder, nil)
	if err == nil {
		_, err = reply(v)
	}
	if err != nil {
		sv.drop(cn)
		return nil, fmt.Errorf("justredis: %s: client-side caching: CLIENT TRACKING: %w", sv.addr, err)
	}
	// An idle tracked connection is not a dead one: its reader waits
	// without a deadline, and the cache bounds each read it sends.
	cn.socketTimeout = 0
	cn.onPush = func(frame []byte) {
		keys, all, ok := parseInvalidation(frame)
		switch {
		case !ok:
		case all:
			cache.dropOwner(cn) // the server flushed what it tracked
		default:
			cache.invalidate(keys)
		}
	}
	t := &sv.track
	err = cn.readAlways(func() {
		cache.dropOwner(cn)
		t.mu.Lock()
		if t.conns[key] == cn {
			delete(t.conns, key)
		}
		t.mu.Unlock()
		sv.drop(cn)
	})
	if err != nil {
		sv.drop(cn)
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if inval != nil && t.inval != inval {
		// The invalidation connection broke already: what it would
		// have been told is lost.
		cn.close()
		return nil, errNoTracking
	}
	if t.conns == nil {
		t.conns = make(map[connKey]*conn)
	}
	t.conns[key] = cn
	return cn, nil
}

// invalidationConn returns the connection that sv's RESP2 tracked
// connections redirect their invalidations to, and its client ID, dialling
// it when there is none. dialing is held.
func (sv *server) invalidationConn(ctx context.Context, cache *clientCache) (*conn, int64, error) {
	t := &sv.track
	t.mu.Lock()
	cn, id := t.inval, t.invalID
	t.mu.Unlock()
	if cn != nil && !cn.dead.Load() {
		return cn, id, nil
	}
	if !sv.tryPlace() {
		return nil, 0, errNoTracking
	}
	cn, info, err := sv.connect(ctx, setupPlan{extra: [][]any{{"CLIENT", "ID"}}}, true)
	if err != nil {
		return nil, 0, err
	}
	id, ok := info.extra[0].(int64)
	if !ok {
		sv.drop(cn)
		return nil, 0, fmt.Errorf("justredis: %s: client-side caching: CLIENT ID: %v", sv.addr, info.extra[0])
	}
	// The confirmation comes as the reply, so the subscription is in
	// place before any connection redirects to it.
	v, err := cn.roundTrip(ctx, [][]any{{"SUBSCRIBE", trackingChannel}}, StringDecoder, nil)
	if err == nil {
		_, err = reply(v)
	}
	if err == nil {
		err = cn.pushMode()
	}
	if err != nil {
		sv.drop(cn)
		return nil, 0, fmt.Errorf("justredis: %s: client-side caching: SUBSCRIBE %s: %w", sv.addr, trackingChannel, err)
	}
	t.mu.Lock()
	t.inval, t.invalID = cn, id
	t.mu.Unlock()
	go sv.readInvalidations(cn, cache)
	return cn, id, nil
}

// readInvalidations reads the RESP2 invalidation connection cn until it
// breaks; then the tracked connections that redirect to it are closed, and
// with them what they tracked.
func (sv *server) readInvalidations(cn *conn, cache *clientCache) {
	for {
		frame, err := cn.readPush(0)
		if err != nil {
			if isTimeout(err) && !cn.dead.Load() {
				continue // a stale deadline
			}
			break
		}
		keys, all, ok := parseInvalidation(frame)
		switch {
		case !ok:
		case all:
			for _, tc := range sv.trackedConns() {
				cache.dropOwner(tc)
			}
		default:
			cache.invalidate(keys)
		}
	}
	cn.fail(errNoTracking)
	t := &sv.track
	t.mu.Lock()
	if t.inval == cn {
		t.inval = nil
	}
	t.mu.Unlock()
	for _, tc := range sv.trackedConns() {
		tc.close() // its reader drops its entries
	}
	sv.drop(cn)
}

func (sv *server) trackedConns() []*conn {
	t := &sv.track
	t.mu.Lock()
	defer t.mu.Unlock()
	conns := make([]*conn, 0, len(t.conns))
	for _, cn := range t.conns {
		conns = append(conns, cn)
	}
	return conns
}

// tryPlace takes a place for a connection of the cache's own, if one is
// free without waiting: a read that finds none goes uncached rather than
// wait. With WithMaxConnections(1) the only place is the shared
// connection's, so the cache has none.
func (sv *server) tryPlace() bool {
	if sv.s.maxConns == 1 {
		return false
	}
	sv.mu.Lock()
	defer sv.unlock()
	if sv.closed {
		return false
	}
	w := waiter{dedicated: true}
	return sv.serveOneLocked(&w)
}

// reclaimTrackedLocked closes one of the cache's connections to free its
// place for a caller that waits for one, the RESP2 invalidation
// connection last; it reports whether it did. The cache's entries from it
// go, and its reads go uncached until a place is free without waiting.
// sv.mu is held.
func (sv *server) reclaimTrackedLocked() bool {
	t := &sv.track
	t.mu.Lock()
	defer t.mu.Unlock()
	var victim *conn
	for key, cn := range t.conns {
		delete(t.conns, key)
		if _, ok := sv.all[cn]; ok {
			victim = cn
			break
		}
	}
	if victim == nil && len(t.conns) == 0 && t.inval != nil {
		if _, ok := sv.all[t.inval]; ok {
			victim, t.inval = t.inval, nil
		}
	}
	if victim == nil {
		return false
	}
	t.retryAt = time.Now().Add(trackedRetry)
	sv.dropLocked(victim) // its reader drops its entries
	return true
}

// parseInvalidation reads an invalidation message: under RESP3 the push
// ["invalidate", keys], under RESP2 the message ["message",
// "__redis__:invalidate", keys]. keys is nil and all true when the server
// flushed everything it tracked. The keys point into frame. ok is false
// for anything else (a subscription's confirmation, say).
func parseInvalidation(frame []byte) (keys [][]byte, all, ok bool) {
	r := Reader{buf: frame}
	t, err := r.Next()
	if err != nil || (t.Kind != KindPush && t.Kind != KindArray) {
		return nil, false, false
	}
	n := t.Len
	kind, err := r.Next()
	if err != nil {
		return nil, false, false
	}
	switch {
	case n == 2 && t.Kind == KindPush && string(kind.Data) == "invalidate":
	case n == 3 && string(kind.Data) == "message":
		ch, err := r.Next()
		if err != nil || string(ch.Data) != trackingChannel {
			return nil, false, false
		}
	default:
		return nil, false, false
	}
	list, err := r.Next()
	if err != nil {
		return nil, false, false
	}
	if list.Kind == KindNull {
		return nil, true, true
	}
	if list.Kind != KindArray && list.Kind != KindSet {
		return nil, false, false
	}
	keys = make([][]byte, 0, list.Len)
	for i := 0; i < list.Len; i++ {
		k, err := r.Next()
		if err != nil {
			return nil, false, false
		}
		keys = append(keys, k.Data)
	}
	return keys, false, true
}
