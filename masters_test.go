package justredis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// A blocking command sent to every master runs on a connection of its own
// there, as Do runs one: other calls go on beside it, and one abandoned
// closes its connection instead of wedging the shared one. The failed
// round trip is in the map, and Do's error names its address.
func TestMastersBlockingOwnConnection(t *testing.T) {
	s := redistest.Start(t, redistest.Options{}) // its own, to count blocked clients
	r := newRedisOf(t, s.Addr())
	ctx := testCtx(t)
	k := key(t, "list")
	masters := r.Modify(justredis.WithEndpoint(justredis.Masters))

	bctx, cancel := context.WithCancel(ctx)
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := masters.Do(bctx, "BLPOP", k, 0)
		done <- result{v, err}
	}()
	require.Eventually(t, func() bool {
		info, err := s.Do("INFO", "clients")
		return err == nil && strings.Contains(info, "blocked_clients:1")
	}, 10*time.Second, 10*time.Millisecond, "BLPOP never blocked")

	// The shared connection is free: a GET beside the BLPOP answers.
	gctx, gcancel := context.WithTimeout(ctx, 5*time.Second)
	v, err := r.Do(gctx, "GET", key(t, "other"))
	gcancel()
	require.NoError(t, err, "a call beside a blocking Masters call")
	require.Nil(t, v)

	cancel()
	res := <-done
	require.ErrorIs(t, res.err, context.Canceled)
	require.Contains(t, res.err.Error(), s.Addr(), "the error names the master")
	m, ok := res.v.(map[string]any)
	require.True(t, ok, "the map comes with the error: %T", res.v)
	require.Len(t, m, 1)
	require.ErrorIs(t, m[s.Addr()].(error), context.Canceled)

	// The abandoned BLPOP took its connection with it, once the server
	// sees it closed: a pushed element then stays for the next reader,
	// and the shared connection still works.
	require.Eventually(t, func() bool {
		info, err := s.Do("INFO", "clients")
		return err == nil && strings.Contains(info, "blocked_clients:0")
	}, 10*time.Second, 10*time.Millisecond, "the abandoned BLPOP still blocks")
	_, err = r.Do(ctx, "RPUSH", k, "x")
	require.NoError(t, err)
	v, err = r.Do(ctx, "LLEN", k)
	require.NoError(t, err)
	require.Equal(t, int64(1), v)

	// A blocking command that ends by itself replies as any other does.
	v, err = masters.Do(ctx, "BLPOP", k, 1)
	require.NoError(t, err)
	require.Equal(t, map[string]any{s.Addr(): []any{k, "x"}}, v)

	// Error replies are replies: no error from Do.
	v, err = masters.Do(ctx, "NOSUCHCOMMAND")
	require.NoError(t, err)
	require.IsType(t, &justredis.Error{}, v.(map[string]any)[s.Addr()])
}

// TestMastersDoMulti: DoMulti with Masters is refused, before anything is
// sent, rather than run on one node as if Masters were not given.
func TestMastersDoMulti(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	r := clusterClient(t, c.Addrs()[0])
	ctx := testCtx(t)
	k := key(t, "k")
	_, err := r.Modify(justredis.WithEndpoint(justredis.Masters)).DoMulti(ctx, []any{"SET", k, "v"}, []any{"ECHO", "x"})
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	require.Contains(t, err.Error(), "Masters")
	v, err := r.Do(ctx, "EXISTS", k)
	require.NoError(t, err)
	require.Equal(t, int64(0), v, "nothing was sent")
}
