package justredis_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// connectedClients is how many client connections s has open.
func connectedClients(t *testing.T, s *redistest.Server) int {
	t.Helper()
	info, err := s.Do("INFO", "clients")
	require.NoError(t, err)
	for _, line := range splitLines(info) {
		if n, ok := strings.CutPrefix(line, "connected_clients:"); ok {
			v, err := strconv.Atoi(n)
			require.NoError(t, err)
			return v - 1 // this INFO's own connection
		}
	}
	t.Fatal("no connected_clients in INFO")
	return 0
}

// TestConnMaxIdleTime: a pooled connection idle past the limit is closed
// and replaced by the next call, which never fails for it; one in use, or
// held in a Connection, is kept.
func TestConnMaxIdleTime(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, err := justredis.FromURL(s.URL() + "?conn_max_idle_time=300ms")
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	id := func(do func() (any, error)) int64 {
		v, err := do()
		require.NoError(t, err)
		return v.(int64)
	}
	shared := func() (any, error) { return r.Do(ctx, "CLIENT", "ID") }
	first := id(shared)
	require.Equal(t, first, id(shared), "a connection in use is kept")
	time.Sleep(500 * time.Millisecond)
	second := id(shared)
	require.NotEqual(t, first, second, "an idle connection is replaced")
	_, err = r.Do(ctx, "INCR", "idle") // writes too go through
	require.NoError(t, err)

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	held := id(func() (any, error) { return c.Do(ctx, "CLIENT", "ID") })
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, held, id(func() (any, error) { return c.Do(ctx, "CLIENT", "ID") }), "a Connection held is kept")
	require.NoError(t, c.Close())
	time.Sleep(500 * time.Millisecond)
	c, err = r.Connection(ctx)
	require.NoError(t, err)
	require.NotEqual(t, held, id(func() (any, error) { return c.Do(ctx, "CLIENT", "ID") }), "one at rest is replaced")
	require.NoError(t, c.Close())
	require.LessOrEqual(t, connectedClients(t, s), 2, "the replaced connections were closed")
}

// TestConnMaxLifetime: pooled connections are replaced once older than the
// limit, between calls, which never fail for it.
func TestConnMaxLifetime(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithConnMaxLifetime(200*time.Millisecond))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	ids := map[int64]bool{}
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		v, err := r.Do(ctx, "CLIENT", "ID")
		require.NoError(t, err)
		ids[v.(int64)] = true
		_, err = r.Do(ctx, "INCR", "lifetime")
		require.NoError(t, err)
		time.Sleep(10 * time.Millisecond)
	}
	require.Greater(t, len(ids), 2, "connections were replaced as they aged")
	require.LessOrEqual(t, connectedClients(t, s), 1, "the old ones were closed")
}

// TestConnLimitsURL: go-redis's parameter names, and its older ones, set
// the limits; both names of one at once are refused.
func TestConnLimitsURL(t *testing.T) {
	for _, q := range []string{"conn_max_idle_time=30s", "idle_timeout=1m", "conn_max_lifetime=-1", "max_conn_age=3600"} {
		_, err := justredis.FromURL("redis://localhost?" + q)
		require.NoError(t, err, q)
	}
	_, err := justredis.FromURL("redis://localhost?conn_max_idle_time=1s&idle_timeout=2s")
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	_, err = justredis.FromURL("redis://localhost?conn_max_lifetime=soon")
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	_, err = justredis.New(justredis.WithConnMaxIdleTime(-time.Second))
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
}

// TestConnLimitsShorterThanSetup: limits shorter than the connection
// setup takes (1ns here; a few milliseconds on a far server) close each
// connection after its use, but never the one a call just dialled for
// itself, which the call then could not use at all.
func TestConnLimitsShorterThanSetup(t *testing.T) {
	for _, opt := range []justredis.Option{
		justredis.WithConnMaxIdleTime(time.Nanosecond),
		justredis.WithConnMaxLifetime(time.Nanosecond),
	} {
		r := newRedis(t, opt)
		ctx := testCtx(t)
		k := key(t, "k")
		for range 3 {
			_, err := r.Do(ctx, "SET", k, "v")
			require.NoError(t, err)
			v, err := r.Do(ctx, "GET", k)
			require.NoError(t, err)
			require.Equal(t, "v", v)
			vals, err := r.DoMulti(ctx, []any{"SET", k, "w"}, []any{"GET", k})
			require.NoError(t, err)
			require.Equal(t, "w", vals[1])
		}
	}
}
