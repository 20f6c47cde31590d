package justredis

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// server keeps the connections to one address: one shared, pipelined
// connection per database, and dedicated connections at rest.
//
// With WithMaxConnections, each connection holds one of the server's
// places, from the moment its dial begins until it is closed. A caller
// that finds no place free first frees one that nobody uses (see
// reclaimLocked), and only then waits in line.
type server struct {
	addr string
	s    *settings
	cmds *atomic.Pointer[commandTable] // the pool's, filled by the first handshake

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

	mu        sync.Mutex
	idle      []*conn        // dedicated connections at rest, oldest first
	all       map[*conn]bool // open connections; true for dedicated ones
	places    int            // places held: open connections and dials under way
	dedicated int            // of those, by connections of their own
	waiters   []*waiter      // callers waiting for a place, in order of arrival
	doomed    []*conn        // let go of under mu, closed by unlock
	closed    bool
	info      serverInfo // from the latest handshake
}

// connKey tells shared connections apart by the state their setup gave
// them.
type connKey struct {
	db       int
	readonly bool // READONLY was sent: a cluster replica serves reads on it
}

// maxIdle bounds the dedicated connections kept at rest per server.
const maxIdle = 16

func newServer(addr string, s *settings, cmds *atomic.Pointer[commandTable]) *server {
	sv := &server{
		addr:    addr,
		s:       s,
		cmds:    cmds,
		dialing: make(chan struct{}, 1),
		all:     make(map[*conn]bool),
	}
	sv.ctx, sv.cancel = context.WithCancel(context.Background())
	return sv
}

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
		return nil, serverInfo{}, ctx.Err()
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
	if sc.dead.Load() {
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
		if old := (*m)[key]; old != nil && !old.dead.Load() && old.users.Load() >= 0 {
			return false
		}
	}
	sv.setSharedLocked(key, &sharedConn{conn: cn, sv: sv})
	return true
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
		if cn.dead.Load() {
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
}

// release takes back a dedicated connection that is clean: no transaction,
// no WATCH, no reply owed.
func (sv *server) release(cn *conn) {
	sv.mu.Lock()
	sv.restLocked(cn)
	sv.serveLocked()
	sv.unlock()
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

// connect dials a connection into the place acquire took for it; it also
// fetches the COMMAND table if nobody has yet.
func (sv *server) connect(ctx context.Context, plan setupPlan, dedicated bool) (*conn, serverInfo, error) {
	plan.commands = sv.cmds.Load() == nil
	dctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(sv.ctx, cancel) // Close aborts the dial
	cn, info, err := dial(dctx, sv.addr, sv.s, plan)
	stop()
	cancel()
	if err == nil && info.commands != nil {
		sv.cmds.CompareAndSwap(nil, &info.commands)
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
	sv.info = info
	sv.info.slots = nil // only the caller needs it
	return cn, info, nil
}

// waiter is a caller waiting for a place.
type waiter struct {
	dedicated bool          // for a connection of its own
	idleOK    bool          // a dedicated connection at rest will do
	ready     chan struct{} // closed once served
	cn        *conn         // the connection at rest it was given; nil: a place was taken for it
}

// acquire takes a place for a new connection, of the kind dedicated says,
// or, when idleOK, returns a dedicated connection at rest instead. When
// the bound is reached it frees a place that nobody uses, or else waits
// its turn, up to WithWaitTimeout.
func (sv *server) acquire(ctx context.Context, dedicated, idleOK bool) (*conn, error) {
	w := &waiter{dedicated: dedicated, idleOK: idleOK}
	sv.mu.Lock()
	if sv.closed {
		sv.mu.Unlock()
		return nil, ErrClosed
	}
	if sv.serveOneLocked(w) {
		sv.unlock()
		return w.cn, nil
	}
	w.ready = make(chan struct{})
	sv.waiters = append(sv.waiters, w)
	sv.waiting.Add(1)
	sv.unlock()

	var expired <-chan time.Time
	if sv.s.waitTimeout > 0 {
		t := time.NewTimer(sv.s.waitTimeout)
		defer t.Stop()
		expired = t.C
	}
	var why error
	select {
	case <-w.ready:
		return w.cn, nil
	case <-expired:
		why = fmt.Errorf("%w: %s for %v", ErrPoolTimeout, sv.busy(dedicated), sv.s.waitTimeout)
	case <-ctx.Done():
		why = fmt.Errorf("%w: %s: %w", ErrPoolTimeout, sv.busy(dedicated), ctx.Err())
	case <-sv.ctx.Done():
		why = ErrClosed
	}
	sv.mu.Lock()
	defer sv.unlock()
	select {
	case <-w.ready:
		// Served as it gave up: pass it on.
		if w.cn != nil {
			sv.restLocked(w.cn)
		} else if !sv.closed {
			sv.unreserveLocked(dedicated)
		}
		sv.serveLocked()
	default:
		sv.waiters = slices.DeleteFunc(sv.waiters, func(x *waiter) bool { return x == w })
		sv.waiting.Add(-1)
	}
	return nil, why
}

// busy says what a caller waited for.
func (sv *server) busy(dedicated bool) string {
	if dedicated && sv.s.maxConns > 1 {
		return fmt.Sprintf("all %d connections of their own to %s busy (WithMaxConnections(%d) keeps one for shared calls)", sv.dedicatedCap(), sv.addr, sv.s.maxConns)
	}
	return fmt.Sprintf("all %d connections to %s busy", sv.s.maxConns, sv.addr)
}

// serveLocked serves the waiters that can be served, in order. A waiter
// that cannot be does not hold up the others: a blocking command waiting
// for a connection of its own never stalls a shared call.
func (sv *server) serveLocked() {
	if sv.closed || len(sv.waiters) == 0 {
		return
	}
	var stuck [2][2]bool // by dedicated, idleOK: such a waiter cannot be served now
	for i := 0; i < len(sv.waiters); {
		w := sv.waiters[i]
		k := &stuck[b2i(w.dedicated)][b2i(w.idleOK)]
		if *k || !sv.serveOneLocked(w) {
			*k = true
			i++
			continue
		}
		sv.waiters = slices.Delete(sv.waiters, i, i+1)
		sv.waiting.Add(-1)
		close(w.ready)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// serveOneLocked gives w a connection at rest or a place, freeing one if
// need be; it reports whether it could.
func (sv *server) serveOneLocked(w *waiter) bool {
	if w.idleOK {
		for len(sv.idle) > 0 {
			cn := sv.idle[len(sv.idle)-1]
			sv.idle = sv.idle[:len(sv.idle)-1]
			if _, ok := sv.all[cn]; ok && !cn.dead.Load() {
				w.cn = cn
				return true
			}
			sv.dropLocked(cn)
		}
	}
	for {
		if sv.reserveLocked(w.dedicated) {
			return true
		}
		if !sv.reclaimLocked(w.dedicated) {
			return false
		}
	}
}

// dedicatedCap is how many places connections of their own may hold: all
// but one, kept for the shared connections, when there are several.
func (sv *server) dedicatedCap() int {
	return max(sv.s.maxConns-1, 1)
}

// reserveLocked takes a place if one is free for the kind of connection
// dedicated says.
func (sv *server) reserveLocked(dedicated bool) bool {
	if n := sv.s.maxConns; n > 0 && (sv.places >= n || dedicated && sv.dedicated >= sv.dedicatedCap()) {
		return false
	}
	sv.places++
	if dedicated {
		sv.dedicated++
	}
	return true
}

// unreserveLocked gives back a place reserveLocked took, which no
// connection came to hold.
func (sv *server) unreserveLocked(dedicated bool) {
	sv.places--
	if dedicated {
		sv.dedicated--
	}
}

// reclaimLocked frees a place that stands in the way of a new connection
// of the kind dedicated says, taken from a connection nobody uses: one
// that broke, then the oldest dedicated connection at rest, then a shared
// connection with no lease, which is retired: no call is under way on it,
// and none can start. It reports whether it freed one.
func (sv *server) reclaimLocked(dedicated bool) bool {
	// Connections of their own are at their cap: only closing one of them
	// helps.
	capped := dedicated && sv.dedicated >= sv.dedicatedCap()
	freed := false
	for cn, isDedicated := range sv.all {
		if cn.dead.Load() && (isDedicated || !capped) {
			sv.forgetLocked(cn)
			freed = true
		}
	}
	if freed {
		return true
	}
	if len(sv.idle) > 0 {
		cn := sv.idle[0]
		sv.idle = sv.idle[1:]
		sv.dropLocked(cn)
		return true
	}
	if capped {
		return false
	}
	if m := sv.shared.Load(); m != nil {
		for key, sc := range *m {
			if sc.users.CompareAndSwap(0, retired) {
				sv.removeSharedLocked(key)
				sv.dropLocked(sc.conn)
				return true
			}
		}
	}
	return false
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
}
