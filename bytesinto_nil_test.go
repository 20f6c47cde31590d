package justredis_test

import (
	"testing"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// BytesInto(nil) is refused by WithDecoder, as a nil Decoder is, with an
// error matching ErrInvalidArgument, on every kind of copy; nothing is
// sent. Its calls used to panic with a nil pointer.
func TestBytesIntoNilRefused(t *testing.T) {
	ctx := testCtx(t)
	r := newRedis(t)
	check := func(where string, err error) {
		t.Helper()
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, where)
		require.Contains(t, err.Error(), "BytesInto(nil)", where)
	}
	_, err := r.Modify(justredis.WithDecoder(justredis.BytesInto(nil))).Do(ctx, "PING")
	check("Redis.Modify", err)
	_, err = justredis.New(justredis.WithAddress(server().Addr()), justredis.WithDecoder(justredis.BytesInto(nil)))
	check("New", err)

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Modify(justredis.WithDecoder(justredis.BytesInto(nil))).Do(ctx, "PING")
	check("Connection.Modify", err)
	v, err := c.Do(ctx, "PING")
	require.NoError(t, err)
	require.Equal(t, "PONG", v)

	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	defer p.Close()
	_, err = p.Modify(justredis.WithDecoder(justredis.BytesInto(nil))).NextMessage(ctx)
	check("PushConnection.Modify", err)
}
