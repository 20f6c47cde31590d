package justredis_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// incrLedger is one goroutine's account of INCRs on its own key: how many
// succeeded, how many failed as may-have-run (ErrNotRetried), and the last
// value a reply gave. A reply must be that key's next value, allowing for
// the ambiguous failures since the last reply; at the end the server's
// value must lie between the successes and the successes plus every
// ambiguous failure.
type incrLedger struct {
	key         string
	ok, unknown int64
	clean       int64 // failures that did not run
	last        int64 // the value of the last reply
	sinceLast   int64 // ambiguous failures since it
}

func (l *incrLedger) record(t *testing.T, v any, err error) {
	t.Helper()
	if err != nil {
		if errors.Is(err, justredis.ErrNotRetried) {
			l.unknown++
			l.sinceLast++
		} else {
			l.clean++
		}
		return
	}
	n, ok := v.(int64)
	if !ok {
		t.Errorf("%s: INCR replied %T %v", l.key, v, v)
		return
	}
	if n < l.last+1 || n > l.last+1+l.sinceLast {
		t.Errorf("%s: INCR replied %d after %d with %d ambiguous failures between: another caller's reply, or a command that ran twice", l.key, n, l.last, l.sinceLast)
	}
	l.ok++
	l.last, l.sinceLast = n, 0
}

func (l *incrLedger) check(t *testing.T, ctx context.Context, s *redistest.Server) {
	t.Helper()
	got, err := s.Do("GET", l.key)
	require.NoError(t, err)
	n := int64(0)
	if got != "" {
		n, err = strconv.ParseInt(got, 10, 64)
		require.NoError(t, err)
	}
	if n < l.ok || n > l.ok+l.unknown {
		t.Errorf("%s is %d after %d INCRs that succeeded and %d that may have run: a command said not to have run did, or one ran twice", l.key, n, l.ok, l.unknown)
	}
}

// TestKillUnderPipelinedLoad: connections killed by the server (CLIENT
// KILL of every normal and pub/sub client, repeatedly) while many
// goroutines pipeline INCRs on keys of their own, over TCP, unix sockets
// and TLS: on the shared connection, alone and in DoMulti; on dedicated
// ones; in WATCHed transactions; and with a cached GET after each, through
// the client-side cache's tracked connections (RESP3, and RESP2 with its
// invalidation connections). No call may hang, get another's reply, or run
// twice; a failure not marked as may-have-run must not have run; and no
// connection may be left open that the client let go of.
func TestKillUnderPipelinedLoad(t *testing.T) {
	s := redistest.Start(t, redistest.Options{UnixSocket: true, TLS: true})
	// Every kind over TCP; over unix sockets and TLS, whose handshakes
	// under the race detector make each kill cost more, those that differ
	// most.
	kinds := map[string][]string{
		"tcp":  {"shared", "dedicated", "multi", "tx", "cache", "cache2"},
		"unix": {"shared", "dedicated"},
		"tls":  {"shared", "multi"},
	}
	for _, network := range []string{"tcp", "unix", "tls"} {
		for _, kind := range kinds[network] {
			t.Run(network+"/"+kind, func(t *testing.T) {
				opts := []justredis.Option{justredis.WithAddress(s.Addr())}
				switch network {
				case "unix":
					opts = []justredis.Option{justredis.WithAddress(s.UnixPath())}
				case "tls":
					opts = []justredis.Option{justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(s.TLSConfig())}
				}
				switch kind {
				case "cache":
					opts = append(opts, justredis.WithClientCache(1<<20), justredis.WithRESP(3))
				case "cache2":
					opts = append(opts, justredis.WithClientCache(1<<20), justredis.WithRESP(2))
				}
				r, err := justredis.New(opts...)
				require.NoError(t, err)
				defer r.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()

				const workers, rounds = 48, 300
				ledgers := make([]*incrLedger, workers)
				var wg sync.WaitGroup
				var stop atomic.Bool
				var hung atomic.Int64
				for i := range ledgers {
					l := &incrLedger{key: fmt.Sprintf("killstress:%s:%s:%d:%d", network, kind, i, time.Now().UnixNano())}
					ledgers[i] = l
					wg.Add(1)
					go func() {
						defer wg.Done()
						var c *justredis.Connection
						defer func() {
							if c != nil {
								c.Close()
							}
						}()
						for j := 0; j < rounds && !t.Failed(); j++ {
							var v any
							var err error
							switch kind {
							case "shared":
								v, err = r.Do(ctx, "INCR", l.key)
							case "multi":
								var vals []any
								vals, err = r.DoMulti(ctx, []any{"INCR", l.key})
								if err == nil {
									v = vals[0]
									if e, ok := v.(error); ok {
										v, err = nil, e
									}
								}
							case "tx":
								var vals []any
								// WATCHed, read, then incremented: the read
								// must be this key's and the increment its
								// next.
								vals, err = r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
									got, err := c.Do(ctx, "GET", l.key)
									if err != nil {
										return nil, err
									}
									var n int64
									if got != nil {
										if n, err = strconv.ParseInt(got.(string), 10, 64); err != nil {
											return nil, err
										}
									}
									if n < l.last {
										t.Errorf("%s: read %d inside a transaction after INCR replied %d", l.key, n, l.last)
									}
									return [][]any{{"INCR", l.key}}, nil
								}, l.key)
								if err == nil {
									v = vals[0]
								}
							case "cache", "cache2":
								// An INCR, then a cached GET: the client's own
								// write must be seen.
								v, err = r.Do(ctx, "INCR", l.key)
								if err == nil {
									got, gerr := r.Modify(justredis.WithCache(time.Minute)).Do(ctx, "GET", l.key)
									if gerr == nil && got != strconv.FormatInt(v.(int64), 10) {
										t.Errorf("%s: a cached GET after INCR replied %d gave %v", l.key, v, got)
									}
								}
							case "dedicated":
								if c == nil {
									c, err = r.Connection(ctx)
									if err != nil {
										break
									}
								}
								v, err = c.Do(ctx, "INCR", l.key)
								if err != nil {
									c.Close()
									c = nil
								}
							}
							if ctx.Err() != nil {
								hung.Add(1)
								return
							}
							l.record(t, v, err)
						}
					}()
				}
				killer := make(chan struct{})
				go func() {
					defer close(killer)
					for i := 0; i < 3000 && !stop.Load(); i++ {
						kind := "normal"
						if i%4 == 3 {
							kind = "pubsub" // the RESP2 cache's invalidation connections
						}
						s.Do("CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes")
						time.Sleep(time.Duration(1+i%5) * time.Millisecond)
					}
				}()
				wg.Wait()
				stop.Store(true)
				<-killer
				require.Zero(t, hung.Load(), "calls that waited until their context ended")
				var ok, unknown int64
				for _, l := range ledgers {
					l.check(t, ctx, s)
					ok += l.ok
					unknown += l.unknown
				}
				t.Logf("%d INCRs succeeded, %d may have run", ok, unknown)
				requireNoConnLeak(t, ctx, s, r, workers+4)
			})
		}
	}
}

// TestOwnKillUnderPipelinedLoad: the client kills every normal connection,
// its own included (SKIPME no), again and again, while many goroutines
// pipeline INCRs beside it. The kill's reply comes before the server closes
// the connection it came on; but a kill pipelined onto a connection that
// the kill before closed (dialled while that one was in flight) may be
// swallowed, as any command may, and fails as may-have-run. No call hangs,
// and the INCRs keep their ledgers.
func TestOwnKillUnderPipelinedLoad(t *testing.T) {
	s := redistest.Start(t, redistest.Options{UnixSocket: true, TLS: true})
	for _, network := range []string{"tcp", "unix", "tls"} {
		t.Run(network, func(t *testing.T) {
			opts := []justredis.Option{justredis.WithAddress(s.Addr())}
			switch network {
			case "unix":
				opts = []justredis.Option{justredis.WithAddress(s.UnixPath())}
			case "tls":
				opts = []justredis.Option{justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(s.TLSConfig())}
			}
			r, err := justredis.New(opts...)
			require.NoError(t, err)
			defer r.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			const workers, rounds = 32, 300
			ledgers := make([]*incrLedger, workers)
			var wg sync.WaitGroup
			var hung atomic.Int64
			for i := range ledgers {
				l := &incrLedger{key: fmt.Sprintf("ownkill:%s:%d:%d", network, i, time.Now().UnixNano())}
				ledgers[i] = l
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < rounds && !t.Failed(); j++ {
						v, err := r.Do(ctx, "INCR", l.key)
						if ctx.Err() != nil {
							hung.Add(1)
							return
						}
						l.record(t, v, err)
					}
				}()
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			kills, lost := 0, 0
		loop:
			for kills < 500 {
				select {
				case <-done:
					break loop
				default:
				}
				_, err := r.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no")
				require.NoError(t, ctx.Err(), "kill %d waited until its context ended", kills)
				if err != nil {
					t.Logf("kill %d: %v", kills, err)
					lost++
				}
				kills++
			}
			<-done
			require.Zero(t, hung.Load(), "calls that waited until their context ended")
			var ok, unknown int64
			for _, l := range ledgers {
				l.check(t, ctx, s)
				ok += l.ok
				unknown += l.unknown
			}
			t.Logf("%d kills (%d failed); %d INCRs succeeded, %d may have run", kills, lost, ok, unknown)
		})
	}
}

// TestDeleteUserUnderPipelinedLoad: the user the client is logged in as is
// deleted (which closes its connections) and made again, over and over,
// while many goroutines pipeline INCRs on keys of their own. Calls fail
// meanwhile, but none hangs, none gets another's reply, and none said not
// to have run did.
func TestDeleteUserUnderPipelinedLoad(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Users: []redistest.User{{Name: "worker", Password: "pw"}}})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("worker", "pw"))
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const workers, rounds = 48, 100000
	ledgers := make([]*incrLedger, workers)
	var wg sync.WaitGroup
	var hung atomic.Int64
	var stop atomic.Bool
	stamp := time.Now().UnixNano()
	for i := range ledgers {
		l := &incrLedger{key: fmt.Sprintf("deluser:%d:%d", i, stamp)}
		ledgers[i] = l
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *justredis.Connection
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for j := 0; j < rounds && !t.Failed() && !stop.Load(); j++ {
				var v any
				var err error
				if i%2 == 0 {
					v, err = r.Do(ctx, "INCR", l.key)
				} else {
					if c == nil {
						c, err = r.Connection(ctx)
					}
					if err == nil {
						if v, err = c.Do(ctx, "INCR", l.key); err != nil {
							c.Close()
							c = nil
						}
					}
				}
				if ctx.Err() != nil {
					hung.Add(1)
					return
				}
				l.record(t, v, err)
				if err != nil {
					time.Sleep(time.Millisecond) // while the user is gone
				}
			}
		}()
	}
	for i := 0; i < 60; i++ {
		time.Sleep(time.Duration(2+i%5) * time.Millisecond)
		_, err := s.Do("ACL", "DELUSER", "worker")
		require.NoError(t, err)
		time.Sleep(time.Duration(i%3) * time.Millisecond)
		_, err = s.Do("ACL", "SETUSER", "worker", "on", ">pw", "~*", "&*", "+@all")
		require.NoError(t, err)
		time.Sleep(10 * time.Millisecond) // for calls to succeed in between
	}
	stop.Store(true)
	wg.Wait()
	require.Zero(t, hung.Load(), "calls that waited until their context ended")
	var ok, unknown int64
	for _, l := range ledgers {
		l.check(t, ctx, s)
		ok += l.ok
		unknown += l.unknown
	}
	t.Logf("%d INCRs succeeded, %d may have run", ok, unknown)
}

// requireNoConnLeak waits until the server lists no more connections than
// r counts, and r counts at most most: a connection broken under load must
// not stay open once the client let go of it. (The client may count more:
// one killed while at rest is noticed at its next use.)
func requireNoConnLeak(t *testing.T, ctx context.Context, s *redistest.Server, r *justredis.Redis, most int) {
	t.Helper()
	for {
		var open int
		for _, kind := range []string{"normal", "pubsub"} {
			list, err := s.Do("CLIENT", "LIST", "TYPE", kind)
			require.NoError(t, err)
			for _, line := range strings.Split(list, "\n") {
				if strings.TrimSpace(line) != "" && !strings.Contains(line, "cmd=client|list") {
					open++
				}
			}
		}
		counted := 0
		for _, sv := range r.Stats().Servers {
			counted += sv.Shared + sv.Dedicated
		}
		if open <= counted && counted <= most {
			return
		}
		require.NoError(t, ctx.Err(), "the server lists %d connections, the client counts %d, at most %d expected", open, counted, most)
		time.Sleep(10 * time.Millisecond)
	}
}
