package justredis_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// acceptCounter listens on addr ("127.0.0.1:0" for any port), and accepts
// and at once closes every connection: a server that is down, as far as a
// client can tell, which counts the client's attempts to connect. With
// hold set it keeps the connections open without a word instead: a server
// that accepts and never answers the handshake.
func acceptCounter(t *testing.T, addr string, hold bool) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	var n atomic.Int64
	var mu sync.Mutex
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			if !hold {
				nc.Close()
				continue
			}
			mu.Lock()
			held = append(held, nc)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, nc := range held {
			nc.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String(), &n
}

// hammer makes callers call r.Do in a loop for d, each call with a short
// deadline, and returns the errors, one per call (nil for a success).
func hammer(r *justredis.Redis, callers int, d time.Duration, args ...any) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				_, err := r.Do(ctx, args...)
				cancel()
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// deadServerRun is how long the dead-server tests call.
const deadServerRun = 2 * time.Second

// maxDeadServerConnects bounds the connects a whole client makes to a
// server that is down in deadServerRun: the backoff grows to a second, one
// caller tries for all, and each try makes up to three attempts.
const maxDeadServerConnects = 60

// TestDeadServerBackoff: callers of a server that is down do not each dial
// it: one tries for all, with backoff, and the others fail at once with
// the last failure, naming the address; none sees a bare context error.
func TestDeadServerBackoff(t *testing.T) {
	for _, callers := range []int{1, 32} {
		addr, accepts := acceptCounter(t, "127.0.0.1:0", false)
		r, err := justredis.New(justredis.WithAddress(addr))
		require.NoError(t, err)
		errs := hammer(r, callers, deadServerRun, "PING")
		r.Close()
		n := accepts.Load()
		t.Logf("%d callers: %d calls, %d connects in %v: %.1f connects/s", callers, len(errs), n, deadServerRun, float64(n)/deadServerRun.Seconds())
		require.LessOrEqual(t, n, int64(maxDeadServerConnects), "%d callers", callers)
		for _, err := range errs {
			require.Error(t, err)
			require.Contains(t, err.Error(), addr)
			require.NotEqual(t, context.DeadlineExceeded.Error(), err.Error())
		}
	}
}

// TestSilentServerError: a server that accepts and never answers the
// handshake gives an error that names it and says what did not happen,
// not a bare context error.
func TestSilentServerError(t *testing.T) {
	addr, _ := acceptCounter(t, "127.0.0.1:0", true)
	r, err := justredis.New(justredis.WithAddress(addr))
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = r.Do(ctx, "INCR", "x")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, justredis.ErrNotRetried, "the INCR was never sent")
	require.Contains(t, err.Error(), addr)
	require.Contains(t, err.Error(), "connection setup")

	// The connect timeout running out is no context error of the caller's.
	r2, err := justredis.New(justredis.WithAddress(addr), justredis.WithConnectTimeout(100*time.Millisecond), justredis.WithConnectRetry(0))
	require.NoError(t, err)
	defer r2.Close()
	_, err = r2.Do(testCtx(t), "INCR", "x")
	require.Error(t, err)
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), addr)
	require.Contains(t, err.Error(), "connect timeout")
}
