package justredis

import (
	"context"
	"fmt"
	"strings"
)

// router sends calls to the servers of one kind of deployment: one
// implementation per topology (standalone.go, cluster.go, sentinel.go), so
// that where a command goes, and when it is retried, is read in one file.
// The pool holds one router for good once the first call has found out
// which it needs; until then a detector stands in.
//
// do and doMulti are called only through dispatch, in redis.go, which
// switches on the router's type instead of calling through the interface:
// a call through an interface makes the compiler assume that its
// arguments escape, and Do's arguments would then be copied to the heap
// on every call. A new router adds a case there.
type router interface {
	// do runs one command and returns its reply; an error reply is the
	// error.
	do(ctx context.Context, cs *callSettings, args []any) (any, error)
	// doMulti runs cmds in one round trip per server and returns their
	// replies in order. On failure it returns the replies it trusts, or
	// nil.
	doMulti(ctx context.Context, cs *callSettings, cmds [][]any) ([]any, error)
	// check refuses call settings the deployment cannot serve.
	check(cs *callSettings) error
	// serverFor picks the server for a connection of its own: in a
	// cluster, the one serving keys.
	serverFor(ctx context.Context, cs *callSettings, keys []string) (*server, error)
	// masters lists the servers WithEndpoint(Masters) runs a command on.
	masters(ctx context.Context, cs *callSettings) ([]*server, error)
	// endpoints lists every server, with its role, as currently known.
	endpoints(ctx context.Context) ([]Endpoint, error)
	// lost is told that sv could not be reached.
	lost(sv *server)
	close()
}

// detector is the router until the first call finds out what the
// deployment is. New never dials, so it cannot know: the first call tries
// the seeds, installs the router for what it found, and hands over.
type detector struct {
	p       *pool
	finding chan struct{} // held while seeds are tried
}

// detect finds out what the deployment is and installs its router.
// Concurrent first callers wait for one of them. dedicated says which
// kind of connection the caller needs, so that the one made to find out
// serves it.
func (d *detector) detect(ctx context.Context, dedicated bool) (router, error) {
	select {
	case d.finding <- struct{}{}:
	case <-ctx.Done():
		return nil, d.p.seedsWaitEnded(ctx.Err())
	}
	defer func() { <-d.finding }()
	if rt := d.p.router(); rt != router(d) {
		return rt, nil // another caller found out meanwhile
	}
	var rt router
	switch {
	case d.p.s.sentinel.master != "":
		// The sentinels say where the master is, when a call needs it.
		rt = newSentinel(d.p)
	case d.p.s.mode == ModeStandalone:
		// Nothing to ask: the first seed that answers serves, found when
		// the first connection is needed.
		rt = newStandalone(d.p, nil)
	default:
		var err error
		if rt, err = d.probeSeeds(ctx, dedicated); err != nil {
			return nil, err
		}
	}
	d.p.setRouter(rt)
	if d.p.closed.Load() {
		rt.close() // close may have missed it
	}
	return rt, nil
}

// probeSeeds tries the seeds until one answers (see firstAnswer), and
// finds out from it whether the deployment is a cluster.
func (d *detector) probeSeeds(ctx context.Context, dedicated bool) (router, error) {
	return firstAnswer(ctx, d.p.seeds(), func(ctx context.Context, sv *server) (router, error) {
		return d.probe(ctx, sv, dedicated)
	})
}

// probe asks sv for CLUSTER SLOTS in the same round trip as the handshake
// of a new connection, which then serves the caller: as the shared
// connection to database 0, or as a dedicated one at rest. CLUSTER NODES
// comes along, so that the first slot map lists the masters that serve no
// slot too, and the first WithEndpoint(Masters) reaches them: a single
// server answers it with a short error.
func (d *detector) probe(ctx context.Context, sv *server, dedicated bool) (router, error) {
	p := d.p
	cn, info, err := sv.openPlan(ctx, setupPlan{extra: [][]any{{"CLUSTER", "SLOTS"}, {"CLUSTER", "NODES"}}}, dedicated)
	if err != nil {
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
		return newStandalone(p, sv), nil
	}
	switch {
	case !refused:
		m, err := parseCluster(p, slots, info.extra[1], sv.addr)
		if err != nil {
			return nil, fmt.Errorf("justredis: %s: %w", sv.addr, err)
		}
		return newCluster(p, m), nil
	case info.mode == "cluster":
		// A cluster node that will not tell its slots (an ACL, say).
		return nil, fmt.Errorf("justredis: %s is a cluster node, but CLUSTER SLOTS failed: %w", sv.addr, e)
	case p.s.mode == ModeCluster:
		if strings.Contains(e.msg, "cluster support disabled") {
			return nil, invalidArg(fmt.Sprintf("WithMode(ModeCluster): %s is not a cluster node", sv.addr))
		}
		return nil, fmt.Errorf("justredis: %s: CLUSTER SLOTS: %w", sv.addr, e)
	}
	// Cluster support disabled, or (under RESP2, where HELLO cannot tell)
	// CLUSTER SLOTS not allowed: a single server.
	return newStandalone(p, sv), nil
}

// The detector's methods find out first, then hand over. dispatch calls
// detect itself rather than do and doMulti, which would let Do's
// arguments escape.

func (d *detector) do(ctx context.Context, cs *callSettings, args []any) (any, error) {
	rt, err := d.detect(ctx, false)
	if err != nil {
		return nil, err
	}
	return rt.do(ctx, cs, args)
}

func (d *detector) doMulti(ctx context.Context, cs *callSettings, cmds [][]any) ([]any, error) {
	rt, err := d.detect(ctx, false)
	if err != nil {
		return nil, err
	}
	return rt.doMulti(ctx, cs, cmds)
}

// check accepts everything: New refused what can be known without
// dialling, and the router installed later checks the rest.
func (d *detector) check(cs *callSettings) error { return nil }

func (d *detector) serverFor(ctx context.Context, cs *callSettings, keys []string) (*server, error) {
	rt, err := d.detect(ctx, true)
	if err != nil {
		return nil, err
	}
	return rt.serverFor(ctx, cs, keys)
}

func (d *detector) masters(ctx context.Context, cs *callSettings) ([]*server, error) {
	rt, err := d.detect(ctx, false)
	if err != nil {
		return nil, err
	}
	return rt.masters(ctx, cs)
}

func (d *detector) endpoints(ctx context.Context) ([]Endpoint, error) {
	rt, err := d.detect(ctx, false)
	if err != nil {
		return nil, err
	}
	return rt.endpoints(ctx)
}

func (d *detector) lost(*server) {}
func (d *detector) close()       {}
