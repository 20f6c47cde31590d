package justredis_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// blockingSocketTimeout is shorter than every wait the blocking tests ask
// of the server, so that a client that took the wait for silence would
// fail them.
const blockingSocketTimeout = 150 * time.Millisecond

// TestBlockingWithSocketTimeout: a blocking command waits as long as its
// own timeout says, on top of WithSocketTimeout, and for ever with a
// timeout of 0, whichever call form sends it.
func TestBlockingWithSocketTimeout(t *testing.T) {
	r := newRedis(t, justredis.WithSocketTimeout(blockingSocketTimeout))
	ctx := testCtx(t)
	list, stream := key(t, "list"), key(t, "stream")

	for _, args := range [][]any{
		{"BLPOP", list, 0.4},
		{"BRPOP", list, "1"},
		{"BLMPOP", 0.4, 1, list, "LEFT"},
		{"BZPOPMIN", key(t, "zset"), 0.4},
		{"XREAD", "BLOCK", 400, "STREAMS", stream, "$"},
		{"WAIT", 1, 400}, // no replica will ever answer
	} {
		v, err := r.Do(ctx, args...)
		require.NoError(t, err, "%v", args)
		if args[0] == "WAIT" {
			require.Equal(t, int64(0), v)
		} else {
			require.Nil(t, v, "%v", args)
		}
	}

	// Blocked for good until something arrives, long after the socket
	// timeout.
	later := func(args ...any) {
		time.AfterFunc(400*time.Millisecond, func() { r.Do(context.Background(), args...) })
	}
	later("RPUSH", list, "x")
	v, err := r.Do(ctx, "BLPOP", list, 0)
	require.NoError(t, err)
	require.Equal(t, []any{list, "x"}, v)
	later("XADD", stream, "*", "f", "v")
	v, err = r.Do(ctx, "XREAD", "BLOCK", 0, "STREAMS", stream, "$")
	require.NoError(t, err)
	require.NotNil(t, v)

	// Commands sent together wait one after the other.
	vals, err := r.DoMulti(ctx, []any{"BLPOP", list, 0.3}, []any{"BLPOP", list, 0.3})
	require.NoError(t, err)
	require.Equal(t, []any{nil, nil}, vals)

	// On a Connection of one's own.
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	v, err = c.Do(ctx, "BLPOP", list, 0.4)
	require.NoError(t, err)
	require.Nil(t, v)
	later("RPUSH", list, "y")
	v, err = c.Do(ctx, "BLPOP", list, 0)
	require.NoError(t, err)
	require.Equal(t, []any{list, "y"}, v)
	v, err = c.Do(ctx, "GET", list) // the connection is still in step
	require.NoError(t, err)
	require.Nil(t, v)
}

// A blocking command's own timeout, however far off, and the socket
// timeout added to it never wrap around into a deadline already past: the
// longest timeouts Redis takes, in seconds and in milliseconds, still wait
// for the value.
func TestBlockingFarTimeout(t *testing.T) {
	r := newRedis(t, justredis.WithSocketTimeout(blockingSocketTimeout))
	ctx := testCtx(t)
	list, stream := key(t, "list"), key(t, "stream")
	for _, args := range [][]any{
		{"BLPOP", list, "9223372036"},
		{"BLPOP", list, 9223372036.5},
		{"XREAD", "BLOCK", "9223372036854", "STREAMS", stream, "$"},
	} {
		push := []any{"RPUSH", list, "x"}
		if args[0] == "XREAD" {
			push = []any{"XADD", stream, "*", "f", "v"}
		}
		time.AfterFunc(2*blockingSocketTimeout, func() { r.Do(context.Background(), push...) })
		v, err := r.Do(ctx, args...)
		require.NoError(t, err, "%v", args)
		require.NotNil(t, v, "%v", args)
	}
}

// TestBlockingFrozenServer: the socket timeout still applies on top of a
// blocking command's own, so a server that froze is noticed.
func TestBlockingFrozenServer(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithSocketTimeout(blockingSocketTimeout))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	_, err = r.Do(ctx, "BLPOP", "frozen", 0.1)
	require.NoError(t, err)
	require.NoError(t, s.Pause())
	defer s.Resume()
	_, err = r.Do(ctx, "BLPOP", "frozen", 0.2)
	require.Error(t, err)
	require.True(t, errors.Is(err, os.ErrDeadlineExceeded), "%v", err)
	require.ErrorIs(t, err, justredis.ErrNotRetried)
}

// TestBlockingFarTimeoutsSummed: the waits of blocking commands sent
// together add up; far ones must not wrap around to a short wait (here
// two of 9223372036854ms and one of 2ms would wrap to under a
// millisecond), which would time out a command still rightly waiting.
func TestBlockingFarTimeoutsSummed(t *testing.T) {
	r := newRedis(t, justredis.WithSocketTimeout(blockingSocketTimeout))
	ctx := testCtx(t)
	full, empty := key(t, "full"), key(t, "empty")
	_, err := r.Do(ctx, "XADD", full, "*", "f", "v")
	require.NoError(t, err)
	time.AfterFunc(3*blockingSocketTimeout, func() { r.Do(context.Background(), "XADD", empty, "*", "f", "v") })
	vals, err := r.DoMulti(ctx,
		[]any{"XREAD", "BLOCK", "2", "STREAMS", full, "0"},
		[]any{"XREAD", "BLOCK", "9223372036854", "STREAMS", full, "0"},
		[]any{"XREAD", "BLOCK", "9223372036854", "STREAMS", empty, "$"},
	)
	require.NoError(t, err)
	require.Len(t, vals, 3)
	for i, v := range vals {
		require.NotNil(t, v, "reply %d", i)
		_, isErr := v.(error)
		require.False(t, isErr, "reply %d: %v", i, v)
	}
}

// TestBlockingGroupNamedLikeOption: XREADGROUP's group and consumer names
// may be any string, "STREAMS" and "BLOCK" too; they are not its options,
// and must not hide the BLOCK that follows them (the wait would then be
// taken for silence) nor pose as one.
func TestBlockingGroupNamedLikeOption(t *testing.T) {
	r := newRedis(t, justredis.WithSocketTimeout(blockingSocketTimeout))
	ctx := testCtx(t)
	for _, names := range [][2]string{{"STREAMS", "c"}, {"g", "STREAMS"}, {"BLOCK", "BLOCK"}} {
		stream := key(t, "stream:"+names[0]+":"+names[1])
		_, err := r.Do(ctx, "XGROUP", "CREATE", stream, names[0], "$", "MKSTREAM")
		require.NoError(t, err)
		time.AfterFunc(3*blockingSocketTimeout, func() { r.Do(context.Background(), "XADD", stream, "*", "f", "v") })
		v, err := r.Do(ctx, "XREADGROUP", "GROUP", names[0], names[1], "BLOCK", 10*blockingSocketTimeout.Milliseconds(), "STREAMS", stream, ">")
		require.NoError(t, err, "%v", names)
		require.NotNil(t, v, "%v", names)
	}
}

// TestBlockingServerLate: the server times a blocking command out at its
// next timer tick, which at hz 1 comes up to a second late; a socket
// timeout shorter than that must not take the wait for a dead server.
func TestBlockingServerLate(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Args: []string{"--hz", "1"}})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithSocketTimeout(blockingSocketTimeout))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	for _, args := range [][]any{
		{"BLPOP", "list", "0.1"},
		{"BLMPOP", 0.1, 1, "list", "LEFT"},
		{"XREAD", "BLOCK", 100, "STREAMS", "stream", "$"},
		{"WAIT", 1, 100},
		{"BLPOP", "list", 0.1},
	} {
		v, err := r.Do(ctx, args...)
		require.NoError(t, err, "%v", args)
		if args[0] == "WAIT" {
			require.Equal(t, int64(0), v, "%v", args)
		} else {
			require.Nil(t, v, "%v", args)
		}
	}
}
