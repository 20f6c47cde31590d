package justredis_test

import (
	"context"
	"testing"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// A nil context, or a Redis not made by New, is bad input like any other:
// an error matching ErrInvalidArgument that says so, never a panic.
func TestBadInputNilContextAndZeroRedis(t *testing.T) {
	r := newRedis(t)
	var nilCtx context.Context // what a caller passing nil gives
	noTx := func(*justredis.Connection) ([][]any, error) { return nil, nil }

	check := func(where, want string, err error) {
		t.Helper()
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, where)
		require.Contains(t, err.Error(), want, where)
	}
	calls := func(r *justredis.Redis, ctx context.Context, want string) {
		t.Helper()
		_, err := r.Do(ctx, "PING")
		check("Do", want, err)
		_, err = r.DoMulti(ctx, []any{"PING"})
		check("DoMulti", want, err)
		_, err = r.Connection(ctx)
		check("Connection", want, err)
		_, err = r.PushConnection(ctx)
		check("PushConnection", want, err)
		_, err = r.Transaction(ctx, noTx)
		check("Transaction", want, err)
		_, err = r.Endpoints(ctx)
		check("Endpoints", want, err)
		n := 0
		for _, err := range r.Scan(ctx, "SCAN", 0) {
			check("Scan", want, err)
			n++
		}
		require.Equal(t, 1, n, "Scan yields the error once")
	}
	calls(r, nilCtx, "nil context")
	calls(r.Modify(justredis.WithDatabase(1)), nilCtx, "nil context")

	var zero justredis.Redis
	calls(&zero, context.Background(), "use New")
	calls(zero.Modify(justredis.WithDatabase(1)), context.Background(), "use New")
	require.ErrorIs(t, zero.Close(), justredis.ErrInvalidArgument)
	require.NotEmpty(t, zero.String())
	require.Empty(t, zero.Stats().Servers)
	var zeroConn justredis.Connection
	_, err := zeroConn.Do(context.Background(), "PING")
	check("zero Connection.Do", "Redis.Connection", err)
	_, err = zeroConn.DoMulti(context.Background(), []any{"PING"})
	check("zero Connection.DoMulti", "Redis.Connection", err)
	check("zero Connection.Close", "Redis.Connection", zeroConn.Close())
	require.NotEmpty(t, zeroConn.String())

	// The connections a working Redis hands out refuse a nil ctx too.
	ctx := testCtx(t)
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Do(nilCtx, "PING")
	check("Connection.Do", "nil context", err)
	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	defer p.Close()
	check("PushConnection.Do", "nil context", p.Do(nilCtx, "SUBSCRIBE", "x"))
	_, err = p.NextMessage(nilCtx)
	check("PushConnection.NextMessage", "nil context", err)

	// And the client still works.
	v, err := r.Do(ctx, "PING")
	require.NoError(t, err)
	require.Equal(t, "PONG", v)
}
