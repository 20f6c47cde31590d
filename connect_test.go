package justredis_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// silentFirstProxy listens on loopback and forwards connections to the
// shared server, except the first, which it accepts and never answers:
// a server that hangs during the handshake, once.
func silentFirstProxy(t *testing.T) (addr string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	n := 0
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			n++
			first := n == 1
			conns = append(conns, c)
			mu.Unlock()
			if first {
				continue // never answered
			}
			up, err := net.Dial("tcp", server().Addr())
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, up)
			mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// TestConnectTimeoutIsPerAttempt: WithConnectTimeout bounds each attempt,
// the Redis handshake included, so a first attempt that times out leaves
// the retry its own time.
func TestConnectTimeoutIsPerAttempt(t *testing.T) {
	addr, accepted := silentFirstProxy(t)
	r := newRedis(t, justredis.WithAddress(addr), justredis.WithConnectTimeout(200*time.Millisecond), justredis.WithConnectRetry(1))
	v, err := r.Do(testCtx(t), "PING")
	require.NoError(t, err, "the second attempt answers")
	require.Equal(t, "PONG", v)
	require.Equal(t, 2, accepted(), "the first attempt timed out and the second one served")
}
