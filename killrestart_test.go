package justredis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestServerCrashUnderPipelinedLoad: the server is killed (SIGKILL) and
// restarted, frozen past the socket timeout, or its clients are killed
// while it holds their writes (CLIENT PAUSE), while many goroutines
// pipeline commands on keys of their own: small INCRs and APPENDs large
// enough to fill the socket's buffers, so that writes are cut short too.
// Every write is on disk before its reply (appendfsync always), so the
// ledgers hold across restarts: no call hangs, no reply is another's, and
// nothing said not to have run did.
func TestServerCrashUnderPipelinedLoad(t *testing.T) {
	s := redistest.Start(t, redistest.Options{UnixSocket: true, TLS: true,
		Args: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	// Some APPENDs are large enough, together, to fill a frozen server's
	// socket buffers, so that writes time out midway or before a byte.
	const chunk = 1 << 20
	big := strings.Repeat("x", chunk)
	for _, c := range []struct{ fault, network, kind string }{
		{"restart", "tcp", "shared"}, {"restart", "unix", "dedicated"}, {"restart", "tls", "shared"},
		{"freeze", "tcp", "dedicated"}, {"freeze", "unix", "shared"}, {"freeze", "tls", "dedicated"},
		{"pausekill", "tcp", "shared"}, {"pausekill", "tls", "dedicated"},
	} {
		fault, network, kind := c.fault, c.network, c.kind
		t.Run(fault+"/"+network+"/"+kind, func(t *testing.T) {
			opts := []justredis.Option{justredis.WithAddress(s.Addr())}
			switch network {
			case "unix":
				opts = []justredis.Option{justredis.WithAddress(s.UnixPath())}
			case "tls":
				opts = []justredis.Option{justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(s.TLSConfig())}
			}
			opts = append(opts, justredis.WithSocketTimeout(300*time.Millisecond))
			r, err := justredis.New(opts...)
			require.NoError(t, err)
			defer r.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			const workers, rounds = 24, 4000
			var wg sync.WaitGroup
			var stop atomic.Bool
			var hung atomic.Int64
			ledgers := make([]*incrLedger, workers)
			stamp := time.Now().UnixNano()
			for i := range ledgers {
				l := &incrLedger{key: fmt.Sprintf("crash:%s:%s:%s:%d:%d", fault, network, kind, i, stamp)}
				ledgers[i] = l
				appends := i%3 == 0
				arg := big[:chunk/16]
				if fault == "freeze" {
					arg = big
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					var c *justredis.Connection
					defer func() {
						if c != nil {
							c.Close()
						}
					}()
					for j := 0; j < rounds && !stop.Load() && !t.Failed(); j++ {
						args := []any{"INCR", l.key}
						if appends {
							args = []any{"APPEND", l.key, arg}
						}
						var v any
						var err error
						if kind == "shared" {
							v, err = r.Do(ctx, args...)
						} else {
							if c == nil {
								c, err = r.Connection(ctx)
							}
							if err == nil {
								v, err = c.Do(ctx, args...)
								if err != nil {
									c.Close()
									c = nil
								}
							}
						}
						if ctx.Err() != nil {
							hung.Add(1)
							return
						}
						if appends && err == nil {
							n, ok := v.(int64)
							if !ok || n%int64(len(arg)) != 0 {
								t.Errorf("%s: APPEND replied %v", l.key, v)
								return
							}
							v = n / int64(len(arg))
						}
						l.record(t, v, err)
					}
				}()
			}
			for i := 0; i < 4; i++ {
				time.Sleep(150 * time.Millisecond)
				switch fault {
				case "restart":
					require.NoError(t, s.Restart())
				case "pausekill":
					// Writes wait in the server, then their
					// connections are killed.
					_, err := s.Do("CLIENT", "PAUSE", "400", "WRITE")
					require.NoError(t, err)
					time.Sleep(150 * time.Millisecond)
					_, err = s.Do("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
					require.NoError(t, err)
					time.Sleep(100 * time.Millisecond)
					_, err = s.Do("CLIENT", "UNPAUSE")
					require.NoError(t, err)
				default:
					require.NoError(t, s.Pause())
					time.Sleep(500 * time.Millisecond)
					require.NoError(t, s.Resume())
				}
			}
			time.Sleep(150 * time.Millisecond)
			stop.Store(true)
			wg.Wait()
			require.Zero(t, hung.Load(), "calls that waited until their context ended")
			var ok, unknown, clean int64
			for i, l := range ledgers {
				if i%3 == 0 {
					n, err := s.Do("STRLEN", l.key)
					require.NoError(t, err)
					var got int64
					fmt.Sscan(n, &got)
					size := int64(chunk / 16)
					if fault == "freeze" {
						size = chunk
					}
					if got%size != 0 || got/size < l.ok || got/size > l.ok+l.unknown {
						t.Errorf("%s holds %d bytes after %d APPENDs that succeeded and %d that may have run", l.key, got, l.ok, l.unknown)
					}
				} else {
					l.check(t, ctx, s)
				}
				ok += l.ok
				unknown += l.unknown
				clean += l.clean
			}
			t.Logf("%d calls succeeded, %d may have run, %d failed without running", ok, unknown, clean)
		})
	}
}
