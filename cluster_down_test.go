package justredis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// A master down with no replica: every API that reaches its slots must
// fail (not hang until the watchdog), and the live parts of a call must
// still succeed.
func TestClusterDeadMasterEveryAPI(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0, redistest.Options{Args: []string{"--cluster-require-full-coverage", "no"}})
	masters := c.Masters()
	victim, live := masters[0], masters[1]
	r, err := justredis.New(justredis.WithAddresses(c.Addrs()...))
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	dead := keyOn(t, c, victim, "dead")
	alive := keyOn(t, c, live, "alive")
	for _, k := range []string{dead, alive} {
		_, err := r.Do(testCtx(t), "SET", k, "v")
		require.NoError(t, err)
	}
	require.NoError(t, victim.Kill())

	ctx := watchdogCtx(t, 20*time.Second)
	hung := func(what string, err error) {
		t.Helper()
		require.False(t, errors.Is(err, context.Canceled), "%s hung until the watchdog: %v", what, err)
	}
	for i := range 3 {
		_, err := r.Do(ctx, "GET", dead)
		hung("Do", err)
		require.Error(t, err, "Do %d", i)
		vals, err := r.DoMulti(ctx, []any{"GET", alive}, []any{"GET", dead}, []any{"GET", alive})
		hung("DoMulti", err)
		require.Len(t, vals, 3)
		require.Equal(t, "v", vals[0], "DoMulti %d: the live key", i)
		require.Equal(t, "v", vals[2], "DoMulti %d: the live key", i)
		_, err = r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			return [][]any{{"SET", dead, "w"}}, nil
		}, dead)
		hung("Transaction", err)
		require.Error(t, err)
		cn, err := r.Connection(ctx, dead)
		hung("Connection", err)
		if err == nil {
			cn.Close()
			t.Fatalf("Connection to a dead master's key succeeded")
		}
		v, err := r.Do(ctx, "PING")
		hung("keyless", err)
		require.NoError(t, err, "keyless call %d", i)
		require.Equal(t, "PONG", v)
		v, err = r.Do(ctx, "GET", alive)
		require.NoError(t, err)
		require.Equal(t, "v", v)
	}
}

// Connections of their own (Connection, Transaction, PushConnection) for
// the slots of a master known to be down with no replica fail at once, as
// calls do, rather than each waiting for the next connect to it and making
// it: 30 rounds take a few dials, not 90.
func TestClusterDeadMasterDedicatedFailFast(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0, redistest.Options{Args: []string{"--cluster-require-full-coverage", "no"}})
	victim := c.Masters()[0]
	h := &faultCounter{}
	r, err := justredis.New(justredis.WithAddresses(c.Addrs()...), justredis.WithHook(h))
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	dead := keyOn(t, c, victim, "dead")
	_, err = r.Do(testCtx(t), "SET", dead, "v")
	require.NoError(t, err)
	require.NoError(t, victim.Kill())

	ctx := watchdogCtx(t, 20*time.Second)
	// A call finds the master down. (Until one does, an idle shared
	// connection to it is taken as a sign that it may be up.)
	_, err = r.Do(ctx, "GET", dead)
	require.Error(t, err)
	const rounds = 30
	var last error
	for range rounds {
		cn, err := r.Connection(ctx, dead)
		if err == nil {
			cn.Close()
			t.Fatal("Connection to a dead master's key succeeded")
		}
		require.False(t, errors.Is(err, context.Canceled), "Connection hung until the watchdog: %v", err)
		_, err = r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			return [][]any{{"SET", dead, "w"}}, nil
		}, dead)
		require.Error(t, err)
		require.False(t, errors.Is(err, context.Canceled), "Transaction hung until the watchdog: %v", err)
		p, err := r.PushConnection(ctx, dead)
		if err == nil {
			p.Close()
			t.Fatal("PushConnection for a dead master's key succeeded")
		}
		require.False(t, errors.Is(err, context.Canceled), "PushConnection hung until the watchdog: %v", err)
		last = err
	}
	dials, _, _ := h.counts(victim.Addr())
	t.Logf("%d dials to the dead master over %d rounds; the last error: %v", dials, rounds, last)
	require.LessOrEqual(t, dials, 10)
	require.Contains(t, last.Error(), victim.Addr())
}

// watchdogCtx is a context without a deadline, for calls that must not
// wait for one, cancelled after d so that a call that hangs fails its
// test instead of hanging it.
func watchdogCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	watchdog := time.AfterFunc(d, cancel)
	t.Cleanup(func() {
		watchdog.Stop()
		cancel()
	})
	return ctx
}
