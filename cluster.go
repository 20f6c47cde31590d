package justredis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// cluster routes calls in a Redis Cluster: each command goes to the master
// (or, with WithReplicaReads, a replica) of the shard that serves its keys'
// slot, found from the server's COMMAND metadata. It follows MOVED and ASK
// and retries TRYAGAIN and CLUSTERDOWN, which prove the command did not
// run; it retries a command whose reply was lost only if it had not been
// written, or is read-only (retry.go). The slot map and its refreshes are
// in slotmap.go.
type cluster struct {
	slotKeeper
	next atomic.Uint32 // spreads reads over replicas
}

func newCluster(p *pool, m *slotMap) *cluster {
	c := &cluster{}
	c.init(p, m)
	return c
}

// check refuses a database other than 0: the one place that knows a
// cluster has no other.
func (c *cluster) check(cs *callSettings) error {
	if cs.db != 0 {
		return dbInCluster(cs.db)
	}
	return nil
}

// dbInCluster is the error for WithDatabase(db != 0) in a cluster.
func dbInCluster(db int) error {
	return invalidArg(fmt.Sprintf("WithDatabase(%d): a Redis Cluster has only database 0", db))
}

// do runs one command. The common case (a known, non-blocking command
// whose reply is no redirection, on a connection that holds) takes the
// fast path, doOne; anything else goes through the general engine.
func (c *cluster) do(ctx context.Context, cs *callSettings, args []any) (any, error) {
	if err := c.check(cs); err != nil {
		return nil, err
	}
	if v, err, done := c.doOne(ctx, cs, args); done {
		return v, err
	}
	vals, err := c.run(ctx, cs, [][]any{args})
	if err != nil {
		return nil, err
	}
	return reply(vals[0])
}

func (c *cluster) doMulti(ctx context.Context, cs *callSettings, cmds [][]any) ([]any, error) {
	if err := c.check(cs); err != nil {
		return nil, err
	}
	return c.run(ctx, cs, cmds)
}

// serverFor picks the master of the slot keys share (any master without
// keys).
func (c *cluster) serverFor(ctx context.Context, cs *callSettings, keys []string) (*server, error) {
	if err := c.check(cs); err != nil {
		return nil, err
	}
	slots := slotOf{slot: -1}
	for i, k := range keys {
		slots.add(i+1, k)
	}
	slot, err := slots.keysResult()
	if err != nil {
		return nil, err
	}
	sv := c.pick(slot, false)
	if err := c.shunned(sv); err != nil {
		return nil, err // as a call to it would (cluster_down.go)
	}
	return sv, nil
}

func (c *cluster) masters(ctx context.Context, cs *callSettings) ([]*server, error) {
	if err := c.check(cs); err != nil {
		return nil, err
	}
	return c.slots.Load().masters(), nil
}

// endpoints lists every node, those serving no slot included. It answers
// from the slot map in hand and asks for a fresh one in the background:
// waiting for a refresh, rate-limited as refreshes are, made a program
// that polls Endpoints take 200 ms a call.
func (c *cluster) endpoints(ctx context.Context) ([]Endpoint, error) {
	c.refreshSoon()
	return c.slots.Load().endpoints(), nil
}

// lost reloads the slot map: the node may have failed over.
func (c *cluster) lost(*server) { c.refreshSoon() }

// pick returns the node for slot (-1: no key). With replica true it is one
// of the shard's replicas, taken in turn, when it has any.
func (c *cluster) pick(slot int, replica bool) *server {
	m := c.slots.Load()
	if slot < 0 {
		return m.anyMaster()
	}
	i := m.owner[slot]
	if i == 0 {
		// Nobody serves it as far as we know: any master redirects us.
		return m.anyMaster()
	}
	sh := &m.shards[i-1]
	if replica && len(sh.replicas) > 0 {
		return sh.replicas[int(c.next.Add(1))%len(sh.replicas)]
	}
	return sh.master
}

// finder returns how to find cmd's keys, compiled with the COMMAND table.
func finder(cmd *command) *keyFinder {
	if cmd == nil {
		return &keyFinder{}
	}
	return cmd.keys
}

// slot returns the slot of args' keys, -1 when it has none.
func (c *cluster) slot(ctx context.Context, cmd *command, args []any) (int, error) {
	f := finder(cmd)
	var asked []any
	if f.getKeys {
		var err error
		if asked, err = c.getKeys(ctx, args); err != nil {
			return -1, err
		}
	}
	return f.slot(args, asked)
}

// getKeys asks the server which arguments of args are keys. A command the
// server cannot tell (a syntax error, no keys) counts as keyless: it goes
// to any master, which answers it.
func (c *cluster) getKeys(ctx context.Context, args []any) ([]any, error) {
	sv := c.slots.Load().anyMaster()
	cn, err := sv.sharedConn(ctx, 0)
	if err != nil {
		c.refreshSoon()
		return nil, err
	}
	defer cn.done()
	enc, err := appendGetKeys(nil, args)
	if err != nil {
		return nil, nil // appendCommand reports it, before anything is sent
	}
	v, err := cn.roundTripEncoded(ctx, enc, StringDecoder, nil)
	if err != nil {
		return nil, ownCommand(err)
	}
	keys, _ := v.([]any)
	return keys, nil
}

// clusterCmd is one command of a call on a cluster, on its way to the node
// that serves its keys.
type clusterCmd struct {
	i        int    // its index among the caller's commands
	enc      []byte // encoded once, sent as often as needed
	cmd      *command
	slot     int       // -1: no key
	replica  bool      // a replica may serve it
	blocking bool      // on a connection of its own
	wait     blockWait // how long a blocking command may keep the server silent
	script   bool      // it runs a script: see redirect.go
	closes   bool      // the server may close the connection after it (closesConnection)
	ask      *server   // where an ASK redirection sends it next, after ASKING
	hops     int
	// Why it goes again, for the error if the context ends first.
	last     error  // the reply that redirected it, or the failure
	lastAddr string // of the node that replied or failed
	ran      bool   // a read-only command whose reply was lost: it may have run
	// For an EVAL: its script's SHA1 and the EVALSHA form, sent instead
	// to a node known to have the script (scripts.go).
	sha      string
	shaEnc   []byte
	asSHA    bool   // sent as EVALSHA in the round under way
	epoch    uint64 // of the node's scripts when encoded in that round
	evalOnly bool   // answered NOSCRIPT: send as EVAL from now on
}

// batch is the commands of one round that go to one node, as one pipeline.
type batch struct {
	sv       *server
	replica  bool      // on the connection that sent READONLY
	blocking bool      // on a connection of its own
	wait     blockWait // what its blocking commands may wait, together
	cmds     []*clusterCmd
	size     int // how many commands group gives it

	vals    []any // the replies, after the round
	err     error // the round trip failed
	dialErr bool  // ... before anything was sent
}

// run runs cmds on the cluster, each on the node that serves its
// keys, and returns their replies in order. A reply that redirects (MOVED,
// ASK) is followed and one that says the cluster is busy (TRYAGAIN,
// CLUSTERDOWN) retried: those replies prove the command did not run. A
// command whose reply was lost is sent again only if it had not been
// written, or is read-only.
//
// When a round trip fails for good, its commands hold the error at their
// indexes, the others their replies, and the error is returned too.
func (cl *cluster) run(ctx context.Context, cs *callSettings, cmds [][]any) ([]any, error) {
	todo, err := cl.commands(ctx, cs, cmds)
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cmds))
	var failed error
	var loading loadingRetry
	for waits := 0; len(todo) > 0; {
		batches := cl.group(todo)
		if len(batches) == 1 {
			cl.send(ctx, batches[0], cs.decoder)
		} else {
			var wg sync.WaitGroup
			for _, b := range batches {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cl.send(ctx, b, cs.decoder)
				}()
			}
			wg.Wait()
		}

		todo = todo[:0]
		wait := false
		for _, b := range batches {
			cs.trace.served(b.sv.addr)
			if b.err != nil {
				retry, err := cl.roundTripFailed(ctx, b)
				if len(retry) > 0 {
					cs.trace.retry()
				}
				if err != nil {
					for _, c := range b.cmds {
						vals[c.i] = err
					}
					if failed == nil {
						failed = err
					}
				}
				todo = append(todo, retry...)
				wait = wait || len(retry) > 0
				continue
			}
			if e := allLoading(b.vals); e != nil && cl.loadingAgain(ctx, b, e, &loading) {
				cs.trace.retry()
				todo = append(todo, b.cmds...)
				wait = wait || !b.replica
				continue
			}
			for k, c := range b.cmds {
				if c.cmd != nil && c.cmd.evalsha != notScript && cl.scriptReply(c, b.vals[k], b.sv, len(cmds) == 1) {
					todo = append(todo, c)
					continue
				}
				again, pause := cl.redirected(ctx, c, b.vals[k], b.sv)
				if again {
					cs.trace.redirect()
					todo = append(todo, c)
					wait = wait || pause
				} else {
					vals[c.i] = b.vals[k]
				}
			}
		}
		if len(todo) == 0 {
			break
		}
		// Commands that go round again keep the caller's order.
		slices.SortFunc(todo, func(a, b *clusterCmd) int { return a.i - b.i })
		err := ctx.Err()
		if err == nil && wait {
			err = sleep(ctx, backoff(waits))
			waits++
		}
		if err != nil {
			for _, c := range todo {
				e := c.gaveUp(err)
				vals[c.i] = e
				if failed == nil || errors.Is(e, ErrNotRetried) && !errors.Is(failed, ErrNotRetried) {
					failed = e
				}
			}
			return vals, failed
		}
	}
	return vals, failed
}

// loadingAgain reports whether the commands of b, which its node all
// answered LOADING (e), go again: none of them ran. Not when one runs a
// script, whose own error text it may be, nor for a call without deadline
// that is out of patience (see loadingRetry); reads a replica refused go
// to the master.
func (cl *cluster) loadingAgain(ctx context.Context, b *batch, e *Error, pace *loadingRetry) bool {
	for _, c := range b.cmds {
		if c.script {
			return false
		}
	}
	if !b.replica && !pace.patient(ctx) {
		return false
	}
	for _, c := range b.cmds {
		c.last, c.lastAddr = e, b.sv.addr
		c.replica = c.replica && !b.replica
	}
	return true
}

// gaveUp is the error of a command that was to go again when ctx ended
// (err): it names what went wrong last, and matches ErrNotRetried when
// the command may have run.
func (c *clusterCmd) gaveUp(err error) error {
	switch last := c.last.(type) {
	case nil:
	case *Error:
		err = lastReplyError(c.lastAddr, err, last)
	default:
		err = fmt.Errorf("justredis: %w; the last error: %w", err, last)
	}
	if c.ran {
		return &netError{addr: c.lastAddr, err: err, written: true, notRetried: true}
	}
	return err
}

// doOne is Do's path in a cluster for the common case: a known,
// non-blocking command whose reply is no redirection, on a connection that
// holds. It sends args straight into the owner's pipeline, as a call to a
// single server does, with none of run's bookkeeping; anything else
// it leaves to run (done false), having sent nothing that could have
// run.
func (cl *cluster) doOne(ctx context.Context, cs *callSettings, args []any) (v any, err error, done bool) {
	t := cl.p.cmds.Load()
	if t == nil || cs.replicaReads {
		return nil, nil, false
	}
	cmd := t.lookup(args)
	if cmd == nil || cmd.blocking || cmd.script || cmd.evalsha != notScript {
		return nil, nil, false // run knows what to do with those
	}
	slot, err := cl.slot(ctx, cmd, args)
	if err != nil {
		return nil, err, true
	}
	sv := cl.pick(slot, false)
	cs.trace.served(sv.addr)
	if err := cl.shunned(sv); err != nil {
		return nil, err, true
	}
	cn, err := sv.sharedConn(ctx, 0)
	if err != nil {
		if mayRetryElsewhere(err) {
			if err := cl.connectFailed(ctx, sv, err, []int{slot}); err != nil {
				return nil, err, true
			}
		}
		return nil, nil, false
	}
	closes := mayClose(cmd, args)
	if closes {
		cn.beforeClosing()
	}
	v, err = cn.roundTrip(ctx, [][]any{args}, cs.decoder, nil)
	if closes {
		cn.afterClosing()
	}
	cn.done()
	if err != nil {
		if mayRetry(err, cmd) {
			cs.trace.retry()
			return nil, nil, false
		}
		if ctx.Err() == nil {
			cl.refreshSoon()
		}
		return nil, notRetried(err), true
	}
	switch class, e := classify(v); class {
	case replyMoved:
		cs.trace.redirect()
		if s, addr, ok := parseRedirect(e.msg, sv.addr); ok && (slot < 0 || s == slot) {
			cl.moved(s, addr)
		}
		return nil, nil, false
	case replyAsk:
		cs.trace.redirect()
		return cl.askOnce(ctx, cs, sv, e, cmd, args)
	case replyTryAgain, replyClusterDown:
		cs.trace.redirect()
		return nil, nil, false
	case replyLoading:
		cs.trace.retry()
		return nil, nil, false // run pauses if it is still loading
	}
	v, err = reply(v)
	return v, err, true
}

// askOnce follows an ASK redirection for doOne: ASKING and the
// command, together, to the node importing the slot.
func (cl *cluster) askOnce(ctx context.Context, cs *callSettings, from *server, e *Error, cmd *command, args []any) (v any, err error, done bool) {
	_, addr, ok := parseRedirect(e.msg, from.addr)
	if !ok {
		return nil, nil, false
	}
	cn, err := cl.p.server(addr).sharedConn(ctx, 0)
	if err != nil {
		return nil, nil, false
	}
	defer cn.done()
	enc, err := appendCommand(askingCmd[:len(askingCmd):len(askingCmd)], args)
	if err != nil {
		return nil, err, true
	}
	vals := make([]any, 2)
	if _, err := cn.roundTripEncoded(ctx, enc, cs.decoder, vals); err != nil {
		if mayRetry(err, cmd) {
			return nil, nil, false
		}
		return nil, notRetried(err), true
	}
	if class, _ := classify(vals[1]); class != replyFinal {
		return nil, nil, false
	}
	v, err = reply(vals[1])
	return v, err, true
}

// commands encodes each command once, so that nothing is sent if any
// argument is invalid, and finds its slot.
func (cl *cluster) commands(ctx context.Context, cs *callSettings, cmds [][]any) ([]*clusterCmd, error) {
	t := cl.p.cmds.Load()
	out := make([]*clusterCmd, len(cmds))
	// One allocation for all, rather than one per command, which the
	// garbage collector would then have to trace each.
	all := make([]clusterCmd, len(cmds))
	ends := make([]int, len(cmds))
	var buf []byte
	var cmd *command
	for i, args := range cmds {
		if t != nil {
			var prev []any
			if i > 0 {
				prev = cmds[i-1]
			}
			cmd = t.lookupNext(args, prev, cmd)
		}
		var err error
		if buf, err = appendCommand(buf, args); err == nil {
			var slot int
			if slot, err = cl.slot(ctx, cmd, args); err == nil {
				c := &all[i]
				*c = clusterCmd{
					i:       i,
					cmd:     cmd,
					slot:    slot,
					replica: cs.replicaReads && cmd != nil && cmd.readonly && !cmd.blocking,
				}
				c.blocking, c.wait = cl.p.blocking(cmd, args)
				c.script = runsScript(cmd, args)
				c.closes = mayClose(cmd, args)
				if sha, ok := cl.p.scriptSHA(cmd, args); ok {
					c.sha = sha
					c.shaEnc, _ = appendEvalSHA(nil, cmd, args, sha) // args encoded above
				}
				out[i] = c
				ends[i] = len(buf)
				continue
			}
		}
		if len(cmds) > 1 {
			err = fmt.Errorf("command %d: %w", i, err)
		}
		return nil, err
	}
	start := 0
	for i, c := range out {
		c.enc = buf[start:ends[i]:ends[i]]
		start = ends[i]
	}
	return out, nil
}

// group splits the commands by the node and kind of connection they need.
func (cl *cluster) group(todo []*clusterCmd) []*batch {
	type key struct {
		sv      *server
		replica bool
	}
	var batches []*batch
	index := map[key]*batch{}
	of := make([]*batch, len(todo))
	for i, c := range todo {
		k := key{sv: c.ask}
		if k.sv == nil {
			k = key{sv: cl.pick(c.slot, c.replica), replica: c.replica}
			k.replica = k.replica && k.sv != cl.pick(c.slot, false)
		}
		b := index[k]
		if b == nil {
			b = &batch{sv: k.sv, replica: k.replica}
			index[k] = b
			batches = append(batches, b)
		}
		of[i] = b
		b.size++
		if c.blocking {
			b.blocking = true
			b.wait = b.wait.add(c.wait)
		}
	}
	// The batches' commands share one array, which appending to each
	// batch in turn would grow in several allocations per batch.
	all := make([]*clusterCmd, len(todo))
	for _, b := range batches {
		b.cmds, all = all[:0:b.size], all[b.size:]
	}
	for i, c := range todo {
		of[i].cmds = append(of[i].cmds, c)
	}
	return batches
}

// send makes one batch's round trip and leaves the replies in b.vals.
func (cl *cluster) send(ctx context.Context, b *batch, d Decoder) {
	if err := cl.shunned(b.sv); err != nil {
		b.err, b.dialErr = err, true
		return
	}
	var cn *conn
	var shared *sharedConn
	var err error
	switch {
	case b.blocking:
		cn, err = b.sv.dedicatedConn(ctx, 0)
	case b.replica:
		shared, err = b.sv.readonlyConn(ctx)
	default:
		shared, err = b.sv.sharedConn(ctx, 0)
	}
	if err != nil {
		b.err, b.dialErr = err, true
		return
	}
	if shared != nil {
		cn = shared.conn
		defer shared.done()
	} else {
		b.sv.counters.blocking.Add(1)
		defer b.sv.counters.blocking.Add(-1)
	}
	enc := b.cmds[0].enc
	n := 0
	if len(b.cmds) > 1 || b.cmds[0].ask != nil || b.cmds[0].sha != "" || b.cmds[0].flushesScripts() {
		enc = make([]byte, 0, encodedSize(b.cmds))
		for _, c := range b.cmds {
			if c.ask != nil {
				enc = append(enc, askingCmd...)
				n++
			}
			if c.flushesScripts() {
				// Before the commands after it are encoded (scripts.go).
				b.sv.scripts.clear()
			}
			var loaded bool
			loaded, c.epoch = b.sv.scripts.has(c.sha)
			c.asSHA = c.sha != "" && !c.evalOnly && loaded
			if c.asSHA {
				enc = append(enc, c.shaEnc...)
			} else {
				enc = append(enc, c.enc...)
			}
		}
	}
	n += len(b.cmds)
	closes := false
	for _, c := range b.cmds {
		closes = closes || c.closes
	}
	if closes {
		cn.beforeClosing()
	}
	raw := make([]any, n)
	if b.blocking {
		_, err = cn.roundTripBlocking(ctx, nil, enc, d, raw, b.wait)
	} else {
		_, err = cn.roundTripEncoded(ctx, enc, d, raw)
	}
	if closes {
		cn.afterClosing()
	}
	if b.blocking {
		if err != nil {
			b.sv.drop(cn) // nobody will read what a blocked command gets
		} else {
			b.sv.release(cn)
		}
	}
	if err != nil {
		b.err = err
		return
	}
	b.vals = raw
	if n > len(b.cmds) {
		// Leave out the replies to ASKING.
		b.vals = make([]any, 0, len(b.cmds))
		k := 0
		for _, c := range b.cmds {
			if c.ask != nil {
				k++
			}
			b.vals = append(b.vals, raw[k])
			k++
		}
	}
}

// encodedSize is room enough for cmds encoded in one pipeline, each in
// either of its forms, after ASKING if redirected so: grown by appending,
// the pipeline would take several allocations and copies.
func encodedSize(cmds []*clusterCmd) int {
	n := 0
	for _, c := range cmds {
		n += max(len(c.enc), len(c.shaEnc))
		if c.ask != nil {
			n += len(askingCmd)
		}
	}
	return n
}

// roundTripFailed decides what becomes of the commands of a batch whose
// round trip failed: those that cannot have run, or are read-only, go
// again; the others fail with err, marked as not retried. Those that could
// not connect to a master with no replica fail unless a fresh slot map
// sends them elsewhere (cluster_down.go).
func (cl *cluster) roundTripFailed(ctx context.Context, b *batch) (retry []*clusterCmd, err error) {
	if !mayRetryElsewhere(b.err) {
		return nil, b.err
	}
	if b.dialErr {
		slots := make([]int, len(b.cmds))
		for i, c := range b.cmds {
			slots[i] = c.slot
		}
		if err := cl.connectFailed(ctx, b.sv, b.err, slots); err != nil {
			return nil, err
		}
	} else {
		readonly := true
		for _, c := range b.cmds {
			readonly = readonly && !c.script && c.cmd.repeatable()
		}
		if !mayRetryAll(b.err, readonly) {
			cl.refreshSoon()
			return nil, notRetried(b.err)
		}
	}
	cl.refreshSoon()
	written := !b.dialErr && !mayRetryAll(b.err, false)
	for _, c := range b.cmds {
		c.hops++
		if c.hops > maxRedirects {
			return nil, notRetried(b.err)
		}
		c.last, c.lastAddr = b.err, b.sv.addr
		c.ran = c.ran || written
		// A replica that cannot be reached leaves the read to its master.
		c.replica = c.replica && !b.replica
		c.ask = nil
	}
	return b.cmds, nil
}

// flushesScripts reports whether c is a SCRIPT FLUSH.
func (c *clusterCmd) flushesScripts() bool {
	return c.cmd != nil && c.cmd.evalsha == scriptFlush
}

// scriptReply takes in the reply v from sv to a script command, for
// transparent EVALSHA, and reports whether the command goes again: a
// single EVALSHA answered NOSCRIPT, which proves nothing ran, goes again
// as EVAL. In a pipeline the NOSCRIPT stays at its index.
func (cl *cluster) scriptReply(c *clusterCmd, v any, sv *server, single bool) (again bool) {
	u := scriptUse{cmd: c.cmd, sha: c.sha, asSHA: c.asSHA, epoch: c.epoch}
	if !u.learn(sv, v) || !single || c.evalOnly {
		return false
	}
	c.evalOnly = true
	return true
}

// redirected looks at one reply and reports whether the command goes
// again, and whether after a pause. from is the node that replied.
func (cl *cluster) redirected(ctx context.Context, c *clusterCmd, v any, from *server) (again, pause bool) {
	class, e := classify(v)
	if class != replyFinal {
		c.last, c.lastAddr = e, from.addr
	}
	if c.script && (class == replyTryAgain || class == replyClusterDown) {
		return false, false // the script's own, for all the client can tell
	}
	switch class {
	case replyMoved, replyAsk:
		if c.hops >= maxRedirects {
			return false, false
		}
		slot, addr, ok := cl.followable(ctx, c, class, e, from)
		if !ok {
			return false, false
		}
		c.hops++
		c.ask = nil
		if class == replyAsk {
			c.ask = cl.p.server(addr)
			return true, false
		}
		if c.slot < 0 {
			c.slot = slot // a command whose keys we could not tell
		}
		// A replica that redirects does not serve the slot (yet): ask the
		// master.
		c.replica = false
		cl.moved(slot, addr)
		return true, false
	case replyTryAgain:
		// A multi-key command amid a migration: the ASK that led here
		// does not count, so it is retried for as long as the migration
		// lasts, or the context allows.
		c.ask = nil
		c.hops = 0
		return true, true
	case replyClusterDown:
		c.ask = nil
		cl.refreshSoon()
		return true, true
	}
	return false, false
}
