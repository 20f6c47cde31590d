package justredis_test

import (
	"testing"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// A SELECT queued in MULTI switches the Connection's database when EXEC
// runs it, as one outside MULTI does. The client used to go on taking the
// connection for being where it was, so a copy made with WithDatabase of
// that database ran its calls, writes included, in the database the
// transaction had selected.
func TestConnectionSelectInsideMulti(t *testing.T) {
	ctx := testCtx(t)
	// One connection, so that the next Connection is the same one and
	// shows what Close left behind.
	r := newRedis(t, justredis.WithMaxConnections(1))
	other := newRedis(t)
	db0, db3 := other, other.Modify(justredis.WithDatabase(3))
	k := key(t, "k")
	_, err := db0.Do(ctx, "DEL", k)
	require.NoError(t, err)
	_, err = db3.Do(ctx, "DEL", k)
	require.NoError(t, err)

	get := func(r *justredis.Redis) any {
		t.Helper()
		v, err := r.Do(ctx, "GET", k)
		require.NoError(t, err)
		return v
	}

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	vs, err := c.DoMulti(ctx, []any{"MULTI"}, []any{"SELECT", 3}, []any{"EXEC"})
	require.NoError(t, err)
	require.Equal(t, []any{"OK"}, vs[2])

	_, err = c.Modify(justredis.WithDatabase(0)).Do(ctx, "SET", k, "zero")
	require.NoError(t, err)
	_, err = c.Do(ctx, "APPEND", k, "three") // the Connection's own: 3 now
	require.NoError(t, err)

	// An aborted or failed SELECT in MULTI changes nothing.
	_, err = c.Do(ctx, "WATCH", k)
	require.NoError(t, err)
	_, err = db3.Do(ctx, "APPEND", k, "!")
	require.NoError(t, err)
	vs, err = c.DoMulti(ctx, []any{"MULTI"}, []any{"SELECT", 0}, []any{"EXEC"})
	require.NoError(t, err)
	require.Nil(t, vs[2], "EXEC aborted")
	vs, err = c.DoMulti(ctx, []any{"MULTI"}, []any{"SELECT", 1 << 20}, []any{"EXEC"})
	require.NoError(t, err)
	require.IsType(t, &justredis.Error{}, vs[2].([]any)[0])
	_, err = c.Do(ctx, "APPEND", k, "?")
	require.NoError(t, err)
	require.NoError(t, c.Close())

	require.Equal(t, "zero", get(db0))
	require.Equal(t, "three!?", get(db3))

	// Close restored the database it was taken at.
	c, err = r.Connection(ctx)
	require.NoError(t, err)
	v, err := c.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, "zero", v)
	require.NoError(t, c.Close())
}
