package justredis

import (
	"sort"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of what a client holds and has done, for an operator
// to poll: connections per server, waits for a connection, dials, and the
// client-side cache. Counters (Waits, Dials, CacheHits, ...) count from
// New; the others are the state at the time of the call.
type Stats struct {
	// Servers has one entry per server the client has connected to, by
	// address, in address order.
	Servers []ServerStats

	// The client-side cache (WithClientCache); all zero without one.
	CacheHits          uint64 // calls answered from the cache
	CacheMisses        uint64 // cacheable calls that went to the server
	CacheEntries       int    // replies held
	CacheBytes         int    // their size, as counted against the bound
	CacheInvalidations uint64 // entries dropped because a key changed, or the connection tracking them broke
	CacheEvictions     uint64 // entries dropped to make room, about least recently used first (second chance)
	CacheExpirations   uint64 // entries found past their WithCache ttl or their keys' expiry
}

// ServerStats describes the connections to one server.
type ServerStats struct {
	Addr string

	// Open connections, as CLIENT LIST on the server counts them: Shared
	// (pipelined, one per database in use) and Dedicated (all others:
	// Connections, blocking commands, push connections, those at rest,
	// and the client-side cache's).
	Shared, Dedicated int
	// Of the dedicated ones: at rest in the pool, running a blocking
	// command, and in push mode (PushConnection).
	Idle, Blocking, Push int

	// Waits counts callers that waited for a connection under
	// WithMaxConnections, WaitTimeouts those that gave up, and WaitTime is
	// the time they waited in all.
	Waits, WaitTimeouts uint64
	WaitTime            time.Duration

	// Dials counts connects made, DialFailures those that failed; a
	// connect and its WithConnectRetry retries count once.
	Dials, DialFailures uint64
}

// serverCounters are the counters of one server behind ServerStats.
type serverCounters struct {
	blocking            atomic.Int64
	waits, waitTimeouts atomic.Uint64
	waitNanos           atomic.Int64
	dials, dialFailures atomic.Uint64
}

// Stats returns a snapshot of the client's connections and cache. It is
// cheap, safe for concurrent use, and may be called at any time, before
// the first call and after Close included.
func (r *Redis) Stats() Stats {
	var st Stats
	if r == nil || r.p == nil {
		return st // not made by New: nothing to count
	}
	r.p.mu.Lock()
	servers := make([]*server, 0, len(r.p.servers))
	for _, sv := range r.p.servers {
		servers = append(servers, sv)
	}
	r.p.mu.Unlock()
	sort.Slice(servers, func(i, j int) bool { return servers[i].addr < servers[j].addr })
	for _, sv := range servers {
		st.Servers = append(st.Servers, sv.stats())
	}
	if c := r.p.cache; c != nil {
		cs := c.stats()
		st.CacheHits, st.CacheMisses = cs.hits, cs.misses
		st.CacheEntries, st.CacheBytes = cs.entries, cs.bytes
		st.CacheInvalidations, st.CacheEvictions, st.CacheExpirations = cs.invalidations, cs.evictions, cs.expirations
	}
	return st
}

func (sv *server) stats() ServerStats {
	c := &sv.counters
	st := ServerStats{
		Addr:         sv.addr,
		Blocking:     int(c.blocking.Load()),
		Waits:        c.waits.Load(),
		WaitTimeouts: c.waitTimeouts.Load(),
		WaitTime:     time.Duration(c.waitNanos.Load()),
		Dials:        c.dials.Load(),
		DialFailures: c.dialFailures.Load(),
	}
	sv.mu.Lock()
	for cn, dedicated := range sv.all {
		if dedicated {
			st.Dedicated++
		} else {
			st.Shared++
		}
		if cn.pushing.Load() {
			st.Push++
		}
	}
	st.Idle = len(sv.idle)
	sv.mu.Unlock()
	return st
}
