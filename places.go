package justredis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The bound of WithMaxConnections. Each connection to a server holds one
// of its places, from the moment its dial begins until it is closed;
// connections of their own hold at most all but one. A caller that finds
// no place free frees one that nobody uses, and only then waits in line.

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
	sv.mu.Lock()
	if sv.closed {
		sv.mu.Unlock()
		return nil, ErrClosed
	}
	now := waiter{dedicated: dedicated, idleOK: idleOK}
	if sv.serveOneLocked(&now) {
		sv.unlock()
		return now.cn, nil
	}
	w := &waiter{dedicated: dedicated, idleOK: idleOK, ready: make(chan struct{})}
	sv.waiters = append(sv.waiters, w)
	sv.waiting.Add(1)
	sv.unlock()

	var expired <-chan time.Time
	if sv.s.waitTimeout > 0 {
		t := time.NewTimer(sv.s.waitTimeout)
		defer t.Stop()
		expired = t.C
	}
	start := time.Now()
	var why error
	defer func() { sv.waited(ctx, time.Since(start), why) }()
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

// waited counts a wait for a place, and tells the observers.
func (sv *server) waited(ctx context.Context, d time.Duration, err error) {
	c := &sv.counters
	c.waits.Add(1)
	c.waitNanos.Add(int64(d))
	if errors.Is(err, ErrPoolTimeout) {
		c.waitTimeouts.Add(1)
	}
	if sv.s.observed() {
		sv.s.emit(ctx, &Event{Kind: EventPoolWait, Addr: sv.addr, Duration: d, Err: err})
	}
}
