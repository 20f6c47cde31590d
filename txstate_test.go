package justredis_test

import (
	"fmt"
	"testing"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestTransactionConnectionLost breaks a Transaction's connection while
// fn runs, between WATCH and EXEC: by CLIENT KILL from another client,
// which also writes the watched key, and by a server restart. Nothing of
// MULTI ... EXEC was sent, so nothing ran; the WATCH went with the
// connection, so the transaction must start again from WATCH on a new
// one, and fn's commands must run only as fn decided after reading
// afresh.
func TestTransactionConnectionLost(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r := newRedisOf(t, srv.Addr())
	other := newRedisOf(t, srv.Addr())

	for _, how := range []string{"kill", "restart"} {
		k := "tx:" + how
		_, err := r.Do(ctx, "SET", k, "0")
		require.NoError(t, err)
		calls := 0
		vals, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			calls++
			v, err := justredis.String(c.Do(ctx, "GET", k))
			if err != nil && err != justredis.ErrNil {
				return nil, err
			}
			if calls == 1 {
				switch how {
				case "kill":
					id, err := c.Do(ctx, "CLIENT", "ID")
					require.NoError(t, err)
					_, err = other.Do(ctx, "SET", k, "changed")
					require.NoError(t, err)
					_, err = srv.Do("CLIENT", "KILL", "ID", fmt.Sprint(id))
					require.NoError(t, err)
				case "restart":
					require.NoError(t, srv.Restart()) // the key is gone with it
				}
			}
			return [][]any{{"SET", k, "saw:" + v}}, nil
		}, k)
		require.NoError(t, err, how)
		require.Equal(t, []any{"OK"}, vals, how)
		require.Equal(t, 2, calls, "%s: fn again, on a new connection", how)
		want := map[string]string{"kill": "saw:changed", "restart": "saw:"}[how]
		v, err := r.Do(ctx, "GET", k)
		require.NoError(t, err)
		require.Equal(t, want, v, how)
	}
}

// TestTransactionSlotMovesDuringFn moves the watched key's slot to another
// master after WATCH, before fn reads it: the read is answered MOVED, and
// fn gives up with it, as fn does with any error. Nothing was queued, so
// the transaction must start again on the key's new node, as it does when
// WATCH itself is answered MOVED.
func TestTransactionSlotMovesDuringFn(t *testing.T) {
	t.Skip("contract: API.md says fn's error comes back unchanged, so the MOVED reaches the caller; " +
		"the fix (retry when fn returns a redirection its own read got) is in history, reverted pending a decision")
	t.Parallel()
	c := redistest.StartCluster(t, 2, 0, redistest.Options{})
	r := clusterClient(t, c.Nodes()[0].Addr())
	ctx := testCtx(t)
	from, to := c.Masters()[0], c.Masters()[1]
	for _, present := range []bool{false, true} {
		k := keyOn(t, c, from, fmt.Sprint("txmove:", present))
		if present {
			_, err := r.Do(ctx, "SET", k, "v")
			require.NoError(t, err)
		}
		calls := 0
		vals, err := r.Transaction(ctx, func(cn *justredis.Connection) ([][]any, error) {
			calls++
			if calls == 1 {
				require.NoError(t, c.MoveSlot(keySlot(t, c, k), from, to))
			}
			v, err := justredis.String(cn.Do(ctx, "GET", k))
			if err != nil && err != justredis.ErrNil {
				return nil, fmt.Errorf("reading %s: %w", k, err) // wrapped, as fn may
			}
			return [][]any{{"SET", k, v + "+"}}, nil
		}, k)
		require.NoError(t, err, "present %v", present)
		require.Equal(t, []any{"OK"}, vals)
		require.Equal(t, 2, calls)
		want := "+"
		if present {
			want = "v+"
		}
		v, err := r.Do(ctx, "GET", k)
		require.NoError(t, err)
		require.Equal(t, want, v)
		from, to = to, from
	}
}
