package justredis_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestCluster runs the cluster behaviours against one 6-node cluster (3
// masters, 3 replicas), one after the other: some of them move slots.
// Failover has a cluster of its own (TestClusterFailover).
func TestCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 1, redistest.Options{})
	seed := c.Nodes()[0].Addr()

	t.Run("Detection", func(t *testing.T) {
		for _, resp := range []int{2, 3} {
			r := clusterClient(t, seed, justredis.WithRESP(resp))
			ctx := testCtx(t)
			// Concurrent first callers share one detection.
			var wg sync.WaitGroup
			errs := make([]error, 16)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					k := fmt.Sprintf("detect:%d:%d", resp, i)
					_, errs[i] = r.Do(ctx, "SET", k, i)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			eps, err := r.Endpoints(ctx)
			require.NoError(t, err)
			require.Len(t, eps, 6, "RESP%d: every node once", resp)
		}

		_, err := clusterClient(t, seed, justredis.WithMode(justredis.ModeStandalone)).Do(testCtx(t), "GET", keyOn(t, c, c.Masters()[1], "x"))
		var e *justredis.Error
		require.ErrorAs(t, err, &e, "ModeStandalone never follows redirections")
		require.Equal(t, "MOVED", e.Prefix())

		_, err = clusterClient(t, server().Addr(), justredis.WithMode(justredis.ModeCluster)).Do(testCtx(t), "PING")
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "ModeCluster on a single server")
		require.Contains(t, err.Error(), "not a cluster node")
	})

	t.Run("EndpointsPolled", func(t *testing.T) {
		// Polled back to back, Endpoints answers from the slot map in hand
		// and refreshes it in the background, rate-limited: it never waits
		// for a refresh, so 200 calls make only a few.
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		_, err := r.Do(ctx, "PING")
		require.NoError(t, err)
		before := clusterSlotsCalls(t, c)
		for i := 0; i < 200; i++ {
			eps, err := r.Endpoints(ctx)
			require.NoError(t, err)
			require.Len(t, eps, len(c.Nodes()))
		}
		refreshes := clusterSlotsCalls(t, c) - before
		t.Logf("200 Endpoints calls made %d slot-map refreshes", refreshes)
		require.Less(t, refreshes, 20)
	})

	t.Run("Endpoints", func(t *testing.T) {
		r := clusterClient(t, seed)
		eps, err := r.Endpoints(testCtx(t))
		require.NoError(t, err)
		got := map[string]string{}
		for _, ep := range eps {
			require.NotContains(t, got, ep.Address, "listed twice")
			got[ep.Address] = ep.Role
		}
		want := map[string]string{}
		for _, s := range c.Masters() {
			want[s.Addr()] = "master"
		}
		for _, s := range c.Replicas() {
			want[s.Addr()] = "replica"
		}
		require.Equal(t, want, got)

		// WithEndpoint picks a node.
		ids := map[string]bool{}
		for _, ep := range eps {
			id, err := justredis.String(r.Modify(justredis.WithEndpoint(ep.Address)).Do(testCtx(t), "CLUSTER", "MYID"))
			require.NoError(t, err)
			ids[id] = true
		}
		require.Len(t, ids, 6)
	})

	t.Run("RoutesThousandsOfKeys", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		_, err := r.Do(ctx, "PING") // load the slot map before counting
		require.NoError(t, err)
		resetStats(t, c)

		const n = 3000
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					if _, err := r.Do(ctx, "SET", fmt.Sprintf("route:%d", i), i); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		// Every key is on the master that owns its slot: a master refuses
		// others. None was redirected, so the client hashed as Redis does.
		total := 0
		for _, m := range c.Masters() {
			keys, err := m.Do("KEYS", "route:*")
			require.NoError(t, err)
			count := len(strings.Fields(keys))
			require.Greater(t, count, n/6, "%s has too few keys", m.Addr())
			total += count
			require.Zero(t, errorStat(t, m, "MOVED"), "%s redirected a command", m.Addr())
		}
		require.Equal(t, n, total)
		for i := 0; i < n; i += 97 {
			v, err := justredis.Int64(r.Do(ctx, "GET", fmt.Sprintf("route:%d", i)))
			require.NoError(t, err)
			require.Equal(t, int64(i), v)
		}
	})

	t.Run("HashTags", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		_, err := r.Do(ctx, "MSET", "{user1000}.following", "a", "{user1000}.followers", "b")
		require.NoError(t, err)
		v, err := r.Do(ctx, "MGET", "{user1000}.following", "{user1000}.followers")
		require.NoError(t, err)
		require.Equal(t, []any{"a", "b"}, v)
		for _, m := range c.Masters() {
			if n, _ := m.Do("EXISTS", "{user1000}.following", "{user1000}.followers"); n == "2" {
				return
			}
		}
		t.Fatal("the two keys are not on one master")
	})

	t.Run("KeylessAndMovableKeys", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		_, err := r.Do(ctx, "PING")
		require.NoError(t, err)
		resetStats(t, c)

		v, err := r.Do(ctx, "ECHO", "hi")
		require.NoError(t, err)
		require.Equal(t, "hi", v)

		v, err = r.Do(ctx, "EVAL", "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[2])", 2, "{ev}a", "{ev}b", "x")
		require.NoError(t, err)
		require.Nil(t, v)
		v, err = r.Do(ctx, "EVAL", "return redis.call('GET', KEYS[1])", 1, "{ev}a")
		require.NoError(t, err)
		require.Equal(t, "x", v)
		v, err = r.Do(ctx, "EVAL", "return 7", 0)
		require.NoError(t, err, "keyless script")
		require.Equal(t, int64(7), v)

		for _, k := range []string{"{xs}a", "{xs}b"} {
			_, err = r.Do(ctx, "XADD", k, "*", "f", k)
			require.NoError(t, err)
		}
		v, err = r.Do(ctx, "XREAD", "COUNT", 10, "STREAMS", "{xs}a", "{xs}b", "0", "0")
		require.NoError(t, err)
		require.Len(t, v, 2)

		_, err = r.Do(ctx, "ZADD", "{z}1", 1, "a")
		require.NoError(t, err)
		v, err = r.Do(ctx, "ZUNION", 2, "{z}1", "{z}2")
		require.NoError(t, err)
		require.Equal(t, []any{"a"}, v)

		// SORT is described incompletely by its key specs: COMMAND GETKEYS
		// finds its keys.
		_, err = r.Do(ctx, "RPUSH", "{s}l", 3, 1, 2)
		require.NoError(t, err)
		v, err = r.Do(ctx, "SORT", "{s}l", "STORE", "{s}sorted")
		require.NoError(t, err)
		require.Equal(t, int64(3), v)
		v, err = r.Do(ctx, "LRANGE", "{s}sorted", 0, -1)
		require.NoError(t, err)
		require.Equal(t, []any{"1", "2", "3"}, v)

		// Subcommands with keys.
		v, err = r.Do(ctx, "OBJECT", "ENCODING", "{s}l")
		require.NoError(t, err)
		require.NotEmpty(t, v)

		for _, m := range c.Masters() {
			require.Zero(t, errorStat(t, m, "MOVED"), "%s redirected a command", m.Addr())
		}
	})

	t.Run("CrossSlot", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		_, err := r.Do(ctx, "PING")
		require.NoError(t, err)
		resetStats(t, c)
		a, b := "cross:a", "cross:b" // slots 7638 and 3508
		for _, args := range [][]any{
			{"MSET", a, 1, b, 2},
			{"MGET", a, b},
			{"EVAL", "return 1", 2, a, b},
			{"XREAD", "STREAMS", a, b, "0", "0"},
			{"SORT", a, "STORE", b},
			{"RENAME", a, b},
		} {
			_, err := r.Do(ctx, args...)
			require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%v", args)
			require.True(t, strings.HasPrefix(err.Error(), "CROSSSLOT"), "%v: %v", args, err)
		}
		_, err = r.DoMulti(ctx, []any{"SET", a, 1}, []any{"MGET", a, b})
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		require.Contains(t, err.Error(), "command 1: CROSSSLOT")
		_, err = r.Connection(ctx, a, b)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		for _, m := range c.Masters() {
			require.Zero(t, errorStat(t, m, "CROSSSLOT"), "refused before sending")
		}
		v, err := r.Do(ctx, "EXISTS", a)
		require.NoError(t, err)
		require.Equal(t, int64(0), v, "DoMulti sent nothing")
	})

	t.Run("DoMultiAcrossNodes", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		var cmds [][]any
		var want []any
		for i := 0; i < 300; i++ {
			k := fmt.Sprintf("multi:%d", i)
			cmds = append(cmds, []any{"SET", k, i}, []any{"INCR", k}, []any{"GET", k})
			want = append(want, "OK", int64(i+1), strconv.Itoa(i+1))
		}
		cmds = append(cmds, []any{"HSET", "multi:0", "f", "v"}, []any{"PING"})
		vals, err := r.DoMulti(ctx, cmds...)
		require.NoError(t, err)
		require.Len(t, vals, len(cmds))
		require.Equal(t, want, vals[:len(want)])
		var e *justredis.Error
		require.ErrorAs(t, vals[len(want)].(error), &e)
		require.Equal(t, "WRONGTYPE", e.Prefix())
		require.Equal(t, "PONG", vals[len(want)+1])
	})

	t.Run("BatchArgumentErrors", func(t *testing.T) {
		checkBatchArgErrors(t, clusterClient(t, seed, justredis.WithClientCache(1<<20)), "batch:{7}")
	})

	t.Run("Transactions", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		k := "acct:{42}"
		conn, err := r.Connection(ctx, k, "acct:{42}:log")
		require.NoError(t, err)
		defer conn.Close()
		_, err = conn.Do(ctx, "WATCH", k)
		require.NoError(t, err)
		_, err = conn.Do(ctx, "MULTI")
		require.NoError(t, err)
		_, err = conn.Do(ctx, "INCRBY", k, 10)
		require.NoError(t, err)
		_, err = conn.Do(ctx, "RPUSH", "acct:{42}:log", "+10")
		require.NoError(t, err)
		v, err := conn.Do(ctx, "EXEC")
		require.NoError(t, err)
		require.Equal(t, []any{int64(10), int64(1)}, v)

		// A write by someone else between WATCH and EXEC aborts it.
		_, err = conn.Do(ctx, "WATCH", k)
		require.NoError(t, err)
		_, err = r.Do(ctx, "INCR", k)
		require.NoError(t, err)
		_, err = conn.Do(ctx, "MULTI")
		require.NoError(t, err)
		_, err = conn.Do(ctx, "INCR", k)
		require.NoError(t, err)
		v, err = conn.Do(ctx, "EXEC")
		require.NoError(t, err)
		require.Nil(t, v)
	})

	t.Run("BlockingCommands", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		done := make(chan any, 1)
		go func() {
			v, err := r.Do(ctx, "BLPOP", "block:list", 10)
			if err != nil {
				done <- err
				return
			}
			done <- v
		}()
		// Blocked on a connection of its own, so others go on.
		time.Sleep(50 * time.Millisecond)
		_, err := r.Do(ctx, "RPUSH", "block:list", "x")
		require.NoError(t, err)
		select {
		case v := <-done:
			require.Equal(t, []any{"block:list", "x"}, v)
		case <-ctx.Done():
			t.Fatal("BLPOP did not return")
		}
	})

	t.Run("ReplicaReads", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		k := "replica:read"
		conn, err := r.Connection(ctx, k)
		require.NoError(t, err)
		_, err = conn.Do(ctx, "SET", k, "v")
		require.NoError(t, err)
		n, err := conn.Do(ctx, "WAIT", 1, 5000)
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "replicated")
		require.NoError(t, conn.Close())
		resetStats(t, c)

		rr := r.Modify(justredis.WithReplicaReads(true))
		for i := 0; i < 20; i++ {
			v, err := rr.Do(ctx, "GET", k)
			require.NoError(t, err)
			require.Equal(t, "v", v)
		}
		vals, err := rr.DoMulti(ctx, []any{"GET", k}, []any{"STRLEN", k}, []any{"SET", k, "w"})
		require.NoError(t, err)
		require.Equal(t, []any{"v", int64(1), "OK"}, vals, "writes still go to the master")

		// Only replicas served the reads, and none redirected.
		reads := map[string]int{}
		for _, s := range c.Nodes() {
			role, err := s.Do("ROLE")
			require.NoError(t, err)
			gets := cmdStat(t, s, "get") + cmdStat(t, s, "strlen")
			if gets > 0 {
				reads[strings.Fields(role)[0]] += gets
			}
			require.Zero(t, errorStat(t, s, "MOVED"), s.Addr())
		}
		require.Equal(t, map[string]int{"slave": 22}, reads)
	})

	t.Run("Masters", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		v, err := r.Modify(justredis.WithEndpoint(justredis.Masters)).Do(ctx, "DBSIZE")
		require.NoError(t, err)
		m, ok := v.(map[string]any)
		require.True(t, ok, "%T", v)
		require.Len(t, m, 3)
		var total int64
		for _, s := range c.Masters() {
			n, ok := m[s.Addr()].(int64)
			require.True(t, ok, "%s: %v", s.Addr(), m[s.Addr()])
			total += n
		}
		require.Greater(t, total, int64(3000))

		v, err = r.Modify(justredis.WithEndpoint(justredis.Masters)).Do(ctx, "CONFIG", "GET", "no-such-parameter-at-all")
		require.NoError(t, err)
		require.Len(t, v, 3)

		v, err = r.Modify(justredis.WithEndpoint(justredis.Masters)).Do(ctx, "NOSUCHCOMMAND")
		require.NoError(t, err)
		for addr, e := range v.(map[string]any) {
			require.IsType(t, &justredis.Error{}, e, addr)
		}
	})

	t.Run("Database", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		r1 := r.Modify(justredis.WithDatabase(1))
		_, err := r1.Do(ctx, "GET", "x")
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		require.Contains(t, err.Error(), "only database 0")
		_, err = r1.DoMulti(ctx, []any{"GET", "x"})
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		_, err = r1.Connection(ctx)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		_, err = r1.Modify(justredis.WithEndpoint(justredis.Masters)).Do(ctx, "DBSIZE")
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)

		// Found out on the first call, too.
		first, err := justredis.New(justredis.WithAddress(seed), justredis.WithDatabase(2))
		require.NoError(t, err)
		defer first.Close()
		_, err = first.Do(ctx, "GET", "x")
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		require.Contains(t, err.Error(), "only database 0")
	})

	t.Run("Moved", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		masters := c.Masters()
		k := keyOn(t, c, masters[0], "moved")
		slot := keySlot(t, c, k)
		_, err := r.Do(ctx, "SET", k, "v")
		require.NoError(t, err)

		require.NoError(t, c.MoveSlot(slot, masters[0], masters[1]))
		resetStats(t, c)
		for i := 0; i < 5; i++ {
			v, err := r.Do(ctx, "GET", k)
			require.NoError(t, err)
			require.Equal(t, "v", v)
		}
		require.Equal(t, 1, errorStat(t, masters[0], "MOVED"), "one MOVED, then the map knows")
		v, err := r.DoMulti(ctx, []any{"GET", k}, []any{"GET", keyOn(t, c, masters[2], "other")})
		require.NoError(t, err)
		require.Equal(t, "v", v[0])

		// DoMulti follows MOVED per command, keeping the order.
		require.NoError(t, c.MoveSlot(slot, masters[1], masters[2]))
		vals, err := r.DoMulti(ctx, []any{"SET", keyOn(t, c, masters[0], "a"), 1}, []any{"APPEND", k, "w"}, []any{"GET", k}, []any{"SET", keyOn(t, c, masters[1], "b"), 2})
		require.NoError(t, err)
		require.Equal(t, []any{"OK", int64(2), "vw", "OK"}, vals)
		require.NoError(t, c.MoveSlot(slot, masters[2], masters[0]))
	})

	t.Run("Ask", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		masters := c.Masters()
		from, to := masters[1], masters[2]
		moved := keyOn(t, c, from, "ask")
		slot := keySlot(t, c, moved)
		stays := keyInSlot(t, c, slot, "stays", moved)
		fresh := keyInSlot(t, c, slot, "fresh", moved, stays)
		_, err := r.DoMulti(ctx, []any{"SET", moved, "m"}, []any{"SET", stays, "s"})
		require.NoError(t, err)

		require.NoError(t, c.BeginMigration(slot, from, to, moved))
		resetStats(t, c)
		v, err := r.Do(ctx, "GET", moved)
		require.NoError(t, err, "ASK followed")
		require.Equal(t, "m", v)
		v, err = r.Do(ctx, "GET", stays)
		require.NoError(t, err)
		require.Equal(t, "s", v)
		_, err = r.Do(ctx, "SET", fresh, "f") // a new key goes to the target
		require.NoError(t, err)
		vals, err := r.DoMulti(ctx, []any{"GET", fresh}, []any{"GET", stays}, []any{"GET", moved})
		require.NoError(t, err)
		require.Equal(t, []any{"f", "s", "m"}, vals)
		require.Equal(t, 4, errorStat(t, from, "ASK"), "ASK is not remembered")
		n, err := to.Do("CLUSTER", "COUNTKEYSINSLOT", strconv.Itoa(slot))
		require.NoError(t, err)
		require.Equal(t, "2", n)

		// A command on keys on both sides gets TRYAGAIN, and is retried
		// until the migration ends.
		mget := make(chan any, 1)
		go func() {
			v, err := r.Do(ctx, "MGET", moved, stays)
			if err != nil {
				v = err
			}
			mget <- v
		}()
		time.Sleep(200 * time.Millisecond)
		require.NoError(t, c.MoveSlot(slot, from, to))
		require.Equal(t, []any{"m", "s"}, <-mget)
		require.Positive(t, errorStat(t, from, "TRYAGAIN")+errorStat(t, to, "TRYAGAIN"))

		vals, err = r.DoMulti(ctx, []any{"GET", fresh}, []any{"GET", stays}, []any{"GET", moved})
		require.NoError(t, err)
		require.Equal(t, []any{"f", "s", "m"}, vals)
	})

	t.Run("ShardedPubSub", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		ch := "news:{shard}"
		p, err := r.PushConnection(ctx, ch)
		require.NoError(t, err)
		defer p.Close()
		require.NoError(t, p.Do(ctx, "SSUBSCRIBE", ch))
		msg, err := p.NextMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, justredis.Message{Kind: "ssubscribe", Channel: ch, Data: int64(1)}, msg)
		n, err := r.Do(ctx, "SPUBLISH", ch, "hello")
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		msg, err = p.NextMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, justredis.Message{Kind: "smessage", Channel: ch, Data: "hello"}, msg)

		// The slot moves: the old owner drops the subscription, and the
		// connection subscribes again on the new one.
		slot := keySlot(t, c, ch)
		var from, to *redistest.Server
		for _, m := range c.Masters() {
			if owns(t, m, slot) {
				from = m
			} else {
				to = m
			}
		}
		require.NoError(t, c.MoveSlot(slot, from, to))
		awaitSubscribed(t, ctx, p, ch)
		n, err = r.Do(ctx, "SPUBLISH", ch, "again")
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		msg, err = p.NextMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, justredis.Message{Kind: "smessage", Channel: ch, Data: "again"}, msg)

		// Without keys, the first SSUBSCRIBE finds the node by MOVED.
		other := keyOn(t, c, c.Masters()[2], "elsewhere")
		p2, err := r.PushConnection(ctx)
		require.NoError(t, err)
		defer p2.Close()
		require.NoError(t, p2.Do(ctx, "SSUBSCRIBE", other))
		awaitSubscribed(t, ctx, p2, other)
		n, err = r.Do(ctx, "SPUBLISH", other, "there")
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
	})
}

// awaitSubscribed reads p's messages until the confirmation of a
// subscription to the shard channel ch, letting pass what may come before
// it when the channel's slot moved.
func awaitSubscribed(t *testing.T, ctx context.Context, p *justredis.PushConnection, ch string) {
	t.Helper()
	for {
		msg, err := p.NextMessage(ctx)
		var e *justredis.Error
		if errors.As(err, &e) && e.Prefix() == "MOVED" {
			t.Logf("%s: %v", ch, e)
			continue
		}
		require.NoError(t, err)
		if msg.Kind == "ssubscribe" && msg.Channel == ch {
			return
		}
		require.Equal(t, "sunsubscribe", msg.Kind, "%+v", msg)
		t.Logf("%s: %+v", ch, msg)
	}
}

// clusterClient returns a client of the cluster, given one seed.
func clusterClient(t *testing.T, seed string, opts ...justredis.Option) *justredis.Redis {
	t.Helper()
	r, err := justredis.New(append([]justredis.Option{justredis.WithAddress(seed)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// keySlot asks the cluster for key's slot.
func keySlot(t *testing.T, c *redistest.Cluster, key string) int {
	t.Helper()
	v, err := c.Nodes()[0].Do("CLUSTER", "KEYSLOT", key)
	require.NoError(t, err)
	slot, err := strconv.Atoi(v)
	require.NoError(t, err)
	return slot
}

// keyOn returns a key with prefix that master serves.
func keyOn(t *testing.T, c *redistest.Cluster, master *redistest.Server, prefix string) string {
	t.Helper()
	for i := 0; i < 1000; i++ {
		k := fmt.Sprintf("%s:%d", prefix, i)
		if owns(t, master, keySlot(t, c, k)) {
			return k
		}
	}
	t.Fatalf("no key for %s", master.Addr())
	return ""
}

// keyInSlot returns a key with prefix in slot, other than those given.
func keyInSlot(t *testing.T, c *redistest.Cluster, slot int, prefix string, not ...string) string {
	t.Helper()
	for i := 0; i < 100000; i++ {
		k := fmt.Sprintf("%s:%d", prefix, i)
		if !contains(not, k) && keySlotLocal(k) == slot {
			return k
		}
	}
	t.Fatalf("no key in slot %d", slot)
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// keySlotLocal is the slot of a key without a hash tag, computed here to
// find keys fast; keySlot asks the server.
func keySlotLocal(key string) int {
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc % 16384)
}

// owns reports whether node serves slot, from its own CLUSTER NODES line.
func owns(t *testing.T, node *redistest.Server, slot int) bool {
	t.Helper()
	nodes, err := node.Do("CLUSTER", "NODES")
	require.NoError(t, err)
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.Contains(f[2], "myself") {
			continue
		}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				continue
			}
			lo, hi, found := strings.Cut(r, "-")
			if !found {
				hi = lo
			}
			a, _ := strconv.Atoi(lo)
			b, _ := strconv.Atoi(hi)
			if a <= slot && slot <= b {
				return true
			}
		}
	}
	return false
}

// resetStats zeroes every node's command and error counters.
func resetStats(t *testing.T, c *redistest.Cluster) {
	t.Helper()
	for _, s := range c.Nodes() {
		_, err := s.Do("CONFIG", "RESETSTAT")
		require.NoError(t, err)
	}
}

// errorStat is how many error replies starting with prefix node sent since
// its counters were reset.
func errorStat(t *testing.T, node *redistest.Server, prefix string) int {
	t.Helper()
	return infoCount(t, node, "errorstats", "errorstat_"+prefix+":count=")
}

// cmdStat is how many times node ran cmd since its counters were reset.
func cmdStat(t *testing.T, node *redistest.Server, cmd string) int {
	t.Helper()
	return infoCount(t, node, "commandstats", "cmdstat_"+cmd+":calls=")
}

func infoCount(t *testing.T, node *redistest.Server, section, prefix string) int {
	t.Helper()
	info, err := node.Do("INFO", section)
	require.NoError(t, err)
	for _, line := range splitLines(info) {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			n, _, _ := strings.Cut(rest, ",")
			v, err := strconv.Atoi(n)
			require.NoError(t, err)
			return v
		}
	}
	return 0
}

// TestClusterFailover keeps 16 goroutines incrementing counters while a
// replica takes over with CLUSTER FAILOVER, and then while a master is
// killed with SIGKILL and the cluster promotes its replica by itself. The
// client must converge to the new masters on its own, and no
// acknowledged increment may be lost or applied twice.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 1, redistest.Options{})
	r := clusterClient(t, c.Nodes()[0].Addr(), justredis.WithSocketTimeout(5*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const workers, keysPerWorker = 16, 8
	type counter struct {
		key     string
		acked   int64        // INCRs that replied
		unknown int64        // INCRs that failed in a way that leaves open whether they ran
		last    int64        // the value the last acknowledged one returned
		okAt    atomic.Int64 // when the last one was acknowledged (UnixNano)
	}
	counters := make([][]*counter, workers)
	for w := range counters {
		for k := 0; k < keysPerWorker; k++ {
			counters[w] = append(counters[w], &counter{key: fmt.Sprintf("ctr:%d:%d", w, k)})
		}
	}
	var mu sync.Mutex
	var failures []time.Time
	var failErrs []string
	var shrank atomic.Bool

	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopWorkers := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer stopWorkers() // also when a require below ends the test
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctr := counters[w][i%keysPerWorker]
				callCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
				v, err := justredis.Int64(r.Do(callCtx, "INCR", ctr.key))
				cancel()
				if err != nil {
					// The client says when a command may have run; a call
					// cut short by its context may have been in flight.
					if errors.Is(err, justredis.ErrNotRetried) || errors.Is(err, context.DeadlineExceeded) {
						ctr.unknown++
					}
					mu.Lock()
					failures = append(failures, time.Now())
					failErrs = append(failErrs, err.Error())
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if v <= ctr.last {
					shrank.Store(true)
				}
				ctr.acked++
				ctr.last = v
				ctr.okAt.Store(time.Now().UnixNano())
			}
		}()
	}
	report := func(phase string, start time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) == 0 {
			t.Logf("%s: no call failed", phase)
			return
		}
		sort.Slice(failures, func(i, j int) bool { return failures[i].Before(failures[j]) })
		kinds := map[string]int{}
		for _, e := range failErrs {
			switch {
			case strings.Contains(e, "not retried"):
				kinds["in flight, not retried"]++
			case strings.Contains(e, "deadline"):
				kinds["call timeout (3s)"]++
			default:
				kinds[e]++
			}
		}
		t.Logf("%s: %d calls failed, from %v to %v after the fault: %v", phase, len(failures),
			failures[0].Sub(start).Round(time.Millisecond), failures[len(failures)-1].Sub(start).Round(time.Millisecond), kinds)
		failures, failErrs = nil, nil
	}
	// converged waits until every counter has been incremented again since
	// the fault, and reports how long that took.
	converged := func(phase string, since time.Time) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			all := true
			for _, cs := range counters {
				for _, ctr := range cs {
					all = all && ctr.okAt.Load() > since.UnixNano()
				}
			}
			if all {
				t.Logf("%s: every counter incremented again %v after the fault", phase, time.Since(since).Round(time.Millisecond))
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the client did not converge", phase)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	time.Sleep(300 * time.Millisecond)

	// A graceful failover: the replica catches up first, so nothing is lost.
	replica := c.Replicas()[0]
	start := time.Now()
	require.NoError(t, c.Failover(replica))
	t.Logf("CLUSTER FAILOVER done in %v", time.Since(start).Round(time.Millisecond))
	converged("CLUSTER FAILOVER", start)
	report("CLUSTER FAILOVER", start)

	// Resharding: the slot of a busy counter goes back and forth between
	// two masters, keys and all, while the load runs.
	slot := keySlot(t, c, counters[0][0].key)
	var from, to *redistest.Server
	for _, m := range c.Masters() {
		if owns(t, m, slot) {
			from = m
		} else if to == nil {
			to = m
		}
	}
	require.NotNil(t, from)
	require.NotNil(t, to)
	for i := 0; i < 3; i++ {
		start = time.Now()
		require.NoError(t, c.MoveSlot(slot, from, to))
		phase := fmt.Sprintf("slot %d moved (%d)", slot, i+1)
		converged(phase, start)
		report(phase, start)
		from, to = to, from
	}

	// SIGKILL of a master. Its writes are paused and its replica caught up
	// first: Redis replicates asynchronously, so an increment acknowledged
	// in the last instant could otherwise be lost by the server itself,
	// whatever the client does.
	victim := c.Masters()[0]
	var victimReplica *redistest.Server
	victimID, err := victim.Do("CLUSTER", "MYID")
	require.NoError(t, err)
	for _, s := range c.Replicas() {
		if role, err := s.Do("CLUSTER", "NODES"); err == nil && strings.Contains(role, "myself,slave "+victimID) {
			victimReplica = s
		}
	}
	require.NotNil(t, victimReplica)
	_, err = victim.Do("CLIENT", "PAUSE", "10000", "WRITE")
	require.NoError(t, err)
	waitReplicated(t, victim, victimReplica)
	start = time.Now()
	require.NoError(t, victim.Kill())
	// The cluster notices (cluster-node-timeout is 2s) and elects the
	// replica by itself.
	for {
		if role, err := victimReplica.Do("ROLE"); err == nil && strings.HasPrefix(role, "master") {
			break
		}
		require.Less(t, time.Since(start), 30*time.Second, "the replica was not promoted")
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("replica promoted %v after SIGKILL", time.Since(start).Round(time.Millisecond))
	converged("SIGKILL", start)
	report("SIGKILL", start)

	stopWorkers()
	require.False(t, shrank.Load(), "a counter went backwards")

	var acked, unknown int64
	for w := range counters {
		for _, ctr := range counters[w] {
			v, err := justredis.Int64(r.Do(ctx, "GET", ctr.key))
			require.NoError(t, err)
			require.GreaterOrEqual(t, v, ctr.last, "%s: an acknowledged increment was lost", ctr.key)
			require.GreaterOrEqual(t, v, ctr.acked, "%s: an acknowledged increment was lost", ctr.key)
			require.LessOrEqual(t, v, ctr.acked+ctr.unknown, "%s: an increment was applied twice", ctr.key)
			acked += ctr.acked
			unknown += ctr.unknown
		}
	}
	t.Logf("%d increments acknowledged, %d with an unknown outcome", acked, unknown)
	eps, err := r.Endpoints(ctx)
	require.NoError(t, err)
	masters := 0
	for _, ep := range eps {
		if ep.Role == "master" {
			masters++
			require.NotEqual(t, victim.Addr(), ep.Address, "the dead master is not a master any more")
		}
	}
	require.Equal(t, 3, masters)
}

// waitReplicated waits until replica has everything master sent.
func waitReplicated(t *testing.T, master, replica *redistest.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := infoField(t, master, "master_repl_offset")
		r := infoField(t, replica, "slave_repl_offset")
		if m == r && m != "" {
			return
		}
		require.True(t, time.Now().Before(deadline), "the replica did not catch up")
		time.Sleep(10 * time.Millisecond)
	}
}

func infoField(t *testing.T, node *redistest.Server, name string) string {
	t.Helper()
	info, err := node.Do("INFO", "replication")
	require.NoError(t, err)
	for _, line := range splitLines(info) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return v
		}
	}
	return ""
}

// clusterSlotsCalls counts the CLUSTER SLOTS calls every node of c served.
func clusterSlotsCalls(t *testing.T, c *redistest.Cluster) int {
	t.Helper()
	return clusterSlotsCallsOn(t, c.Nodes())
}

// clusterSlotsCallsOn counts the CLUSTER SLOTS calls the nodes served.
func clusterSlotsCallsOn(t *testing.T, nodes []*redistest.Server) int {
	t.Helper()
	n := 0
	for _, node := range nodes {
		stats, err := node.Do("INFO", "commandstats")
		require.NoError(t, err)
		for _, line := range splitLines(stats) {
			var calls int
			if _, err := fmt.Sscanf(line, "cmdstat_cluster|slots:calls=%d", &calls); err == nil {
				n += calls
			}
		}
	}
	return n
}

// TestClusterClosesConnectionsToNodesGone: once a refresh shows a node gone
// from the slot map, the client closes its idle connections to it, so that
// it holds connections for the topology as it is, not for every node it
// ever saw.
func TestClusterClosesConnectionsToNodesGone(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 1, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(c.Nodes()[0].Addr()), justredis.WithClientName("gone"))
	require.NoError(t, err)
	defer r.Close()
	replicas := r.Modify(justredis.WithReplicaReads(true))
	ctx := testCtx(t)
	for i := 0; i < 100; i++ { // reads on every shard, so every replica has a connection
		_, err := replicas.Do(ctx, "GET", fmt.Sprintf("gone:%d", i))
		require.NoError(t, err)
	}
	ours := func(s *redistest.Server) int {
		list, err := s.Do("CLIENT", "LIST")
		require.NoError(t, err)
		return strings.Count(list, "name=gone ")
	}
	leaving := c.Replicas()[0]
	require.Positive(t, ours(leaving))

	id, err := leaving.Do("CLUSTER", "MYID")
	require.NoError(t, err)
	for _, node := range c.Nodes() {
		if node != leaving {
			_, err := node.Do("CLUSTER", "FORGET", id)
			require.NoError(t, err)
		}
	}
	require.Eventually(t, func() bool {
		eps, err := r.Endpoints(ctx) // refreshes in the background
		require.NoError(t, err)
		for _, ep := range eps {
			if ep.Address == leaving.Addr() {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "the slot map still lists the node")
	require.Eventually(t, func() bool { return ours(leaving) == 0 }, 10*time.Second, 50*time.Millisecond,
		"connections to a node gone from the slot map stay open")
	for i := 0; i < 100; i++ { // and the client still serves every slot
		_, err := replicas.Do(ctx, "GET", fmt.Sprintf("gone:%d", i))
		require.NoError(t, err)
	}
}
