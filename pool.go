package justredis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// pool is everything a Redis value and all its copies share: settings,
// the servers by address, the router that sends calls to them, and the
// server's COMMAND table.
type pool struct {
	s      settings
	closed atomic.Bool

	mu      sync.Mutex
	servers map[string]*server

	// rt routes calls: a detector until the first call finds out what the
	// deployment is, then the router for it, for good.
	rt atomic.Pointer[routerRef]

	// cmds is the server's COMMAND table, which the first handshake
	// fetches (see extraSetup, in commands.go).
	cmds atomic.Pointer[commandTable]
	// noTable is set when the server would not give its table.
	noTable atomic.Bool

	// shas are the SHA1s of the scripts EVAL has sent (scripts.go).
	shas scriptSHAs

	// cache is the client-side cache (WithClientCache); nil for none.
	cache *clientCache
}

// routerRef holds a router, so that it can sit in an atomic.Pointer.
type routerRef struct{ router }

func newPool(s settings) *pool {
	p := &pool{
		s:       s,
		servers: make(map[string]*server),
	}
	p.setRouter(&detector{p: p, finding: make(chan struct{}, 1)})
	if s.cacheBytes > 0 {
		p.cache = newClientCache(s.cacheBytes)
	}
	return p
}

// router returns the router in use.
func (p *pool) router() router { return p.rt.Load().router }

func (p *pool) setRouter(rt router) { p.rt.Store(&routerRef{rt}) }

// server returns the server for addr, creating it on first use.
func (p *pool) server(addr string) *server {
	p.mu.Lock()
	defer p.mu.Unlock()
	sv := p.servers[addr]
	if sv == nil {
		sv = newServer(addr, &p.s, p)
		p.servers[addr] = sv
		if p.closed.Load() {
			sv.close() // close has listed the servers already
		}
	}
	return sv
}

// seeds returns the servers of the addresses the client was given.
func (p *pool) seeds() []*server {
	out := make([]*server, len(p.s.addrs))
	for i, addr := range p.s.addrs {
		out[i] = p.server(addr)
	}
	return out
}

// serverFor picks the server for a connection of its own (Connection,
// PushConnection): the one WithEndpoint names, or the one the router
// picks for keys.
func (p *pool) serverFor(ctx context.Context, cs *callSettings, keys []string) (*server, error) {
	switch cs.endpoint {
	case Masters:
		return nil, invalidArg("WithEndpoint(Masters) runs single commands on every master; a connection needs one server: give keys or an address")
	case "":
		return p.router().serverFor(ctx, cs, keys)
	}
	if err := p.router().check(cs); err != nil {
		return nil, err
	}
	return p.endpoint(ctx, cs.endpoint)
}

// endpoint returns the server WithEndpoint names, which must be one of the
// deployment's: one the client has met (a seed, a node of the slot map, a
// master or replica a sentinel named), one Endpoints lists now, or one the
// deployment lists whatever its state: in a cluster, CLUSTER NODES (see
// slotKeeper.member); through Sentinel, the sentinels (see
// sentinel.member). Any other address is refused, not dialled: the client
// would log in there with its credentials.
func (p *pool) endpoint(ctx context.Context, addr string) (*server, error) {
	if sv := p.known(addr); sv != nil {
		return sv, nil
	}
	rt := p.router()
	if d, ok := rt.(*detector); ok {
		var err error
		if rt, err = d.detect(ctx, false); err != nil {
			return nil, err
		}
		if sv := p.known(addr); sv != nil {
			return sv, nil // met while finding out what the deployment is
		}
	}
	var member bool
	var err error
	switch rt := rt.(type) {
	case *sentinel:
		// Not by Endpoints, which needs the master up and lists only the
		// replicas fit to serve: a replica is the deployment's all the
		// same, and is named most when the master is down.
		member, err = rt.member(ctx, addr)
	case *cluster:
		// Endpoints lists the nodes as of the last refresh, failed ones
		// left out; a node may have joined since, or be named to look
		// into its failure.
		member, err = rt.member(ctx, addr)
	default:
		var eps []Endpoint
		eps, err = rt.endpoints(ctx)
		for _, e := range eps {
			member = member || e.Address == addr
		}
	}
	if err != nil {
		return nil, err
	}
	if member {
		return p.server(addr), nil
	}
	if sv := p.known(addr); sv != nil {
		return sv, nil // met while finding out
	}
	return nil, invalidArg(fmt.Sprintf("WithEndpoint(%q): no server of this deployment has that address (Endpoints lists them)", addr))
}

// known returns the server of addr if the client has met it, else nil.
func (p *pool) known(addr string) *server {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.servers[addr]
}

// lost tells the router that sv could not be reached.
func (p *pool) lost(sv *server) { p.router().lost(sv) }

func (p *pool) close() {
	if p.closed.Swap(true) {
		return
	}
	p.router().close()
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

// closeGone closes the idle connections to the servers a new slot map no
// longer lists (nodes that left the cluster, replicas removed), so that the
// client holds connections for the topology as it is, not for every node it
// ever saw. The servers stay known: one that comes back is dialled again.
func (p *pool) closeGone(listed map[string]bool) {
	p.mu.Lock()
	var gone []*server
	for addr, sv := range p.servers {
		if !listed[addr] {
			gone = append(gone, sv)
		}
	}
	p.mu.Unlock()
	for _, sv := range gone {
		sv.closeIdle()
	}
}
