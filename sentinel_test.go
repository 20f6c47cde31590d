package justredis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// sentinelClient returns a client of the Sentinel deployment d, closed when
// t ends.
func sentinelClient(t *testing.T, d *redistest.Sentinel, opts ...justredis.Option) *justredis.Redis {
	t.Helper()
	r, err := justredis.New(append([]justredis.Option{justredis.WithSentinel(d.MasterName(), d.SentinelAddrs()...)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// eventLog is a Hook that keeps the connection events, and when they
// came, and counts the calls that were redirected.
type eventLog struct {
	mu         sync.Mutex
	events     []justredis.Event
	times      []time.Time
	redirected atomic.Int64
}

func (l *eventLog) CallStart(ctx context.Context, _ *justredis.Call) context.Context { return ctx }
func (l *eventLog) CallEnd(_ context.Context, c *justredis.Call) {
	if c.Redirected {
		l.redirected.Add(1)
	}
}
func (l *eventLog) Event(_ context.Context, ev *justredis.Event) {
	l.mu.Lock()
	l.events = append(l.events, *ev)
	l.times = append(l.times, time.Now())
	l.mu.Unlock()
}

// failovers returns the addresses of the EventFailover events so far, and
// when the first came.
func (l *eventLog) failovers() ([]string, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	var first time.Time
	for i, ev := range l.events {
		if ev.Kind == justredis.EventFailover {
			out = append(out, ev.Addr)
			if first.IsZero() {
				first = l.times[i]
			}
		}
	}
	return out, first
}

// TestSentinel runs the Sentinel behaviours against one deployment (a
// master, a replica, three sentinels), one after the other: the last ones
// fail it over.
func TestSentinel(t *testing.T) {
	t.Parallel()
	d := redistest.StartSentinel(t, redistest.SentinelOptions{})
	master, replica := d.Master(), d.Replicas()[0]

	t.Run("Master", func(t *testing.T) {
		r := sentinelClient(t, d)
		ctx := testCtx(t)
		for _, resp := range []int{2, 3} {
			r := sentinelClient(t, d, justredis.WithRESP(resp))
			_, err := r.Do(ctx, "SET", "sentinel:master", resp)
			require.NoError(t, err)
			got, err := master.Do("GET", "sentinel:master")
			require.NoError(t, err)
			require.Equal(t, strconv.Itoa(resp), got, "RESP%d: the write went to the master", resp)
		}
		vals, err := r.DoMulti(ctx, []any{"INCR", "sentinel:n"}, []any{"GET", "sentinel:n"})
		require.NoError(t, err)
		require.Equal(t, []any{int64(1), "1"}, vals)
		require.Contains(t, r.String(), "sentinel mymaster at "+d.SentinelAddrs()[0])

		// Connection and PushConnection go to the master too.
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		role, err := justredis.Values(c.Do(ctx, "ROLE"))
		require.NoError(t, err)
		require.Equal(t, "master", role[0])
		require.NoError(t, c.Close())
		p, err := r.PushConnection(ctx)
		require.NoError(t, err)
		require.Contains(t, p.String(), master.Addr())
		require.NoError(t, p.Close())

		// Another database is another database on the master.
		_, err = r.Modify(justredis.WithDatabase(3)).Do(ctx, "SET", "sentinel:db", "3")
		require.NoError(t, err)
		v, err := r.Do(ctx, "GET", "sentinel:db")
		require.NoError(t, err)
		require.Nil(t, v)

		var keys []string
		for k, err := range r.Scan(ctx, "SCAN", "MATCH", "sentinel:*") {
			require.NoError(t, err)
			keys = append(keys, k)
		}
		slices.Sort(keys)
		require.Equal(t, []string{"sentinel:master", "sentinel:n"}, keys)
	})

	t.Run("Endpoints", func(t *testing.T) {
		eps, err := sentinelClient(t, d).Endpoints(testCtx(t))
		require.NoError(t, err)
		require.Equal(t, []justredis.Endpoint{
			{Address: master.Addr(), Role: "master"},
			{Address: replica.Addr(), Role: "replica"},
		}, eps)
	})

	t.Run("ReplicaReads", func(t *testing.T) {
		r := sentinelClient(t, d)
		ctx := testCtx(t)
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		_, err = c.Do(ctx, "SET", "sentinel:read", "v")
		require.NoError(t, err)
		n, err := c.Do(ctx, "WAIT", 1, 5000)
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "replicated")
		require.NoError(t, c.Close())
		_, err = r.Endpoints(ctx) // the replicas are known from here on
		require.NoError(t, err)
		for _, s := range d.Nodes() {
			_, err := s.Do("CONFIG", "RESETSTAT")
			require.NoError(t, err)
		}

		rr := r.Modify(justredis.WithReplicaReads(true))
		for i := 0; i < 20; i++ {
			v, err := rr.Do(ctx, "GET", "sentinel:read")
			require.NoError(t, err)
			require.Equal(t, "v", v)
		}
		vals, err := rr.DoMulti(ctx, []any{"GET", "sentinel:read"}, []any{"STRLEN", "sentinel:read"})
		require.NoError(t, err)
		require.Equal(t, []any{"v", int64(1)}, vals)
		vals, err = rr.DoMulti(ctx, []any{"GET", "sentinel:read"}, []any{"SET", "sentinel:read", "w"})
		require.NoError(t, err)
		require.Equal(t, []any{"v", "OK"}, vals, "a batch that writes goes to the master")
		_, err = rr.Do(ctx, "SET", "sentinel:read", "x")
		require.NoError(t, err)

		require.Equal(t, 21, cmdStat(t, replica, "get"), "the replica served the reads")
		require.Equal(t, 1, cmdStat(t, replica, "strlen"))
		require.Equal(t, 1, cmdStat(t, master, "get"))
		require.Equal(t, 2, cmdStat(t, master, "set"))
		require.Zero(t, errorStat(t, replica, "READONLY"))
	})

	t.Run("URL", func(t *testing.T) {
		ctx := testCtx(t)
		addrs := d.SentinelAddrs()
		r, err := justredis.FromURL("redis://" + addrs[0] + "/4?master_name=" + d.MasterName() + "&addr=" + addrs[1] + "&protocol=2")
		require.NoError(t, err)
		defer r.Close()
		_, err = r.Do(ctx, "SET", "sentinel:url", "4")
		require.NoError(t, err)
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, err)
		v, err := c.Do(ctx, "GET", "sentinel:url")
		require.NoError(t, err)
		require.Equal(t, "4", v, "database 4 of the master")
	})

	t.Run("UnknownMaster", func(t *testing.T) {
		r, err := justredis.New(justredis.WithSentinel("nosuchmaster", d.SentinelAddrs()...))
		require.NoError(t, err)
		defer r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = r.Do(ctx, "PING")
		require.ErrorContains(t, err, `no sentinel knows a master named "nosuchmaster"`)
		require.NoError(t, ctx.Err(), "it failed within the call's context")
	})

	t.Run("DeadSentinelFirst", func(t *testing.T) {
		sentinels := d.Sentinels()
		addrs := d.SentinelAddrs()
		ctx := testCtx(t)
		check := func(t *testing.T, first string) {
			order := append([]string{first}, slices.DeleteFunc(slices.Clone(addrs), func(a string) bool { return a == first })...)
			r, err := justredis.New(justredis.WithSentinel(d.MasterName(), order...))
			require.NoError(t, err)
			defer r.Close()
			// Much less than the 10s connect timeout the hung sentinel
			// would take.
			callCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			v, err := r.Do(callCtx, "PING")
			require.NoError(t, err)
			require.Equal(t, "PONG", v)
			start := time.Now()
			_, err = r.Endpoints(ctx)
			require.NoError(t, err)
			t.Logf("the next lookup, with %s known to be slow, took %v", first, time.Since(start).Round(time.Millisecond))
		}
		t.Run("Hung", func(t *testing.T) {
			require.NoError(t, sentinels[0].Pause())
			defer sentinels[0].Resume()
			check(t, addrs[0])
		})
		t.Run("Killed", func(t *testing.T) {
			require.NoError(t, sentinels[1].Kill())
			check(t, addrs[1])
			require.NoError(t, sentinels[1].Restart())
		})
		t.Run("NotListening", func(t *testing.T) {
			check(t, "127.0.0.1:1")
		})
		require.NoError(t, d.WaitReady(ctx))
	})

	t.Run("FailoverUnderLoad", func(t *testing.T) {
		sentinelFailoverUnderLoad(t, d, justredis.WithSentinel(d.MasterName(), d.SentinelAddrs()...))
	})

	t.Run("FailoverWhileIdle", func(t *testing.T) {
		// No call fails, so only the +switch-master subscription can tell
		// the client.
		events := &eventLog{}
		r := sentinelClient(t, d, justredis.WithHook(events))
		ctx := testCtx(t)
		_, err := r.Do(ctx, "PING")
		require.NoError(t, err)
		old := d.Master()
		require.NoError(t, d.Failover(ctx))
		now := d.Master()
		require.NotEqual(t, old, now)
		for {
			if addrs, _ := events.failovers(); len(addrs) > 0 {
				break
			}
			require.NoError(t, ctx.Err(), "no failover event")
			time.Sleep(10 * time.Millisecond)
		}
		addrs, _ := events.failovers()
		require.Equal(t, []string{now.Addr()}, addrs)
		role, err := justredis.Values(r.Do(ctx, "ROLE"))
		require.NoError(t, err)
		require.Equal(t, "master", role[0])

		// The sentinel it listens to goes away (the first given, as the
		// first asked): it listens to another.
		first := d.Sentinels()[0]
		require.NoError(t, first.Kill())
		require.NoError(t, d.Failover(ctx))
		for {
			if addrs, _ := events.failovers(); len(addrs) == 2 {
				require.Equal(t, d.Master().Addr(), addrs[1])
				break
			}
			require.NoError(t, ctx.Err(), "no failover event")
			time.Sleep(10 * time.Millisecond)
		}
		require.NoError(t, first.Restart())
		require.NoError(t, d.WaitReady(ctx))
	})
}

// sentinelFailoverUnderLoad fails d over with SENTINEL FAILOVER while
// goroutines increment counters of their own, each counter once, and a
// push connection is subscribed. Writes on the old master are blocked
// first (min-replicas-to-write above its replica count), so that Redis's
// asynchronous replication cannot lose an acknowledged increment: every
// acknowledged one must be found, none applied twice, every goroutine
// must write again within seconds, and the push connection must follow.
func sentinelFailoverUnderLoad(t *testing.T, d *redistest.Sentinel, opts ...justredis.Option) {
	const (
		workers  = 8
		counters = 200000
		prefix   = "sentinel:load:"
	)
	base := markGoroutines(t)
	events := &eventLog{}
	r, err := justredis.New(append(opts, justredis.WithSocketTimeout(5*time.Second), justredis.WithHook(events))...)
	require.NoError(t, err)
	ctx := testCtx(t)

	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	require.NoError(t, p.Do(ctx, "SUBSCRIBE", "sentinel:news"))
	msg, err := p.NextMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, "subscribe", msg.Kind)

	rep := &loadReport{acked: make([]atomic.Bool, counters)}
	var failoverAt atomic.Int64 // UnixNano, once Failover is called
	recovered := make([]atomic.Int64, workers)
	var mu sync.Mutex
	kinds := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				i := k*workers + w // each goroutine its own counters
				select {
				case <-stop:
					return
				default:
				}
				if i >= counters {
					return
				}
				sent := time.Now().UnixNano()
				callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := r.Do(callCtx, "INCR", prefix+strconv.Itoa(i))
				cancel()
				rep.attempted.Add(1)
				if err != nil {
					rep.failed.Add(1)
					kind := err.Error()
					if errors.Is(err, justredis.ErrNotRetried) {
						rep.notRetried.Add(1)
						kind = "in flight, not retried"
					}
					if len(kind) > 60 {
						kind = kind[:60]
					}
					mu.Lock()
					kinds[kind]++
					mu.Unlock()
					time.Sleep(5 * time.Millisecond)
					continue
				}
				rep.acked[i].Store(true)
				rep.acknowledged.Add(1)
				if at := failoverAt.Load(); at != 0 && sent > at {
					recovered[w].CompareAndSwap(0, time.Now().UnixNano())
				}
			}
		}()
	}

	for rep.acknowledged.Load() < 500 {
		require.NoError(t, ctx.Err())
		time.Sleep(5 * time.Millisecond)
	}
	old := d.Master()
	blocked := strconv.Itoa(len(d.Replicas()) + 1)
	_, err = old.Do("CONFIG", "SET", "min-replicas-to-write", blocked)
	require.NoError(t, err)
	start := time.Now()
	failoverAt.Store(start.UnixNano())
	require.NoError(t, d.Failover(ctx))
	settled := time.Since(start)
	now := d.Master()
	require.NotEqual(t, old, now)

	deadline := time.Now().Add(30 * time.Second)
	for {
		all := true
		for w := range recovered {
			all = all && recovered[w].Load() != 0
		}
		if all {
			break
		}
		require.True(t, time.Now().Before(deadline), "not every goroutine writes again")
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // some load on the new master
	close(stop)
	wg.Wait()
	_, err = old.Do("CONFIG", "SET", "min-replicas-to-write", "0") // a replica now
	require.NoError(t, err)

	addrs, learned := events.failovers()
	require.Equal(t, []string{now.Addr()}, addrs)
	var times []time.Duration
	for w := range recovered {
		times = append(times, time.Duration(recovered[w].Load()-start.UnixNano()))
	}
	slices.Sort(times)
	t.Logf("SENTINEL FAILOVER: settled (as redistest sees it) after %v, the client took the new master after %v; "+
		"each goroutine's first write begun after the call succeeded %v to %v after it (median %v)",
		settled.Round(time.Millisecond), learned.Sub(start).Round(time.Millisecond),
		times[0].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond), times[len(times)/2].Round(time.Millisecond))
	t.Logf("load: %v; failures: %v; READONLY replies the old master sent: %d", rep, kinds, errorStat(t, old, "READONLY"))
	checkBooks(t, r, prefix, rep)

	// The push connection subscribed again on the new master: a fresh
	// confirmation, then what is published there.
	done := make(chan struct{})
	var publishing sync.WaitGroup
	publishing.Add(1)
	go func() {
		defer publishing.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
				r.Do(ctx, "PUBLISH", "sentinel:news", "after")
			}
		}
	}()
	var got []string
	for !slices.Contains(got, "message") {
		msg, err := p.NextMessage(ctx)
		require.NoError(t, err)
		got = append(got, msg.Kind)
	}
	close(done)
	publishing.Wait()
	require.Equal(t, "subscribe", got[0], "subscribed again: %v", got)
	require.Contains(t, p.String(), now.Addr())

	eps, err := r.Endpoints(ctx)
	require.NoError(t, err)
	require.Equal(t, justredis.Endpoint{Address: now.Addr(), Role: "master"}, eps[0])
	require.NoError(t, p.Close())
	require.NoError(t, r.Close())
	settle(t, base)
}

// TestSentinelAuth: the sentinels and the data nodes have credentials of
// their own. A sentinel user that may not subscribe leaves the client
// without the +switch-master watcher: it then follows failovers through
// READONLY replies and lost connections alone.
func TestSentinelAuth(t *testing.T) {
	t.Parallel()
	d := redistest.StartSentinel(t, redistest.SentinelOptions{
		MasterName:       "cache-1",
		Sentinels:        1,
		Server:           redistest.Options{Password: "data-pw"},
		SentinelPassword: "sentinel-pw",
		SentinelUsers: []redistest.User{
			{Name: "alice", Password: "wonderland"},
			{Name: "nosub", Password: "nosub-pw", Rules: []string{"on", "~*", "&*", "+@all", "-subscribe", "-psubscribe"}},
		},
	})
	ctx := testCtx(t)
	for _, auth := range []justredis.Option{
		justredis.WithSentinelAuth("", "sentinel-pw"),
		justredis.WithSentinelAuth("alice", "wonderland"),
	} {
		r := sentinelClient(t, d, justredis.WithAuth("", "data-pw"), auth)
		v, err := r.Do(ctx, "SET", "auth", "ok")
		require.NoError(t, err)
		require.Equal(t, "OK", v)
	}

	_, err := sentinelClient(t, d, justredis.WithAuth("", "data-pw")).Do(ctx, "PING")
	require.ErrorContains(t, err, "NOAUTH", "the sentinels take no data-node credentials")
	require.ErrorContains(t, err, `"cache-1"`)
	_, err = sentinelClient(t, d, justredis.WithAuth("", "data-pw"), justredis.WithSentinelAuth("", "wrong-pw")).Do(ctx, "PING")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "wrong-pw")
	require.NotContains(t, err.Error(), "data-pw")
	_, err = sentinelClient(t, d, justredis.WithSentinelAuth("", "sentinel-pw")).Do(ctx, "PING")
	require.ErrorContains(t, err, "NOAUTH", "the data nodes take no sentinel credentials")

	r, err := justredis.FromURL(fmt.Sprintf("redis://:data-pw@%s/2?master_name=cache-1&sentinel_username=alice&sentinel_password=wonderland", d.SentinelAddrs()[0]))
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Do(ctx, "SET", "auth:url", "db2")
	require.NoError(t, err)
	v, err := sentinelClient(t, d, justredis.WithAuth("", "data-pw"), justredis.WithSentinelAuth("", "sentinel-pw"), justredis.WithDatabase(2)).Do(ctx, "GET", "auth:url")
	require.NoError(t, err)
	require.Equal(t, "db2", v)

	noWatch := []justredis.Option{justredis.WithSentinel(d.MasterName(), d.SentinelAddrs()...),
		justredis.WithAuth("", "data-pw"), justredis.WithSentinelAuth("nosub", "nosub-pw")}
	// Each part has a budget of its own: a failover takes seconds.
	t.Run("READONLY", func(t *testing.T) {
		ctx := testCtx(t)
		// An idle client's connection to the old master is cut by the
		// sentinels; its next write goes there again, is answered
		// READONLY, and goes on to the new master.
		events := &eventLog{}
		r, err := justredis.New(append(noWatch, justredis.WithHook(events))...)
		require.NoError(t, err)
		defer r.Close()
		_, err = r.Do(ctx, "SET", "auth:readonly", "before")
		require.NoError(t, err)
		old := d.Master()
		refused := errorStat(t, old, "READONLY")
		require.NoError(t, d.Failover(ctx))
		v, err := r.Do(ctx, "INCR", "auth:readonly:n")
		require.NoError(t, err)
		require.Equal(t, int64(1), v)
		require.Equal(t, refused+1, errorStat(t, old, "READONLY"), "the write went to the old master first")
		require.Equal(t, int64(1), events.redirected.Load(), "hooks see it was redirected")
		addrs, _ := events.failovers()
		require.Equal(t, []string{d.Master().Addr()}, addrs)
		got, err := d.Master().Do("GET", "auth:readonly:n")
		require.NoError(t, err)
		require.Equal(t, "1", got)

		// In a batch, the commands answered READONLY go on, and with them
		// the reads after the first of them, in order, so that the GET sees
		// the SET; the read before them stands.
		old = d.Master()
		refused = errorStat(t, old, "READONLY")
		require.NoError(t, d.Failover(ctx))
		vals, err := r.DoMulti(ctx, []any{"GET", "auth:readonly:n"}, []any{"INCR", "auth:readonly:n"},
			[]any{"SET", "auth:readonly", "after"}, []any{"GET", "auth:readonly"})
		require.NoError(t, err)
		require.Equal(t, []any{"1", int64(2), "OK", "after"}, vals)
		require.Equal(t, refused+2, errorStat(t, old, "READONLY"))
		got, err = d.Master().Do("GET", "auth:readonly")
		require.NoError(t, err)
		require.Equal(t, "after", got)
	})
	t.Run("FailoverUnderLoad", func(t *testing.T) {
		sentinelFailoverUnderLoad(t, d, noWatch...)
	})
	t.Run("MasterKilled", func(t *testing.T) {
		ctx := testCtx(t)
		// The sentinels replace it by themselves after DownAfter (2s) and
		// an election; the client serves again once they have.
		r := sentinelClient(t, d, justredis.WithAuth("", "data-pw"), justredis.WithSentinelAuth("", "sentinel-pw"))
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		_, err = c.Do(ctx, "SET", "auth:killed", "kept")
		require.NoError(t, err)
		n, err := c.Do(ctx, "WAIT", 1, 5000)
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		require.NoError(t, c.Close())

		old := d.Master()
		start := time.Now()
		require.NoError(t, old.Kill())
		failed := 0
		for {
			callCtx, cancel := context.WithTimeout(ctx, time.Second)
			_, err := r.Do(callCtx, "INCR", "auth:killed:n")
			cancel()
			if err == nil {
				break
			}
			failed++
			require.NoError(t, ctx.Err(), "the client did not find the new master: %v", err)
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("master killed: %d calls failed, the first write succeeded %v after the kill", failed, time.Since(start).Round(time.Millisecond))
		v, err := r.Do(ctx, "GET", "auth:killed")
		require.NoError(t, err)
		require.Equal(t, "kept", v)
		require.NotEqual(t, old, d.Master())
	})
}

// TestSentinelOptions: what New refuses before dialling anything.
func TestSentinelOptions(t *testing.T) {
	for _, c := range []struct {
		opts []justredis.Option
		want string
	}{
		{[]justredis.Option{justredis.WithSentinel("", "a:26379")}, "empty master name"},
		{[]justredis.Option{justredis.WithSentinel("my master", "a:26379")}, "spaces"},
		{[]justredis.Option{justredis.WithSentinel("m")}, "no sentinel address"},
		{[]justredis.Option{justredis.WithSentinel("m", "a:26379", "")}, "empty sentinel address"},
		{[]justredis.Option{justredis.WithSentinel("m", "a:26379"), justredis.WithMode(justredis.ModeCluster)}, "not a Redis Cluster"},
		{[]justredis.Option{justredis.WithSentinelAuth("u", "p")}, "WithSentinelAuth without WithSentinel"},
	} {
		_, err := justredis.New(c.opts...)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		require.ErrorContains(t, err, c.want)
	}
	r, err := justredis.New(justredis.WithSentinel("m", "a:26379"), justredis.WithSentinelAuth("u", "secret"))
	require.NoError(t, err, "New dials nothing")
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", r, r, r), "secret")
	require.NoError(t, r.Close())
	require.True(t, strings.HasPrefix(r.String(), "justredis.Redis{sentinel m at a:26379"))
}

// TestSentinelMasterSaysReplica: when the node the sentinels name says it
// is a replica, the client asks again, and fails within the call's context
// saying so, for as long as it lasts; without a deadline it gives up after
// a bounded number of rounds.
func TestSentinelMasterSaysReplica(t *testing.T) {
	t.Parallel()
	// The sentinels would take a minute to act.
	d := redistest.StartSentinel(t, redistest.SentinelOptions{Sentinels: 1, DownAfter: time.Minute})
	m, rep := d.Master(), d.Replicas()[0]
	r := sentinelClient(t, d)
	ctx := testCtx(t)
	_, err := r.Do(ctx, "SET", "says", "before")
	require.NoError(t, err)

	host, port, _ := strings.Cut(rep.Addr(), ":")
	_, err = rep.Do("REPLICAOF", "NO", "ONE")
	require.NoError(t, err)
	_, err = m.Do("REPLICAOF", host, port)
	require.NoError(t, err)
	// Shorter than the least the client sleeps between its bounded rounds
	// of asking (about 1.6 s, with jitter), so the context ends the call,
	// not the bound on rounds.
	callCtx, cancel := context.WithTimeout(ctx, time.Second)
	_, err = r.Do(callCtx, "SET", "says", "during")
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "names "+m.Addr()+` as master "mymaster", but it says it is a slave`)
	// With time to spare, the rounds are bounded: the call ends saying why.
	_, err = r.Do(ctx, "SET", "says", "during")
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "names "+m.Addr()+` as master "mymaster", but it says it is a slave`)

	host, port, _ = strings.Cut(m.Addr(), ":")
	_, err = m.Do("REPLICAOF", "NO", "ONE")
	require.NoError(t, err)
	_, err = rep.Do("REPLICAOF", host, port)
	require.NoError(t, err)
	_, err = r.Do(ctx, "SET", "says", "after")
	require.NoError(t, err)
	got, err := m.Do("GET", "says")
	require.NoError(t, err)
	require.Equal(t, "after", got)
}
