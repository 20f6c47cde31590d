package justredis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// slowLoading gives s a data set that takes a second or more to load:
// 10000 keys, each loaded after a pause of 100µs (key-load-delay, a
// hidden setting of Redis 7), with clients served in between, which get
// LOADING.
func slowLoading(t *testing.T, s *redistest.Server) {
	t.Helper()
	for _, args := range [][]string{
		{"DEBUG", "POPULATE", "10000", "filler"},
		{"CONFIG", "SET", "key-load-delay", "100"},
		{"CONFIG", "SET", "loading-process-events-interval-bytes", "1024"},
	} {
		_, err := s.Do(args...)
		require.NoError(t, err, "%v", args)
	}
}

// reloading makes s save its data set and load it again (DEBUG RELOAD),
// and returns once s answers LOADING; the channel gets the reload's
// result when it ends.
func reloading(t *testing.T, s *redistest.Server) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := s.Do("DEBUG", "RELOAD")
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Do("GET", "probe")
		if err != nil && strings.Contains(err.Error(), "LOADING") {
			return done
		}
		select {
		case err := <-done:
			t.Fatalf("DEBUG RELOAD ended (%v) before the server was seen loading", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server was not seen loading within 10s: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reloaded waits for the reload to end.
func reloaded(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		require.NoError(t, err, "DEBUG RELOAD")
	case <-time.After(30 * time.Second):
		t.Fatal("DEBUG RELOAD has not ended within 30s")
	}
}

func isLoading(v any) bool {
	var e *justredis.Error
	err, _ := v.(error)
	return errors.As(err, &e) && e.Prefix() == "LOADING"
}

// TestLoadingRetried: while the server loads its data set, calls answered
// LOADING, which proves they did not run, go again until it is loaded,
// and the hooks see them as retried: Do, DoMulti, a blocking command, a
// Connection's calls outside MULTI, and Transaction. A pipeline that is
// only partly answered LOADING, a command queued in MULTI and a call
// whose deadline comes first get the replies as they are.
func TestLoadingRetried(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	slowLoading(t, s)
	rec := &recorder{}
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithHook(rec))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	_, err = r.DoMulti(ctx, []any{"SET", "k", "v"}, []any{"RPUSH", "list", "a"})
	require.NoError(t, err)

	t.Run("Do", func(t *testing.T) {
		done := reloading(t, s)
		v, err := r.Do(ctx, "GET", "k")
		require.NoError(t, err)
		require.Equal(t, "v", v)
		require.True(t, rec.lastEnd().Retried, "the hook sees the call retried")
		reloaded(t, done)
	})

	t.Run("DoMulti", func(t *testing.T) {
		done := reloading(t, s)
		vals, err := r.DoMulti(ctx, []any{"INCR", "n"}, []any{"GET", "k"})
		require.NoError(t, err)
		require.Equal(t, []any{int64(1), "v"}, vals, "answered LOADING, both went again, once")
		require.True(t, rec.lastEnd().Retried)

		reloaded(t, done)

		// INFO is served while loading, INCR is not: the INCR is not sent
		// again, since it would then run after the INFO.
		done = reloading(t, s)
		vals, err = r.DoMulti(ctx, []any{"INCR", "n"}, []any{"INFO", "persistence"})
		require.NoError(t, err)
		require.True(t, isLoading(vals[0]), "%v", vals[0])
		require.Contains(t, vals[1], "loading:1")
		reloaded(t, done)
		v, err := r.Do(ctx, "GET", "n")
		require.NoError(t, err)
		require.Equal(t, "1", v, "the INCR answered LOADING did not run")
	})

	t.Run("Blocking", func(t *testing.T) {
		done := reloading(t, s)
		v, err := r.Do(ctx, "BLPOP", "list", 5)
		require.NoError(t, err)
		require.Equal(t, []any{"list", "a"}, v)
		reloaded(t, done)
	})

	t.Run("Cached", func(t *testing.T) {
		rc, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithClientCache(1<<20))
		require.NoError(t, err)
		defer rc.Close()
		cached := rc.Modify(justredis.WithCache(time.Minute))
		_, err = cached.Do(ctx, "GET", "other") // sets the tracked connection up
		require.NoError(t, err)
		done := reloading(t, s)
		v, err := cached.Do(ctx, "GET", "k")
		require.NoError(t, err)
		require.Equal(t, "v", v, "a miss answered LOADING goes the usual way, which waits")
		reloaded(t, done)
	})

	t.Run("Deadline", func(t *testing.T) {
		done := reloading(t, s)
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, err := r.Do(short, "INCR", "n")
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.NotErrorIs(t, err, justredis.ErrNotRetried, "LOADING proves it did not run")
		require.Contains(t, err.Error(), "LOADING", "the error names the last reply")
		reloaded(t, done)
	})

	t.Run("Connection", func(t *testing.T) {
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		defer c.Close()
		done := reloading(t, s)
		// In MULTI, LOADING makes EXEC abort: nothing goes again.
		_, err = c.Do(ctx, "MULTI")
		require.NoError(t, err)
		_, err = c.Do(ctx, "INCR", "n")
		require.True(t, isLoading(err), "%v", err)
		_, err = c.Do(ctx, "EXEC")
		require.ErrorContains(t, err, "EXECABORT")
		v, err := c.Do(ctx, "GET", "k")
		require.NoError(t, err)
		require.Equal(t, "v", v)
		require.True(t, rec.lastEnd().Retried)
		reloaded(t, done)
		v, err = c.Do(ctx, "GET", "n")
		require.NoError(t, err)
		require.Equal(t, "1", v)
	})

	t.Run("Transaction", func(t *testing.T) {
		done := reloading(t, s)
		vals, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			v, err := justredis.String(c.Do(ctx, "GET", "n"))
			if err != nil {
				return nil, err
			}
			return [][]any{{"SET", "n", v + "0"}}, nil
		}, "n")
		require.NoError(t, err)
		require.Equal(t, []any{"OK"}, vals)
		reloaded(t, done)
		v, err := r.Do(ctx, "GET", "n")
		require.NoError(t, err)
		require.Equal(t, "10", v)
	})
}

// fakeLoading is a script that runs, then fails with a LOADING text of its
// own, which the client must not take for the server's.
const fakeLoading = "redis.call('INCR', KEYS[1]); return redis.error_reply('LOADING not really')"

// TestLoadingScriptsRunOnce: a script whose error reads LOADING is not
// sent again, by Do, DoMulti or a Connection: it may have run.
func TestLoadingScriptsRunOnce(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	k := key(t, "runs")
	_, err := r.Do(ctx, "EVAL", fakeLoading, 1, k)
	require.True(t, isLoading(err), "%v", err)
	vals, err := r.DoMulti(ctx, []any{"EVAL", fakeLoading, 1, k})
	require.NoError(t, err)
	require.True(t, isLoading(vals[0]), "%v", vals[0])
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Do(ctx, "EVAL", fakeLoading, 1, k)
	require.True(t, isLoading(err), "%v", err)
	v, err := r.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, "3", v, "each script ran once")
}

// TestLoadingRetriedCluster: a cluster node loading its data set answers
// LOADING; Do and DoMulti wait for it. A script's own LOADING is not
// retried.
func TestLoadingRetriedCluster(t *testing.T) {
	c := redistest.StartCluster(t, 1, 0, redistest.Options{})
	s := c.Masters()[0]
	slowLoading(t, s)
	rec := &recorder{}
	r, err := justredis.New(justredis.WithAddress(c.Addrs()[0]), justredis.WithHook(rec))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	_, err = r.Do(ctx, "SET", "k", "v")
	require.NoError(t, err)

	done := reloading(t, s)
	v, err := r.Do(ctx, "GET", "k")
	require.NoError(t, err)
	require.Equal(t, "v", v)
	require.True(t, rec.lastEnd().Retried)
	reloaded(t, done)

	done = reloading(t, s)
	vals, err := r.DoMulti(ctx, []any{"INCR", "n"}, []any{"GET", "k"})
	require.NoError(t, err)
	require.Equal(t, []any{int64(1), "v"}, vals)
	require.True(t, rec.lastEnd().Retried)
	reloaded(t, done)

	_, err = r.Do(ctx, "EVAL", fakeLoading, 1, "runs")
	require.True(t, isLoading(err), "%v", err)
	vals, err = r.DoMulti(ctx, []any{"EVAL", fakeLoading, 1, "runs"})
	require.NoError(t, err)
	require.True(t, isLoading(vals[0]), "%v", vals[0])
	v, err = r.Do(ctx, "GET", "runs")
	require.NoError(t, err)
	require.Equal(t, "2", v, "each script ran once")
}

// TestLoadingRetriedSentinel: the master of a Sentinel deployment loading
// its data set answers LOADING; Do and DoMulti wait for it.
func TestLoadingRetriedSentinel(t *testing.T) {
	d := redistest.StartSentinel(t, redistest.SentinelOptions{Sentinels: 1})
	s := d.Master()
	slowLoading(t, s)
	r := sentinelClient(t, d)
	ctx := testCtx(t)
	_, err := r.Do(ctx, "SET", "k", "v")
	require.NoError(t, err)

	done := reloading(t, s)
	v, err := r.Do(ctx, "GET", "k")
	require.NoError(t, err)
	require.Equal(t, "v", v)
	reloaded(t, done)

	done = reloading(t, s)
	vals, err := r.DoMulti(ctx, []any{"INCR", "n"}, []any{"GET", "k"})
	require.NoError(t, err)
	require.Equal(t, []any{int64(1), "v"}, vals)
	reloaded(t, done)
}
