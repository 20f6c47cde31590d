package justredis_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// Client-side caching against real servers. What reached the server is
// read from its INFO commandstats; waits for invalidations, which arrive
// on their own, are bounded polls.

// cachedClient returns a client of srv with a cache of maxBytes, and its
// copy that caches for a minute.
func cachedClient(t *testing.T, addr string, maxBytes int, opts ...justredis.Option) (*justredis.Redis, *justredis.Redis) {
	t.Helper()
	r, err := justredis.New(append([]justredis.Option{justredis.WithAddress(addr), justredis.WithClientCache(maxBytes)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r, r.Modify(justredis.WithCache(time.Minute))
}

// eventually polls cond every 10ms, 500 times at most.
func eventually(t *testing.T, cond func() bool, what string, args ...any) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("never happened: "+what, args...)
}

func getCalls(t *testing.T, srv *redistest.Server) int64 {
	return commandStats(t, srv)["get"].calls
}

func TestClientCache(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	forEachRESP(t, func(t *testing.T, resp int) {
		ctx := testCtx(t)
		r, cached := cachedClient(t, srv.Addr(), 1<<20, justredis.WithRESP(resp))
		k := fmt.Sprintf("cache:%d", resp)
		_, err := r.Do(ctx, "SET", k, "v1")
		require.NoError(t, err)
		resetServerStats(t, srv)

		for i := 0; i < 10; i++ {
			v, err := cached.Do(ctx, "GET", k)
			require.NoError(t, err)
			require.Equal(t, "v1", v)
		}
		require.EqualValues(t, 1, getCalls(t, srv), "a repeated cached GET does not reach the server")
		st := r.Stats()
		require.EqualValues(t, 9, st.CacheHits)
		require.EqualValues(t, 1, st.CacheMisses)
		require.Equal(t, 1, st.CacheEntries)
		require.Greater(t, st.CacheBytes, 0)

		// Copies without WithCache, and reads the server's metadata marks
		// nondeterministic, go to the server.
		_, err = r.Do(ctx, "GET", k)
		require.NoError(t, err)
		_, err = cached.Do(ctx, "PTTL", k)
		require.NoError(t, err)
		_, err = cached.Do(ctx, "PTTL", k)
		require.NoError(t, err)
		st2 := commandStats(t, srv)
		require.EqualValues(t, 2, st2["get"].calls)
		require.EqualValues(t, 2, st2["pttl"].calls-1, "PTTL is asked once with the fill, then twice by the caller")

		// Every hit decodes afresh: no two callers share a mutable value.
		raw := cached.Modify(justredis.WithDecoder(justredis.BytesDecoder))
		b, err := justredis.Bytes(raw.Do(ctx, "GET", k))
		require.NoError(t, err)
		b[0] = 'X'
		b2, err := justredis.Bytes(raw.Do(ctx, "GET", k))
		require.NoError(t, err)
		require.Equal(t, "v1", string(b2))

		// Another client's write is seen once its invalidation arrives.
		_, err = srv.Do("SET", k, "v2")
		require.NoError(t, err)
		eventually(t, func() bool {
			v, err := cached.Do(ctx, "GET", k)
			require.NoError(t, err)
			return v == "v2"
		}, "the other client's write was never seen")
		require.Greater(t, r.Stats().CacheInvalidations, uint64(0))

		// A write through the client is seen at once, through any API.
		writes := []func(v string){
			func(v string) { _, err := r.Do(ctx, "SET", k, v); require.NoError(t, err) },
			func(v string) {
				_, err := r.DoMulti(ctx, []any{"SET", k, v})
				require.NoError(t, err)
			},
			func(v string) {
				c, err := r.Connection(ctx)
				require.NoError(t, err)
				defer c.Close()
				_, err = c.Do(ctx, "SET", k, v)
				require.NoError(t, err)
			},
			func(v string) {
				c, err := r.Connection(ctx)
				require.NoError(t, err)
				defer c.Close()
				for _, cmd := range [][]any{{"MULTI"}, {"SET", k, v}, {"EXEC"}} {
					_, err = c.Do(ctx, cmd...)
					require.NoError(t, err)
				}
			},
			func(v string) {
				_, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
					return [][]any{{"SET", k, v}}, nil
				}, k)
				require.NoError(t, err)
			},
		}
		for i, write := range writes {
			want := fmt.Sprint("own", i)
			_, err := cached.Do(ctx, "GET", k) // cached again
			require.NoError(t, err)
			write(want)
			v, err := cached.Do(ctx, "GET", k)
			require.NoError(t, err)
			require.Equal(t, want, v, "write %d: read your own writes", i)
		}

		// A flush by another client empties the cache.
		_, err = cached.Do(ctx, "GET", k)
		require.NoError(t, err)
		_, err = srv.Do("FLUSHALL")
		require.NoError(t, err)
		eventually(t, func() bool { return r.Stats().CacheEntries == 0 }, "FLUSHALL left entries")
		v, err := cached.Do(ctx, "GET", k)
		require.NoError(t, err)
		require.Nil(t, v)
	})
}

// TestClientCacheSwapDB: Redis sends no invalidation for another client's
// SWAPDB, so the cache keeps serving what the database held before, as the
// docs warn; a SWAPDB through the client empties the cache.
func TestClientCacheSwapDB(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	forEachRESP(t, func(t *testing.T, resp int) {
		ctx := testCtx(t)
		r, cached := cachedClient(t, srv.Addr(), 1<<20, justredis.WithRESP(resp))
		k, barrier := fmt.Sprintf("swap:%d", resp), fmt.Sprintf("barrier:%d", resp)
		swap := func(do func() error) {
			t.Helper()
			_, err := r.Do(ctx, "SET", k, "db0")
			require.NoError(t, err)
			_, err = r.Modify(justredis.WithDatabase(1)).Do(ctx, "SET", k, "db1")
			require.NoError(t, err)
			for _, key := range []string{k, barrier} {
				_, err = cached.Do(ctx, "GET", key) // cached
				require.NoError(t, err)
			}
			require.NoError(t, do())
		}

		swap(func() error { _, err := srv.Do("SWAPDB", "0", "1"); return err })
		// Invalidations come in order: once the barrier's arrived, one
		// for the SWAPDB before it would have too.
		_, err := srv.Do("SET", barrier, "moved")
		require.NoError(t, err)
		eventually(t, func() bool {
			v, err := cached.Do(ctx, "GET", barrier)
			require.NoError(t, err)
			return v == "moved"
		}, "the barrier's invalidation never came")
		v, err := r.Do(ctx, "GET", k)
		require.NoError(t, err)
		require.Equal(t, "db1", v, "the server swapped")
		v, err = cached.Do(ctx, "GET", k)
		require.NoError(t, err)
		require.Equal(t, "db0", v, "if the cache saw another client's SWAPDB, the server now invalidates for it: update the cache docs")

		swap(func() error { _, err := r.Do(ctx, "SWAPDB", 0, 1); return err })
		v, err = cached.Do(ctx, "GET", k)
		require.NoError(t, err)
		require.Equal(t, "db1", v, "a SWAPDB through the client empties the cache")
	})
}

// What may be cached is the server's to say: read-only, with keys, and
// without nondeterministic output. A reply in any order (HGETALL) is one
// the server could give.
func TestClientCacheWhatIsCached(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r, cached := cachedClient(t, srv.Addr(), 1<<20)
	_, err := r.DoMulti(ctx, []any{"HSET", "h", "f", "v"}, []any{"SADD", "s", "a"}, []any{"SET", "n", 1})
	require.NoError(t, err)
	resetServerStats(t, srv)
	for i := 0; i < 3; i++ {
		for _, cmd := range [][]any{{"HGETALL", "h"}, {"SMEMBERS", "s"}, {"SRANDMEMBER", "s"}, {"TTL", "n"}, {"STRLEN", "n"}, {"DBSIZE"},
			{"EVAL_RO", "return redis.call('GET', KEYS[1])", 1, "n"}} {
			_, err := cached.Do(ctx, cmd...)
			require.NoError(t, err)
		}
		v, err := cached.Do(ctx, "HGETALL", "h")
		require.NoError(t, err)
		m := v.(map[string]any)
		m["f"] = "changed by the caller" // its own map, not the cache's
	}
	st := commandStats(t, srv)
	for cmd, calls := range map[string]int64{"hgetall": 1, "smembers": 1, "strlen": 1, "srandmember": 3, "ttl": 3, "dbsize": 3} {
		require.EqualValues(t, calls, st[cmd].calls, cmd)
	}
	require.EqualValues(t, 3, st["eval_ro"].calls+st["evalsha_ro"].calls, "a script reads more than its keys say")
	v, err := cached.Do(ctx, "HGETALL", "h")
	require.NoError(t, err)
	require.Equal(t, map[string]any{"f": "v"}, v)

	// An error reply is the call's error, and is not kept.
	for i := 0; i < 2; i++ {
		v, err = cached.Do(ctx, "HGETALL", "n")
		var e *justredis.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, "WRONGTYPE", e.Prefix())
		require.Nil(t, v)
	}
	require.EqualValues(t, 3, commandStats(t, srv)["hgetall"].calls)
}

// An entry lives no longer than WithCache's ttl, nor than its key. What
// is asserted within a ttl is asserted only when the steps took less: a
// busy machine may take longer.
func TestClientCacheExpiry(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r, _ := cachedClient(t, srv.Addr(), 1<<20)
	const ttl = time.Second
	short := r.Modify(justredis.WithCache(ttl))
	_, err := r.Do(ctx, "SET", "k", "v")
	require.NoError(t, err)
	filled := time.Now() // before the entry is made
	_, err = short.Do(ctx, "GET", "k")
	require.NoError(t, err)
	resetServerStats(t, srv)
	_, err = short.Do(ctx, "GET", "k")
	require.NoError(t, err)
	within := time.Since(filled) < ttl
	if within {
		require.Zero(t, getCalls(t, srv), "within the ttl")
	}
	time.Sleep(ttl + 50*time.Millisecond)
	_, err = short.Do(ctx, "GET", "k")
	require.NoError(t, err)
	if within {
		require.EqualValues(t, 1, getCalls(t, srv), "past the ttl")
		require.EqualValues(t, 1, r.Stats().CacheExpirations)
	} else {
		t.Logf("the steps took longer than the ttl: only the expiry was checked")
		require.NotZero(t, r.Stats().CacheExpirations)
	}

	// The key's own expiry bounds the entry even when the server's
	// deletion, and its invalidation, come later: a key that expires is
	// invalidated only when the server notices, lazily or by sampling.
	_, err = srv.Do("DEBUG", "SET-ACTIVE-EXPIRE", "0")
	require.NoError(t, err)
	long := r.Modify(justredis.WithCache(time.Hour))
	const px = 500 * time.Millisecond
	set := time.Now()
	_, err = r.Do(ctx, "SET", "e", "v", "PX", px.Milliseconds())
	require.NoError(t, err)
	v, err := long.Do(ctx, "GET", "e")
	require.NoError(t, err)
	if time.Since(set) < px {
		require.Equal(t, "v", v)
	}
	time.Sleep(px + 50*time.Millisecond)
	v, err = long.Do(ctx, "GET", "e")
	require.NoError(t, err)
	require.Nil(t, v, "the key expired")
}

// Concurrent misses for one key cost one round trip.
func TestClientCacheSingleFlight(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r, cached := cachedClient(t, srv.Addr(), 1<<20)
	_, err := r.Do(ctx, "SET", "k", "v")
	require.NoError(t, err)
	_, err = r.Do(ctx, "PING") // connected, and the COMMAND table known
	require.NoError(t, err)
	resetServerStats(t, srv)
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := cached.Do(ctx, "GET", "k")
			require.NoError(t, err)
			require.Equal(t, "v", v)
		}()
	}
	wg.Wait()
	require.EqualValues(t, 1, getCalls(t, srv))
	st := r.Stats()
	require.EqualValues(t, 1, st.CacheMisses)
	require.EqualValues(t, 31, st.CacheHits)
}

// DoMulti answers hits locally and reads the misses in one pipeline, in
// order; a pipeline with a write goes to the server as it is.
func TestClientCacheDoMulti(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r, cached := cachedClient(t, srv.Addr(), 1<<20)
	_, err := r.Do(ctx, "MSET", "a", "1", "b", "2", "c", "3")
	require.NoError(t, err)
	for _, k := range []string{"a", "c"} {
		_, err := cached.Do(ctx, "GET", k)
		require.NoError(t, err)
	}
	resetServerStats(t, srv)
	vals, err := cached.DoMulti(ctx, []any{"GET", "a"}, []any{"GET", "b"}, []any{"GET", "c"}, []any{"MGET", "a", "b"},
		[]any{"GET", "b"}, []any{"GET", "missing"}, []any{"HGETALL", "a"})
	require.NoError(t, err)
	require.Equal(t, "1", vals[0])
	require.Equal(t, "2", vals[1])
	require.Equal(t, "3", vals[2])
	require.Equal(t, []any{"1", "2"}, vals[3])
	require.Equal(t, "2", vals[4])
	require.Nil(t, vals[5])
	require.ErrorContains(t, vals[6].(error), "WRONGTYPE")
	st := commandStats(t, srv)
	require.EqualValues(t, 2, st["get"].calls, "b once, missing once; a and c were hits")
	require.EqualValues(t, 1, st["mget"].calls)
	require.EqualValues(t, 4, st["client|caching"].calls, "one fill each for b, MGET, missing and HGETALL, in one round trip")

	vals, err = cached.DoMulti(ctx, []any{"GET", "a"}, []any{"GET", "b"}, []any{"MGET", "a", "b"})
	require.NoError(t, err)
	require.Equal(t, []any{"1", "2", []any{"1", "2"}}, vals)
	require.EqualValues(t, 2, commandStats(t, srv)["get"].calls, "all hits now")

	// A hook is told which calls the cache answered.
	h := &recorder{name: "cache"}
	hr, err := justredis.New(justredis.WithAddress(srv.Addr()), justredis.WithClientCache(1<<20), justredis.WithHook(h))
	require.NoError(t, err)
	defer hr.Close()
	hcached := hr.Modify(justredis.WithCache(time.Minute))
	for i := 0; i < 2; i++ {
		_, err = hcached.Do(ctx, "GET", "b")
		require.NoError(t, err)
		require.Equal(t, i == 1, h.lastEnd().CacheHit, "call %d", i)
		_, err = hcached.DoMulti(ctx, []any{"GET", "b"}, []any{"GET", "c"})
		require.NoError(t, err)
		require.Equal(t, i == 1, h.lastEnd().CacheHit, "DoMulti %d", i)
	}
	require.Empty(t, h.lastEnd().Addr, "no server saw it")

	vals, err = cached.DoMulti(ctx, []any{"SET", "a", "new"}, []any{"GET", "a"})
	require.NoError(t, err)
	require.Equal(t, []any{"OK", "new"}, vals, "the GET after a SET in one pipeline sees it")
	v, err := cached.Do(ctx, "GET", "a")
	require.NoError(t, err)
	require.Equal(t, "new", v)
}

// A connection that breaks takes with it what its tracking covered.
func TestClientCacheKilledConnection(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	forEachRESP(t, func(t *testing.T, resp int) {
		kinds := []string{"tracked"}
		if resp == 2 {
			kinds = append(kinds, "invalidation")
		}
		for _, kind := range kinds {
			t.Run(kind, func(t *testing.T) {
				ctx := testCtx(t)
				r, cached := cachedClient(t, srv.Addr(), 1<<20, justredis.WithRESP(resp), justredis.WithClientName("killme"))
				k := fmt.Sprintf("kill:%d:%s", resp, kind)
				_, err := r.Do(ctx, "SET", k, "v1")
				require.NoError(t, err)
				_, err = cached.Do(ctx, "GET", k)
				require.NoError(t, err)
				require.Equal(t, 1, r.Stats().CacheEntries)

				id := justredis.TrackingClientID(t, srv, "killme", kind)
				_, err = srv.Do("CLIENT", "KILL", "ID", id)
				require.NoError(t, err)
				eventually(t, func() bool { return r.Stats().CacheEntries == 0 }, "the %s connection's entries stayed", kind)

				_, err = srv.Do("SET", k, "v2")
				require.NoError(t, err)
				v, err := cached.Do(ctx, "GET", k)
				require.NoError(t, err)
				require.Equal(t, "v2", v)
				_, err = srv.Do("SET", k, "v3")
				require.NoError(t, err)
				eventually(t, func() bool {
					v, err := cached.Do(ctx, "GET", k)
					require.NoError(t, err)
					return v == "v3"
				}, "tracking was not set up again")
			})
		}
	})
}

// maxBytes holds however many distinct keys are read.
func TestClientCacheBound(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	const maxBytes = 1 << 20
	r, cached := cachedClient(t, srv.Addr(), maxBytes)
	const n, batch = 100_000, 1000
	for i := 0; i < n; i += batch {
		set := []any{"MSET"}
		get := make([][]any, batch)
		for j := 0; j < batch; j++ {
			k := fmt.Sprintf("bound:%d", i+j)
			set = append(set, k, i+j)
			get[j] = []any{"GET", k}
		}
		_, err := r.Do(ctx, set...)
		require.NoError(t, err)
		vals, err := cached.DoMulti(ctx, get...)
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(i+batch-1), vals[batch-1])
		require.LessOrEqual(t, r.Stats().CacheBytes, maxBytes)
	}
	st := r.Stats()
	require.EqualValues(t, n, st.CacheMisses)
	require.Greater(t, st.CacheEvictions, uint64(n/2))
	require.Greater(t, st.CacheEntries, 1000)
	t.Logf("%+v", st)
}

// Readers see only values that were written, and the last one once the
// writer stops and its invalidations arrive.
func TestClientCacheConcurrentReaders(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	forEachRESP(t, func(t *testing.T, resp int) {
		ctx := testCtx(t)
		r, cached := cachedClient(t, srv.Addr(), 1<<20, justredis.WithRESP(resp))
		writer := newRedisOf(t, srv.Addr())
		k := fmt.Sprintf("readers:%d", resp)
		_, err := writer.Do(ctx, "SET", k, 0)
		require.NoError(t, err)
		var written atomic.Int64 // the highest value written so far
		var stop atomic.Bool
		var wg sync.WaitGroup
		defer func() { // also when a require below ends the test
			stop.Store(true)
			wg.Wait()
		}()
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					v, err := justredis.Int64(cached.Do(ctx, "GET", k))
					if err != nil {
						if !stop.Load() {
							t.Error(err)
						}
						return
					}
					if v < 0 || v > written.Load() {
						t.Errorf("read %d, never written (last %d)", v, written.Load())
						return
					}
				}
			}()
		}
		const writes = 300
		for i := 1; i <= writes; i++ {
			written.Store(int64(i)) // before the write, so a reader never sees it first
			_, err := writer.Do(ctx, "SET", k, i)
			require.NoError(t, err)
			if i%30 == 0 {
				time.Sleep(time.Millisecond) // let the readers fill in between
			}
		}
		var last int64
		eventually(t, func() bool {
			var err error
			last, err = justredis.Int64(cached.Do(ctx, "GET", k))
			require.NoError(t, err)
			return last == writes
		}, "the last value was never seen")
		require.EqualValues(t, writes, last)
		stop.Store(true)
		wg.Wait()
		st := r.Stats()
		require.Greater(t, st.CacheHits, uint64(0))
		require.Greater(t, st.CacheInvalidations, uint64(0))
		t.Logf("%+v", st)
	})
}

func newRedisOf(t *testing.T, addr string, opts ...justredis.Option) *justredis.Redis {
	t.Helper()
	r, err := justredis.New(append([]justredis.Option{justredis.WithAddress(addr)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// In a cluster each node tracks the reads sent to it, replicas too.
func TestClientCacheCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 1, redistest.Options{})
	ctx := testCtx(t)
	seed := c.Nodes()[0].Addr()
	r, cached := cachedClient(t, seed, 1<<20)
	writer := newRedisOf(t, seed)
	masters := c.Masters()
	keys := make([]string, len(masters))
	for i, m := range masters {
		keys[i] = keyOn(t, c, m, "cached")
		_, err := r.Do(ctx, "SET", keys[i], "v1")
		require.NoError(t, err)
	}
	resetStats(t, c)
	for round := 0; round < 3; round++ {
		for _, k := range keys {
			v, err := cached.Do(ctx, "GET", k)
			require.NoError(t, err)
			require.Equal(t, "v1", v)
		}
	}
	for _, m := range masters {
		require.EqualValues(t, 1, getCalls(t, m), "%s: one miss, then hits", m.Addr())
	}
	vals, err := cached.DoMulti(ctx, []any{"GET", keys[0]}, []any{"GET", keys[1]}, []any{"GET", keys[2]})
	require.NoError(t, err)
	require.Equal(t, []any{"v1", "v1", "v1"}, vals)

	for _, k := range keys {
		_, err := writer.Do(ctx, "SET", k, "v2")
		require.NoError(t, err)
	}
	eventually(t, func() bool {
		vals, err := cached.DoMulti(ctx, []any{"GET", keys[0]}, []any{"GET", keys[1]}, []any{"GET", keys[2]})
		require.NoError(t, err)
		return vals[0] == "v2" && vals[1] == "v2" && vals[2] == "v2"
	}, "the other client's writes were never seen")

	// Replicas track the reads they serve, and hear of the writes their
	// master replicates.
	replicas := cached.Modify(justredis.WithReplicaReads(true))
	resetStats(t, c)
	eventually(t, func() bool {
		for _, k := range keys {
			v, err := replicas.Do(ctx, "GET", k)
			require.NoError(t, err)
			if v != "v2" {
				return false // replication lags
			}
		}
		return true
	}, "the replicas never caught up")
	for _, m := range masters {
		require.Zero(t, getCalls(t, m), "%s: the reads went to the replicas", m.Addr())
	}
	served := int64(0)
	for _, rep := range c.Replicas() {
		served += getCalls(t, rep)
	}
	before := served
	for _, k := range keys {
		_, err := replicas.Do(ctx, "GET", k)
		require.NoError(t, err)
	}
	served = 0
	for _, rep := range c.Replicas() {
		served += getCalls(t, rep)
	}
	require.Equal(t, before, served, "hits")
	_, err = writer.Do(ctx, "SET", keys[0], "v3")
	require.NoError(t, err)
	eventually(t, func() bool {
		v, err := replicas.Do(ctx, "GET", keys[0])
		require.NoError(t, err)
		return v == "v3"
	}, "the replica's invalidation never came")
	require.NoError(t, context.Cause(ctx))
}

// Close ends the goroutines that read the cache's connections, under both
// protocols. Not parallel: it counts goroutines.
func TestClientCacheClose(t *testing.T) {
	ctx := testCtx(t)
	addr := server().Addr() // started before counting
	base := markGoroutines(t)
	for _, resp := range []int{2, 3} {
		r, cached := cachedClient(t, addr, 1<<20, justredis.WithRESP(resp))
		_, err := r.Do(ctx, "PING") // the first call brings the COMMAND table
		require.NoError(t, err)
		_, err = cached.Do(ctx, "GET", key(t, "close"))
		require.NoError(t, err)
		require.EqualValues(t, 1, r.Stats().CacheEntries)
		require.NoError(t, r.Close())
		_, err = cached.Do(ctx, "GET", key(t, "close"))
		require.ErrorIs(t, err, justredis.ErrClosed)
	}
	settle(t, base)
}

// A cache hit allocates nothing for StringDecoder's immutable values, and
// a write through a client with a cache no more than without one.
func TestClientCacheAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	ctx := context.Background()
	k := key(t, "k")
	r, cached := cachedClient(t, server().Addr(), 1<<20)
	_, err := r.Do(ctx, "SET", k, "value")
	require.NoError(t, err)
	_, err = cached.Do(ctx, "GET", k)
	require.NoError(t, err)
	hit := testing.AllocsPerRun(200, func() { cached.Do(ctx, "GET", k) })
	require.Zero(t, hit, "GET hit")
	bytesHit := testing.AllocsPerRun(200, func() { cached.Modify(justredis.WithDecoder(justredis.BytesDecoder)).Do(ctx, "GET", k) })
	set := testing.AllocsPerRun(200, func() { r.Do(ctx, "SET", k, "value") })
	t.Logf("GET hit %.0f allocs, with BytesDecoder %.0f (Modify included), SET %.0f", hit, bytesHit, set)
	require.Zero(t, set, "SET with entries to invalidate")
}

// Under WithMaxConnections the cache's connection takes a place of its
// own, which it gives up to a caller that needs one; its reads go
// uncached meanwhile, and are cached again once a place is free.
func TestClientCacheMaxConnections(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r, cached := cachedClient(t, srv.Addr(), 1<<20, justredis.WithMaxConnections(2), justredis.WithWaitTimeout(10*time.Second))
	_, err := r.Do(ctx, "SET", "k", "v1")
	require.NoError(t, err)
	_, err = cached.Do(ctx, "GET", "k")
	require.NoError(t, err)
	require.Equal(t, 1, r.Stats().CacheEntries)

	c, err := r.Connection(ctx) // the cache's place is the only one for it
	require.NoError(t, err)
	eventually(t, func() bool { return r.Stats().CacheEntries == 0 }, "the closed connection's entries stayed")
	_, err = c.Do(ctx, "SET", "k", "v2")
	require.NoError(t, err)
	v, err := cached.Do(ctx, "GET", "k")
	require.NoError(t, err)
	require.Equal(t, "v2", v, "uncached while the place is taken")
	require.NoError(t, c.Close())

	eventually(t, func() bool {
		_, err := cached.Do(ctx, "GET", "k")
		require.NoError(t, err)
		return r.Stats().CacheEntries == 1
	}, "never cached again")
	_, err = srv.Do("SET", "k", "v3")
	require.NoError(t, err)
	eventually(t, func() bool {
		v, err := cached.Do(ctx, "GET", "k")
		require.NoError(t, err)
		return v == "v3"
	}, "tracking was not set up again")
}

// Through Sentinel, the cache reads from the master, or with
// WithReplicaReads from a replica, and hears of other clients' writes.
func TestClientCacheSentinel(t *testing.T) {
	t.Parallel()
	d := redistest.StartSentinel(t, redistest.SentinelOptions{})
	ctx := testCtx(t)
	r := sentinelClient(t, d, justredis.WithClientCache(1<<20))
	writer := sentinelClient(t, d)
	_, err := r.Do(ctx, "SET", "k", "v1")
	require.NoError(t, err)
	for _, cached := range []*justredis.Redis{
		r.Modify(justredis.WithCache(time.Minute)),
		r.Modify(justredis.WithCache(time.Minute), justredis.WithReplicaReads(true)),
	} {
		want := "v1"
		eventually(t, func() bool { // a replica may lag
			v, err := cached.Do(ctx, "GET", "k")
			require.NoError(t, err)
			return v == want
		}, "never read %s", want)
		// A late invalidation from the master (for the write below, of the
		// last round) may still drop an entry read from a replica.
		eventually(t, func() bool {
			hits := r.Stats().CacheHits
			v, err := cached.Do(ctx, "GET", "k")
			require.NoError(t, err)
			require.Equal(t, want, v)
			return r.Stats().CacheHits > hits
		}, "never a hit")

		want = "v2"
		_, err = writer.Do(ctx, "SET", "k", want)
		require.NoError(t, err)
		eventually(t, func() bool {
			v, err := cached.Do(ctx, "GET", "k")
			require.NoError(t, err)
			return v == want
		}, "the other client's write was never seen")
		_, err = r.Do(ctx, "SET", "k", "v1")
		require.NoError(t, err)
	}
}

// An entry read again and again outlives any number of entries read once
// while the cache is full, and those go: eviction is least recently used
// first, as second chance approximates it, not in order of storing.
func TestClientCacheKeepsWhatIsRead(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	r, cached := cachedClient(t, srv.Addr(), 64<<10) // one shard, some 200 entries
	hot := key(t, "hot")
	_, err := r.Do(ctx, "SET", hot, "v")
	require.NoError(t, err)
	const n = 2000 // ten times what the cache holds
	for i := 0; i < n; i++ {
		v, err := cached.Do(ctx, "GET", hot)
		require.NoError(t, err)
		require.Equal(t, "v", v)
		_, err = cached.Do(ctx, "GET", fmt.Sprintf("%s:cold:%d", hot, i))
		require.NoError(t, err)
	}
	st := r.Stats()
	require.Greater(t, st.CacheEvictions, uint64(n/2), "the cache was full")
	require.EqualValues(t, n+1, st.CacheMisses, "the hot key was read from the server once, then each cold key")

	before := r.Stats().CacheMisses
	_, err = cached.Do(ctx, "GET", hot+":cold:0")
	require.NoError(t, err)
	require.Equal(t, before+1, r.Stats().CacheMisses, "the first key read once went")
}
