package justredis

import (
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The cache's bookkeeping on its own; what it does with a real server's
// tracking is tested in cached_test.go.

var minute = int64(time.Minute)

const ttl = time.Hour

func TestCacheFillHitAndInvalidate(t *testing.T) {
	c := newClientCache(1 << 20)
	owner := &conn{}
	id := []byte("0 GET a")

	_, ok := c.hit(id, 0, ttl)
	require.False(t, ok)
	mine, wait := c.begin(id, []string{"a"}, 0, ttl)
	require.Nil(t, wait)
	require.NotNil(t, mine)
	again, waitFor := c.begin(id, []string{"a"}, 0, ttl)
	require.Nil(t, again, "a second miss while the first is filling must wait, not read")
	require.Same(t, mine, waitFor)

	c.store(mine, []byte("$1\r\nx\r\n"), owner, 0, minute)
	<-waitFor.done
	h, ok := c.hit(id, 0, ttl)
	require.True(t, ok)
	require.Equal(t, "$1\r\nx\r\n", string(h.frame))
	require.True(t, h.memoOK)
	require.Equal(t, "x", h.memo)
	st := c.stats()
	require.EqualValues(t, 1, st.hits)
	require.EqualValues(t, 1, st.misses)

	c.invalidate([][]byte{[]byte("a")})
	_, ok = c.hit(id, 0, ttl)
	require.False(t, ok)
	st = c.stats()
	require.Zero(t, st.entries)
	require.Zero(t, st.bytes)
	require.EqualValues(t, 1, st.invalidations)
	require.Zero(t, c.live.Load())
}

// A fill that an invalidation of its key overtook carries a value that may
// predate the change: it is not stored.
func TestCacheInvalidationOvertakesFill(t *testing.T) {
	c := newClientCache(1 << 20)
	id := []byte("0 MGET a b")
	mine, _ := c.begin(id, []string{"a", "b"}, 0, ttl)
	c.invalidate([][]byte{[]byte("b")})
	c.store(mine, []byte("*0\r\n"), &conn{}, 0, minute)
	_, ok := c.hit(id, 0, ttl)
	require.False(t, ok)

	mine, _ = c.begin(id, []string{"a", "b"}, 0, ttl)
	c.flush()
	c.store(mine, []byte("*0\r\n"), &conn{}, 0, minute)
	_, ok = c.hit(id, 0, ttl)
	require.False(t, ok, "a flush spoils fills under way too")
	require.Zero(t, c.live.Load())
}

func TestCacheExpiryAndOwner(t *testing.T) {
	c := newClientCache(1 << 20)
	a, b := &conn{}, &conn{}
	fill := func(key string, owner *conn, expires int64) {
		mine, _ := c.begin([]byte(key), []string{key}, 0, ttl)
		c.store(mine, []byte("+v\r\n"), owner, 0, expires)
	}
	fill("x", a, int64(time.Second))
	fill("y", a, minute)
	fill("z", b, minute)

	_, ok := c.hit([]byte("x"), int64(2*time.Second), ttl)
	require.False(t, ok, "expired")
	require.EqualValues(t, 1, c.stats().expirations)

	c.dropOwner(a)
	_, ok = c.hit([]byte("y"), 0, ttl)
	require.False(t, ok, "its connection broke")
	_, ok = c.hit([]byte("z"), 0, ttl)
	require.True(t, ok, "another connection's entry stays")

	// A caller with a shorter ttl does not take an entry older than it,
	// and fills it again.
	_, ok = c.hit([]byte("z"), int64(2*time.Second), time.Second)
	require.False(t, ok)
	mine, _ := c.begin([]byte("z"), []string{"z"}, int64(2*time.Second), time.Second)
	require.NotNil(t, mine)
	c.store(mine, []byte("+w\r\n"), b, int64(2*time.Second), minute)
	h, ok := c.hit([]byte("z"), int64(2*time.Second), time.Second)
	require.True(t, ok)
	require.Equal(t, "w", h.memo)

	dead := &conn{}
	dead.dead.Store(true)
	fill("w", dead, minute)
	_, ok = c.hit([]byte("w"), 0, ttl)
	require.False(t, ok, "a reply read on a connection that broke is not kept")
}

// The byte bound holds however many distinct keys come, least recently
// used out first, in a cache large enough to be split into shards.
func TestCacheBound(t *testing.T) {
	const max = 4 << 20
	c := newClientCache(max)
	require.Greater(t, len(c.shards), 1)
	owner := &conn{}
	value := []byte("$32\r\n01234567890123456789012345678901\r\n")
	for i := 0; i < 100_000; i++ {
		k := fmt.Sprintf("key:%d", i)
		mine, _ := c.begin([]byte("0 GET "+k), []string{k}, 0, ttl)
		c.store(mine, value, owner, 0, minute)
		if i%1000 == 0 {
			require.LessOrEqual(t, c.stats().bytes, max)
		}
	}
	st := c.stats()
	require.LessOrEqual(t, st.bytes, max)
	require.Greater(t, st.entries, 1000)
	require.Greater(t, st.bytes, max*9/10)
	require.EqualValues(t, 100_000-st.entries, st.evictions)
	_, ok := c.hit([]byte("0 GET key:99999"), 0, ttl)
	require.True(t, ok, "the newest stays")
	keys := 0
	for i := range c.shards {
		keys += len(c.shards[i].byKey)
	}
	require.Equal(t, st.entries, keys, "the key index shrinks with evictions")
}

// When the cache needs room, an entry hit since it was stored outlives
// one that was not, however old, and the entry stored is never the one
// that goes: least recently used out first, as second chance
// approximates it (cache.go).
func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	const entrySize = len("+v\r\n") + len("0 GET a") + len("a") + entryOverhead
	c := newClientCache(3 * entrySize)
	require.Len(t, c.shards, 1)
	owner := &conn{}
	fill := func(key string) {
		mine, _ := c.begin([]byte("0 GET "+key), []string{key}, 0, ttl)
		require.NotNil(t, mine, key)
		c.store(mine, []byte("+v\r\n"), owner, 0, minute)
	}
	cached := func(key string) bool {
		_, ok := c.hit([]byte("0 GET "+key), 0, ttl)
		return ok
	}
	fill("a")
	fill("b")
	fill("c")
	require.True(t, cached("a"))
	fill("d") // b is the least recently used
	require.True(t, cached("a"))
	require.False(t, cached("b"))
	require.True(t, cached("c"))
	require.True(t, cached("d"))
	fill("e") // a, c and d were all hit since: one goes, never e
	kept := 0
	for _, k := range []string{"a", "c", "d"} {
		if cached(k) {
			kept++
		}
	}
	require.Equal(t, 2, kept)
	require.True(t, cached("e"))
	require.EqualValues(t, 2, c.stats().evictions)
}

// BenchmarkCacheEntryMemory measures what an entry costs in heap beyond
// its frame, command and key, against entryOverhead, for GETs of 16-byte
// values.
func BenchmarkCacheEntryMemory(b *testing.B) {
	const n = 100_000
	value := []byte("$16\r\n0123456789abcdef\r\n")
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := newClientCache(1 << 30)
		owner := &conn{}
		data := 0
		for j := 0; j < n; j++ {
			k := fmt.Sprintf("key:%08d", j)
			id, _ := appendCacheID(nil, 0, []any{"GET", k})
			mine, _ := c.begin(id, []string{k}, 0, ttl)
			frame := append([]byte(nil), value...)
			c.store(mine, frame, owner, 0, minute)
			data += len(frame) + len(id) + len(k)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry := float64(after.HeapAlloc-before.HeapAlloc) / n
		b.ReportMetric(perEntry, "heap-B/entry")
		b.ReportMetric(perEntry-float64(data)/n, "overhead-B/entry")
		b.ReportMetric(float64(c.stats().bytes)/n, "counted-B/entry")
		runtime.KeepAlive(c)
	}
}

// An invalidation that comes while a fill is being stored never lets the
// entry stay: however the two interleave, the fill is spoiled or the entry
// removed. (The count that lets invalidations skip an empty cache once
// read 0 for a moment in store, and this entry then stayed for good.)
func TestCacheInvalidationRacesStore(t *testing.T) {
	c := newClientCache(1 << 20)
	owner := &conn{}
	key := [][]byte{[]byte("k")}
	for i := 0; i < 20_000; i++ {
		mine, _ := c.begin([]byte("id"), []string{"k"}, 0, ttl)
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			c.store(mine, []byte("+v\r\n"), owner, 0, minute)
		}()
		go func() {
			defer wg.Done()
			<-start
			for j := 0; j < 3; j++ {
				c.invalidate(key) // the last may well come after the store
			}
		}()
		close(start)
		wg.Wait()
		if _, ok := c.hit([]byte("id"), 0, ttl); ok {
			t.Fatalf("round %d: the entry outlived the invalidation", i)
		}
	}
	require.Zero(t, c.live.Load())
}

// The bookkeeping under many goroutines at once: hits, fills, writes,
// expiries on a shared clock, evictions in a cache that holds a fraction
// of the keys, and owners that break. A hit never returns a value older
// than a write whose invalidation returned before the hit began, and the
// books add up afterwards.
func TestCacheConcurrentBookkeeping(t *testing.T) {
	const keys, goroutines, rounds = 64, 16, 3000
	entrySize := len("$4\r\n0000\r\n") + len("k00") + len("k00") + entryOverhead
	c := newClientCache(20 * entrySize)
	var clock atomic.Int64
	var version, floor [keys]atomic.Int64
	var mu sync.Mutex // guards owner
	owner := &conn{}
	ownerOf := func() *conn {
		mu.Lock()
		defer mu.Unlock()
		return owner
	}
	var wg sync.WaitGroup
	var stored atomic.Int64
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(int64(g)))
			for n := 0; n < rounds; n++ {
				k := rnd.Intn(keys)
				key := fmt.Sprintf("k%02d", k)
				switch op := rnd.Intn(20); {
				case op == 0: // a write through the client
					v := version[k].Add(1)
					c.invalidate([][]byte{[]byte(key)})
					for f := floor[k].Load(); f < v && !floor[k].CompareAndSwap(f, v); f = floor[k].Load() {
					}
				case op == 1:
					clock.Add(int64(time.Millisecond))
				case op == 2 && g == 0: // the tracked connection breaks
					mu.Lock()
					old := owner
					owner = &conn{}
					mu.Unlock()
					old.dead.Store(true)
					c.dropOwner(old)
				default:
					ttl := time.Duration(1+rnd.Intn(5)) * time.Millisecond
					min := floor[k].Load()
					if h, ok := c.hit([]byte(key), clock.Load(), ttl); ok {
						var got int64
						fmt.Sscanf(string(h.frame), "$4\r\n%04d\r\n", &got)
						if got < min {
							t.Errorf("key %s: hit %d after write %d was invalidated", key, got, min)
							return
						}
						continue
					}
					now := clock.Load()
					mine, _ := c.begin([]byte(key), []string{key}, now, ttl)
					if mine == nil {
						continue
					}
					o := ownerOf()
					v := version[k].Load() // the read, after begin
					c.store(mine, []byte(fmt.Sprintf("$4\r\n%04d\r\n", v%10000)), o, now, now+int64(ttl))
					stored.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	st := c.stats()
	t.Logf("%+v stores %d", st, stored.Load())
	require.LessOrEqual(t, uint64(st.entries)+st.invalidations+st.evictions+st.expirations, st.misses)
	require.LessOrEqual(t, st.bytes, 20*entrySize)
	require.Greater(t, st.evictions, uint64(0))
	require.Greater(t, st.expirations, uint64(0))
	var live int64
	for i := range c.shards {
		s := &c.shards[i]
		n, used := 0, 0
		for e := s.lru.next; e != &s.lru; e = e.next {
			require.Same(t, e, s.entries[e.id])
			n++
			used += e.size
		}
		require.Equal(t, len(s.entries), n)
		require.Equal(t, used, s.used)
		require.Empty(t, s.fills)
		live += int64(n)
	}
	require.Equal(t, live, c.live.Load())
}

// Hits that find one entry expired, or its owner broken, at once drop it
// once between them, and count it once.
func TestCacheConcurrentDropCountsOnce(t *testing.T) {
	c := newClientCache(1 << 20)
	id := []byte("0 GET k")
	for round := 0; round < 1000; round++ {
		owner := &conn{}
		mine, _ := c.begin(id, []string{"k"}, 0, ttl)
		require.NotNil(t, mine)
		c.store(mine, []byte("+v\r\n"), owner, 0, minute)
		now := int64(0)
		if round%2 == 0 {
			now = 2 * minute // expired
		} else {
			owner.dead.Store(true)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, ok := c.hit(id, now, ttl); ok {
					t.Error("a hit on an expired entry, or a broken owner's")
				}
			}()
		}
		close(start)
		wg.Wait()
		st := c.stats()
		require.EqualValues(t, round/2+1, st.expirations, "round %d", round)
		require.EqualValues(t, (round+1)/2, st.invalidations, "round %d", round)
		require.Zero(t, st.entries)
		require.Zero(t, c.live.Load())
	}
}
