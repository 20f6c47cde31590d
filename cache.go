package justredis

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// clientCache keeps the replies of cacheable reads as wire frames, for
// client-side caching (WithClientCache). A frame is never changed once
// stored and every hit decodes it afresh, so no two callers share a
// mutable value.
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
type clientCache struct {
	max int // bytes

	mu      sync.Mutex
	used    int
	entries map[cacheID]*cacheEntry
	byKey   map[string]map[*cacheEntry]struct{}
	byOwner map[*conn]map[*cacheEntry]struct{}
	fills   map[cacheID]*cacheFill
	lru     cacheEntry // sentinel of the recency ring: lru.next is the newest

	hits, misses, invalidations, evictions atomic.Uint64
}

// cacheID names what a frame answers: the command as encoded, in a
// database. Redis tracks keys without their database, so invalidations
// go by key name alone.
type cacheID struct {
	db  int
	cmd string
}

type cacheEntry struct {
	id      cacheID
	frame   []byte
	keys    []string
	owner   *conn // the connection whose tracking covers the entry
	expires time.Time
	size    int

	prev, next *cacheEntry
}

// cacheFill is a miss being read from the server; other callers wanting
// the same command wait on done and then look again.
type cacheFill struct {
	id    cacheID
	keys  []string
	stale bool // a key was invalidated after the read was sent
	done  chan struct{}
}

// entryOverhead approximates what an entry costs beyond its bytes: the
// entry itself, its map slots and its key index slots.
const entryOverhead = 160

func newClientCache(maxBytes int) *clientCache {
	c := &clientCache{
		max:     maxBytes,
		entries: make(map[cacheID]*cacheEntry),
		byKey:   make(map[string]map[*cacheEntry]struct{}),
		byOwner: make(map[*conn]map[*cacheEntry]struct{}),
		fills:   make(map[cacheID]*cacheFill),
	}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

// get returns the stored frame for id, or, on a miss, either a fill that
// the caller must complete with store or abandon (it is the first to miss),
// or one to wait for (another caller is reading the same thing already).
func (c *clientCache) get(id cacheID, keys []string, now time.Time) (frame []byte, mine, wait *cacheFill) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[id]; e != nil {
		if now.Before(e.expires) {
			c.unlink(e)
			c.pushFront(e)
			c.hits.Add(1)
			return e.frame, nil, nil
		}
		c.remove(e)
	}
	if f := c.fills[id]; f != nil {
		return nil, nil, f
	}
	c.misses.Add(1)
	f := &cacheFill{id: id, keys: keys, done: make(chan struct{})}
	c.fills[id] = f
	return nil, f, nil
}

// store ends fill f with the server's frame, valid until expires on
// owner's tracking. frame must not be changed afterwards. It is not stored
// when an invalidation overtook the fill, when owner has broken meanwhile,
// or when it alone is larger than the cache.
func (c *clientCache) store(f *cacheFill, frame []byte, owner *conn, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endFill(f)
	size := len(frame) + len(f.id.cmd) + entryOverhead
	for _, k := range f.keys {
		size += len(k)
	}
	if f.stale || owner.dead.Load() || size > c.max {
		return
	}
	if old := c.entries[f.id]; old != nil {
		c.remove(old)
	}
	e := &cacheEntry{id: f.id, frame: frame, keys: f.keys, owner: owner, expires: expires, size: size}
	c.entries[e.id] = e
	for _, k := range e.keys {
		set := c.byKey[k]
		if set == nil {
			set = make(map[*cacheEntry]struct{}, 1)
			c.byKey[k] = set
		}
		set[e] = struct{}{}
	}
	owned := c.byOwner[owner]
	if owned == nil {
		owned = make(map[*cacheEntry]struct{})
		c.byOwner[owner] = owned
	}
	owned[e] = struct{}{}
	c.pushFront(e)
	c.used += size
	for c.used > c.max {
		c.remove(c.lru.prev)
		c.evictions.Add(1)
	}
}

// abandon ends fill f without a value: the read failed, or its reply is
// not to be kept.
func (c *clientCache) abandon(f *cacheFill) {
	c.mu.Lock()
	c.endFill(f)
	c.mu.Unlock()
}

func (c *clientCache) endFill(f *cacheFill) {
	if c.fills[f.id] == f {
		delete(c.fills, f.id)
	}
	close(f.done)
}

// invalidate drops every entry that read one of keys, and spoils the fills
// under way for them. It is called for the server's invalidation messages
// and for the keys of every write made through the client, so that a read
// after a write never sees the value from before it.
func (c *clientCache) invalidate(keys []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		for e := range c.byKey[k] {
			c.remove(e)
			c.invalidations.Add(1)
		}
	}
	if len(c.fills) == 0 {
		return
	}
	for _, f := range c.fills {
		for _, fk := range f.keys {
			if slices.Contains(keys, fk) {
				f.stale = true
				break
			}
		}
	}
}

// flush drops everything: the server flushed its tracking table (a null
// invalidation), or a connection whose tracking state is unknown broke.
func (c *clientCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		c.remove(e)
	}
	for _, f := range c.fills {
		f.stale = true
	}
}

// dropOwner drops what owner's tracking covered: once a connection breaks
// the server no longer tells it of changes.
func (c *clientCache) dropOwner(owner *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := range c.byOwner[owner] {
		c.remove(e)
	}
	delete(c.byOwner, owner)
}

func (c *clientCache) remove(e *cacheEntry) {
	if c.entries[e.id] != e {
		return
	}
	delete(c.entries, e.id)
	for _, k := range e.keys {
		if set := c.byKey[k]; set != nil {
			delete(set, e)
			if len(set) == 0 {
				delete(c.byKey, k)
			}
		}
	}
	if owned := c.byOwner[e.owner]; owned != nil {
		delete(owned, e)
		if len(owned) == 0 {
			delete(c.byOwner, e.owner)
		}
	}
	c.unlink(e)
	c.used -= e.size
}

func (c *clientCache) pushFront(e *cacheEntry) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}

func (c *clientCache) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

// cacheStats is what Stats reports of the cache.
func (c *clientCache) stats() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.used
}
