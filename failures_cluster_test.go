package justredis_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestClusterFailures runs the failure behaviours that need a cluster
// against one of 3 masters, one after the other: some move slots, and
// the last kills every node.
func TestClusterFailures(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	seed := c.Nodes()[0].Addr()

	t.Run("ScriptErrorsAreNotRedirections", func(t *testing.T) {
		// A script that counts its runs, then fails with a text of the
		// caller's choice.
		const script = "redis.call('INCR', KEYS[1]); return redis.error_reply(ARGV[1])"
		const lib = "#!lua name=failures\n" +
			"redis.register_function('fail', function(keys, args) redis.call('INCR', keys[1]); return redis.error_reply(args[1]) end)"
		r := clusterClient(t, seed, justredis.WithTimeout(5*time.Second))
		ctx := testCtx(t)
		_, err := r.Modify(justredis.WithEndpoint(justredis.Masters)).Do(ctx, "FUNCTION", "LOAD", "REPLACE", lib)
		require.NoError(t, err)

		owner, other := c.Masters()[0], c.Masters()[1]
		k := keyOn(t, c, owner, "script")
		slot := keySlot(t, c, k)
		texts := []string{
			"TRYAGAIN Multiple keys request during rehashing of slot",
			"CLUSTERDOWN The cluster is down",
			fmt.Sprintf("MOVED %d %s", slot, other.Addr()),
			fmt.Sprintf("MOVED %d %s", (slot+1)%16384, other.Addr()),
			fmt.Sprintf("ASK %d %s", slot, other.Addr()),
			fmt.Sprintf("ASK %d %s", slot, owner.Addr()),
			fmt.Sprintf("MOVED %d nowhere:port", slot),
		}
		runs := int64(0)
		for _, text := range texts {
			for _, call := range []func() error{
				func() error { _, err := r.Do(ctx, "EVAL", script, 1, k, text); return err },
				func() error { _, err := r.Do(ctx, "FCALL", "fail", 1, k, text); return err },
				func() error {
					vals, err := r.DoMulti(ctx, []any{"EVAL", script, 1, k, text}, []any{"GET", k})
					if err != nil {
						return err
					}
					return vals[0].(error)
				},
			} {
				err := call()
				runs++
				var e *justredis.Error
				require.ErrorAs(t, err, &e, "%s", text)
				require.Equal(t, text, e.Error(), "the script's error comes back as it is")
				n, err := owner.Do("GET", k)
				require.NoError(t, err)
				require.Equal(t, strconv.FormatInt(runs, 10), n, "%s: the script ran once", text)
			}
		}
	})

	t.Run("ScriptsFollowRealRedirections", func(t *testing.T) {
		const script = "return redis.call('INCR', KEYS[1])"
		r := clusterClient(t, seed, justredis.WithTimeout(10*time.Second))
		ctx := testCtx(t)
		from, to := c.Masters()[1], c.Masters()[2]
		k := keyOn(t, c, from, "moving")
		slot := keySlot(t, c, k)
		v, err := r.Do(ctx, "EVAL", script, 1, k) // the map now says from
		require.NoError(t, err)
		require.Equal(t, int64(1), v)
		resetStats(t, c)

		require.NoError(t, c.MoveSlot(slot, from, to))
		v, err = r.Do(ctx, "EVAL", script, 1, k)
		require.NoError(t, err, "MOVED followed")
		require.Equal(t, int64(2), v)
		require.Equal(t, 1, errorStat(t, from, "MOVED"))

		// Half-way through moving the slot back, with the key moved:
		// the source answers ASK.
		require.NoError(t, c.BeginMigration(slot, to, from, k))
		v, err = r.Do(ctx, "EVAL", script, 1, k)
		require.NoError(t, err, "ASK followed")
		require.Equal(t, int64(3), v)
		require.Equal(t, 1, errorStat(t, to, "ASK"))
		require.NoError(t, c.MoveSlot(slot, to, from))
		n, err := from.Do("GET", k)
		require.NoError(t, err)
		require.Equal(t, "3", n)
	})

	t.Run("BlockingWithSocketTimeout", func(t *testing.T) {
		r := clusterClient(t, seed, justredis.WithSocketTimeout(blockingSocketTimeout))
		ctx := testCtx(t)
		k := keyOn(t, c, c.Masters()[2], "blocking")
		v, err := r.Do(ctx, "BLPOP", k, 0.4)
		require.NoError(t, err)
		require.Nil(t, v)
		vals, err := r.DoMulti(ctx, []any{"BLPOP", k, 0.3}, []any{"XREAD", "BLOCK", 300, "STREAMS", k + ":s", "$"})
		require.NoError(t, err)
		require.Equal(t, []any{nil, nil}, vals)
		time.AfterFunc(400*time.Millisecond, func() { r.Do(context.Background(), "RPUSH", k, "x") })
		v, err = r.Do(ctx, "BLPOP", k, 0)
		require.NoError(t, err)
		require.Equal(t, []any{k, "x"}, v)
	})

	t.Run("DeadlineStorm", func(t *testing.T) {
		r := clusterClient(t, seed)
		owner := c.Masters()[0]
		k := keyOn(t, c, owner, "storm")
		_, err := r.Do(testCtx(t), "SET", k, 0) // the map is known
		require.NoError(t, err)
		tally := deadlineStorm(t, r.Do, k)
		get := func() (string, error) { return owner.Do("GET", k) }
		tally.check(t, counterOf(t, get, tally.ok.Load()+tally.mayHaveRun.Load()))
	})

	// Last: it kills every node.
	t.Run("AllNodesDown", func(t *testing.T) {
		r := clusterClient(t, seed)
		k := keyOn(t, c, c.Masters()[0], "down")
		_, err := r.Do(testCtx(t), "SET", k, 1)
		require.NoError(t, err)
		// Each node's address now accepts connections and closes them at
		// once, counting them.
		var accepts []*atomic.Int64
		for _, node := range c.Nodes() {
			require.NoError(t, node.Kill())
			_, n := acceptCounter(t, node.Addr(), false)
			accepts = append(accepts, n)
		}
		errs := hammer(r, 32, deadServerRun, "GET", k)
		total := int64(0)
		for _, n := range accepts {
			total += n.Load()
		}
		t.Logf("32 callers: %d calls, %d connects to %d nodes in %v: %.1f connects/s",
			len(errs), total, len(accepts), deadServerRun, float64(total)/deadServerRun.Seconds())
		require.LessOrEqual(t, total, int64(len(accepts)*maxDeadServerConnects/2))
		for _, err := range errs {
			require.Error(t, err)
			require.NotEqual(t, context.DeadlineExceeded.Error(), err.Error())
			require.Contains(t, err.Error(), "127.0.0.1:", "an address")
		}
	})
}
