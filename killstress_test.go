package justredis_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

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
				var opts []justredis.Option
				switch kind {
				case "cache":
					opts = []justredis.Option{justredis.WithClientCache(1 << 20), justredis.WithRESP(3)}
				case "cache2":
					opts = []justredis.Option{justredis.WithClientCache(1 << 20), justredis.WithRESP(2)}
				}
				r := clientOver(t, s, network, opts...)
				load := newKillLoad(t, r, 60*time.Second)
				const workers, rounds = 48, 300
				ledgers := newLedgers(t, workers)
				for _, l := range ledgers {
					load.work(rounds, func(_ int, own *ownConn) bool {
						switch kind {
						case "dedicated":
							return load.call(l, own.Do)
						case "multi":
							return load.multi(l)
						case "tx":
							v, err := txIncr(t, load.ctx, r, l)
							return load.record(l, v, err)
						}
						v, err := r.Do(load.ctx, "INCR", l.key)
						if err == nil && kind != "shared" {
							// A cached GET after the INCR: the client's
							// own write must be seen.
							got, gerr := r.Modify(justredis.WithCache(time.Minute)).Do(load.ctx, "GET", l.key)
							if gerr == nil && got != strconv.FormatInt(v.(int64), 10) {
								t.Errorf("%s: a cached GET after INCR replied %d gave %v", l.key, v, got)
							}
						}
						return load.record(l, v, err)
					})
				}
				stop := startKiller(t, 3000, 1, 5, func(i int) {
					kind := "normal"
					if i%4 == 3 {
						kind = "pubsub" // the RESP2 cache's invalidation connections
					}
					s.Do("CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes")
				})
				load.wait(stop)
				checkLedgers(t, ledgers, s.Do)
				requireNoConnLeak(t, load.ctx, s, r, workers+4)
			})
		}
	}
}

// txIncr increments l's key in a WATCHed transaction that reads it first:
// the read must be this key's, and the increment its next.
func txIncr(t *testing.T, ctx context.Context, r *justredis.Redis, l *incrLedger) (any, error) {
	vals, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
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
	if err != nil {
		return nil, err
	}
	return vals[0], nil
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
			r := clientOver(t, s, network)
			load := newKillLoad(t, r, 60*time.Second)
			const workers, rounds = 32, 300
			ledgers := newLedgers(t, workers)
			for _, l := range ledgers {
				load.work(rounds, func(int, *ownConn) bool { return load.call(l, r.Do) })
			}
			done := make(chan struct{})
			go func() { load.wg.Wait(); close(done) }()
			kills, lost := 0, 0
		loop:
			for kills < 500 {
				select {
				case <-done:
					break loop
				default:
				}
				_, err := r.Do(load.ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no")
				require.NoError(t, load.ctx.Err(), "kill %d waited until its context ended", kills)
				if err != nil {
					t.Logf("kill %d: %v", kills, err)
					lost++
				}
				kills++
			}
			load.wait()
			checkLedgers(t, ledgers, s.Do)
			t.Logf("%d kills (%d failed)", kills, lost)
		})
	}
}

// TestDeleteUserUnderPipelinedLoad: the user the client is logged in as is
// deleted (which closes its connections) and made again, over and over,
// while many goroutines pipeline INCRs on keys of their own, half on the
// shared connection and half on dedicated ones. Calls fail meanwhile, but
// none hangs, none gets another's reply, and none said not to have run did.
func TestDeleteUserUnderPipelinedLoad(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Users: []redistest.User{{Name: "worker", Password: "pw"}}})
	r := newRedisOf(t, s.Addr(), justredis.WithAuth("worker", "pw"))
	load := newKillLoad(t, r, 60*time.Second)
	const workers, rounds = 48, 100000
	ledgers := newLedgers(t, workers)
	for i, l := range ledgers {
		load.work(rounds, func(_ int, own *ownConn) bool {
			do := r.Do
			if i%2 == 1 {
				do = own.Do
			}
			v, err := do(load.ctx, "INCR", l.key)
			if !load.record(l, v, err) {
				return false
			}
			if err != nil {
				time.Sleep(time.Millisecond) // while the user is gone
			}
			return true
		})
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
	load.stop.Store(true)
	load.wait()
	checkLedgers(t, ledgers, s.Do)
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
