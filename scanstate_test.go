package justredis_test

import (
	"fmt"
	"testing"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestScanKeyMovesMidIteration moves the slot of a hash being walked with
// HSCAN to another master halfway through. A cursor is a position in one
// server's table, which hashes with a seed of its own: on the node the
// hash moved to it means nothing, and continuing with it skips fields.
// Every field present from start to end must still be yielded.
func TestScanKeyMovesMidIteration(t *testing.T) {
	c := redistest.StartCluster(t, 2, 0, redistest.Options{})
	plain := clusterClient(t, c.Nodes()[0].Addr())
	hooked := clusterClient(t, c.Nodes()[0].Addr(), justredis.WithHook(nopHook{})) // hooks trace calls too
	ctx := testCtx(t)
	from, to := c.Masters()[0], c.Masters()[1]

	for i, kind := range []string{"HSCAN", "SSCAN", "ZSCAN", "HSCAN"} {
		r := plain
		if i == 3 {
			r = hooked
		}
		k := keyOn(t, c, from, fmt.Sprint("scanmove:", i))
		const n = 2000
		var args []any
		switch kind {
		case "HSCAN":
			args = []any{"HSET", k}
		case "SSCAN":
			args = []any{"SADD", k}
		case "ZSCAN":
			args = []any{"ZADD", k}
		}
		for i := 0; i < n; i++ {
			switch kind {
			case "HSCAN":
				args = append(args, fmt.Sprint("f", i), i)
			case "SSCAN":
				args = append(args, fmt.Sprint("f", i))
			case "ZSCAN":
				args = append(args, i, fmt.Sprint("f", i))
			}
		}
		_, err := r.Do(ctx, args...)
		require.NoError(t, err)

		step := 2 // HSCAN and ZSCAN yield pairs
		if kind == "SSCAN" {
			step = 1
		}
		seen := map[string]bool{}
		j, moved := 0, false
		for e, err := range r.Scan(ctx, kind, k, "COUNT", 10) {
			require.NoError(t, err)
			if j%step == 0 {
				seen[e] = true
			}
			j++
			if !moved && len(seen) >= n/4 {
				moved = true
				require.NoError(t, c.MoveSlot(keySlot(t, c, k), from, to))
			}
		}
		require.True(t, moved)
		require.Equal(t, n, len(seen), "%s: every member, though the key moved", kind)
		from, to = to, from
	}
}

// TestScanClusterSlotMovesMidIteration moves a slot full of keys, while
// SCAN walks the masters in turn, from one not walked yet to the one being
// walked: the keys land anywhere in that node's table, partly behind the
// cursor, and the node they left has none of them when its turn comes.
func TestScanClusterSlotMovesMidIteration(t *testing.T) {
	t.Skip("design: SCAN walks each master once; finding the masters that gained slots meanwhile, " +
		"and walking them again, needs the slot map compared before and after")
	c := redistest.StartCluster(t, 2, 0, redistest.Options{})
	r := clusterClient(t, c.Nodes()[0].Addr())
	ctx := testCtx(t)
	eps, err := r.Endpoints(ctx)
	require.NoError(t, err)
	var order []*redistest.Server // the masters in the order SCAN walks them
	for _, ep := range eps {
		for _, m := range c.Masters() {
			if ep.Role == "master" && ep.Address == m.Addr() {
				order = append(order, m)
			}
		}
	}
	require.Len(t, order, 2)
	first, second := order[0], order[1]
	moving := keyOn(t, c, second, "scanslot")
	staying := keyOn(t, c, first, "scanslot")
	const n = 300
	var cmds [][]any
	for i := 0; i < n; i++ {
		cmds = append(cmds, []any{"SET", fmt.Sprintf("{%s}:%d", moving, i), i}, []any{"SET", fmt.Sprintf("{%s}:%d", staying, i), i})
	}
	_, err = r.DoMulti(ctx, cmds...)
	require.NoError(t, err)

	seen := map[string]bool{}
	moved := false
	for k, err := range r.Scan(ctx, "SCAN", "MATCH", "{scanslot:*", "COUNT", 10) {
		require.NoError(t, err)
		seen[k] = true
		if !moved && len(seen) >= n/4 {
			moved = true
			require.NoError(t, c.MoveSlot(keySlot(t, c, moving), second, first))
		}
	}
	require.True(t, moved)
	require.Equal(t, 2*n, len(seen), "every key present from start to end")
}
