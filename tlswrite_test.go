package justredis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// A write that a deadline cuts short cannot be resumed over TLS: crypto/tls
// fails every later write on the connection. These tests end contexts
// around writes, on every connection kind that writes, and check that the
// client serves the next call, over TLS as over TCP.

func tlsServer(t *testing.T) (*redistest.Server, []justredis.Option) {
	s := redistest.Start(t, redistest.Options{TLS: true})
	return s, []justredis.Option{justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(s.TLSConfig())}
}

// tlsClient is a client of a TLS server of its own, closed when t ends.
func tlsClient(t *testing.T) (*redistest.Server, *justredis.Redis) {
	s, opts := tlsServer(t)
	r, err := justredis.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return s, r
}

// TestWriteCutByContext: a caller's context ends while its command is
// being written, small or large; the next call on the client works.
func TestWriteCutByContext(t *testing.T) {
	t.Parallel()
	s, tlsOpts := tlsServer(t)
	for _, transport := range []string{"tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			opts := []justredis.Option{justredis.WithAddress(s.Addr())}
			if transport == "tls" {
				opts = tlsOpts
			}
			ctx := testCtx(t)
			big := strings.Repeat("z", 8<<20)
			for i := range 30 {
				r, err := justredis.New(opts...)
				require.NoError(t, err)
				_, err = r.Do(ctx, "PING")
				require.NoError(t, err)
				// Deadlines from 5 µs to 1.5 ms end around the write of a
				// small command, and in the middle of a large one.
				value := "0123456789"
				if i%2 == 1 {
					value = big
				}
				short, cancel := context.WithTimeout(ctx, time.Duration(5+i*50)*time.Microsecond)
				r.Do(short, "SET", key(t, "cut"), value)
				cancel()
				v, err := r.Do(ctx, "PING")
				require.NoError(t, err, "round %d: the call after one whose context ended mid-write", i)
				require.Equal(t, "PONG", v)
				require.NoError(t, r.Close())
			}
		})
	}
}

// TestWriteNotCutByOthers: while the server is paused, a caller reading
// gives up; the caller writing a large command meanwhile, whose own
// deadline is far off, must see it through once the server is back, not
// lose its connection to the other's context.
func TestWriteNotCutByOthers(t *testing.T) {
	t.Parallel()
	s, r := tlsClient(t)
	ctx := testCtx(t)
	_, err := r.Do(ctx, "PING") // connected before the pause
	require.NoError(t, err)
	require.NoError(t, s.Pause())
	resumed := false
	defer func() {
		if !resumed {
			s.Resume()
		}
	}()
	reader := make(chan error, 1)
	go func() {
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := r.Do(short, "GET", key(t, "short"))
		reader <- err
	}()
	time.Sleep(100 * time.Millisecond) // the GET is written, and its caller reads
	writer := make(chan error, 1)
	go func() {
		_, err := r.Do(ctx, "SET", key(t, "big"), strings.Repeat("y", 32<<20))
		writer <- err
	}()
	require.ErrorIs(t, returns(t, reader, "the GET that gave up"), context.DeadlineExceeded)
	require.NoError(t, s.Resume())
	resumed = true
	require.NoError(t, returns(t, writer, "the SET"), "the SET's own context never ended")
	v, err := r.Do(ctx, "STRLEN", key(t, "big"))
	require.NoError(t, err)
	require.Equal(t, int64(32<<20), v)
}

// TestPushWriteCutByContext: a PushConnection whose writes time out against
// a paused server (its socket buffer full) works again once the server is
// back, for calls with a deadline and without.
func TestPushWriteCutByContext(t *testing.T) {
	t.Parallel()
	s, r := tlsClient(t)
	ctx := testCtx(t)
	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, p.Do(ctx, "SUBSCRIBE", "tlswrite:news"))
	m, err := p.NextMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, "subscribe", m.Kind)

	require.NoError(t, s.Pause())
	long := strings.Repeat("c", 2000)
	timedOut := false
	for i := 0; i < 20000 && !timedOut; i++ {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		timedOut = p.Do(short, "SUBSCRIBE", fmt.Sprintf("%s%d", long, i)) != nil
		cancel()
	}
	require.NoError(t, s.Resume())
	require.True(t, timedOut, "the socket buffer never filled")

	// A PING fails at once while the connection is being made again, and
	// goes through once it is; either way it returns.
	var err2 error
	for range 100 {
		pinged := make(chan error, 1)
		go func() { pinged <- p.Do(context.Background(), "PING", "tlswrite-alive") }()
		if err2 = returns(t, pinged, "a PING without a deadline"); err2 == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, err2)
	for {
		m, err := p.NextMessage(ctx)
		require.NoError(t, err, "waiting for the pong")
		if m.Kind == "pong" {
			break
		}
	}
	require.NoError(t, p.Do(ctx, "PING", "again"))
}
