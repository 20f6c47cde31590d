package justredis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// Closing a TLS connection writes its close_notify alert, which crypto/tls
// lets wait 5s on a full send buffer. These tests fill the buffers against
// a paused server and check that closing, by the client after a cut write
// or by the user, does not wait for it. The bound is 3s: well past what a
// close takes, with room for a loaded machine, and still short of the 5s
// crypto/tls would wait, so that a close that waited fails the test; no
// duration is asserted beyond that. Whether the alert would have waited
// depends on the room the kernel has at that moment, so without the bound
// on it these fail only at times; socket's TestCloseTLSPeerNotReading
// shows the wait every time.
const closeBound = 3 * time.Second

// within fails the test unless fn returns within closeBound from now.
func within(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	timer := time.NewTimer(closeBound)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		t.Fatalf("%s has not returned within %v: it waits on the paused server to read a TLS close_notify", what, closeBound)
		return nil
	}
}

// TestTLSCloseOnPausedServer: a Do whose large write its context cuts
// short breaks its TLS connection, which cannot resume the write, and
// returns without waiting on the paused server; so do the Closes after.
// Several connections try, as the alert waits only at times.
func TestTLSCloseOnPausedServer(t *testing.T) {
	t.Parallel()
	s, r := tlsClient(t)
	ctx := testCtx(t)
	conns := make([]*justredis.Connection, 6)
	for i := range conns {
		c, err := r.Connection(ctx) // made before the pause: no handshake could finish after it
		require.NoError(t, err)
		conns[i] = c
	}
	require.NoError(t, s.Pause())
	defer s.Resume()

	big := strings.Repeat("v", 16<<20) // more than the socket buffers hold
	for i, c := range conns {
		err := within(t, "Connection.Do cut mid-write", func() error {
			// The write fills the buffers long before this ends.
			short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			_, err := c.Do(short, "SET", key(t, fmt.Sprint(i)), big)
			return err
		})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		within(t, "Connection.Close", c.Close)
	}
	within(t, "Redis.Close", r.Close)
}

// TestTLSPushCloseOnPausedServer: PushConnections that filled their send
// buffers against a paused server, until a write was cut, close without
// waiting on it.
func TestTLSPushCloseOnPausedServer(t *testing.T) {
	t.Parallel()
	s, r := tlsClient(t)
	ctx := testCtx(t)
	ps := make([]*justredis.PushConnection, 8)
	for i := range ps {
		p, err := r.PushConnection(ctx)
		require.NoError(t, err)
		require.NoError(t, p.Do(ctx, "SUBSCRIBE", "tlsclose:news"))
		ps[i] = p
	}
	require.NoError(t, s.Pause())
	defer s.Resume()

	long := strings.Repeat("c", 64<<10)
	for _, p := range ps {
		cut := false
		for i := 0; i < 2000 && !cut; i++ {
			err := within(t, "PushConnection.Do", func() error {
				short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
				return p.Do(short, "SUBSCRIBE", fmt.Sprintf("%s%d", long, i))
			})
			cut = err != nil
		}
		require.True(t, cut, "the socket buffer never filled")
		within(t, "PushConnection.Close", p.Close)
	}
	within(t, "Redis.Close", r.Close)
}
