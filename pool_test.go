package justredis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// The tests in this file are about the pool's bound (WithMaxConnections)
// and about waits: nothing may wait for a connection, or for a lock, that
// cannot come. Each gives its calls a context with a deadline, so that a
// regression fails the test instead of hanging the run.

// poolCtx bounds a pool test well below testCtx, and below the wait
// timeouts the tests use, so that waiting too long shows as the wrong
// error.
func poolCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// returns waits for a goroutine's result, failing the test when it takes
// longer than a deadline that only a hang reaches.
func returns[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never returned", what)
		panic("unreachable")
	}
}

// blockedClients reads how many clients of s wait in a blocking command.
func blockedClients(t *testing.T, s *redistest.Server) int {
	t.Helper()
	info, err := s.Do("INFO", "clients")
	require.NoError(t, err)
	for _, line := range splitLines(info) {
		var n int
		if _, err := fmt.Sscanf(line, "blocked_clients:%d", &n); err == nil {
			return n
		}
	}
	t.Fatal("no blocked_clients in INFO")
	return 0
}

// waitBlocked waits until n clients of s are blocked.
func waitBlocked(t *testing.T, s *redistest.Server, n int) {
	t.Helper()
	for i := 0; blockedClients(t, s) < n; i++ {
		if i == 500 {
			t.Fatalf("%d clients never blocked", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPoolCloseWakesWaiters: Close wakes every caller waiting for a
// connection, with ErrClosed, whatever it waited in: for a slot, or behind
// another caller dialling the same shared connection.
func TestPoolCloseWakesWaiters(t *testing.T) {
	r, err := justredis.New(justredis.WithAddress(server().Addr()), justredis.WithMaxConnections(1))
	require.NoError(t, err)
	ctx := poolCtx(t)
	c, err := r.Connection(ctx) // takes the only connection, for good
	require.NoError(t, err)
	defer c.Close()

	errs := make(chan error, 40)
	calls := []func() error{
		func() error { _, err := r.Connection(ctx); return err },
		func() error { _, err := r.Do(ctx, "PING"); return err },
		func() error { _, err := r.Modify(justredis.WithDatabase(1)).Do(ctx, "PING"); return err },
		func() error { _, err := r.DoMulti(ctx, []any{"PING"}, []any{"PING"}); return err },
		func() error { _, err := r.Do(ctx, "BLPOP", key(t, "l"), 0); return err },
		func() error { _, err := r.PushConnection(ctx); return err },
	}
	n := 0
	for range 5 {
		for _, call := range calls {
			n++
			go func() { errs <- call() }()
		}
	}
	time.Sleep(200 * time.Millisecond) // let them queue; any still on the way meet a closed pool
	require.NoError(t, r.Close())
	for range n {
		err := returns(t, errs, "a caller waiting for a connection")
		require.ErrorIs(t, err, justredis.ErrClosed)
	}
}

// TestPoolCloseAbortsDial: Close does not wait for a dial under way to a
// server that does not answer.
func TestPoolCloseAbortsDial(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithConnectTimeout(0))
	require.NoError(t, err)
	require.NoError(t, s.Pause())
	defer s.Resume()
	ctx := poolCtx(t)
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() { _, err := r.Do(ctx, "PING"); errs <- err }()
	}
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, r.Close())
	for range cap(errs) {
		require.ErrorIs(t, returns(t, errs, "a call dialling a hung server"), justredis.ErrClosed)
	}
}

// TestPoolBoundReclaimsIdle: with the pool at its bound, an idle
// connection, shared or dedicated, of any database, is closed for the
// caller that needs one, rather than making it wait for a connection that
// nobody will give back.
func TestPoolBoundReclaimsIdle(t *testing.T) {
	bounded := func(t *testing.T, n int) (*justredis.Redis, context.Context) {
		// The wait timeout outlasts the context: a caller left waiting
		// fails with DeadlineExceeded.
		return newRedis(t, justredis.WithMaxConnections(n), justredis.WithWaitTimeout(time.Minute)), poolCtx(t)
	}
	t.Run("DoThenConnection", func(t *testing.T) {
		r, ctx := bounded(t, 1)
		_, err := r.Do(ctx, "SET", key(t, "k"), "v")
		require.NoError(t, err)
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		v, err := c.Do(ctx, "GET", key(t, "k"))
		require.NoError(t, err)
		require.Equal(t, "v", v)
		require.NoError(t, c.Close())
		v, err = r.Do(ctx, "GET", key(t, "k"))
		require.NoError(t, err, "the idle dedicated connection makes way for the shared one")
		require.Equal(t, "v", v)
	})
	t.Run("DoThenBlocking", func(t *testing.T) {
		r, ctx := bounded(t, 1)
		_, err := r.Do(ctx, "PING")
		require.NoError(t, err)
		v, err := r.Do(ctx, "BLPOP", key(t, "l"), 0.01)
		require.NoError(t, err)
		require.Nil(t, v)
		vs, err := r.DoMulti(ctx, []any{"RPUSH", key(t, "l"), "x"})
		require.NoError(t, err)
		require.Equal(t, []any{int64(1)}, vs)
		vs, err = r.DoMulti(ctx, []any{"BLPOP", key(t, "l"), 0.01})
		require.NoError(t, err)
		require.Equal(t, []any{[]any{key(t, "l"), "x"}}, vs)
		_, err = r.Do(ctx, "PING")
		require.NoError(t, err)
	})
	t.Run("OtherDatabase", func(t *testing.T) {
		r, ctx := bounded(t, 1)
		for _, db := range []int{0, 1, 0, 2} {
			_, err := r.Modify(justredis.WithDatabase(db)).Do(ctx, "SET", key(t, "k"), db)
			require.NoError(t, err, "database %d", db)
		}
		for _, db := range []int{1, 0, 2} {
			v, err := r.Modify(justredis.WithDatabase(db)).Do(ctx, "GET", key(t, "k"))
			require.NoError(t, err, "database %d", db)
			require.Equal(t, fmt.Sprint(db), v)
		}
	})
	t.Run("TwoDatabasesThenConnection", func(t *testing.T) {
		r, ctx := bounded(t, 2)
		_, err := r.Do(ctx, "PING")
		require.NoError(t, err)
		_, err = r.Modify(justredis.WithDatabase(1)).Do(ctx, "PING")
		require.NoError(t, err)
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		_, err = c.Do(ctx, "PING")
		require.NoError(t, err)
		require.NoError(t, c.Close())
	})
	t.Run("ConnectionOtherDatabase", func(t *testing.T) {
		r, ctx := bounded(t, 1)
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		require.NoError(t, c.Close())
		c, err = r.Modify(justredis.WithDatabase(3)).Connection(ctx)
		require.NoError(t, err, "the idle connection is taken at another database")
		_, err = c.Do(ctx, "SET", key(t, "k"), "three")
		require.NoError(t, err)
		require.NoError(t, c.Close())
		v, err := r.Modify(justredis.WithDatabase(3)).Do(ctx, "GET", key(t, "k"))
		require.NoError(t, err)
		require.Equal(t, "three", v)
	})
	t.Run("PushConnection", func(t *testing.T) {
		r, ctx := bounded(t, 1)
		_, err := r.Do(ctx, "PING")
		require.NoError(t, err)
		p, err := r.PushConnection(ctx)
		require.NoError(t, err)
		require.NoError(t, p.Close())
		_, err = r.Do(ctx, "PING")
		require.NoError(t, err)
	})
}

// TestPoolReclaimNeverFailsCalls: reclaiming idle connections for callers
// that wait never breaks a call: a shared connection with calls in flight
// is left alone, and one taken by a caller about to send is not idle.
func TestPoolReclaimNeverFailsCalls(t *testing.T) {
	r := newRedis(t, justredis.WithMaxConnections(2), justredis.WithWaitTimeout(time.Minute))
	ctx := poolCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if ctx.Err() != nil {
					return
				}
				db := (g + i) % 3
				rd := r.Modify(justredis.WithDatabase(db))
				k := key(t, fmt.Sprint(g))
				switch (g + i) % 5 {
				case 0:
					c, err := rd.Connection(ctx)
					if err != nil {
						fail(fmt.Errorf("Connection: %w", err))
						return
					}
					_, err = c.Do(ctx, "SET", k, i)
					c.Close()
					if err != nil {
						fail(fmt.Errorf("Connection.Do: %w", err))
						return
					}
				case 1:
					// With an element there, so that the server answers at
					// once, and the test stays about the pool.
					list := k + ":list"
					if _, err := rd.Do(ctx, "RPUSH", list, i); err != nil {
						fail(fmt.Errorf("RPUSH: %w", err))
						return
					}
					v, err := rd.Do(ctx, "BLPOP", list, 10)
					if err != nil || fmt.Sprint(v) != fmt.Sprint([]any{list, fmt.Sprint(i)}) {
						fail(fmt.Errorf("BLPOP: %v, %w", v, err))
						return
					}
				case 2:
					if _, err := rd.DoMulti(ctx, []any{"SET", k, i}, []any{"GET", k}); err != nil {
						fail(fmt.Errorf("DoMulti: %w", err))
						return
					}
				default:
					v, err := rd.Do(ctx, "ECHO", k)
					if err != nil || v != k {
						fail(fmt.Errorf("ECHO: %v, %w", v, err))
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	require.NoError(t, ctx.Err())
}

// TestPoolBlockingKeepsSharedPlace: blocking commands, which take
// connections of their own, never take the last one: a shared call finds
// room even when the shared connection had to be dialled again.
func TestPoolBlockingKeepsSharedPlace(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithMaxConnections(2), justredis.WithWaitTimeout(3*time.Second))
	require.NoError(t, err)
	defer r.Close()
	ctx := poolCtx(t)
	id, err := justredis.Int64(r.Do(ctx, "CLIENT", "ID"))
	require.NoError(t, err)

	blockCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Do(blockCtx, "BLPOP", "never", 0)
		}()
	}
	defer func() { stop(); wg.Wait() }()
	waitBlocked(t, s, 1)
	time.Sleep(100 * time.Millisecond) // the others queue for a connection

	_, err = s.Do("CLIENT", "KILL", "ID", fmt.Sprint(id))
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 2*time.Second) // less than the wait timeout
	defer cancel()
	_, err = r.Do(short, "GET", "x")
	require.NoError(t, err, "the shared connection is dialled again, not starved by BLPOP")
	_, err = r.DoMulti(short, []any{"GET", "x"}, []any{"GET", "y"})
	require.NoError(t, err)
	_, err = r.Modify(justredis.WithDatabase(1)).Do(short, "GET", "x")
	require.NoError(t, err, "another database takes the shared place in turn")
}

// blockedConnection returns a Connection of a server of its own, with a
// BLPOP 0 in flight on it; blpop gets the BLPOP's error.
func blockedConnection(t *testing.T) (s *redistest.Server, r *justredis.Redis, c *justredis.Connection, blpop <-chan error) {
	s = redistest.Start(t, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(s.Addr()))
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	c, err = r.Connection(poolCtx(t))
	require.NoError(t, err)
	// Its own context outlasts returns' patience, so that a wait for it
	// shows as a hang.
	blockCtx, stop := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(stop)
	errs := make(chan error, 1)
	go func() { _, err := c.Do(blockCtx, "BLPOP", "never", 0); errs <- err }()
	waitBlocked(t, s, 1)
	return s, r, c, errs
}

// TestConnectionCloseDuringCall: Close does not wait for a call in flight
// on the connection; the call fails with ErrClosed.
func TestConnectionCloseDuringCall(t *testing.T) {
	s, r, c, blpop := blockedConnection(t)
	ctx := poolCtx(t)
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	require.NoError(t, returns(t, closed, "Close"))
	require.ErrorIs(t, returns(t, blpop, "the BLPOP in flight"), justredis.ErrClosed)
	_, err := c.Do(ctx, "PING")
	require.ErrorIs(t, err, justredis.ErrClosed)
	require.Zero(t, blockedClients(t, s), "the server connection was closed")

	// The pool is whole: the connection's place was given back.
	_, err = r.Do(ctx, "PING")
	require.NoError(t, err)
}

// TestConnectionCallKeepsItsDeadline: a call waiting for its turn behind
// one that is blocked gives up when its context ends.
func TestConnectionCallKeepsItsDeadline(t *testing.T) {
	_, _, c, _ := blockedConnection(t)
	pinged := make(chan error, 1)
	go func() {
		short, cancel := context.WithTimeout(poolCtx(t), 100*time.Millisecond)
		defer cancel()
		_, err := c.Do(short, "PING")
		pinged <- err
	}()
	require.ErrorIs(t, returns(t, pinged, "a call behind a blocked one"), context.DeadlineExceeded)
}

// TestPushConnectionStuckWrite: a Do waiting to write behind one stuck
// writing to a server that does not read gives up when its context ends;
// Close does not wait for the stuck one, which ends.
func TestPushConnectionStuckWrite(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(s.Addr()))
	require.NoError(t, err)
	defer r.Close()
	ctx := poolCtx(t)
	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Pause())
	defer s.Resume()

	// Far more than the socket buffers hold, so the write blocks.
	channels := []any{"SUBSCRIBE"}
	for i := range 512 {
		channels = append(channels, fmt.Sprintf("%s:%d", strings.Repeat("c", 64<<10), i))
	}
	// Its own context outlasts returns' patience, so that a wait for it
	// shows as a hang.
	stuckCtx, cancelStuck := context.WithTimeout(context.Background(), time.Minute)
	defer cancelStuck()
	stuck := make(chan error, 1)
	go func() { stuck <- p.Do(stuckCtx, channels...) }()
	for {
		pinged := make(chan error, 1)
		go func() {
			short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			pinged <- p.Do(short, "PING")
		}()
		err := returns(t, pinged, "a Do waiting behind a stuck one")
		if errors.Is(err, context.DeadlineExceeded) {
			break // it waited behind the big one, and gave up with its context
		}
		require.NoError(t, err, "a PING sent before the big Do began")
		select {
		case err := <-stuck:
			t.Fatalf("the big Do did not get stuck: %v", err)
		default:
		}
		time.Sleep(50 * time.Millisecond)
	}

	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	require.NoError(t, returns(t, closed, "Close"))
	err = returns(t, stuck, "the Do in flight")
	require.True(t, err == nil || errors.Is(err, justredis.ErrClosed), "got %v", err)
}
