package justredis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// blackhole returns a loopback address where connects hang, as they do to
// a host that is down or behind a firewall that drops packets: a socket
// listening with a backlog of 0 that never accepts. Once its one queue slot
// is taken, Linux drops further SYNs and the client keeps waiting.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue until a connect hangs, which proves the address a
	// black hole rather than assuming how the kernel sizes the queue.
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return addr
			}
			t.Fatalf("filling the backlog: %v", err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("the kernel kept accepting connections; cannot make a connect hang")
	return ""
}

// TestUnreachableSeed: a seed whose connects hang does not take the
// call's whole time: the next seed is tried beside it, in every mode.
func TestUnreachableSeed(t *testing.T) {
	hole := blackhole(t)
	for _, mode := range []justredis.Mode{justredis.ModeAuto, justredis.ModeStandalone} {
		for i := range 3 {
			r, err := justredis.New(justredis.WithAddresses(hole, server().Addr()), justredis.WithMode(mode))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, err = r.Do(ctx, "PING")
			cancel()
			r.Close()
			require.NoError(t, err, "%v, call %d", mode, i)
		}
	}

	// Every seed a black hole: the error names them.
	r, err := justredis.New(justredis.WithAddresses(hole, blackhole(t)))
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	_, err = r.Do(ctx, "PING")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), hole)
}
