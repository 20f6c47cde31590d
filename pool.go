package justredis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// Masters, given to WithEndpoint, runs a command on every master at once.
// The reply is a map[string]any from each master's address to its reply, or
// to its *Error.
const Masters = "masters"

// Endpoint is one server of a deployment, as Endpoints lists it.
type Endpoint struct {
	Address string // host:port (or socket path) as the client dials it
	Role    string // "master", "replica" or "standalone"
}

// pool is everything a Redis value and all its copies share: settings,
// servers and what the client learned about them.
type pool struct {
	s      settings
	closed atomic.Bool

	mu      sync.Mutex
	servers map[string]*server

	// current is the server of a standalone deployment: the first seed
	// that answered. cluster is set instead when the deployment is a Redis
	// Cluster, and then for good. Neither is set until the first call
	// finds out.
	current atomic.Pointer[server]
	cluster atomic.Pointer[cluster]
	// finding is held while seeds are tried.
	finding chan struct{}

	// cmds is the server's COMMAND table, which the first handshake
	// fetches.
	cmds atomic.Pointer[commandTable]
}

func newPool(s settings) *pool {
	return &pool{
		s:       s,
		servers: make(map[string]*server),
		finding: make(chan struct{}, 1),
	}
}

// server returns the server for addr, creating it on first use.
func (p *pool) server(addr string) *server {
	p.mu.Lock()
	defer p.mu.Unlock()
	sv := p.servers[addr]
	if sv == nil {
		sv = newServer(addr, &p.s, p)
		p.servers[addr] = sv
	}
	return sv
}

// target picks where a call goes: the server WithEndpoint names, the
// server of a standalone deployment, or, with sv nil, the cluster, which
// routes by key. The first call finds out which the deployment is; after
// that a standalone deployment costs one atomic load. dedicated says
// which kind of connection the caller needs, so that the one made to find
// out serves it.
func (p *pool) target(ctx context.Context, cs *callSettings, dedicated bool) (*server, *cluster, error) {
	if cs.endpoint != "" && cs.endpoint != Masters {
		if cs.db != 0 && p.cluster.Load() != nil {
			return nil, nil, dbInCluster(cs.db)
		}
		return p.server(cs.endpoint), nil, nil
	}
	if sv := p.current.Load(); sv != nil {
		return sv, nil, nil
	}
	if cl := p.cluster.Load(); cl != nil {
		return nil, cl, nil
	}
	return p.find(ctx, cs, dedicated)
}

// serverFor picks the server for a connection of its own: in a cluster,
// the master of the slot keys share (any master without keys).
func (p *pool) serverFor(ctx context.Context, cs *callSettings, keys []string) (*server, error) {
	if cs.endpoint == Masters {
		return nil, invalidArg("WithEndpoint(Masters) runs single commands on every master; a connection needs one server: give keys or an address")
	}
	sv, cl, err := p.target(ctx, cs, true)
	if err != nil || cl == nil {
		return sv, err
	}
	if cs.db != 0 {
		return nil, dbInCluster(cs.db)
	}
	slots := slotOf{slot: -1}
	for i, k := range keys {
		slots.add(i+1, k)
	}
	slot, err := slots.result([]any{"keys"})
	if err != nil {
		return nil, err
	}
	return cl.pick(slot, false), nil
}

// find tries the seeds in order and keeps the first that answers, finding
// out on the way whether the deployment is a cluster. Concurrent first
// callers wait for one of them to find out.
func (p *pool) find(ctx context.Context, cs *callSettings, dedicated bool) (*server, *cluster, error) {
	select {
	case p.finding <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	defer func() { <-p.finding }()
	if sv := p.current.Load(); sv != nil {
		return sv, nil, nil
	}
	if cl := p.cluster.Load(); cl != nil {
		return nil, cl, nil
	}
	if p.s.mode == ModeStandalone {
		sv, err := p.findServer(ctx)
		return sv, nil, err
	}
	var errs []error
	for _, addr := range p.s.addrs {
		sv := p.server(addr)
		cl, err := p.probe(ctx, sv, cs.db, dedicated)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if cl != nil {
			p.cluster.Store(cl)
			if p.closed.Load() {
				cl.close() // close may have missed it
			}
			return nil, cl, nil
		}
		p.current.Store(sv)
		return sv, nil, nil
	}
	return nil, nil, errors.Join(errs...)
}

// probe finds out whether sv is a cluster node, and if so loads the slot
// map, by asking CLUSTER SLOTS in the same round trip as the handshake of
// a new connection, which then serves the caller: as the shared
// connection to db, or as a dedicated one at rest. It returns nil for a
// standalone server.
func (p *pool) probe(ctx context.Context, sv *server, db int, dedicated bool) (*cluster, error) {
	cn, info, err := sv.openPlan(ctx, setupPlan{db: db, extra: [][]any{{"CLUSTER", "SLOTS"}}})
	if err != nil {
		var e *Error
		if db != 0 && errors.As(err, &e) && strings.Contains(e.msg, "cluster mode") {
			return nil, dbInCluster(db) // SELECT refused
		}
		return nil, err
	}
	if dedicated || !sv.adoptShared(cn) {
		sv.release(cn)
	}
	slots := info.extra[0]
	e, refused := slots.(*Error)
	if _, ok := slots.([]any); !ok && !refused {
		// Not what a cluster node or Redis would say: a proxy, or a server
		// that only looks like Redis. Take it for a single server.
		return nil, nil
	}
	switch {
	case !refused:
		m, err := parseSlotMap(p, slots, sv.addr)
		if err != nil {
			return nil, fmt.Errorf("justredis: %s: %w", sv.addr, err)
		}
		return newCluster(p, m), nil
	case info.mode == "cluster":
		// A cluster node that will not tell its slots (an ACL, say).
		return nil, fmt.Errorf("justredis: %s is a cluster node, but CLUSTER SLOTS failed: %w", sv.addr, e)
	case p.s.mode == ModeCluster:
		if isClusterDisabled(e) {
			return nil, invalidArg(fmt.Sprintf("WithMode(ModeCluster): %s is not a cluster node", sv.addr))
		}
		return nil, fmt.Errorf("justredis: %s: CLUSTER SLOTS: %w", sv.addr, e)
	}
	// Cluster support disabled, or (under RESP2, where HELLO cannot tell)
	// CLUSTER SLOTS not allowed: a single server.
	return nil, nil
}

// findServer tries the seeds in order and keeps the first that answers,
// without asking whether they are cluster nodes (ModeStandalone). p.finding
// is held.
func (p *pool) findServer(ctx context.Context) (*server, error) {
	if len(p.s.addrs) == 1 {
		// Nothing to choose: dial when a connection is needed, and only
		// the kind that is.
		sv := p.server(p.s.addrs[0])
		p.current.Store(sv)
		return sv, nil
	}
	var errs []error
	for _, addr := range p.s.addrs {
		sv := p.server(addr)
		if _, err := sv.sharedConn(ctx, 0); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		p.current.Store(sv)
		return sv, nil
	}
	return nil, errors.Join(errs...)
}

// serverLost forgets the current server after a failure to reach it, so
// the next call tries the seeds again; in a cluster it reloads the slot
// map.
func (p *pool) serverLost(sv *server) {
	if cl := p.cluster.Load(); cl != nil {
		cl.refreshSoon()
		return
	}
	if len(p.s.addrs) > 1 {
		p.current.CompareAndSwap(sv, nil)
	}
}

// command returns what the server says of the command in args; nil when
// unknown. The table comes with the first connection's handshake, so
// before it is there, command makes sure of a connection to sv.
func (p *pool) command(ctx context.Context, sv *server, db int, args []any) (*command, error) {
	if t := p.cmds.Load(); t != nil {
		return t.lookup(args), nil
	}
	if _, err := sv.sharedConn(ctx, db); err != nil {
		return nil, err
	}
	if t := p.cmds.Load(); t != nil {
		return t.lookup(args), nil
	}
	return nil, nil
}

// endpoints lists the servers of the deployment: in a cluster every node,
// from a slot map reloaded for the occasion; otherwise the one in use.
func (p *pool) endpoints(ctx context.Context) ([]Endpoint, error) {
	sv, cl, err := p.target(ctx, &callSettings{}, false)
	if err != nil {
		return nil, err
	}
	if cl != nil {
		if err := cl.refresh(ctx); err != nil {
			return nil, err
		}
		return cl.endpoints(), nil
	}
	return []Endpoint{{Address: sv.addr, Role: "standalone"}}, nil
}

// masters lists the servers that WithEndpoint(Masters) runs a command on.
func (p *pool) masters(ctx context.Context, cs *callSettings) ([]*server, error) {
	sv, cl, err := p.target(ctx, &callSettings{}, false)
	if err != nil {
		return nil, err
	}
	if cl != nil {
		if cs.db != 0 {
			return nil, dbInCluster(cs.db)
		}
		return cl.masters(), nil
	}
	return []*server{sv}, nil
}

func (p *pool) close() {
	if p.closed.Swap(true) {
		return
	}
	if cl := p.cluster.Load(); cl != nil {
		cl.close()
	}
	p.mu.Lock()
	servers := make([]*server, 0, len(p.servers))
	for _, sv := range p.servers {
		servers = append(servers, sv)
	}
	p.mu.Unlock()
	for _, sv := range servers {
		sv.close()
	}
}
