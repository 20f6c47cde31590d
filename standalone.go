package justredis

import (
	"context"
	"sync/atomic"
)

// standalone routes every call to one server: the first seed that
// answers. With several seeds, losing it makes the next call try the
// seeds again. Commands are sent as they are: a MOVED reply, say, is
// returned as an *Error.
type standalone struct {
	p       *pool
	current atomic.Pointer[server] // nil until a seed answers, and after it was lost
	finding chan struct{}          // held while seeds are tried
}

// newStandalone returns the router for a single server; sv, when not nil,
// is the one already known to answer.
func newStandalone(p *pool, sv *server) *standalone {
	s := &standalone{p: p, finding: make(chan struct{}, 1)}
	if sv == nil && len(p.s.addrs) == 1 {
		// Nothing to choose: dial when a connection is needed, and only
		// the kind that is.
		sv = p.server(p.s.addrs[0])
	}
	if sv != nil {
		s.current.Store(sv)
	}
	return s
}

// server returns the server in use, trying the seeds when there is none
// (see firstAnswer).
func (s *standalone) server(ctx context.Context) (*server, error) {
	if sv := s.current.Load(); sv != nil {
		return sv, nil
	}
	select {
	case s.finding <- struct{}{}:
	case <-ctx.Done():
		return nil, s.p.seedsWaitEnded(ctx.Err())
	}
	defer func() { <-s.finding }()
	if sv := s.current.Load(); sv != nil {
		return sv, nil
	}
	sv, err := firstAnswer(ctx, s.p.seeds(), func(ctx context.Context, sv *server) (*server, error) {
		cn, err := sv.sharedConn(ctx, 0)
		if err != nil {
			return nil, err
		}
		cn.done()
		return sv, nil
	})
	if err != nil {
		return nil, err
	}
	s.current.Store(sv)
	return sv, nil
}

func (s *standalone) do(ctx context.Context, cs *callSettings, args []any) (any, error) {
	sv, err := s.server(ctx)
	if err != nil {
		return nil, err
	}
	return s.p.doOn(ctx, sv, cs, args, true)
}

func (s *standalone) doMulti(ctx context.Context, cs *callSettings, cmds [][]any) ([]any, error) {
	sv, err := s.server(ctx)
	if err != nil {
		return nil, err
	}
	return s.p.doMultiOn(ctx, sv, cs, cmds, true)
}

func (s *standalone) check(*callSettings) error { return nil }

func (s *standalone) serverFor(ctx context.Context, _ *callSettings, _ []string) (*server, error) {
	return s.server(ctx)
}

func (s *standalone) masters(ctx context.Context, _ *callSettings) ([]*server, error) {
	sv, err := s.server(ctx)
	if err != nil {
		return nil, err
	}
	return []*server{sv}, nil
}

func (s *standalone) endpoints(ctx context.Context) ([]Endpoint, error) {
	sv, err := s.server(ctx)
	if err != nil {
		return nil, err
	}
	return []Endpoint{{Address: sv.addr, Role: "standalone"}}, nil
}

// lost forgets the server, so that the next call tries the seeds again,
// when there are others to try.
func (s *standalone) lost(sv *server) {
	if len(s.p.s.addrs) > 1 {
		s.current.CompareAndSwap(sv, nil)
	}
}

func (s *standalone) close() {}

// The functions below run commands on one given server, as a standalone
// deployment does, and as WithEndpoint does in any deployment.

// doOn sends one command to sv. A blocking command gets a connection of
// its own; any other goes on the shared connection, and is sent once more
// if that connection failed before the command could have run. With
// loading, a LOADING reply makes it go again after a pause (see
// loadingRetry), unless it runs a script.
func (p *pool) doOn(ctx context.Context, sv *server, cs *callSettings, args []any, loading bool) (any, error) {
	cmd, err := p.command(ctx, sv, cs.db, args)
	if err != nil {
		return nil, err
	}
	loading = loading && !runsScript(cmd, args)
	closes := mayClose(cmd, args)
	if blocking, wait := p.blocking(cmd, args); blocking {
		return p.blockingOn(ctx, sv, cs, [][]any{args}, nil, nil, wait, closes, loading)
	}
	sha, script := p.scriptSHA(cmd, args)
	flush := cmd != nil && cmd.evalsha == scriptFlush
	cs.trace.served(sv.addr)
	var pace loadingRetry
	for tries, retried := 0, false; ; tries++ {
		if tries > 0 {
			cs.trace.retry()
		}
		cn, err := sv.sharedConn(ctx, cs.db)
		if err != nil {
			p.lost(sv)
			return nil, err
		}
		var v any
		if flush {
			sv.scripts.clear() // before it is sent: see scripts.go
		}
		if closes {
			cn.beforeClosing()
		}
		if script {
			v, err = sv.evalOn(ctx, cn.conn, cs.decoder, cmd, args, sha)
		} else {
			v, err = cn.roundTrip(ctx, [][]any{args}, cs.decoder, nil)
		}
		if closes {
			cn.afterClosing()
		}
		cn.done()
		if err != nil {
			if !retried && mayRetry(err, cmd) {
				retried = true
				continue
			}
			return nil, notRetried(err)
		}
		if loading {
			if again, err := pace.again(ctx, sv.addr, loadingReply(v)); err != nil {
				return nil, err
			} else if again {
				continue
			}
		}
		if flush && !isErrorReply(v) {
			sv.scripts.clear()
		}
		return reply(v)
	}
}

// blockingOn runs blocking commands on a dedicated connection. If the
// caller gives up, the connection is closed at once, so the server never
// hands it data (a popped list element, say) that nobody would read. The
// commands are given either as args (cmds) or already encoded (encoded,
// with cmds nil), as Masters sends one. With vals, one reply per command
// goes there (a pipeline); else the one command's reply is returned. With
// closes, the server may close the connection after them
// (closesConnection). With loading, a LOADING reply, to every command of a
// pipeline, makes them go again after a pause.
func (p *pool) blockingOn(ctx context.Context, sv *server, cs *callSettings, cmds [][]any, encoded []byte, vals []any, wait blockWait, closes, loading bool) (any, error) {
	cs.trace.served(sv.addr)
	var pace loadingRetry
	for {
		cn, err := sv.dedicatedConn(ctx, cs.db)
		if err != nil {
			return nil, err
		}
		sv.counters.blocking.Add(1) // counted once it has its connection
		if closes {
			cn.beforeClosing()
		}
		v, err := cn.roundTripBlocking(ctx, cmds, encoded, cs.decoder, vals, wait)
		if closes {
			cn.afterClosing()
		}
		sv.counters.blocking.Add(-1)
		if err != nil {
			sv.drop(cn)
			return nil, notRetried(err)
		}
		sv.release(cn)
		if loading {
			e := loadingReply(v)
			if vals != nil {
				e = allLoading(vals)
			}
			if again, err := pace.again(ctx, sv.addr, e); err != nil {
				return nil, err
			} else if again {
				cs.trace.retry()
				continue
			}
		}
		if vals != nil {
			return nil, nil
		}
		return reply(v)
	}
}

// doMultiOn sends cmds to sv in one round trip: on a connection of its own
// when any of them blocks, else on the shared one, sent once more if it
// failed before the commands could have run, or they are all read-only.
// With loading, they go again after a pause when every reply is LOADING
// (then none ran) and none runs a script; replies of which only some are
// LOADING are returned as they are, since sending those again would run
// them after later commands that did run.
func (p *pool) doMultiOn(ctx context.Context, sv *server, cs *callSettings, cmds [][]any, loading bool) ([]any, error) {
	readonly, blocking, script, flush, closes := true, false, false, false, false
	var wait blockWait
	var cmd *command
	for i, args := range cmds {
		var err error
		prev := cmd
		if t := p.cmds.Load(); t != nil && i > 0 {
			cmd = t.lookupNext(args, cmds[i-1], cmd)
		} else if cmd, err = p.command(ctx, sv, cs.db, args); err != nil {
			return nil, err
		}
		if i > 0 && cmd != nil && cmd == prev && !cmd.blocking && !cmd.closes {
			// The command before, counted already: only a blocking or
			// closing one has arguments that matter below.
			continue
		}
		readonly = readonly && cmd.repeatable()
		if b, w := p.blocking(cmd, args); b {
			blocking = true
			wait = wait.add(w)
		}
		script = script || (cmd != nil && cmd.evalsha != notScript)
		loading = loading && !runsScript(cmd, args)
		flush = flush || (cmd != nil && cmd.evalsha == scriptFlush)
		closes = closes || mayClose(cmd, args)
	}
	cs.trace.served(sv.addr)
	vals := make([]any, len(cmds))
	var scripts *scriptBatch
	if script && !blocking {
		scripts = p.planScripts(sv, p.cmds.Load(), cmds)
	}
	if blocking {
		if flush {
			// Its script calls go as EVAL, but the client must forget
			// what the server had (scripts.go).
			sv.scripts.clear()
			defer sv.scripts.clear()
		}
		if _, err := p.blockingOn(ctx, sv, cs, cmds, nil, vals, wait, closes, loading); err != nil {
			return nil, err
		}
		return vals, nil
	}
	evalOnly := false
	var pace loadingRetry
	for tries, retried := 0, false; ; tries++ {
		if tries > 0 {
			cs.trace.retry()
		}
		cn, err := sv.sharedConn(ctx, cs.db)
		if err != nil {
			p.lost(sv)
			return nil, err
		}
		// Encoded once the connection is in hand: replacing a broken
		// one forgets the scripts the server may have lost.
		var enc []byte
		if scripts != nil {
			if enc, err = scripts.encode(cmds, evalOnly); err != nil {
				cn.done()
				return nil, err
			}
		}
		if closes {
			cn.beforeClosing()
		}
		if enc != nil {
			_, err = cn.roundTripEncoded(ctx, enc, cs.decoder, vals)
		} else {
			_, err = cn.roundTrip(ctx, cmds, cs.decoder, vals)
		}
		if closes {
			cn.afterClosing()
		}
		cn.done()
		if err != nil {
			if !retried && mayRetryAll(err, readonly) {
				retried = true
				continue
			}
			return nil, notRetried(err)
		}
		if scripts != nil && scripts.learn(vals) && !evalOnly {
			// A single EVALSHA answered NOSCRIPT: nothing ran.
			evalOnly = true
			continue
		}
		if loading {
			if again, err := pace.again(ctx, sv.addr, allLoading(vals)); err != nil {
				return nil, err
			} else if again {
				continue
			}
		}
		return vals, nil
	}
}

// doEncodedOn sends a command already encoded to sv, retrying as doOn
// does; WithEndpoint(Masters) encodes once for every master. closes says
// the server may close the connection after it (closesConnection).
func (p *pool) doEncodedOn(ctx context.Context, sv *server, cs *callSettings, encoded []byte, closes, loading bool) (any, error) {
	cs.trace.served(sv.addr)
	var pace loadingRetry
	for tries, retried := 0, false; ; tries++ {
		if tries > 0 {
			cs.trace.retry()
		}
		cn, err := sv.sharedConn(ctx, cs.db)
		if err != nil {
			return nil, err
		}
		if closes {
			cn.beforeClosing()
		}
		v, err := cn.roundTripEncoded(ctx, encoded, cs.decoder, nil)
		if closes {
			cn.afterClosing()
		}
		cn.done()
		if err != nil {
			if !retried && mayRetryAll(err, false) {
				retried = true
				continue
			}
			return nil, notRetried(err)
		}
		if loading {
			if again, err := pace.again(ctx, sv.addr, loadingReply(v)); err != nil {
				return nil, err
			} else if again {
				continue
			}
		}
		return reply(v)
	}
}
