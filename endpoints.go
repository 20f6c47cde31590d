package justredis

import (
	"context"
	"errors"
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
	// that answered.
	current atomic.Pointer[server]
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
		sv = newServer(addr, &p.s, &p.cmds)
		p.servers[addr] = sv
	}
	return sv
}

// route picks the server for a call.
func (p *pool) route(ctx context.Context, cs *callSettings) (*server, error) {
	if cs.endpoint != "" && cs.endpoint != Masters {
		return p.server(cs.endpoint), nil
	}
	if sv := p.current.Load(); sv != nil {
		return sv, nil
	}
	return p.findServer(ctx)
}

// findServer tries the seeds in order and keeps the first that answers.
func (p *pool) findServer(ctx context.Context) (*server, error) {
	select {
	case p.finding <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.finding }()
	if sv := p.current.Load(); sv != nil {
		return sv, nil
	}
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
// the next call tries the seeds again.
func (p *pool) serverLost(sv *server) {
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

// endpoints lists the servers of a standalone deployment: the one in use.
func (p *pool) endpoints(ctx context.Context) ([]Endpoint, error) {
	sv, err := p.route(ctx, &callSettings{})
	if err != nil {
		return nil, err
	}
	return []Endpoint{{Address: sv.addr, Role: "standalone"}}, nil
}

// masters lists the servers that WithEndpoint(Masters) runs a command on.
func (p *pool) masters(ctx context.Context) ([]*server, error) {
	sv, err := p.route(ctx, &callSettings{})
	if err != nil {
		return nil, err
	}
	return []*server{sv}, nil
}

func (p *pool) close() {
	if p.closed.Swap(true) {
		return
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
