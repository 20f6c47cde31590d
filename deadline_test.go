package justredis_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// A call whose context ends after its command was written returns an
// error that matches both the context's error and ErrNotRetried: the
// command may have run. One that matches the context's error alone was
// never sent.

// deadlineTally counts the outcomes of INCRs made under short deadlines.
type deadlineTally struct {
	ok, mayHaveRun, notSent, other atomic.Int64
	firstOther                     atomic.Value
}

func (d *deadlineTally) add(err error) {
	switch {
	case err == nil:
		d.ok.Add(1)
	case errors.Is(err, context.DeadlineExceeded) && errors.Is(err, justredis.ErrNotRetried):
		d.mayHaveRun.Add(1)
	case errors.Is(err, context.DeadlineExceeded):
		d.notSent.Add(1)
	default:
		d.other.Add(1)
		d.firstOther.CompareAndSwap(nil, err)
	}
}

// check compares the tally with the counter the INCRs incremented: every
// INCR that counted succeeded or may have run.
func (d *deadlineTally) check(t *testing.T, counter int64) {
	t.Helper()
	t.Logf("ok %d, may have run %d, not sent %d; counter %d", d.ok.Load(), d.mayHaveRun.Load(), d.notSent.Load(), counter)
	require.Zero(t, d.other.Load(), "errors other than the deadline's: first %v", d.firstOther.Load())
	require.GreaterOrEqual(t, counter, d.ok.Load(), "every success counted")
	require.LessOrEqual(t, counter-d.ok.Load(), d.mayHaveRun.Load(),
		"an INCR that failed with the context's error alone ran")
}

// deadlineStorm runs INCRs on key from several goroutines, each with a
// deadline too short for some of them, and tallies the outcomes.
func deadlineStorm(t *testing.T, do func(ctx context.Context, args ...any) (any, error), key string) *deadlineTally {
	const workers, each = 16, 300
	var tally deadlineTally
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(1500)+20)*time.Microsecond)
				_, err := do(ctx, "INCR", key)
				cancel()
				tally.add(err)
			}
		}()
	}
	wg.Wait()
	return &tally
}

// counterOf reads an integer key, waiting a little for commands the server
// still has to run (those written before their callers gave up).
func counterOf(t *testing.T, get func() (string, error), atLeast int64) int64 {
	t.Helper()
	var n int64
	for end := time.Now().Add(2 * time.Second); ; {
		v, err := get()
		require.NoError(t, err)
		n, _ = strconv.ParseInt(v, 10, 64)
		if n >= atLeast || time.Now().After(end) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeadlineStormCounts: in a storm of short deadlines, the INCRs that
// ran are exactly those that succeeded and some of those whose error
// says they may have run.
func TestDeadlineStormCounts(t *testing.T) {
	s := server()
	r := newRedis(t)
	k := key(t, "n")
	tally := deadlineStorm(t, r.Do, k)
	get := func() (string, error) { return s.Do("GET", k) }
	tally.check(t, counterOf(t, get, tally.ok.Load()+tally.mayHaveRun.Load()))
	require.NotZero(t, tally.mayHaveRun.Load()+tally.notSent.Load(), "the deadlines were too long to test anything")

	// The same on a Connection of one's own.
	c, err := r.Connection(testCtx(t))
	require.NoError(t, err)
	defer c.Close()
	k2 := key(t, "dedicated")
	tally = deadlineStorm(t, c.Do, k2)
	get = func() (string, error) { return s.Do("GET", k2) }
	tally.check(t, counterOf(t, get, tally.ok.Load()+tally.mayHaveRun.Load()))
}

// TestDeadlineAfterWrite: with the server paused, a command written (or
// queued behind one written) fails at its deadline with an error that
// says it may have run, and it does run once the server resumes; one
// that never left the client says only that its deadline passed.
func TestDeadlineAfterWrite(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(s.Addr()))
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Do(testCtx(t), "PING") // connected before the pause
	require.NoError(t, err)
	c, err := r.Connection(testCtx(t))
	require.NoError(t, err)
	defer c.Close()

	require.NoError(t, s.Pause())
	resumed := false
	defer func() {
		if !resumed {
			s.Resume()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 2 { // the second is queued behind the first
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.Do(ctx, "INCR", "paused")
		}()
	}
	_, errs[2] = c.Do(ctx, "INCR", "paused")
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorIs(t, err, justredis.ErrNotRetried)
		require.Contains(t, err.Error(), s.Addr())
	}

	// A client with no connection yet: its handshake gets no answer, and
	// its INCR is never written.
	fresh, err := justredis.New(justredis.WithAddress(s.Addr()))
	require.NoError(t, err)
	defer fresh.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	_, err = fresh.Do(ctx2, "INCR", "paused")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, justredis.ErrNotRetried)
	require.Contains(t, err.Error(), s.Addr())
	require.Contains(t, err.Error(), "connection setup")

	require.NoError(t, s.Resume())
	resumed = true
	n := counterOf(t, func() (string, error) { return s.Do("GET", "paused") }, 3)
	require.Equal(t, int64(3), n, "the three written INCRs ran, the unsent one did not")
}
