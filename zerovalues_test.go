package justredis_test

import (
	"context"
	"testing"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// A PushConnection or Connection not made by the Redis (a zero value, a nil
// pointer, or a copy of one by Modify) is bad input like a zero Redis: every
// method gives an error matching ErrInvalidArgument that says so, and
// String says so too, never a panic. The zero PushConnection used to panic
// in Do, NextMessage, Messages and Close; nil pointers in Modify.
func TestBadInputZeroAndNilConnections(t *testing.T) {
	ctx := testCtx(t)
	check := func(where string, err error) {
		t.Helper()
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, where)
		require.Contains(t, err.Error(), "not made by", where)
	}

	var nilPush *justredis.PushConnection
	for name, p := range map[string]*justredis.PushConnection{
		"zero":          {},
		"nil":           nilPush,
		"zero modified": (&justredis.PushConnection{}).Modify(justredis.WithDecoder(justredis.BytesDecoder)),
		"nil modified":  nilPush.Modify(justredis.WithDecoder(justredis.BytesDecoder)),
	} {
		check(name+" Do", p.Do(ctx, "SUBSCRIBE", "x"))
		_, err := p.NextMessage(ctx)
		check(name+" NextMessage", err)
		n := 0
		for _, err := range p.Messages(ctx) {
			check(name+" Messages", err)
			n++
		}
		require.Equal(t, 1, n, name+" Messages yields the error once")
		check(name+" Close", p.Close())
		require.Contains(t, p.String(), "not made by", name)
	}

	var nilConn *justredis.Connection
	for name, c := range map[string]*justredis.Connection{
		"zero":          {},
		"nil":           nilConn,
		"zero modified": (&justredis.Connection{}).Modify(justredis.WithDatabase(1)),
		"nil modified":  nilConn.Modify(justredis.WithDatabase(1)),
	} {
		_, err := c.Do(ctx, "PING")
		check(name+" Do", err)
		_, err = c.DoMulti(ctx, []any{"PING"})
		check(name+" DoMulti", err)
		check(name+" Close", c.Close())
		require.Contains(t, c.String(), "not made by", name)
	}

	var nilRedis *justredis.Redis
	_, err := nilRedis.Modify(justredis.WithDatabase(1)).Do(ctx, "PING")
	check("nil Redis modified", err)

	// A nil context given to Messages of a real push connection is refused
	// too, as NextMessage refuses it.
	p, err := newRedis(t).PushConnection(ctx)
	require.NoError(t, err)
	defer p.Close()
	var nilCtx context.Context
	n := 0
	for _, err := range p.Messages(nilCtx) {
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		require.Contains(t, err.Error(), "nil context")
		n++
	}
	require.Equal(t, 1, n, "Messages yields the error once")
}
