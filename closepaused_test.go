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

// closeReturns runs close and fails the test if it has not returned
// within 5s: every Close here would otherwise wait on a frozen server for
// the 10s of the default connect timeout. Only a hang is detected; no
// duration is asserted.
func closeReturns(t *testing.T, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case err := <-done:
		require.NoError(t, err, what)
	case <-timer.C:
		t.Fatalf("%s has not returned within 5s with the server frozen", what)
	}
}

// connID is the server's id of c's connection.
func connID(t *testing.T, ctx context.Context, c *justredis.Connection) any {
	t.Helper()
	id, err := c.Do(ctx, "CLIENT", "ID")
	require.NoError(t, err)
	return id
}

// TestConnectionCloseServerPaused: a Connection left in a transaction,
// WATCHing and in another database is closed while its server is frozen.
// Close returns at once; the reset happens once the server answers again,
// and the next user of that server connection inherits none of the state.
func TestConnectionCloseServerPaused(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	base := markGoroutines(t)
	// One shared connection and one of their own: the next Connection is
	// the one closed, once it is reset.
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithMaxConnections(2))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	k := "watched"

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	id := connID(t, ctx, c)
	_, err = c.DoMulti(ctx, []any{"SELECT", 3}, []any{"WATCH", k}, []any{"MULTI"}, []any{"SET", k, "queued"})
	require.NoError(t, err)

	require.NoError(t, s.Pause())
	closeReturns(t, "Connection.Close", c.Close)
	_, err = c.Do(ctx, "PING")
	require.ErrorIs(t, err, justredis.ErrClosed)
	require.NoError(t, s.Resume())

	c2, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c2.Close()
	require.Equal(t, id, connID(t, ctx, c2), "the reset connection went back to the pool")
	info, err := c2.Do(ctx, "CLIENT", "INFO")
	require.NoError(t, err)
	require.Contains(t, info, " db=0 ", "the database is restored")
	require.Contains(t, info, " multi=-1 ", "no transaction is open")
	_, err = s.Do("SET", k, "changed")
	require.NoError(t, err)
	vals, err := c2.DoMulti(ctx, []any{"MULTI"}, []any{"GET", k}, []any{"EXEC"})
	require.NoError(t, err)
	require.Equal(t, []any{"changed"}, vals[2], "no WATCH is left to abort EXEC")
	v, err := r.Modify(justredis.WithDatabase(3)).Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Nil(t, v, "the queued SET was discarded")
	require.NoError(t, c2.Close())
	require.NoError(t, r.Close())
	settle(t, base)
}

// TestConnectionCloseServerPausedThenClient: Redis.Close ends the reset
// of a Connection closed while the server is frozen at once, and no
// goroutine is left; a reset that fails closes the server connection, and
// its place goes to the next caller.
func TestConnectionCloseServerPausedThenClient(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	base := markGoroutines(t)
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithMaxConnections(2))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	_, err = c.Do(ctx, "WATCH", "k")
	require.NoError(t, err)
	require.NoError(t, s.Pause())
	closeReturns(t, "Connection.Close", c.Close)

	// Its place is still taken while the reset waits: a caller gives up.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = r.Connection(short)
	cancel()
	require.ErrorIs(t, err, justredis.ErrPoolTimeout, "WithMaxConnections holds during the reset")

	closeReturns(t, "Redis.Close", r.Close)
	require.NoError(t, s.Resume())
	settle(t, base)

	// A reset that fails: the server connection is closed, and its place
	// freed.
	r, err = justredis.New(justredis.WithAddress(s.Addr()), justredis.WithMaxConnections(2), justredis.WithConnectTimeout(300*time.Millisecond))
	require.NoError(t, err)
	defer r.Close()
	c, err = r.Connection(ctx)
	require.NoError(t, err)
	id := connID(t, ctx, c)
	_, err = c.Do(ctx, "WATCH", "k")
	require.NoError(t, err)
	require.NoError(t, s.Pause())
	closeReturns(t, "Connection.Close", c.Close)
	time.Sleep(time.Second) // past the connect timeout, which ends the reset
	require.NoError(t, s.Resume())
	c, err = r.Connection(ctx)
	require.NoError(t, err)
	require.NotEqual(t, id, connID(t, ctx, c), "a connection whose reset failed is not handed on")
	require.NoError(t, c.Close())
	require.NoError(t, r.Close())
	settle(t, base)
}

// TestCloseServerPausedOthers: the other ways of giving back a connection
// with state on it return while the server is frozen too: a Transaction
// whose fn fails (its Connection is WATCHing), and a PushConnection with
// subscriptions.
func TestCloseServerPausedOthers(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	base := markGoroutines(t)
	r, err := justredis.New(justredis.WithAddress(s.Addr()))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)

	errFn := errors.New("fn failed")
	closeReturns(t, "Transaction", func() error {
		_, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			if err := s.Pause(); err != nil {
				return nil, err
			}
			return nil, errFn
		}, "k")
		if !errors.Is(err, errFn) {
			return err
		}
		return nil
	})
	require.NoError(t, s.Resume())

	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	require.NoError(t, p.Do(ctx, "SUBSCRIBE", "ch"))
	msg, err := p.NextMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, "subscribe", msg.Kind)
	require.NoError(t, s.Pause())
	closeReturns(t, "PushConnection.Close", p.Close)
	closeReturns(t, "Redis.Close", r.Close)
	require.NoError(t, s.Resume())
	settle(t, base)
}
