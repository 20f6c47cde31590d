package justredis

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// clientCache keeps the replies of cacheable reads as wire frames, for
// client-side caching (WithClientCache). A frame is never changed once
// stored and every hit decodes it afresh, so no two callers share a
// mutable value. (A reply that StringDecoder turns into an immutable
// value, a string or a number, is decoded once and that value shared.)
//
// An entry goes when the server invalidates one of its keys, when the
// connection whose tracking covered it breaks, when it expires (its TTL,
// or its keys' own expiry), and, least recently used first, when the cache
// needs room.
//
// Misses for one command are filled once: the first caller reads from the
// server while the others wait for its reply. A fill that an invalidation
// of one of its keys overtakes is not stored, since the value it carries
// may predate the change.
//
// The cache is split into shards by a hash of the command, each with its
// own lock, share of the bytes and recency order, so that hits from many
// goroutines do not queue on one lock. Invalidations visit every shard.
//
// A hit takes its shard's lock for reading only, and writes no more than
// the shard's hit count and, the first time, a mark on its entry. A strict
// LRU moves the entry to the front on every hit, writing to the entry, its
// neighbours and the shard: under many goroutines those lines bounced
// between the cores on each hit. Eviction instead gives a marked entry
// (referenced) one more turn at the front, unmarked, before taking it: the
// second-chance approximation of least recently used. Among entries all
// hit since eviction last passed them, the order is that of storing.
type clientCache struct {
	seed   maphash.Seed
	shards []cacheShard
	mask   uint64
	// live counts entries and fills under way, so that an invalidation
	// skips the shards when there is nothing to invalidate. It is read
	// without the shards' locks: it must never read 0 while an entry or a
	// fill exists (see store).
	live atomic.Int64
}

// cacheShard is one part of the cache; everything in it is guarded by mu.
type cacheShard struct {
	mu      sync.RWMutex
	max     int // bytes
	used    int
	entries map[string]*cacheEntry // by cache ID
	byKey   map[string][]*cacheEntry
	fills   map[string]*cacheFill
	lru     cacheEntry // sentinel of the recency ring: lru.next is the newest

	hits                                          atomic.Uint64 // counted without the lock
	misses, invalidations, evictions, expirations uint64

	_ [64]byte // keeps shards that are hit at once off one cache line
}

// A cache ID names what a frame answers: the database and the command as
// encoded (see appendCacheID). Redis tracks keys without their database,
// so invalidations go by key name alone.

type cacheEntry struct {
	id      string
	frame   []byte
	keys    []string
	owner   *conn // the connection whose tracking covers the entry
	filled  int64 // when the read was sent, on the monotonic clock of cacheNow
	expires int64 // the filler's ttl or its keys' expiry, whichever is first
	size    int
	// memo is what StringDecoder makes of the frame, when that is an
	// immutable value that callers may share (memoOK).
	memo   any
	memoOK bool

	referenced atomic.Bool // hit since eviction last passed it
	prev, next *cacheEntry
}

// cacheFill is a miss being read from the server; other callers wanting
// the same command wait on done and then look again.
type cacheFill struct {
	id    string
	keys  []string
	stale bool // a key was invalidated after the read may have been sent
	done  chan struct{}
}

// entryOverhead is what an entry costs beyond the bytes of its frame, ID
// and keys: the entry itself, its slot in the ID map and the key index,
// and the string and slice headers (measured by BenchmarkCacheEntryMemory).
const entryOverhead = 300

// cacheShardMin is the least a shard holds: a cache smaller than two of
// these is not split, so that a large reply still fits a shard.
const cacheShardMin = 256 << 10

const maxCacheShards = 32

func newClientCache(maxBytes int) *clientCache {
	n := 1
	for n < maxCacheShards && maxBytes/(2*n) >= cacheShardMin {
		n *= 2
	}
	c := &clientCache{seed: maphash.MakeSeed(), shards: make([]cacheShard, n), mask: uint64(n - 1)}
	for i := range c.shards {
		s := &c.shards[i]
		s.max = maxBytes / n
		s.entries = make(map[string]*cacheEntry)
		s.byKey = make(map[string][]*cacheEntry)
		s.fills = make(map[string]*cacheFill)
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	return c
}

// cacheEpoch is the origin of cacheNow.
var cacheEpoch = time.Now()

// cacheNow is the time on a monotonic clock, in nanoseconds: the unit of
// cacheEntry.expires.
func cacheNow() int64 { return int64(time.Since(cacheEpoch)) }

func (c *clientCache) shard(id []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, id)&c.mask]
}

// shardOf is shard for an ID held as a string; both hash alike.
func (c *clientCache) shardOf(id string) *cacheShard {
	return &c.shards[maphash.String(c.seed, id)&c.mask]
}

// hit returns the stored reply to id, unless there is none, it expired,
// or it is older than ttl, the caller's (another caller may have filled it
// with a longer one).
func (c *clientCache) hit(id []byte, now int64, ttl time.Duration) (e cacheHit, ok bool) {
	s := c.shard(id)
	e, ok = s.look(id, now, ttl, c)
	if ok {
		s.hits.Add(1)
	}
	return e, ok
}

// look is hit without counting it, for a caller that counts its hits once
// it knows they answered the call (cachedMulti).
func (c *clientCache) look(id []byte, now int64, ttl time.Duration) (cacheHit, bool) {
	return c.shard(id).look(id, now, ttl, c)
}

// look is hit in s, id's shard, uncounted.
func (s *cacheShard) look(id []byte, now int64, ttl time.Duration, c *clientCache) (e cacheHit, ok bool) {
	s.mu.RLock()
	entry := s.entries[string(id)]
	if entry == nil {
		s.mu.RUnlock()
		return e, false
	}
	if now >= entry.expires || entry.owner.dead.Load() {
		s.mu.RUnlock()
		s.drop(entry, now, c)
		return e, false
	}
	if now-entry.filled >= int64(ttl) {
		s.mu.RUnlock()
		return e, false // begin replaces it
	}
	if !entry.referenced.Load() { // a load first keeps the line shared
		entry.referenced.Store(true)
	}
	e = cacheHit{frame: entry.frame, memo: entry.memo, memoOK: entry.memoOK}
	s.mu.RUnlock()
	return e, true
}

// drop removes entry, found expired at now or its tracking gone by a hit
// under the read lock, unless it went meanwhile.
func (s *cacheShard) drop(entry *cacheEntry, now int64, c *clientCache) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries[entry.id] != entry {
		return
	}
	s.remove(entry, c)
	if now >= entry.expires {
		s.expirations++
	} else {
		// Its tracking is gone; the reader that saw the connection break
		// is about to drop the rest.
		s.invalidations++
	}
}

// cacheHit is what a hit hands out: the frame, never changed, and the
// memo (see cacheEntry).
type cacheHit struct {
	frame  []byte
	memo   any
	memoOK bool
}

// begin starts the fill of a miss on id, whose keys are keys: mine is a
// fill the caller must end with store or abandon, wait one that another
// caller is making. Neither means the reply was stored meanwhile: look
// again.
func (c *clientCache) begin(id []byte, keys []string, now int64, ttl time.Duration) (mine, wait *cacheFill) {
	s := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entries[string(id)]; e != nil && now < e.expires && now-e.filled < int64(ttl) {
		return nil, nil
	}
	if f := s.fills[string(id)]; f != nil {
		return nil, f
	}
	s.misses++
	f := &cacheFill{id: string(id), keys: keys, done: make(chan struct{})}
	s.fills[f.id] = f
	c.live.Add(1)
	return f, nil
}

// store ends fill f with the server's frame, read at filled and valid
// until expires on owner's tracking. frame must not be changed afterwards.
// It is not stored when an invalidation overtook the fill, when owner has
// broken meanwhile, or when it alone is larger than a shard.
func (c *clientCache) store(f *cacheFill, frame []byte, owner *conn, filled, expires int64) {
	memo, memoOK := memoOf(frame)
	size := len(frame) + len(f.id) + entryOverhead
	for _, k := range f.keys {
		size += len(k)
	}
	s := c.shardOf(f.id)
	s.mu.Lock()
	defer s.mu.Unlock()
	// The entry is counted before the fill stops being: live must never
	// read 0 while either exists, or an invalidation that reads it then
	// would pass this entry by.
	c.live.Add(1)
	s.endFill(f, c)
	if f.stale || owner.dead.Load() || size > s.max {
		c.live.Add(-1)
		return
	}
	if old := s.entries[f.id]; old != nil {
		s.remove(old, c)
	}
	// Room is made before the entry joins the order, so that eviction
	// never takes the entry it makes room for.
	for s.used+size > s.max {
		oldest := s.lru.prev
		if oldest.referenced.Load() {
			// Hit since it was last here: one more turn.
			oldest.referenced.Store(false)
			s.unlink(oldest)
			s.pushFront(oldest)
			continue
		}
		s.remove(oldest, c)
		s.evictions++
	}
	e := &cacheEntry{id: f.id, frame: frame, keys: f.keys, owner: owner, filled: filled, expires: expires, size: size, memo: memo, memoOK: memoOK}
	s.entries[e.id] = e
	for _, k := range e.keys {
		s.byKey[k] = append(s.byKey[k], e)
	}
	s.pushFront(e)
	s.used += size
}

// memoOf decodes frame with StringDecoder when the value it makes cannot
// be changed by whoever receives it: a string, a number, a boolean, nil.
func memoOf(frame []byte) (any, bool) {
	switch Kind(frame[0]) {
	case KindBulk, KindSimple, KindInt, KindDouble, KindBool, KindNull, KindVerbatim:
		var rd Reader
		v, err := decodeReply(&rd, frame, StringDecoder)
		return v, err == nil
	}
	return nil, false
}

// abandon ends fill f without a value: the read failed, or its reply is
// not to be kept.
func (c *clientCache) abandon(f *cacheFill) {
	s := c.shardOf(f.id)
	s.mu.Lock()
	s.endFill(f, c)
	s.mu.Unlock()
}

func (s *cacheShard) endFill(f *cacheFill, c *clientCache) {
	if s.fills[f.id] == f {
		delete(s.fills, f.id)
		c.live.Add(-1)
	}
	close(f.done)
}

// invalidate drops every entry that read one of keys, and spoils the fills
// under way for them. It is called for the server's invalidation messages
// and for the keys of every write made through the client, so that a read
// after a write never sees the value from before it.
func (c *clientCache) invalidate(keys [][]byte) {
	if c.live.Load() == 0 {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for _, k := range keys {
			s.invalidateKey(k, c)
		}
		s.mu.Unlock()
	}
}

// invalidateKey is invalidate for one key, in one shard, whose lock is
// held.
func (s *cacheShard) invalidateKey(key []byte, c *clientCache) {
	for es := s.byKey[string(key)]; len(es) > 0; es = s.byKey[string(key)] {
		s.remove(es[0], c)
		s.invalidations++
	}
	for _, f := range s.fills {
		for _, fk := range f.keys {
			if fk == string(key) {
				f.stale = true
				break
			}
		}
	}
}

// flush drops everything: a write through the client whose keys are not
// known (FLUSHALL, say).
func (c *clientCache) flush() { c.dropOwner(nil) }

// dropOwner drops what owner's tracking covered, owner nil for everything,
// and spoils every fill under way: once a connection breaks, or its
// server flushes, the server no longer tells it of changes.
func (c *clientCache) dropOwner(owner *conn) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for _, e := range s.entries {
			if owner == nil || e.owner == owner {
				s.remove(e, c)
				s.invalidations++
			}
		}
		for _, f := range s.fills {
			f.stale = true
		}
		s.mu.Unlock()
	}
}

func (s *cacheShard) remove(e *cacheEntry, c *clientCache) {
	if s.entries[e.id] != e {
		return
	}
	delete(s.entries, e.id)
	for _, k := range e.keys {
		es := s.byKey[k]
		for i, x := range es {
			if x == e {
				es[i] = es[len(es)-1]
				es[len(es)-1] = nil
				es = es[:len(es)-1]
				break
			}
		}
		if len(es) == 0 {
			delete(s.byKey, k)
		} else {
			s.byKey[k] = es
		}
	}
	s.unlink(e)
	s.used -= e.size
	c.live.Add(-1)
}

func (s *cacheShard) pushFront(e *cacheEntry) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

func (s *cacheShard) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

// cacheStats is what the cache tells Stats.
type cacheStats struct {
	hits, misses, invalidations, evictions, expirations uint64
	entries, bytes                                      int
}

func (c *clientCache) stats() cacheStats {
	var st cacheStats
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.hits += s.hits.Load()
		st.misses += s.misses
		st.invalidations += s.invalidations
		st.evictions += s.evictions
		st.expirations += s.expirations
		st.entries += len(s.entries)
		st.bytes += s.used
		s.mu.Unlock()
	}
	return st
}
