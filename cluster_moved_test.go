package justredis_test

import (
	"fmt"
	"testing"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestClusterMovedOutsideDo checks that a MOVED seen outside Do and DoMulti
// (on a Connection, by a Transaction's WATCH, by a PushConnection's
// SSUBSCRIBE) teaches the client where the slot went, as the one Do sees
// does: a tester found that the map stayed stale until an unrelated Do.
func TestClusterMovedOutsideDo(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	seed := c.Nodes()[0].Addr()

	// move gives k's slot to another master, and says which were which.
	move := func(t *testing.T, k string) (from, to *redistest.Server) {
		t.Helper()
		slot := keySlot(t, c, k)
		for _, m := range c.Masters() {
			if owns(t, m, slot) {
				from = m
			} else if to == nil {
				to = m
			}
		}
		require.NotNil(t, from)
		require.NoError(t, c.MoveSlot(slot, from, to))
		resetStats(t, c)
		return from, to
	}

	t.Run("Transaction", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		k := "{acct}:n"
		calls := 0
		incr := func() ([]any, error) {
			return r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
				calls++
				return [][]any{{"INCR", k}}, nil
			}, k)
		}
		_, err := incr()
		require.NoError(t, err)
		from, _ := move(t, k)

		calls = 0
		vals, err := incr()
		require.NoError(t, err, "the first Transaction after the move")
		require.Equal(t, []any{int64(2)}, vals)
		require.LessOrEqual(t, calls, 2, "at most one extra attempt")
		require.Equal(t, 1, errorStat(t, from, "MOVED"), "WATCH got MOVED once")
		for i := 0; i < 3; i++ {
			_, err := incr()
			require.NoError(t, err)
		}
		require.Equal(t, 1, errorStat(t, from, "MOVED"), "then the map knew")
	})

	t.Run("Connection", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		k := "{conn}:n"
		_, err := r.Do(ctx, "SET", k, 1)
		require.NoError(t, err)
		from, to := move(t, k)

		conn, err := r.Connection(ctx, k)
		require.NoError(t, err)
		require.Contains(t, conn.String(), from.Addr(), "the map is stale: the old owner")
		_, err = conn.Do(ctx, "INCR", k)
		var e *justredis.Error
		require.ErrorAs(t, err, &e, "a Connection does not follow MOVED itself")
		require.Equal(t, "MOVED", e.Prefix())
		require.NoError(t, conn.Close())

		conn, err = r.Connection(ctx, k)
		require.NoError(t, err)
		defer conn.Close()
		require.Contains(t, conn.String(), to.Addr(), "the next one goes to the new owner")
		v, err := conn.Do(ctx, "INCR", k)
		require.NoError(t, err)
		require.Equal(t, int64(2), v)
	})

	t.Run("ScriptSaysMoved", func(t *testing.T) {
		// A script's error that reads like MOVED is no news of the slot.
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		k := "{script}:n"
		slot := keySlot(t, c, k)
		var owner, other *redistest.Server
		for _, m := range c.Masters() {
			if owns(t, m, slot) {
				owner = m
			} else {
				other = m
			}
		}
		conn, err := r.Connection(ctx, k)
		require.NoError(t, err)
		fake := fmt.Sprintf("MOVED %d %s", slot, other.Addr())
		_, err = conn.Do(ctx, "EVAL", "return redis.error_reply(ARGV[1])", 1, k, fake)
		require.ErrorContains(t, err, fake)
		require.NoError(t, conn.Close())

		conn, err = r.Connection(ctx, k)
		require.NoError(t, err)
		defer conn.Close()
		require.Contains(t, conn.String(), owner.Addr(), "still the real owner")
	})

	t.Run("ShardSubscribe", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		ch := "{feed}:ch"
		_, err := r.Do(ctx, "SPUBLISH", ch, "before")
		require.NoError(t, err)
		from, _ := move(t, ch)

		// The map is stale: the connection goes to the old owner, which
		// answers SSUBSCRIBE with MOVED.
		p, err := r.PushConnection(ctx, ch)
		require.NoError(t, err)
		defer p.Close()
		require.Contains(t, p.String(), from.Addr())
		require.NoError(t, p.Do(ctx, "SSUBSCRIBE", ch))
		msg, err := p.NextMessage(ctx)
		require.NoError(t, err, "the MOVED is followed, not handed over")
		require.Equal(t, justredis.Message{Kind: "ssubscribe", Channel: ch, Data: int64(1)}, msg)
		n, err := r.Do(ctx, "SPUBLISH", ch, "after")
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		msg, err = p.NextMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, justredis.Message{Kind: "smessage", Channel: ch, Data: "after"}, msg)
	})
}
