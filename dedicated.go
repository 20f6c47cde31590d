package justredis

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Connection is a server connection of its own, taken from the pool by
// Redis.Connection: for transactions (WATCH, MULTI, EXEC), SELECT, and
// other commands that change a connection's state.
//
// It is safe for concurrent use, but its calls run one at a time: a
// transaction is a sequence. A call waiting for its turn gives up when its
// context ends. It never reconnects behind your back: if the
// server connection breaks, its calls fail with an error naming the
// address, because the state it held is gone.
//
// Close hands it back clean: an open transaction is discarded, WATCHed keys
// are unwatched and the database is restored. A server connection whose
// state cannot be restored is closed instead: when a call ended without
// its reply, or after a command whose effect lasts (CLIENT SETNAME, CLIENT
// TRACKING, CLIENT CACHING, CLIENT SETINFO, CLIENT NO-EVICT, CLIENT
// NO-TOUCH, READONLY, READWRITE, ASKING). AUTH, HELLO and RESET are
// refused on a Connection, so its user and protocol are always the
// pool's.
type Connection struct {
	d    *dedicated
	call callSettings
	err  error
	inTx bool // handed to a Transaction's fn, which must leave MULTI and WATCH to it
}

// dedicated is the state all copies of one Connection share.
type dedicated struct {
	p      *pool
	sv     *server
	cn     *conn
	baseDB int // the database it was taken at, restored by Close
	// ownDB is the Connection's own database: the one its calls without
	// WithDatabase run in. It starts at baseDB and follows the user's
	// explicit SELECTs; a copy made with WithDatabase switches the
	// server connection for its calls only, and the next call without
	// one switches back. Guarded by turn.
	ownDB int

	// turn is held by the call under way, and by Close while it cleans
	// up: calls run one at a time. It guards inMulti, watching and
	// unknown.
	turn     ctxMutex
	inMulti  bool
	watching bool
	unknown  bool // a call ended without its reply: the state cannot be known
	// lasting is set once a command changed state that Close cannot
	// undo (a name, tracking, READONLY, ...; see lastingState).
	lasting bool
	// In MULTI: how many commands are queued, and which of them are
	// script commands, for transparent EVALSHA.
	queued        int
	queuedScripts []queuedScript
	queuedWrites  [][]any // with a client-side cache: the commands queued

	mu     sync.Mutex // guards closed and busy
	closed bool
	busy   bool // a call holds turn, and may be blocked in the server for good
}

// String describes the connection without credentials.
func (c *Connection) String() string {
	if c.d == nil {
		return "justredis.Connection{not made by Redis.Connection}"
	}
	return fmt.Sprintf("justredis.Connection{addr: %s}", c.d.sv.addr)
}

// GoString is String, so that %#v shows no credentials either.
func (c *Connection) GoString() string { return c.String() }

// Modify returns a copy of c that makes its calls with opts applied, on the
// same server connection. WithDatabase switches the connection's database
// before each call that needs it.
func (c *Connection) Modify(opts ...CallOption) *Connection {
	m := *c
	m.call, m.err = modifiedBound(m.call, m.err, opts, "Connection")
	return &m
}

// Do sends one command on the connection and returns its reply, as
// Redis.Do does. A LOADING reply is retried as Redis.Do retries it, except
// in MULTI, where the server aborts the transaction at EXEC instead.
func (c *Connection) Do(ctx context.Context, args ...any) (any, error) {
	if len(args) == 0 {
		return nil, invalidArg("empty command")
	}
	vals, err := c.observed(ctx, "Connection.Do", [][]any{args})
	if err != nil {
		return nil, err
	}
	return reply(vals[0])
}

// DoMulti sends cmds as one pipeline and returns one reply per command, in
// order, as Redis.DoMulti does, LOADING replies included (not in MULTI).
func (c *Connection) DoMulti(ctx context.Context, cmds ...[]any) ([]any, error) {
	for i, args := range cmds {
		if len(args) == 0 {
			return nil, invalidArg(fmt.Sprintf("command %d is empty", i))
		}
	}
	if len(cmds) == 0 {
		return []any{}, nil
	}
	if d := forSeveral(c.call.decoder); d != c.call.decoder {
		m := *c
		m.call.decoder = d
		c = &m
	}
	return c.observed(ctx, "Connection.DoMulti", cmds)
}

// observed is run, seen by the client's hooks when it has any.
func (c *Connection) observed(ctx context.Context, op string, cmds [][]any) (vals []any, err error) {
	if c.d == nil {
		return nil, errNotConnection
	}
	hooks := c.d.p.s.hooks
	if len(hooks) == 0 {
		return c.run(ctx, cmds, nil)
	}
	call := newCall(hooks, op, c.call.db, cmds)
	hooked(ctx, hooks, call, func(ctx context.Context, trace *callTrace) error {
		trace.served(c.d.sv.addr)
		vals, err = c.run(ctx, cmds, trace)
		return err
	})
	return vals, err
}

// run checks cmds and sends them. Outside a transaction, when every reply
// is LOADING and none of them runs a script, nothing ran: they go again
// after a pause, as Redis.Do sends them (see loadingRetry). Inside MULTI
// the server flagged the transaction, which EXEC then aborts: the replies
// are returned as they are.
func (c *Connection) run(ctx context.Context, cmds [][]any, trace *callTrace) ([]any, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.inTx {
		if err := refusedInTx(cmds); err != nil {
			return nil, err
		}
	}
	for i, args := range cmds {
		var prev []any
		if i > 0 {
			prev = cmds[i-1]
		}
		if err := checkAllowedNext(args, prev, true); err != nil {
			if len(cmds) > 1 {
				err = fmt.Errorf("command %d: %w", i, err)
			}
			return nil, err
		}
	}
	ctx, cancel := c.call.withTimeout(ctx)
	if cancel != nil {
		defer cancel()
	}
	var pace loadingRetry
	for {
		vals, loading, err := c.send(ctx, cmds)
		if err != nil || !loading {
			return vals, err
		}
		if again, err := pace.again(ctx, c.d.sv.addr, allLoading(vals)); err != nil {
			return nil, err
		} else if !again {
			return vals, nil
		}
		trace.retry()
	}
}

// send makes one round trip of run's, on its turn. loading reports
// whether a LOADING answer to all of cmds would let them go again: the
// connection was not in MULTI, and none of them runs a script.
func (c *Connection) send(ctx context.Context, cmds [][]any) (vals []any, loading bool, err error) {
	d := c.d
	if err := d.turn.LockContext(ctx); err != nil {
		return nil, false, err // a call before this one is still under way
	}
	defer d.turn.Unlock()
	if !d.begin() {
		return nil, false, ErrClosed
	}
	defer d.end()
	sent := cmds
	// A copy made with WithDatabase runs in its database; any other runs
	// in the Connection's own, switching back after such a copy. Inside
	// MULTI the latter runs where the transaction is: a SELECT there
	// would only be queued.
	db, switchDB := c.call.db, false
	if !c.call.dbSet {
		db = d.ownDB
	}
	if db != d.cn.db {
		if d.inMulti && c.call.dbSet {
			return nil, false, invalidArg("WithDatabase: cannot switch databases inside MULTI")
		}
		switchDB = !d.inMulti
	}
	if switchDB {
		sent = append([][]any{{"SELECT", db}}, cmds...)
	}
	blocking, script := false, false
	var wait blockWait
	// The table came with the first handshake. Without one, nothing is
	// known to block; fetching it here could wait for a place in the pool
	// that this very connection holds.
	t := d.p.cmds.Load()
	loading = !d.inMulti
	for _, args := range cmds {
		var cmd *command
		if t != nil {
			cmd = t.lookup(args)
			if b, w := d.p.blocking(cmd, args); b {
				blocking = true
				wait = wait.add(w)
			}
			script = script || (cmd != nil && cmd.evalsha != notScript)
		}
		loading = loading && !runsScript(cmd, args)
	}
	var scripts *scriptBatch
	var enc []byte
	if script {
		scripts = d.p.planScripts(d.sv, t, sent)
		var err error
		if enc, err = scripts.encode(sent, false); err != nil {
			return nil, false, err
		}
	}
	vals = make([]any, len(sent))
	toSend := sent
	if enc != nil {
		toSend = nil // sent as enc
	}
	_, err = d.cn.roundTripBlocking(ctx, toSend, enc, c.call.decoder, vals, wait)
	if cache := d.p.cache; cache != nil {
		cache.written(t, cmds) // cached.go: even when the call failed, a write may have run
	}
	if err != nil {
		d.unknown = true
		if blocking && ctx.Err() != nil {
			// Nobody will read what the server sends once it unblocks.
			d.cn.close()
		}
		if switchDB {
			d.cn.db = -1 // the SELECT may have run: the next call sends it again
		}
		return nil, false, notRetried(err) // a Connection never sends anything twice
	}
	offset := 0
	if switchDB {
		if e, ok := vals[0].(*Error); ok {
			return nil, false, e
		}
		d.cn.db = db
		vals = vals[1:]
		offset = 1
	}
	inMulti := d.inMulti
	noScript := false
	for i, args := range cmds {
		noScript = d.observe(args, vals[i], scripts.use(i+offset)) || noScript
	}
	if cl, ok := d.p.router().(*cluster); ok {
		// A Connection stays where it is, but the next one for the slot
		// must go to where a MOVED says it lives now.
		for i, args := range cmds {
			cl.heard(d.sv, args, vals[i])
		}
	}
	if noScript && len(cmds) == 1 && !inMulti {
		// A single EVALSHA answered NOSCRIPT, which proves it did not
		// run: send it again as EVAL.
		v, err := d.cn.roundTrip(ctx, cmds, c.call.decoder, nil)
		if err != nil {
			d.unknown = true
			return nil, false, err
		}
		vals[0] = v
		d.observe(cmds[0], v, scripts.use(offset))
	}
	return vals, loading, nil
}

// begin marks a call under way, unless the connection is closed; it
// reports whether it did. turn is held.
func (d *dedicated) begin() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.p.closed.Load() {
		return false
	}
	d.busy = true
	return true
}

func (d *dedicated) end() {
	d.mu.Lock()
	d.busy = false
	d.mu.Unlock()
}

// observe follows the state a command changed, so that Close can undo it,
// and what a script command's reply v tells of the server's script cache
// (use, nil for other commands). It reports whether v is a NOSCRIPT
// answer to an EVALSHA outside a transaction.
func (d *dedicated) observe(args []any, v any, use *scriptUse) (noScript bool) {
	var buf [16]byte
	name, _ := lowerName(buf[:0], args[0])
	_, failed := v.(error)
	switch {
	case d.inMulti && !failed && string(name) != "exec" && string(name) != "discard":
		// Queued: what a script did is known from EXEC's reply.
		if use != nil {
			d.queuedScripts = append(d.queuedScripts, queuedScript{pos: d.queued, use: *use})
		}
		d.queued++
		if d.p.cache != nil {
			// Its write happens at EXEC, when the cache must forget
			// its keys again.
			d.queuedWrites = append(d.queuedWrites, slices.Clone(args))
		}
	case !d.inMulti && use != nil:
		noScript = use.learn(d.sv, v)
	}
	if changesState(args) {
		// Even one that failed, or was queued in MULTI: dropping the
		// connection costs a dial, leaking its state costs the next
		// user.
		d.lasting = true
		return noScript
	}
	switch string(name) {
	case "multi":
		if !failed && !d.inMulti {
			d.inMulti, d.queued, d.queuedScripts, d.queuedWrites = true, 0, nil, nil
		}
	case "exec", "discard":
		if string(name) == "exec" {
			d.learnQueued(v)
			if cache := d.p.cache; cache != nil {
				cache.written(d.p.cmds.Load(), d.queuedWrites)
			}
		}
		// Both end a transaction and forget WATCHed keys, whatever they
		// returned.
		d.inMulti, d.watching = false, false
		d.queued, d.queuedScripts, d.queuedWrites = 0, nil, nil
	case "watch":
		d.watching = d.watching || !failed
	case "unwatch":
		if !failed {
			d.watching = false
		}
	case "select":
		if failed {
			return
		}
		if d.inMulti || len(args) < 2 {
			d.unknown = true // it takes effect at EXEC, if at all
			return
		}
		if db, ok := argInt(args[1]); ok {
			// The user chose it: it is the Connection's own from now on.
			d.cn.db, d.ownDB = int(db), int(db)
		} else {
			d.unknown = true
		}
	}
	return noScript
}

// queuedScript is a script command queued in a transaction, at position
// pos of EXEC's reply.
type queuedScript struct {
	pos int
	use scriptUse
}

// learnQueued takes in what EXEC's reply v tells of the scripts queued
// in the transaction it ends.
func (d *dedicated) learnQueued(v any) {
	if len(d.queuedScripts) == 0 {
		return
	}
	replies, _, err := execReplies(v)
	if err != nil {
		return // aborted, or refused: nothing ran
	}
	for _, q := range d.queuedScripts {
		if q.pos < len(replies) {
			q.use.learn(d.sv, replies[q.pos])
		}
	}
}

// Close hands the connection back to the pool, clean, or closes it when its
// state cannot be restored. Calls after Close fail with ErrClosed. Close
// does not wait for a call under way (a BLPOP, say): it closes the server
// connection, and that call fails with ErrClosed.
//
// Close never waits on the network, so that a deferred Close cannot hold
// up its caller when the server hangs. When there is state to undo (a
// transaction, WATCHed keys, another database), DISCARD, UNWATCH and
// SELECT are sent in the background, within WithConnectTimeout; the
// server connection keeps its place in the pool meanwhile, and is handed
// back only once they succeeded, else closed. Redis.Close ends such a
// reset at once.
func (c *Connection) Close() error {
	d := c.d
	if d == nil {
		return errNotConnection
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	busy := d.busy
	d.mu.Unlock()
	if busy {
		d.sv.drop(d.cn)
		return nil
	}
	// Only a call about to find the connection closed can hold turn now.
	d.turn.Lock()
	defer d.turn.Unlock()
	if d.unknown || d.lasting || d.cn.dead.Load() {
		d.sv.drop(d.cn)
		return nil
	}
	var cmds [][]any
	if d.inMulti {
		cmds = append(cmds, []any{"DISCARD"})
	}
	if d.watching {
		cmds = append(cmds, []any{"UNWATCH"})
	}
	if d.cn.db != d.baseDB {
		cmds = append(cmds, []any{"SELECT", d.baseDB})
	}
	if len(cmds) == 0 {
		d.sv.release(d.cn)
		return nil
	}
	d.sv.reset(d.cn, cmds, d.baseDB)
	return nil
}
