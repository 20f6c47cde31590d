package justredis

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// checkCacheInvariants checks the cache's bookkeeping at rest: every entry
// is in its shard's map, recency ring and key index once, the bytes add
// up and stay within the bound, and live counts the entries and fills.
func checkCacheInvariants(t *testing.T, c *clientCache) {
	t.Helper()
	var live int64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n, used, refs := 0, 0, 0
		for e := s.lru.next; e != &s.lru; e = e.next {
			require.Same(t, e, s.entries[e.id], "shard %d: an entry in the ring is not the map's", i)
			require.Same(t, e, e.next.prev, "shard %d: ring broken", i)
			n++
			used += e.size
			refs += len(e.keys)
			for _, k := range e.keys {
				require.Contains(t, s.byKey[k], e, "shard %d: entry missing from the key index", i)
			}
			require.LessOrEqual(t, n, len(s.entries), "shard %d: ring longer than the map", i)
		}
		require.Equal(t, len(s.entries), n, "shard %d: entries off the ring", i)
		require.Equal(t, used, s.used, "shard %d: bytes", i)
		require.LessOrEqual(t, s.used, s.max, "shard %d: over its bound", i)
		indexed := 0
		for _, es := range s.byKey {
			require.NotEmpty(t, es)
			indexed += len(es)
		}
		require.Equal(t, refs, indexed, "shard %d: stale key index", i)
		live += int64(len(s.entries) + len(s.fills))
		s.mu.Unlock()
	}
	require.Equal(t, live, c.live.Load(), "live")
}

// The cache under many goroutines against a real server, with a bound
// small enough that most stores evict: readers through a long and a very
// short ttl, Do and DoMulti; writers through the same client, whose own
// reads must see their writes at once; another client's writes; and the
// tracked connection killed now and then, after which nothing it tracked
// may be answered. Readers never see a value that was not written; the
// bookkeeping adds up afterwards.
func TestClientCacheStressSecondChance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	for _, resp := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", resp), func(t *testing.T) {
			stressCache(t, srv, resp)
		})
	}
}

func stressCache(t *testing.T, srv *redistest.Server, resp int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const maxBytes = 24 << 10
	name := fmt.Sprintf("stress%d", resp)
	r, err := New(WithAddress(srv.Addr()), WithClientCache(maxBytes), WithRESP(resp), WithClientName(name))
	require.NoError(t, err)
	defer r.Close()
	other, err := New(WithAddress(srv.Addr()))
	require.NoError(t, err)
	defer other.Close()
	cached := r.Modify(WithCache(time.Minute))
	short := r.Modify(WithCache(2 * time.Millisecond))

	const nKeys, own, writers = 200, 40, 4
	key := func(i int) string { return fmt.Sprintf("st%d:%d", resp, i) }
	var written [nKeys]atomic.Int64 // highest version written, stored before the write
	set := []any{"MSET"}
	for i := 0; i < nKeys; i++ {
		set = append(set, key(i), 0)
	}
	_, err = r.Do(ctx, set...)
	require.NoError(t, err)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var failed atomic.Bool
	defer func() { // also when a require below ends the test
		stop.Store(true)
		failed.Store(true)
		wg.Wait()
	}()
	fail := func(format string, args ...any) {
		failed.Store(true)
		t.Errorf(format, args...)
	}
	check := func(i int, v any) {
		s, ok := v.(string)
		if !ok {
			fail("key %d: %T %v", i, v, v)
			return
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > written[i].Load() {
			fail("key %d: read %q, never written (highest %d)", i, s, written[i].Load())
		}
	}

	// Readers.
	for g := 0; g < 24; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(seed))
			for n := 0; n < 20000 && !stop.Load() && !failed.Load(); n++ {
				c := cached
				if rnd.Intn(4) == 0 {
					c = short
				}
				if rnd.Intn(5) == 0 {
					idx := []int{rnd.Intn(nKeys), rnd.Intn(nKeys), rnd.Intn(nKeys)}
					vals, err := c.DoMulti(ctx, []any{"GET", key(idx[0])}, []any{"GET", key(idx[1])}, []any{"GET", key(idx[2])})
					if err != nil {
						fail("DoMulti: %v", err)
						return
					}
					for j, v := range vals {
						check(idx[j], v)
					}
					continue
				}
				i := rnd.Intn(nKeys)
				v, err := c.Do(ctx, "GET", key(i))
				if err != nil {
					fail("GET: %v", err)
					return
				}
				check(i, v)
			}
		}(int64(g))
	}

	// Writers through the same client: a read after the write returned
	// sees it, from whichever copy.
	var writersWG sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		writersWG.Add(1)
		go func(w int) {
			defer wg.Done()
			defer writersWG.Done()
			rnd := rand.New(rand.NewSource(int64(100 + w)))
			for n := 0; n < 300 && !failed.Load(); n++ {
				i := w + writers*rnd.Intn(own/writers)
				ver := written[i].Add(1)
				if _, err := r.Do(ctx, "SET", key(i), ver); err != nil {
					fail("SET: %v", err)
					return
				}
				c := cached
				if n%3 == 0 {
					c = short
				}
				v, err := c.Do(ctx, "GET", key(i))
				if err != nil {
					fail("GET: %v", err)
					return
				}
				if v != strconv.FormatInt(ver, 10) {
					fail("key %d: read %v right after writing %d through the client", i, v, ver)
					return
				}
			}
		}(w)
	}

	// Another client's writes.
	wg.Add(1)
	writersWG.Add(1)
	go func() {
		defer wg.Done()
		defer writersWG.Done()
		rnd := rand.New(rand.NewSource(7))
		for n := 0; n < 1500 && !failed.Load(); n++ {
			i := own + rnd.Intn(nKeys-own)
			ver := written[i].Add(1)
			if _, err := other.Do(ctx, "SET", key(i), ver); err != nil {
				fail("other SET: %v", err)
				return
			}
		}
	}()

	// Stats stay within the bound throughout.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if st := r.Stats(); st.CacheBytes > maxBytes {
				fail("CacheBytes %d over %d", st.CacheBytes, maxBytes)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()

	// Kill a tracked connection (or, under RESP2, the one invalidations
	// go to) a few times. Once its conn is seen dead, another client's
	// write to a key read through it is seen at once: no invalidation for
	// it will come, and no hit may answer from what it tracked.
	probe := fmt.Sprintf("st%d:probe", resp)
	for kill := 0; kill < 6 && !failed.Load(); kill++ {
		val := fmt.Sprintf("p%d", kill)
		_, err := srv.Do("SET", probe, val)
		require.NoError(t, err)
		// Another client's write: seen once its invalidation comes.
		for n := 0; ; n++ {
			v, err := cached.Do(ctx, "GET", probe)
			require.NoError(t, err)
			if v == val {
				break
			}
			require.Less(t, n, 500, "the probe's write was never seen")
			time.Sleep(10 * time.Millisecond)
		}
		v, err := cached.Do(ctx, "GET", probe)
		require.NoError(t, err)
		require.Equal(t, val, v)
		tracked := r.p.server(srv.Addr()).trackedConns()
		require.NotEmpty(t, tracked)
		kind := "tracked"
		if resp == 2 && kill%2 == 1 {
			kind = "invalidation"
		}
		id := TrackingClientID(t, srv, name, kind)
		_, err = srv.Do("CLIENT", "KILL", "ID", id)
		require.NoError(t, err)
		for i := 0; i < 1000; i++ {
			dead := true
			for _, cn := range tracked {
				dead = dead && cn.dead.Load()
			}
			if dead {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		for _, cn := range tracked {
			require.True(t, cn.dead.Load(), "the killed connection was never seen dead")
		}
		val = fmt.Sprintf("q%d", kill)
		_, err = srv.Do("SET", probe, val)
		require.NoError(t, err)
		v, err = cached.Do(ctx, "GET", probe)
		require.NoError(t, err)
		require.Equal(t, val, v, "a hit answered from a connection that broke")
		time.Sleep(20 * time.Millisecond)
	}

	writersWG.Wait()
	stop.Store(true)
	wg.Wait()
	if failed.Load() {
		return
	}

	// Once the writes stopped and their invalidations came, every read
	// sees the last value.
	for i := 0; i < nKeys; i++ {
		want := strconv.FormatInt(written[i].Load(), 10)
		for n := 0; ; n++ {
			v, err := cached.Do(ctx, "GET", key(i))
			require.NoError(t, err)
			if v == want {
				break
			}
			require.Less(t, n, 500, "key %d: %v, never the last written %s", i, v, want)
			time.Sleep(10 * time.Millisecond)
		}
	}

	c := r.p.cache
	checkCacheInvariants(t, c)
	st := r.Stats()
	t.Logf("%+v", st)
	require.LessOrEqual(t, st.CacheBytes, maxBytes)
	require.Greater(t, st.CacheEvictions, uint64(0))
	require.Greater(t, st.CacheExpirations, uint64(0))
	require.Greater(t, st.CacheHits, uint64(0))
	// Every entry a fill made is counted once as it goes, or is still
	// there (an entry replaced by a newer fill goes uncounted).
	require.LessOrEqual(t, uint64(st.CacheEntries)+st.CacheInvalidations+st.CacheEvictions+st.CacheExpirations, st.CacheMisses)
}

// TrackingClientID finds the connection of the client named name: the
// tracked one (flag t) or, kind "invalidation", the one invalidations are
// redirected to (subscribed, flag P). Exported for the package's external
// tests too; it exists only in test builds.
func TrackingClientID(t *testing.T, srv *redistest.Server, name, kind string) string {
	t.Helper()
	list, err := srv.Do("CLIENT", "LIST")
	require.NoError(t, err)
	flag := "t"
	if kind == "invalidation" {
		flag = "P"
	}
	for _, line := range strings.Split(list, "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] == name && strings.Contains(fields["flags"], flag) {
			return fields["id"]
		}
	}
	t.Fatalf("no %s connection of %s in %s", kind, name, list)
	return ""
}

// Under many goroutines, and with entries expiring all the while, every
// cached call counts once, as a hit or a miss, and every entry that goes
// counts once, whichever of the hits that found it expired drops it.
func TestClientCacheStressCounts(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := New(WithAddress(srv.Addr()), WithClientCache(1<<20))
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Do(ctx, "MSET", "c0", "0", "c1", "1", "c2", "2", "c3", "3")
	require.NoError(t, err)
	copies := []*Redis{r.Modify(WithCache(time.Minute)), r.Modify(WithCache(time.Millisecond)), r.Modify(WithCache(3 * time.Millisecond))}
	const goroutines, calls = 32, 400
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for n := 0; n < calls; n++ {
				i := (g + n) % 4
				v, err := copies[(g*7+n)%len(copies)].Do(ctx, "GET", fmt.Sprintf("c%d", i))
				if err != nil || v != strconv.Itoa(i) {
					t.Errorf("GET c%d: %v %v", i, v, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	st := r.Stats()
	t.Logf("%+v", st)
	require.EqualValues(t, goroutines*calls, st.CacheHits+st.CacheMisses, "each call a hit or a miss, once")
	require.Greater(t, st.CacheExpirations, uint64(0))
	require.LessOrEqual(t, uint64(st.CacheEntries)+st.CacheInvalidations+st.CacheEvictions+st.CacheExpirations, st.CacheMisses)
	require.Zero(t, st.CacheInvalidations+st.CacheEvictions)
	checkCacheInvariants(t, r.p.cache)
}
