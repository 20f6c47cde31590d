package justredis_test

import (
	"context"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// checkBatchArgErrors: whatever path a batch takes (plain, with a script,
// a blocking command, cached reads, another database, a Connection, a
// Transaction), an argument that cannot be sent fails the batch with an
// error that names the command by its 0-based index, as "command 1 is
// empty" does, and matches ErrInvalidArgument. k is a key of r's to use;
// keys derived from it share its hash tag.
func checkBatchArgErrors(t *testing.T, r *justredis.Redis, k string) {
	ctx := testCtx(t)
	const script = "return 1"
	bad := []any{"SET", k, struct{}{}}
	check := func(where string, err error) {
		t.Helper()
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, where)
		require.ErrorContains(t, err, "command 1: ", where)
		require.ErrorContains(t, err, "argument 2 (of SET): unsupported type struct {}", where)
	}
	cached := r.Modify(justredis.WithCache(time.Minute))
	for _, c := range []struct {
		name string
		r    *justredis.Redis
		cmds [][]any
	}{
		{"plain", r, [][]any{{"GET", k}, bad, {"GET", k}}},
		{"script", r, [][]any{{"EVAL", script, 0}, bad}},
		{"blocking", r, [][]any{{"BLPOP", k + "list", 0.01}, bad}},
		{"cached", cached, [][]any{{"GET", k}, {"GET", struct{}{}}}},
		{"database", r.Modify(justredis.WithDatabase(0)), [][]any{{"GET", k}, bad}},
	} {
		_, err := c.r.DoMulti(ctx, c.cmds...)
		if c.name == "cached" {
			require.ErrorIs(t, err, justredis.ErrInvalidArgument, c.name)
			require.ErrorContains(t, err, "command 1: ", c.name)
			require.ErrorContains(t, err, "argument 1 (of GET)", c.name)
			continue
		}
		check("DoMulti "+c.name, err)
	}
	_, err := r.DoMulti(ctx, []any{"GET", k}, []any{""})
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	require.ErrorContains(t, err, "command 1: ")
	require.ErrorContains(t, err, "empty command name")

	conn, err := r.Connection(ctx, k)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.DoMulti(ctx, []any{"GET", k}, bad)
	check("Connection.DoMulti", err)
	_, err = conn.DoMulti(ctx, []any{"EVAL", script, 0}, bad)
	check("Connection.DoMulti with a script", err)
	_, err = conn.DoMulti(ctx, []any{"GET", k}, []any{"get", k, time.Second})
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	require.ErrorContains(t, err, "command 1: justredis: argument 2 (of get): time.Duration")
	v, err := conn.Do(ctx, "PING")
	require.NoError(t, err, "the connection is still in step")
	require.Equal(t, "PONG", v)

	_, err = r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		return [][]any{{"GET", k}, bad}, nil
	}, k)
	check("Transaction", err)
}

func TestBatchArgumentErrorsNameTheCommand(t *testing.T) {
	r := newRedis(t, justredis.WithClientCache(1<<20))
	checkBatchArgErrors(t, r, key(t, "k"))

	// On a Connection switching databases, a SELECT goes first: the index
	// is still that of the caller's command.
	ctx := testCtx(t)
	conn, err := r.Connection(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Modify(justredis.WithDatabase(3)).DoMulti(ctx, []any{"EVAL", "return 1", 0}, []any{"SET", "k", nil})
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	require.ErrorContains(t, err, "command 1: justredis: argument 2 (of SET): nil is not a value")

	// Hooks see the refused call, as they see Do refuse an argument.
	rec := &recorder{name: "batch"}
	hooked := newRedis(t, justredis.WithHook(rec))
	_, err = hooked.DoMulti(ctx, []any{"GET", "k"}, []any{"SET", "k", nil})
	require.ErrorContains(t, err, "command 1: ")
	require.Equal(t, err, rec.lastEnd().Err)
	hconn, err := hooked.Connection(ctx)
	require.NoError(t, err)
	defer hconn.Close()
	_, err = hconn.DoMulti(ctx, []any{"GET", "k"}, []any{"SET", "k", nil})
	require.ErrorContains(t, err, "command 1: ")
	require.Equal(t, err, rec.lastEnd().Err)
	require.Equal(t, "Connection.DoMulti", rec.lastEnd().Op)

	// Nothing of a refused batch reaches the server.
	_, err = r.Do(ctx, "PING")
	require.NoError(t, err)
	before := commandsProcessed(t)
	_, err = r.DoMulti(context.Background(), []any{"SET", key(t, "x"), 1}, []any{"SET", key(t, "x"), struct{}{}})
	require.ErrorContains(t, err, "command 1: ")
	require.Equal(t, int64(1), commandsProcessed(t)-before, "only the INFO of commandsProcessed reached the server")
}
