package justredis_test

import (
	"context"
	"testing"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestEvalSHAForgottenWithoutConnections restarts a server while the client
// holds no connection to it: the client closed its last one itself, so no
// broken connection will ever tell it of the restart. A pipeline, which
// cannot be sent again, must not go as EVALSHA to the fresh server.
func TestEvalSHAForgottenWithoutConnections(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r := newRedisOf(t, srv.Addr())
	const script = "return 'hi'"

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		v, err := c.Do(ctx, "EVAL", script, 0)
		require.NoError(t, err)
		require.Equal(t, "hi", v)
	}
	_, err = c.Do(ctx, "CLIENT", "SETNAME", "gone")
	require.NoError(t, err)
	require.NoError(t, c.Close()) // closed, since its name cannot be undone

	require.NoError(t, srv.Restart())
	vals, err := r.DoMulti(ctx, []any{"EVAL", script, 0}, []any{"EVAL", script, 0})
	require.NoError(t, err)
	require.Equal(t, []any{"hi", "hi"}, vals)
}

// TestEvalSHAOnFreshConnectionAfterRestart restarts a server while the
// client's only connection to it sits idle, then takes a Connection, which
// dials a new one: the idle one, not looked at yet, has told nothing of the
// restart. A transaction on the new one must not go as EVALSHA.
func TestEvalSHAOnFreshConnectionAfterRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r := newRedisOf(t, srv.Addr())
	const script = "return 'hi'"
	for i := 0; i < 2; i++ {
		v, err := r.Do(ctx, "EVAL", script, 0)
		require.NoError(t, err)
		require.Equal(t, "hi", v)
	}
	require.NoError(t, srv.Restart())
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	vals, err := c.DoMulti(ctx, []any{"MULTI"}, []any{"EVAL", script, 0}, []any{"EXEC"})
	require.NoError(t, err)
	require.Equal(t, []any{"OK", "QUEUED", []any{"hi"}}, vals)
}

// TestEvalSHASlotMoves moves a key's slot, with the script known on its
// first node only, to nodes that never saw it: by a finished migration
// (MOVED) and one under way (ASK). Every call must run the script exactly
// once and answer, alone or in a pipeline.
func TestEvalSHASlotMoves(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	r := clusterClient(t, c.Nodes()[0].Addr())
	ctx := testCtx(t)
	m := c.Masters()
	k := keyOn(t, c, m[0], "slotmoves")
	slot := keySlot(t, c, k)
	runs := int64(0)
	check := func(vals []any, what string) {
		t.Helper()
		for i, v := range vals {
			require.Equal(t, "ran", v, "%s: reply %d", what, i)
		}
		runs += int64(len(vals))
		n, err := justredis.Int64(r.Do(ctx, "GET", k))
		require.NoError(t, err)
		require.Equal(t, runs, n, "%s: one run per reply", what)
	}
	eval := []any{"EVAL", countingScript, 1, k}
	for i := 0; i < 2; i++ {
		v, err := r.Do(ctx, eval...)
		require.NoError(t, err)
		check([]any{v}, "known on the first node")
	}

	// Finished migrations, followed by MOVED.
	require.NoError(t, c.MoveSlot(slot, m[0], m[1]))
	v, err := r.Do(ctx, eval...)
	require.NoError(t, err)
	check([]any{v}, "Do after MOVED")
	require.NoError(t, c.MoveSlot(slot, m[1], m[2]))
	vals, err := r.DoMulti(ctx, eval, eval)
	require.NoError(t, err)
	check(vals, "DoMulti after MOVED")
	require.NoError(t, c.MoveSlot(slot, m[2], m[0]))
	tx, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) { return [][]any{eval}, nil }, k)
	require.NoError(t, err)
	check(tx, "Transaction after MOVED")

	// A migration under way: the key is on the target already, which
	// never ran the script; calls get ASK.
	require.NoError(t, c.BeginMigration(slot, m[0], m[1], k))
	v, err = r.Do(ctx, eval...)
	require.NoError(t, err)
	check([]any{v}, "Do after ASK")
	require.NoError(t, c.MoveSlot(slot, m[0], m[1]))
	require.NoError(t, c.BeginMigration(slot, m[1], m[2], k))
	vals, err = r.DoMulti(ctx, eval, eval)
	require.NoError(t, err)
	check(vals, "DoMulti after ASK")
}

// TestEvalSHAScriptsOwnNoScript runs, as EVALSHA, a script that writes and
// then returns an error reading NOSCRIPT: the text is the script's, the
// script ran, and it must not be sent again as EVAL. A real NOSCRIPT
// still is.
func TestEvalSHAScriptsOwnNoScript(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r := newRedisOf(t, srv.Addr())
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	const script = "redis.call('INCR', KEYS[1]) " +
		"if ARGV[1] == 'lie' then return redis.error_reply('NOSCRIPT but I ran') end return 'ran'"
	runs := int64(0)
	check := func(want int64) {
		t.Helper()
		runs += want
		n, err := justredis.Int64(r.Do(ctx, "GET", "own:runs"))
		require.NoError(t, err)
		require.Equal(t, runs, n)
	}
	for _, do := range []func(ctx context.Context, args ...any) (any, error){r.Do, c.Do} {
		v, err := do(ctx, "EVAL", script, 1, "own:runs", "truth") // learnt
		require.NoError(t, err)
		require.Equal(t, "ran", v)
		check(1)
		_, err = do(ctx, "EVAL", script, 1, "own:runs", "lie") // as EVALSHA
		require.ErrorContains(t, err, "NOSCRIPT but I ran")
		check(1)
		_, err = srv.Do("SCRIPT", "FLUSH")
		require.NoError(t, err)
		v, err = do(ctx, "EVAL", script, 1, "own:runs", "truth") // a real NOSCRIPT, then EVAL
		require.NoError(t, err)
		require.Equal(t, "ran", v)
		check(1)
	}
}
