package justredis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// Transparent EVALSHA against real servers: what goes over the wire is read
// from the server's own INFO commandstats.

// countingScript counts its own runs in KEYS[1], so a test can tell how
// often it ran.
const countingScript = "redis.call('INCR', KEYS[1]) return 'ran'"

// callStats is one line of INFO commandstats.
type callStats struct{ calls, failed, rejected int64 }

// commandStats reads INFO commandstats of srv, by command name.
func commandStats(t *testing.T, srv *redistest.Server) map[string]callStats {
	t.Helper()
	info, err := srv.Do("INFO", "commandstats")
	require.NoError(t, err)
	stats := map[string]callStats{}
	for _, line := range splitLines(info) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var s callStats
		for _, f := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "calls":
				fmt.Sscan(v, &s.calls)
			case "failed_calls":
				fmt.Sscan(v, &s.failed)
			case "rejected_calls":
				fmt.Sscan(v, &s.rejected)
			}
		}
		stats[strings.TrimPrefix(name, "cmdstat_")] = s
	}
	return stats
}

func resetServerStats(t *testing.T, srv *redistest.Server) {
	t.Helper()
	_, err := srv.Do("CONFIG", "RESETSTAT")
	require.NoError(t, err)
}

func TestEvalSHA(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	forEachRESP(t, func(t *testing.T, resp int) {
		ctx := testCtx(t)
		r, err := justredis.New(justredis.WithAddress(srv.Addr()), justredis.WithRESP(resp))
		require.NoError(t, err)
		defer r.Close()
		_, err = srv.Do("SCRIPT", "FLUSH")
		require.NoError(t, err)
		resetServerStats(t, srv)
		script := fmt.Sprintf("return ARGV[1] .. '%d'", resp) // a script of its own per run

		for i := 0; i < 5; i++ {
			v, err := r.Do(ctx, "EVAL", script, 0, i)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("%d%d", i, resp), v)
		}
		st := commandStats(t, srv)
		require.EqualValues(t, 1, st["eval"].calls, "the script's text went once")
		require.EqualValues(t, 4, st["evalsha"].calls)
		require.Zero(t, st["evalsha"].failed)

		// EVAL_RO becomes EVALSHA_RO; DoMulti and Transaction use what Do
		// learnt. A Connection dials a connection of its own, which may
		// reach a restarted server: the script goes in full once more.
		_, err = r.Do(ctx, "EVAL_RO", script, 0, "ro")
		require.NoError(t, err)
		vals, err := r.DoMulti(ctx, []any{"EVAL", script, 0, "a"}, []any{"EVAL_RO", script, 0, "b"})
		require.NoError(t, err)
		require.Equal(t, []any{fmt.Sprint("a", resp), fmt.Sprint("b", resp)}, vals)
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		v, err := c.Do(ctx, "EVAL", script, 0, "c")
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint("c", resp), v)
		require.NoError(t, c.Close())
		vals, err = r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			return [][]any{{"EVAL", script, 0, "tx"}}, nil
		})
		require.NoError(t, err)
		require.Equal(t, []any{fmt.Sprint("tx", resp)}, vals)
		st = commandStats(t, srv)
		require.EqualValues(t, 2, st["eval"].calls, "sent in full again only on the new connection")
		require.Zero(t, st["eval_ro"].calls, "the script is known by its SHA1, whichever command loaded it")
		require.EqualValues(t, 4+1+1, st["evalsha"].calls)
		require.EqualValues(t, 2, st["evalsha_ro"].calls)
	})
}

// A single call answered NOSCRIPT, after SCRIPT FLUSH or a restart, is
// sent again as EVAL and succeeds.
func TestEvalSHAAfterScriptFlushAndRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r, err := justredis.New(justredis.WithAddress(srv.Addr()))
	require.NoError(t, err)
	defer r.Close()
	const script = "return 'hi'"
	eval := func(do func(ctx context.Context, args ...any) (any, error)) {
		t.Helper()
		v, err := do(ctx, "EVAL", script, 0)
		require.NoError(t, err)
		require.Equal(t, "hi", v)
	}
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	eval(r.Do)
	eval(r.Do) // EVALSHA

	for _, do := range []func(ctx context.Context, args ...any) (any, error){r.Do, c.Do} {
		_, err = srv.Do("SCRIPT", "FLUSH")
		require.NoError(t, err)
		resetServerStats(t, srv)
		eval(do)
		st := commandStats(t, srv)
		require.Equal(t, callStats{calls: 1, failed: 1}, st["evalsha"], "tried as EVALSHA, answered NOSCRIPT")
		require.EqualValues(t, 1, st["eval"].calls, "then as EVAL")
		eval(do)
		require.EqualValues(t, 2, commandStats(t, srv)["evalsha"].calls, "and learnt again")
	}

	// DoMulti with one command is a single call too.
	_, err = srv.Do("SCRIPT", "FLUSH")
	require.NoError(t, err)
	vals, err := r.DoMulti(ctx, []any{"EVAL", script, 0})
	require.NoError(t, err)
	require.Equal(t, []any{"hi"}, vals)

	// A SCRIPT FLUSH through the client forgets at once: no NOSCRIPT.
	_, err = r.Do(ctx, "SCRIPT", "FLUSH")
	require.NoError(t, err)
	resetServerStats(t, srv)
	eval(r.Do)
	require.Zero(t, commandStats(t, srv)["evalsha"].calls)

	// A restart empties the script cache and breaks the connections: the
	// client forgets what it knew when it finds one broken, before
	// sending on the one that replaces it. A pipeline and a transaction,
	// which could not be sent again, then go without NOSCRIPT.
	tx := func(c *justredis.Connection) ([][]any, error) { return [][]any{{"EVAL", script, 0}}, nil }
	for _, call := range []func(){
		func() { eval(r.Do) },
		func() {
			vals, err := r.DoMulti(ctx, []any{"EVAL", script, 0}, []any{"EVAL", script, 0})
			require.NoError(t, err)
			require.Equal(t, []any{"hi", "hi"}, vals)
		},
		func() {
			vals, err := r.Transaction(ctx, tx) // on the connection at rest, which broke
			require.NoError(t, err)
			require.Equal(t, []any{"hi"}, vals)
		},
	} {
		eval(r.Do)
		_, err := r.Transaction(ctx, tx) // known, and a connection at rest
		require.NoError(t, err)
		require.NoError(t, srv.Restart())
		call()
		st := commandStats(t, srv) // counted since the restart
		require.Zero(t, st["evalsha"].calls, "forgotten with the broken connection: %+v", st)
		// The shared connection may be found broken only now, which
		// forgets once more: two calls to be sure of a learnt script.
		eval(r.Do)
		eval(r.Do)
		st = commandStats(t, srv)
		require.Zero(t, st["evalsha"].failed, "never a NOSCRIPT: %+v", st)
		require.GreaterOrEqual(t, st["evalsha"].calls, int64(1), "learnt again: %+v", st)
	}
}

// A pipeline is never reordered and no script runs twice: a pipelined
// EVALSHA answered NOSCRIPT stays at its index, and the script ran once
// per successful reply.
func TestEvalSHAPipelineRule(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r, err := justredis.New(justredis.WithAddress(srv.Addr()))
	require.NoError(t, err)
	defer r.Close()
	runs := 0
	count := func(vals []any, wantRan int) {
		t.Helper()
		ran := 0
		for _, v := range vals {
			if v == "ran" {
				ran++
			}
		}
		require.Equal(t, wantRan, ran, "%v", vals)
		runs += ran
		n, err := justredis.Int64(r.Do(ctx, "GET", "runs"))
		require.NoError(t, err)
		require.EqualValues(t, runs, n, "the script ran once per successful reply")
	}
	eval := []any{"EVAL", countingScript, 1, "runs"}
	pipeline := func(c interface {
		DoMulti(context.Context, ...[]any) ([]any, error)
	}) {
		t.Helper()
		vals, err := c.DoMulti(ctx, eval, eval, []any{"INCR", "other"})
		require.NoError(t, err)
		count(vals, 2) // not known yet in the first, and in the first after a flush
		vals, err = c.DoMulti(ctx, eval, []any{"INCR", "other"}, eval)
		require.NoError(t, err)
		count(vals, 2)

		_, err = srv.Do("SCRIPT", "FLUSH")
		require.NoError(t, err)
		vals, err = c.DoMulti(ctx, eval, []any{"INCR", "other"}, eval)
		require.NoError(t, err)
		count(vals, 0)
		for _, i := range []int{0, 2} {
			var e *justredis.Error
			require.ErrorAs(t, vals[i].(error), &e)
			require.Equal(t, "NOSCRIPT", e.Prefix(), "at its index")
		}
		require.IsType(t, int64(0), vals[1], "the command after it ran")
	}
	pipeline(r)
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	pipeline(c)
	require.NoError(t, c.Close()) // at rest, for the transaction to take

	// In a transaction the NOSCRIPT is EXEC's, at its index; the client
	// learns from it and the next attempt sends the script. (On a
	// connection dialled for it the script would go as EVAL: a new
	// connection forgets what the server had, see
	// TestEvalSHAOnFreshConnectionAfterRestart.)
	_, err = r.Do(ctx, "EVAL", countingScript, 1, "runs")
	require.NoError(t, err)
	runs++
	_, err = srv.Do("SCRIPT", "FLUSH")
	require.NoError(t, err)
	tx := func(c *justredis.Connection) ([][]any, error) { return [][]any{eval, {"INCR", "other"}}, nil }
	vals, err := r.Transaction(ctx, tx, "runs")
	require.NoError(t, err)
	require.ErrorContains(t, vals[0].(error), "NOSCRIPT")
	count(vals, 0)
	vals, err = r.Transaction(ctx, tx, "runs")
	require.NoError(t, err)
	count(vals, 1)
}

// In a cluster each node has a script cache of its own, and so has the
// client's knowledge of it.
func TestEvalSHACluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	r := clusterClient(t, c.Nodes()[0].Addr())
	ctx := testCtx(t)
	masters := c.Masters()
	keys := make([]string, len(masters))
	for i, m := range masters {
		keys[i] = keyOn(t, c, m, "script")
		resetServerStats(t, m)
	}
	for round := 0; round < 3; round++ {
		for _, k := range keys {
			v, err := r.Do(ctx, "EVAL", countingScript, 1, k)
			require.NoError(t, err)
			require.Equal(t, "ran", v)
		}
	}
	for _, m := range masters {
		st := commandStats(t, m)
		require.EqualValues(t, 1, st["eval"].calls, "%s: sent once to each node", m.Addr())
		require.EqualValues(t, 2, st["evalsha"].calls, m.Addr())
	}

	// One node loses its scripts: a single call there is sent again, and
	// a pipeline across nodes has NOSCRIPT at that node's indexes only.
	_, err := masters[1].Do("SCRIPT", "FLUSH")
	require.NoError(t, err)
	vals, err := r.DoMulti(ctx, []any{"EVAL", countingScript, 1, keys[0]}, []any{"EVAL", countingScript, 1, keys[1]},
		[]any{"INCR", keys[1]}, []any{"EVAL", countingScript, 1, keys[2]})
	require.NoError(t, err)
	require.Equal(t, "ran", vals[0])
	require.ErrorContains(t, vals[1].(error), "NOSCRIPT")
	require.EqualValues(t, 4, vals[2], "three runs, then this INCR")
	require.Equal(t, "ran", vals[3])
	v, err := r.Do(ctx, "EVAL", countingScript, 1, keys[1])
	require.NoError(t, err)
	require.Equal(t, "ran", v)

	_, err = masters[2].Do("SCRIPT", "FLUSH")
	require.NoError(t, err)
	v, err = r.Do(ctx, "EVAL", countingScript, 1, keys[2])
	require.NoError(t, err, "a single call is sent again as EVAL")
	require.Equal(t, "ran", v)

	// A SCRIPT FLUSH in a pipeline is forgotten before the script calls
	// after it are encoded: keyless, all three go to one node.
	const keyless = "return 'keyless'"
	for i := 0; i < 2; i++ {
		_, err = r.Do(ctx, "EVAL", keyless, 0)
		require.NoError(t, err)
	}
	vals, err = r.DoMulti(ctx, []any{"EVAL", keyless, 0}, []any{"SCRIPT", "FLUSH"}, []any{"EVAL_RO", keyless, 0})
	require.NoError(t, err)
	require.Equal(t, []any{"keyless", "OK", "keyless"}, vals)
	_, err = r.Do(ctx, "SCRIPT", "FLUSH")
	require.NoError(t, err)
	vals, err = r.DoMulti(ctx, []any{"EVAL", keyless, 0}, []any{"PING"})
	require.NoError(t, err)
	require.Equal(t, []any{"keyless", "PONG"}, vals, "a flush alone forgets before it is sent")

	// SCRIPT FLUSH on every master through the client forgets at once: a
	// pipeline after it sends the script, with no NOSCRIPT.
	_, err = r.Modify(justredis.WithEndpoint(justredis.Masters)).Do(ctx, "SCRIPT", "FLUSH")
	require.NoError(t, err)
	vals, err = r.DoMulti(ctx, []any{"EVAL", countingScript, 1, keys[0]}, []any{"EVAL", countingScript, 1, keys[0]})
	require.NoError(t, err)
	require.Equal(t, []any{"ran", "ran"}, vals)
	_, err = r.Do(ctx, "DECRBY", keys[0], 2) // as the counts below expect
	require.NoError(t, err)
	for i, k := range keys {
		n, err := justredis.Int64(r.Do(ctx, "GET", k))
		require.NoError(t, err)
		require.EqualValues(t, []int{4, 5, 5}[i], n, "%s: once per successful reply", k)
	}
}

// BenchmarkEvalSHABytes measures what 10,000 calls of a 4 KiB script cost
// in bytes the server received, with transparent EVALSHA (the client as
// it is) and without (each call as SCRIPT FLUSH would leave it: the
// script text every time, sent here as a pipeline of EVAL with the
// knowledge flushed). Reported as bytes-in per call.
func BenchmarkEvalSHABytes(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	ctx := context.Background()
	script := "return 1 --" + strings.Repeat("x", 4096-len("return 1 --"))
	const calls = 10_000
	inBytes := func() int64 {
		info, err := srv.Do("INFO", "stats")
		require.NoError(b, err)
		var n int64
		for _, line := range splitLines(info) {
			if _, err := fmt.Sscanf(line, "total_net_input_bytes:%d", &n); err == nil {
				return n
			}
		}
		b.Fatal("no total_net_input_bytes")
		return 0
	}
	for _, mode := range []string{"EVAL", "EVALSHA"} {
		b.Run("mode="+mode, func(b *testing.B) {
			r, err := justredis.New(justredis.WithAddress(srv.Addr()))
			require.NoError(b, err)
			defer r.Close()
			_, err = r.Do(ctx, "PING") // connected before counting
			require.NoError(b, err)
			for i := 0; i < b.N; i++ {
				_, err = r.Do(ctx, "SCRIPT", "FLUSH")
				require.NoError(b, err)
				before := inBytes()
				for j := 0; j < calls; j++ {
					if mode == "EVAL" && j > 0 {
						// Without EVALSHA: a client that never learns, as
						// if the script cache were flushed before each
						// call. SCRIPT FLUSH through the client makes it
						// forget; its own bytes are taken off below.
						_, err = r.Do(ctx, "SCRIPT", "FLUSH")
						require.NoError(b, err)
					}
					_, err = r.Do(ctx, "EVAL", script, 0)
					require.NoError(b, err)
				}
				sent := inBytes() - before
				if mode == "EVAL" {
					sent -= int64(calls-1) * int64(len("*2\r\n$6\r\nSCRIPT\r\n$5\r\nFLUSH\r\n"))
				}
				sent -= int64(len("*2\r\n$4\r\nINFO\r\n$5\r\nstats\r\n")) // the second INFO
				b.ReportMetric(float64(sent), "bytes/10k-calls")
			}
		})
	}
}

// TestEvalSHAClientsOwnFlush: a SCRIPT FLUSH the client sends itself, by
// any entry point, in any case, on any connection to the server, is
// forgotten before anything after it is encoded: an EVAL later in the same
// pipeline or transaction, or in another call, goes as EVAL and never
// meets NOSCRIPT. FUNCTION FLUSH and FLUSHALL leave the script cache, and
// so the client's knowledge of it.
func TestEvalSHAClientsOwnFlush(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r := newRedisOf(t, srv.Addr())
	const script = "return 'ran'"
	eval := []any{"EVAL", script, 0}
	evalRO := []any{"eval_ro", script, 0}
	warm := func(t *testing.T) {
		t.Helper()
		for i := 0; i < 2; i++ { // EVAL, then EVALSHA: known
			v, err := r.Do(ctx, eval...)
			require.NoError(t, err)
			require.Equal(t, "ran", v)
			v, err = r.Do(ctx, evalRO...)
			require.NoError(t, err)
			require.Equal(t, "ran", v)
		}
	}
	ran := func(t *testing.T, where string, vals []any, err error, at ...int) {
		t.Helper()
		require.NoError(t, err, where)
		for _, i := range at {
			require.Equal(t, "ran", vals[i], "%s: reply %d", where, i)
		}
	}
	conn, err := r.Connection(ctx)
	require.NoError(t, err)
	defer conn.Close()

	for _, c := range []struct {
		name string
		call func() ([]any, error)
		at   []int // the script calls' replies
	}{
		{"DoMulti", func() ([]any, error) {
			return r.DoMulti(ctx, eval, []any{"SCRIPT", "FLUSH"}, eval)
		}, []int{0, 2}},
		{"DoMulti EVAL_RO, lower case", func() ([]any, error) {
			return r.DoMulti(ctx, evalRO, []any{"script", "flush", "async"}, evalRO)
		}, []int{0, 2}},
		{"DoMulti in another database", func() ([]any, error) {
			return r.Modify(justredis.WithDatabase(3)).DoMulti(ctx, []any{"Script", "Flush"}, eval)
		}, []int{1}},
		{"Connection MULTI", func() ([]any, error) {
			for _, cmd := range [][]any{{"MULTI"}, {"SCRIPT", "FLUSH"}, eval} {
				if _, err := conn.Do(ctx, cmd...); err != nil {
					return nil, err
				}
			}
			return justredis.Values(conn.Do(ctx, "EXEC"))
		}, []int{1}},
		{"Connection.DoMulti switching database", func() ([]any, error) {
			return conn.Modify(justredis.WithDatabase(2)).DoMulti(ctx, []any{"SCRIPT", "FLUSH"}, evalRO)
		}, []int{1}},
		{"Transaction", func() ([]any, error) {
			return r.Transaction(ctx, func(*justredis.Connection) ([][]any, error) {
				return [][]any{{"SCRIPT", "FLUSH"}, eval}, nil
			})
		}, []int{1}},
		// The flush on one connection, the EVAL pipelined on another.
		{"Connection.Do", func() ([]any, error) {
			if _, err := conn.Do(ctx, "SCRIPT", "FLUSH"); err != nil {
				return nil, err
			}
			return r.DoMulti(ctx, eval, evalRO)
		}, []int{0, 1}},
		{"DoMulti with a blocking command", func() ([]any, error) {
			if _, err := r.DoMulti(ctx, []any{"BLPOP", "nolist", 0.01}, []any{"SCRIPT", "FLUSH"}); err != nil {
				return nil, err
			}
			return r.DoMulti(ctx, eval, evalRO)
		}, []int{0, 1}},
		{"WithEndpoint(Masters)", func() ([]any, error) {
			if _, err := r.Modify(justredis.WithEndpoint(justredis.Masters)).Do(ctx, "SCRIPT", "FLUSH"); err != nil {
				return nil, err
			}
			return r.DoMulti(ctx, eval, evalRO)
		}, []int{0, 1}},
		{"WithEndpoint(addr), a named subcommand", func() ([]any, error) {
			if _, err := r.Modify(justredis.WithEndpoint(srv.Addr())).Do(ctx, "SCRIPT", argCommand("flush")); err != nil {
				return nil, err
			}
			return r.DoMulti(ctx, eval, evalRO)
		}, []int{0, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			warm(t)
			resetServerStats(t, srv)
			vals, err := c.call()
			ran(t, c.name, vals, err, c.at...)
			st := commandStats(t, srv)
			require.Zero(t, st["evalsha"].failed+st["evalsha_ro"].failed, "%s: a NOSCRIPT: %+v", c.name, st)
		})
	}

	// FUNCTION FLUSH and FLUSHALL leave the scripts loaded: the client
	// goes on sending EVALSHA, and the server knows them.
	for _, flush := range [][]any{{"FUNCTION", "FLUSH"}, {"FLUSHALL"}} {
		warm(t)
		resetServerStats(t, srv)
		vals, err := r.DoMulti(ctx, eval, flush, eval, evalRO)
		ran(t, fmt.Sprint(flush), vals, err, 0, 2, 3)
		st := commandStats(t, srv)
		require.Equal(t, callStats{calls: 2}, st["evalsha"], "%v: %+v", flush, st)
		require.Equal(t, callStats{calls: 1}, st["evalsha_ro"], "%v: %+v", flush, st)
	}
}
