package justredis

// Stats is a snapshot of what a client counts, for monitoring: Redis.Stats
// returns one. Counters only grow, from the client's creation; the other
// fields are as of the call.
type Stats struct {
	// The client-side cache (WithClientCache); all zero without one.

	// CacheHits counts the reads answered from the cache.
	CacheHits uint64
	// CacheMisses counts the cacheable reads that went to the server: one
	// per server round trip, however many callers waited for it.
	CacheMisses uint64
	// CacheEntries is how many replies the cache holds.
	CacheEntries int
	// CacheBytes is what they take, as counted against WithClientCache's
	// bound: their frames, commands and keys, and a fixed overhead each.
	CacheBytes int
	// CacheInvalidations counts the entries dropped because they may be
	// stale: the server invalidated one of their keys, a write through
	// the client changed one, or the connection whose tracking covered
	// them broke.
	CacheInvalidations uint64
	// CacheEvictions counts the entries dropped to make room, least
	// recently used first.
	CacheEvictions uint64
	// CacheExpirations counts the entries found past their WithCache ttl
	// or their keys' own expiry.
	CacheExpirations uint64

	// Per-server connection statistics come next (issue 14).
}

// Stats returns a snapshot of the client's statistics, shared by all its
// copies.
func (r *Redis) Stats() Stats {
	var st Stats
	if c := r.p.cache; c != nil {
		cs := c.stats()
		st.CacheHits, st.CacheMisses = cs.hits, cs.misses
		st.CacheEntries, st.CacheBytes = cs.entries, cs.bytes
		st.CacheInvalidations, st.CacheEvictions, st.CacheExpirations = cs.invalidations, cs.evictions, cs.expirations
	}
	return st
}
