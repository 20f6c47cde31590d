package justredis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestConnRepliesBeforePeerClose: a server that closes a connection after
// a reply (CLIENT KILL of the connection itself, an ACL change, a timeout)
// makes the client's next writes on it fail. The replies the server sent
// before it closed are still the callers': the failed write must not throw
// them away by closing the socket. And the commands of a write of which
// nothing went out cannot have run, so they may be retried.
//
// The test holds the reading role itself, so that the server's reply to
// the kill waits, unread, while later commands find the connection closed;
// then it hands the role to a reader.
func TestConnRepliesBeforePeerClose(t *testing.T) {
	s := redistest.Start(t, redistest.Options{UnixSocket: true, TLS: true})
	for _, network := range []string{"tcp", "unix", "tls"} {
		t.Run(network, func(t *testing.T) {
			addr := map[string]string{"tcp": s.Addr(), "unix": s.UnixPath(), "tls": s.TLSAddr()}[network]
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var nc net.Conn
			var err error
			if network == "tls" {
				nc, err = tls.Dial("tcp", addr, s.TLSConfig())
			} else {
				nc, err = net.Dial(network, addr)
			}
			require.NoError(t, err)
			cn := newConn(nc, addr, 0)
			defer cn.close()
			id, err := cn.roundTrip(ctx, [][]any{{"CLIENT", "ID"}}, StringDecoder, nil)
			require.NoError(t, err)

			cn.mu.Lock()
			cn.reading = true // the test's until it calls cn.read
			cn.mu.Unlock()
			type result struct {
				v   any
				err error
			}
			call := func(args ...any) <-chan result {
				done := make(chan result, 1)
				go func() {
					v, err := cn.roundTrip(ctx, [][]any{args}, StringDecoder, nil)
					done <- result{v, err}
				}()
				return done
			}
			// written waits until n calls were queued on cn, and what was
			// queued is written, or the connection broke.
			written := func(n uint64) {
				for {
					cn.mu.Lock()
					done := cn.seq >= n && (cn.err != nil || !cn.writing && len(cn.wbuf) == 0)
					cn.mu.Unlock()
					if done {
						return
					}
					require.NoError(t, ctx.Err(), "%d calls queued and written", n)
					time.Sleep(time.Millisecond)
				}
			}
			kill := call("CLIENT", "KILL", "ID", id, "SKIPME", "no")
			written(2) // after CLIENT ID
			for {
				list, err := s.Do("CLIENT", "LIST", "ID", fmt.Sprint(id))
				require.NoError(t, err)
				if list == "" {
					break // the server replied, and closed the connection
				}
				require.NoError(t, ctx.Err(), "the server closed the killed connection")
				time.Sleep(time.Millisecond)
			}
			var gets []<-chan result
			for !cn.dead.Load() {
				require.Less(t, len(gets), 100, "writes on a connection the server closed keep succeeding")
				gets = append(gets, call("GET", "k"))
				written(uint64(2 + len(gets)))
			}

			go cn.read(context.Background(), nil)
			got := <-kill
			require.NoError(t, got.err, "the reply to the kill came before the close")
			require.Equal(t, int64(1), got.v, "one client killed")
			for i, g := range gets {
				got := <-g
				var ne *netError
				require.True(t, errors.As(got.err, &ne), "GET %d: %v is a netError", i, got.err)
				last := i == len(gets)-1
				require.Equal(t, !last, ne.written,
					"GET %d of %d: only the commands of the write that failed are known not to have run: %v", i+1, len(gets), got.err)
			}
		})
	}
}
