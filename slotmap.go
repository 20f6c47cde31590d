package justredis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// This file is what the client knows of a Redis Cluster's slots: which
// shard (a master and its replicas) serves each slot, learned from
// CLUSTER SLOTS, and how that knowledge is kept current. The nodes that
// serve no slot come from CLUSTER NODES (clusternodes.go).

// slotMap is one view of the cluster: the shard serving each slot. It is
// replaced, never changed, so calls read it without a lock.
type slotMap struct {
	owner  [numSlots]uint16 // 1 + index in shards; 0 for a slot nobody serves
	shards []shard
	// idle holds the nodes CLUSTER SLOTS leaves out (see idleShards), for
	// Endpoints and Masters; routing never reads it, so keyed commands go
	// by CLUSTER SLOTS alone and pay nothing for it.
	idle []shard
}

// shard is a master and its replicas. In idle, master may be nil: the
// replicas of a master that is not listed.
type shard struct {
	master   *server
	replicas []*server
}

const (
	// refreshInterval spaces refreshes of the slot map: a storm of
	// redirections reloads it once per interval at most.
	refreshInterval = 200 * time.Millisecond
	// refreshTimeout bounds asking one node for the map; a node that does
	// not answer in time is passed over for the next.
	refreshTimeout = 2 * time.Second
)

// slotKeeper holds the slot map and keeps it current as the cluster
// reshards and fails over: MOVED replies patch it at once, and a refresh,
// coalesced and rate-limited, reloads it after redirections and failures.
type slotKeeper struct {
	p     *pool
	slots atomic.Pointer[slotMap]

	mu        sync.Mutex    // guards what follows, and the writing of slots
	running   bool          // a refresh is under way or waiting its turn
	reloading bool          // it is under way
	again     bool          // and another was asked for since it began
	last      time.Time     // when the latest refresh began
	done      uint64        // refreshes finished
	started   uint64        // refreshes begun
	changed   chan struct{} // closed when a refresh finishes
	lastErr   error
	stop      chan struct{} // closed when the pool is
}

func (c *slotKeeper) init(p *pool, m *slotMap) {
	c.p, c.changed, c.stop, c.last = p, make(chan struct{}), make(chan struct{}), time.Now()
	c.slots.Store(m)
}

func (c *slotKeeper) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
}

// parseSlotMap reads a CLUSTER SLOTS reply: entries of a slot range, its
// master and its replicas, each node as [host, port, id, ...]. from is the
// address of the node that answered, whose host stands in for nodes that
// do not know their own (an empty host).
func parseSlotMap(p *pool, v any, from string) (*slotMap, error) {
	entries, ok := v.([]any)
	if !ok {
		return nil, &protocolError{fmt.Sprintf("CLUSTER SLOTS reply is %T, not an array", v)}
	}
	fromHost, _, _ := net.SplitHostPort(from)
	m := &slotMap{}
	byMaster := map[string]int{}
	for _, e := range entries {
		f, ok := e.([]any)
		if !ok || len(f) < 3 {
			return nil, &protocolError{fmt.Sprintf("CLUSTER SLOTS entry %v is malformed", e)}
		}
		lo, ok1 := f[0].(int64)
		hi, ok2 := f[1].(int64)
		master, ok3 := nodeAddr(f[2], fromHost)
		if !ok1 || !ok2 || lo < 0 || hi >= numSlots || lo > hi {
			return nil, &protocolError{fmt.Sprintf("CLUSTER SLOTS entry %v is malformed", e)}
		}
		if !ok3 {
			continue // a master whose address is unknown serves nobody
		}
		i, seen := byMaster[master]
		if !seen {
			i = len(m.shards)
			byMaster[master] = i
			m.shards = append(m.shards, shard{master: p.server(master)})
		}
		sh := &m.shards[i]
		for _, r := range f[3:] {
			addr, ok := nodeAddr(r, fromHost)
			if ok && !sh.hasReplica(addr) {
				sh.replicas = append(sh.replicas, p.server(addr))
			}
		}
		for s := lo; s <= hi; s++ {
			m.owner[s] = uint16(i + 1)
		}
	}
	if len(m.shards) == 0 {
		return nil, errors.New("justredis: CLUSTER SLOTS lists no node serving a slot: is the cluster still being set up?")
	}
	return m, nil
}

// parseCluster reads the replies to CLUSTER SLOTS and CLUSTER NODES that
// the node at from gave in one round trip, so that they agree. Without
// CLUSTER NODES (an error reply: an ACL may deny it) the map has only the
// nodes that serve slots.
func parseCluster(p *pool, slots, nodes any, from string) (*slotMap, error) {
	m, err := parseSlotMap(p, slots, from)
	if err != nil {
		return nil, err
	}
	if text, ok := nodes.(string); ok {
		m.idle = idleShards(p, slots, text, from)
	}
	return m, nil
}

// nodeAddr reads a node's host and port from CLUSTER SLOTS. "?" stands for
// an unknown endpoint.
func nodeAddr(v any, fromHost string) (string, bool) {
	f, ok := v.([]any)
	if !ok || len(f) < 2 {
		return "", false
	}
	host, _ := f[0].(string)
	port, _ := f[1].(int64)
	if host == "?" || port <= 0 {
		return "", false
	}
	if host == "" {
		host = fromHost
	}
	return net.JoinHostPort(host, strconv.FormatInt(port, 10)), true
}

func (sh *shard) hasReplica(addr string) bool {
	for _, r := range sh.replicas {
		if r.addr == addr {
			return true
		}
	}
	return false
}

// anyMaster is where keyless commands go: the master of slot 0, a stable
// choice that follows failovers, unless it is known to be down and another
// is not: any master answers them.
func (m *slotMap) anyMaster() *server {
	sv := m.shards[0].master
	if i := m.owner[0]; i > 0 {
		sv = m.shards[i-1].master
	}
	if !sv.health.isDown() {
		return sv
	}
	for i := range m.shards {
		if other := m.shards[i].master; !other.health.isDown() {
			return other
		}
	}
	return sv
}

// masterAddr returns the address of slot's master, "" if nobody serves it.
func (m *slotMap) masterAddr(slot int) string {
	if i := m.owner[slot]; i > 0 {
		return m.shards[i-1].master.addr
	}
	return ""
}

// moved records what a MOVED reply said: slot is now served by addr.
func (c *slotKeeper) moved(slot int, addr string) {
	c.mu.Lock()
	m := c.slots.Load()
	if i := m.owner[slot]; i > 0 && m.shards[i-1].master.addr == addr {
		c.mu.Unlock()
		return
	}
	next := &slotMap{owner: m.owner, shards: m.shards, idle: m.idle}
	i := -1
	for j := range m.shards {
		if m.shards[j].master.addr == addr {
			i = j
			break
		}
	}
	if i < 0 {
		next.shards = append(m.shards[:len(m.shards):len(m.shards)], shard{master: c.p.server(addr)})
		i = len(next.shards) - 1
	}
	next.owner[slot] = uint16(i + 1)
	c.slots.Store(next)
	c.mu.Unlock()
	c.refreshSoon()
}

// refreshSoon reloads the slot map in the background: at once, or when
// refreshInterval has passed since the last refresh began. Requests made
// while one is under way are served by one more refresh after it.
func (c *slotKeeper) refreshSoon() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.request()
}

// request starts a refresh or asks the running one to go again. c.mu is
// held.
func (c *slotKeeper) request() {
	if c.running {
		c.again = true
		return
	}
	c.running = true
	go c.refreshLoop()
}

// refresh reloads the slot map and waits for it: a refresh that begins
// after the call, so that it reflects the cluster as it is now.
func (c *slotKeeper) refresh(ctx context.Context) error {
	c.mu.Lock()
	want := c.started + 1
	if c.reloading {
		want++ // the one under way may have asked too early
	}
	c.request()
	for c.done < want {
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.stop:
			return ErrClosed
		}
		c.mu.Lock()
	}
	err := c.lastErr
	c.mu.Unlock()
	return err
}

// refreshLoop runs refreshes until none is wanted.
func (c *slotKeeper) refreshLoop() {
	for {
		c.mu.Lock()
		wait := refreshInterval - time.Since(c.last)
		c.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.stop:
				t.Stop()
			}
		}
		c.mu.Lock()
		c.last = time.Now()
		c.started++
		c.reloading = true
		c.again = false
		c.mu.Unlock()

		err := c.reload()

		c.mu.Lock()
		c.done++
		c.reloading = false
		c.lastErr = err
		close(c.changed)
		c.changed = make(chan struct{})
		stopped := false
		select {
		case <-c.stop:
			stopped = true
		default:
		}
		if !c.again || stopped {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// reload asks the known nodes, masters first, then the seeds, for CLUSTER
// SLOTS (see firstAnswer), and installs the first complete answer.
func (c *slotKeeper) reload() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()

	type fetched struct {
		m    *slotMap
		from string
	}
	got, err := firstAnswer(ctx, c.candidates(), func(ctx context.Context, sv *server) (fetched, error) {
		m, err := c.fetch(ctx, sv)
		return fetched{m, sv.addr}, err
	})
	if ctx.Err() != nil {
		return ErrClosed
	}
	if err != nil {
		err = fmt.Errorf("justredis: no cluster node gave its slot map: %w", err)
		c.p.s.emit(ctx, &Event{Kind: EventRefresh, Err: err})
		return err
	}
	c.mu.Lock()
	c.slots.Store(got.m)
	c.mu.Unlock()
	c.p.s.emit(ctx, &Event{Kind: EventRefresh, Addr: got.from})
	c.p.closeGone(got.m.listed())
	return nil
}

// candidates lists the nodes to ask for the slot map: the masters in a
// random order, which spreads the load of many clients, then replicas,
// then the seeds.
func (c *slotKeeper) candidates() []*server {
	m := c.slots.Load()
	var masters, replicas []*server
	seen := map[string]bool{}
	for _, sh := range m.shards {
		if !seen[sh.master.addr] {
			seen[sh.master.addr] = true
			masters = append(masters, sh.master)
		}
		for _, r := range sh.replicas {
			if !seen[r.addr] {
				seen[r.addr] = true
				replicas = append(replicas, r)
			}
		}
	}
	rand.Shuffle(len(masters), func(i, j int) { masters[i], masters[j] = masters[j], masters[i] })
	rand.Shuffle(len(replicas), func(i, j int) { replicas[i], replicas[j] = replicas[j], replicas[i] })
	out := append(masters, replicas...)
	for _, addr := range c.p.s.addrs {
		if !seen[addr] {
			seen[addr] = true
			out = append(out, c.p.server(addr))
		}
	}
	return out
}

// fetch asks one node for the slot map, and for the nodes that serve no
// slot.
func (c *slotKeeper) fetch(ctx context.Context, sv *server) (*slotMap, error) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	cn, err := sv.sharedConn(ctx, 0)
	if err != nil {
		return nil, err
	}
	vals := make([]any, 2)
	_, err = cn.roundTrip(ctx, [][]any{{"CLUSTER", "SLOTS"}, {"CLUSTER", "NODES"}}, StringDecoder, vals)
	cn.done()
	if err != nil {
		return nil, ownCommand(err)
	}
	if e, ok := vals[0].(*Error); ok {
		return nil, fmt.Errorf("justredis: %s: CLUSTER SLOTS: %w", sv.addr, e)
	}
	return parseCluster(c.p, vals[0], vals[1], sv.addr)
}

// shardOrder lists the shards that serve slots, by their first slot. A
// shard a MOVED took its last slot from is left out: its master may have
// failed over, and the refresh the MOVED asked for lists it among the
// idle if it is still a master.
func (m *slotMap) shardOrder() []int {
	var order []int
	seen := make([]bool, len(m.shards))
	for _, i := range m.owner {
		if i > 0 && !seen[i-1] {
			seen[i-1] = true
			order = append(order, int(i-1))
		}
	}
	return order
}

// endpoints lists every node of the map once: each master followed by its
// replicas, the masters in slot order, then those that serve no slot.
func (m *slotMap) endpoints() []Endpoint {
	var out []Endpoint
	seen := map[string]bool{}
	add := func(sv *server, role string) {
		if sv != nil && !seen[sv.addr] {
			seen[sv.addr] = true
			out = append(out, Endpoint{Address: sv.addr, Role: role})
		}
	}
	addShard := func(sh *shard) {
		add(sh.master, "master")
		for _, r := range sh.replicas {
			add(r, "replica")
		}
		if sh.master == nil {
			return
		}
		for i := range m.idle { // replicas CLUSTER SLOTS did not show
			if m.idle[i].master == sh.master {
				for _, r := range m.idle[i].replicas {
					add(r, "replica")
				}
			}
		}
	}
	for _, i := range m.shardOrder() {
		addShard(&m.shards[i])
	}
	for i := range m.idle {
		if !m.routed(m.idle[i].master) {
			addShard(&m.idle[i])
		}
	}
	return out
}

// routed reports whether sv is the master of one of the map's shards,
// serving slots or not: those are listed by slot order, and left out when
// a MOVED took their last slot (see shardOrder), though the refresh that
// saw them serve slots gave them idle replicas.
func (m *slotMap) routed(sv *server) bool {
	for i := range m.shards {
		if sv != nil && m.shards[i].master == sv {
			return true
		}
	}
	return false
}

// masters returns each master once, those serving slots first, in slot
// order: WithEndpoint(Masters) runs on every master, and one that serves
// no slot yet is one all the same (a SCRIPT LOAD or a CONFIG SET must
// reach it before slots do).
func (m *slotMap) masters() []*server {
	var out []*server
	seen := map[string]bool{}
	add := func(sv *server) {
		if sv != nil && !seen[sv.addr] {
			seen[sv.addr] = true
			out = append(out, sv)
		}
	}
	for _, i := range m.shardOrder() {
		add(m.shards[i].master)
	}
	for i := range m.idle {
		if !m.routed(m.idle[i].master) {
			add(m.idle[i].master)
		}
	}
	return out
}

// listed is the set of addresses of the nodes m lists, slotless ones
// included: a refresh closes the connections to the others.
func (m *slotMap) listed() map[string]bool {
	out := map[string]bool{}
	for _, ep := range m.endpoints() {
		out[ep.Address] = true
	}
	return out
}
