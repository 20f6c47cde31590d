package justredis

import (
	"context"
	"sync"
)

// cachedMulti is DoMulti by the client-side cache, for a pipeline of
// cacheable reads only: hits are answered locally and the misses read
// through the tracked connections, one round trip per server, the replies
// in the caller's order. done is false when the cache does not serve
// cmds, or a miss could not be read through a tracked connection (a
// redirection, a network failure): the whole pipeline then goes the
// usual way, which for reads is harmless.
//
// A pipeline with anything else in it goes the usual way: a hit must not
// overtake a write that comes before it, and sending the other reads
// apart would take the caller's commands into a slice of the client's,
// which would make every DoMulti copy its arguments (see dispatch).
func (r *Redis) cachedMulti(ctx context.Context, cmds [][]any) (vals []any, err error, done bool) {
	t := r.cacheTable(ctx)
	if t == nil {
		return nil, nil, false
	}
	for _, args := range cmds {
		if cmd := t.lookup(args); cmd == nil || !cmd.cacheable {
			return nil, nil, false
		}
	}
	// Every ID is encoded before anything is looked up, so that an
	// invalid argument is reported, by the usual path, with nothing sent.
	ids := make([][]byte, len(cmds))
	for i, args := range cmds {
		if ids[i], err = appendCacheID(nil, r.call.db, args); err != nil {
			return nil, nil, false
		}
	}
	m := &multiRead{r: r, vals: make([]any, len(cmds))}
	c := r.p.cache
	for i, id := range ids {
		ttl := r.call.cacheTTL
		if h, ok := c.look(id, cacheNow(), ttl); ok {
			m.set(i, h)
			continue
		}
		mine, wait := c.begin(id, cacheKeys(t.lookup(cmds[i]), cmds[i]), cacheNow(), ttl)
		if mine != nil {
			m.fills = append(m.fills, multiFill{i: i, f: mine})
		} else {
			m.waits = append(m.waits, multiWait{i: i, f: wait})
		}
	}
	if len(m.fills) == 0 && len(m.waits) == 0 {
		r.call.trace.hit() // no server saw the call
	}
	if len(m.fills) > 0 {
		groups, err := m.plan(ctx, t, cmds)
		if err != nil || groups == nil {
			m.abandon()
			return nil, err, err != nil
		}
		m.fillAll(ctx, groups)
	}
	if err := ctx.Err(); err != nil {
		return nil, err, true
	}
	if m.failed {
		return nil, nil, false
	}
	for _, w := range m.waits {
		if w.f != nil {
			select {
			case <-w.f.done:
			case <-ctx.Done():
				return nil, ctx.Err(), true
			}
		}
		h, ok := c.look(ids[w.i], cacheNow(), r.call.cacheTTL)
		if !ok {
			return nil, nil, false // the other caller's fill stored nothing
		}
		m.set(w.i, h)
	}
	// The hits, all but this call's own fills (in order of i), are
	// counted only now: a pipeline that went the usual way after all
	// was not answered from the cache, whatever it found there.
	fills := m.fills
	for i, id := range ids {
		if len(fills) > 0 && fills[0].i == i {
			fills = fills[1:]
			continue
		}
		c.shard(id).hits.Add(1)
	}
	return m.vals, nil, true
}

// multiRead is one DoMulti on its way through the cache. It holds nothing
// of the caller's commands: the round trips get them encoded.
type multiRead struct {
	r      *Redis
	vals   []any
	fills  []multiFill // misses this call fills
	waits  []multiWait // misses another caller is filling
	mu     sync.Mutex
	failed bool // a fill could not be read: the pipeline goes the usual way
}

type multiFill struct {
	i int
	f *cacheFill
}

type multiWait struct {
	i int
	f *cacheFill // nil: stored meanwhile, look again
}

// fillGroup is the fills that go to one tracked connection, encoded.
type fillGroup struct {
	sv    *server
	key   connKey
	fills []*multiFill
	enc   []byte
	n     int // replies
}

func (m *multiRead) set(i int, h cacheHit) {
	v, err := decodeHit(h, m.r.call.decoder, m.r.p.s.password)
	if err != nil {
		v = err
	}
	m.vals[i] = v
}

func (m *multiRead) abandon() {
	for k := range m.fills {
		m.r.p.cache.abandon(m.fills[k].f)
	}
}

// plan routes and encodes every fill before any is sent, so that a
// refusal (CROSSSLOT) fails the call with nothing sent, as the usual path
// would. groups is nil when a read cannot go by the cache.
func (m *multiRead) plan(ctx context.Context, t *commandTable, cmds [][]any) ([]*fillGroup, error) {
	var groups []*fillGroup
	for k := range m.fills {
		mf := &m.fills[k]
		args := cmds[mf.i]
		sv, key, err := m.r.readServer(ctx, t.lookup(args), args)
		if err != nil || sv == nil {
			return nil, err
		}
		var g *fillGroup
		for _, x := range groups {
			if x.sv == sv && x.key == key {
				g = x
			}
		}
		if g == nil {
			g = &fillGroup{sv: sv, key: key}
			groups = append(groups, g)
		}
		if g.enc, err = appendFill(g.enc, args, mf.f.keys); err != nil {
			return nil, nil // not sendable: the usual path says why
		}
		g.fills = append(g.fills, mf)
		g.n += fillReplies(mf.f)
	}
	return groups, nil
}

// fillAll reads the fills, the servers at once.
func (m *multiRead) fillAll(ctx context.Context, groups []*fillGroup) {
	if len(groups) == 1 {
		m.fillGroup(ctx, groups[0])
		return
	}
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.fillGroup(ctx, g)
		}()
	}
	wg.Wait()
}

// fillGroup reads one group's fills in one round trip.
func (m *multiRead) fillGroup(ctx context.Context, g *fillGroup) {
	c := m.r.p.cache
	fail := func() {
		for _, mf := range g.fills {
			c.abandon(mf.f)
		}
		m.mu.Lock()
		m.failed = true
		m.mu.Unlock()
	}
	cn, err := g.sv.trackedConn(ctx, g.key, c)
	if err != nil {
		fail()
		return
	}
	m.r.call.trace.served(g.sv.addr)
	all := make([]any, g.n)
	now := cacheNow()
	fctx, cancel := m.r.fillContext(ctx)
	_, err = cn.roundTripEncoded(fctx, g.enc, frameDecoder{}, all)
	if cancel != nil {
		cancel()
	}
	if err != nil {
		if ctx.Err() == nil && fctx.Err() != nil {
			cn.fail(err) // silent for the socket timeout: deemed dead
		}
		fail()
		return
	}
	for _, mf := range g.fills {
		vals := all[:fillReplies(mf.f)]
		all = all[len(vals):]
		frame, keep, final := c.finish(mf.f, vals, cn, now, m.r.call.cacheTTL)
		switch {
		case !final:
			m.mu.Lock()
			m.failed = true // a redirection: the usual path follows it
			m.mu.Unlock()
		case !keep:
			m.vals[mf.i] = vals[1]
		default:
			v, err := decodeFrame(frame, m.r.call.decoder, m.r.p.s.password)
			if err != nil {
				v = err
			}
			m.vals[mf.i] = v
		}
	}
}
