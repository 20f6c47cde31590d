package justredis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// health is what a server's recent connects say of it. After a connect
// failed, the next is made no sooner than a backoff later, growing with
// each failure in a row (retry.go's backoff, up to a second), and by one
// caller for all: the others wait for its outcome, or fail at once when
// their context would end before the next try, or at once when their
// router sees no point in waiting (notDue). So a server that is down gets
// a few connects a second from a whole client, not one per call.
type health struct {
	mu       sync.Mutex
	failures int       // connects failed in a row
	since    time.Time // when the first of them failed
	retryAt  time.Time // no connect before this
	lastErr  error
	// trying is closed when the connect that one caller makes for all,
	// the server being down, is over; nil when none is under way.
	trying chan struct{}
	// passedOver is set when another seed answered first while this one
	// was still being tried (see firstAnswer): tried last next time.
	passedOver bool
	// down mirrors failures > 0, for routing to look at without the lock.
	down atomic.Bool
}

// admit lets a caller connect to sv. It returns at once while connects
// succeed. After a failure it waits until the next try is due, and then
// lets one caller through (try true: it must report with tried), while the
// others wait for that one's outcome. It fails at once, with the last
// failure, when ctx would end before the next try.
func (h *health) admit(ctx context.Context, sv *server) (try bool, err error) {
	for {
		h.mu.Lock()
		if h.failures == 0 {
			h.mu.Unlock()
			return false, nil
		}
		if ch := h.trying; ch != nil {
			h.mu.Unlock()
			if err := h.await(ctx, sv, ch, nil); err != nil {
				return false, err
			}
			continue
		}
		wait := time.Until(h.retryAt)
		if err := ctx.Err(); err != nil {
			// A caller that gave up must not take the try: its connect
			// would fail at once, say nothing of the server, and leave
			// the next caller to try again, so that a crowd of them
			// would count as many dials.
			h.mu.Unlock()
			return false, sv.waitEnded(err, "waiting to reconnect")
		}
		if wait <= 0 {
			h.trying = make(chan struct{})
			h.mu.Unlock()
			return true, nil
		}
		if dl, ok := ctx.Deadline(); ok && dl.Before(h.retryAt) {
			err := h.downErrorLocked(sv, fmt.Sprintf("not tried: the next connect is due in %v, after this call's deadline",
				wait.Round(time.Millisecond)))
			h.mu.Unlock()
			return false, err
		}
		h.mu.Unlock()
		t := time.NewTimer(wait)
		err := h.await(ctx, sv, nil, t.C)
		t.Stop()
		if err != nil {
			return false, err
		}
	}
}

// await waits for done or timer, or for ctx or the server to end.
func (h *health) await(ctx context.Context, sv *server, done <-chan struct{}, timer <-chan time.Time) error {
	select {
	case <-done:
		return nil
	case <-timer:
		return nil
	case <-sv.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return sv.waitEnded(ctx.Err(), "waiting to reconnect")
	}
}

// waitEnded is the error of a caller whose context ended (err) while it
// waited for a connect to sv: it names sv, and the last failure if a
// connect failed.
func (sv *server) waitEnded(err error, waiting string) error {
	sv.health.mu.Lock()
	last := sv.health.lastErr
	sv.health.mu.Unlock()
	if last == nil {
		return fmt.Errorf("justredis: %s: %w %s", sv.addr, err, waiting)
	}
	return fmt.Errorf("justredis: %s: %w %s; the last error: %w", sv.addr, err, waiting, last)
}

// tried records how a connect ended: err nil for success, else failed
// is why its last attempt that failed on its own did (nil when the
// caller's context or Close alone ended it, which says nothing of the
// server). try says whether it was the one admit let through for all.
func (h *health) tried(try bool, failed, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if try {
		close(h.trying)
		h.trying = nil
	}
	switch {
	case err == nil:
		h.failures, h.lastErr, h.passedOver = 0, nil, false
		h.down.Store(false)
	case failed == nil || errors.Is(err, ErrClosed):
	default:
		if h.failures == 0 {
			h.since = time.Now()
		}
		h.failures++
		h.retryAt = time.Now().Add(backoff(h.failures - 1))
		h.lastErr = failed
		h.down.Store(true)
	}
}

// isDown reports, without the lock, whether the last connect failed.
func (h *health) isDown() bool { return h.down.Load() }

// notDue returns the error of a call that gives up on sv instead of
// waiting for its next connect, for the reason why: nil when sv is not
// known to be down, or when its next connect is due, which the caller is
// then to make, through admit, for all.
func (h *health) notDue(sv *server, why string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.failures == 0:
		return nil
	case h.trying != nil:
		return h.downErrorLocked(sv, "not tried while another call connects: "+why)
	}
	wait := time.Until(h.retryAt)
	if wait <= 0 {
		return nil
	}
	return h.downErrorLocked(sv, fmt.Sprintf("not tried before its next connect, due in %v: %s", wait.Round(time.Millisecond), why))
}

// downError returns the error of a call that gives up on sv, known to be
// down, for the reason why; nil when sv is not known to be down.
func (h *health) downError(sv *server, why string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failures == 0 {
		return nil
	}
	return h.downErrorLocked(sv, why)
}

func (h *health) downErrorLocked(sv *server, why string) *downError {
	return &downError{addr: sv.addr, failures: h.failures, since: h.since, why: why, last: h.lastErr}
}

// failing reports whether the last connect failed, or the server was
// passed over for another seed that answered first.
func (h *health) failing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failures > 0 || h.passedOver
}

// passOver records that another seed answered while sv was tried.
func (h *health) passOver() {
	h.mu.Lock()
	h.passedOver = true
	h.mu.Unlock()
}

// downError is the error of a call that gave up on a server known to be
// down: its context would end before the next try, or its router saw no
// point in waiting (why says which).
type downError struct {
	addr     string
	failures int
	since    time.Time
	why      string // why the call gave up
	last     error
}

func (e *downError) Error() string {
	return fmt.Sprintf("justredis: %s is down (%d failed connects in a row since %s): %s; the last error: %v",
		e.addr, e.failures, e.since.Format(time.TimeOnly), e.why, e.last)
}

func (e *downError) Unwrap() error { return e.last }
