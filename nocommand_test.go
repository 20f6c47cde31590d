package justredis_test

import (
	"context"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestWithoutCommandTable: a user not allowed COMMAND leaves the client
// without the server's metadata, so it cannot tell a blocking command from
// another. It takes every command for one that may block: a BLPOP never
// stalls other calls, one abandoned takes nothing from the list, and the
// socket timeout still lets BLPOP wait its own timeout.
func TestWithoutCommandTable(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Users: []redistest.User{
		{Name: "nocmd", Password: "pw", Rules: []string{"on", "~*", "&*", "+@all", "-command"}},
	}})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("nocmd", "pw"),
		justredis.WithSocketTimeout(150*time.Millisecond))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	_, err = r.Do(ctx, "COMMAND", "COUNT")
	require.Error(t, err, "the user may not use COMMAND")

	// A BLPOP waiting for good stalls nobody.
	blocked := make(chan error, 1)
	bctx, stop := context.WithCancel(ctx)
	go func() {
		_, err := r.Do(bctx, "BLPOP", "nocmd:never", 0)
		blocked <- err
	}()
	time.Sleep(100 * time.Millisecond) // for the BLPOP to block
	for i := range 20 {
		require.NoError(t, func() error {
			gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_, err := r.Do(gctx, "SET", "nocmd:k", i)
			return err
		}(), "a call stalled behind a BLPOP")
	}
	stop()
	require.ErrorIs(t, <-blocked, context.Canceled)

	// An abandoned BLPOP takes nothing from the list.
	actx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = r.Do(actx, "BLPOP", "nocmd:list", 0)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = s.Do("RPUSH", "nocmd:list", "kept")
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // time for a BLPOP still blocked to take it
	v, err := r.Do(ctx, "LPOP", "nocmd:list")
	require.NoError(t, err)
	require.Equal(t, "kept", v, "the abandoned BLPOP took the element")

	// The blocking commands of Redis still wait their own timeout.
	v, err = r.Do(ctx, "BLPOP", "nocmd:list", 0.4)
	require.NoError(t, err)
	require.Nil(t, v)
	vals, err := r.DoMulti(ctx, []any{"SET", "nocmd:m", 1}, []any{"BLPOP", "nocmd:list", 0.3})
	require.NoError(t, err)
	require.Equal(t, []any{"OK", nil}, vals)
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	v, err = c.Do(ctx, "BLPOP", "nocmd:list", 0.4)
	require.NoError(t, err)
	require.Nil(t, v)
}
