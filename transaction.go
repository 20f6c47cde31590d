package justredis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// txMaxAttempts bounds how often Transaction starts again after EXEC was
// aborted, so that a key written without pause cannot keep it busy forever.
const txMaxAttempts = 32

// Transaction runs an optimistic transaction (https://redis.io/docs/latest/develop/interact/transactions/)
// on a connection of its own: it WATCHes keys, calls fn, which reads what
// it needs with c.Do and returns the commands to run, and then sends MULTI,
// those commands and EXEC in one round trip. It returns EXEC's replies, one
// per command, in order; a command that failed inside the transaction has
// its *Error at its index, and the others still ran, as Redis does.
//
// When a watched key changed between WATCH and EXEC, EXEC is aborted and
// none of the commands ran: Transaction then starts again from WATCH, after
// a short randomized pause that grows with each attempt, and calls fn again.
// After 32 attempts in all it gives up with an error matching ErrTxAborted.
//
// When fn returns an error, nothing is queued and Transaction returns that
// error unchanged. fn may return no commands: EXEC then still tells whether
// the watched keys stayed as fn read them, so fn's reads were consistent.
//
// c carries r's per-call settings (database, decoder, timeout). fn must not
// send MULTI, EXEC, DISCARD, WATCH or UNWATCH itself: Transaction does, and c
// refuses them with an error matching ErrInvalidArgument; the returned
// commands may not include them nor SELECT (use WithDatabase). fn must not
// keep or close c: Transaction closes it when it returns, which hands it
// back clean, as Connection.Close does, whatever happened, a panic in fn
// included.
//
// keys are the keys to WATCH. In a cluster they choose the node and must
// share one slot (give them a common hash tag, such as {user1000}); keys in
// different slots are refused before anything is sent, with an error that
// starts with CROSSSLOT and matches ErrInvalidArgument. Without keys nothing
// is watched: MULTI and EXEC alone make the commands atomic, EXEC is never
// aborted and fn runs once; in a cluster the connection then goes where
// Connection sends one without keys, so pick the node with WithEndpoint.
//
// When a queued command is refused (an unknown command, a wrong number of
// arguments, a MOVED in a cluster), Redis discards the whole transaction:
// none of the commands ran and the error, which matches that command's
// *Error and then EXEC's EXECABORT, says which one it was. To be sure MULTI
// itself is allowed (an ACL may deny it, and the commands sent after a
// refused MULTI would run on their own), the first WATCH round trip also
// sends MULTI and DISCARD; a refusal there is returned before fn runs.
//
// In a cluster, a slot may move between calls: when WATCH, or a command
// being queued, is answered MOVED (or ASK, TRYAGAIN, CLUSTERDOWN while the
// slot moves), nothing ran, so Transaction starts again on a new connection
// to the node the cluster named (after a pause, unless it was MOVED),
// within the same 32 attempts. Through Sentinel, so it does on the new
// master when a command being queued is answered READONLY by the old one.
// So it does, in any deployment, after a pause, when they are answered
// LOADING: the server is still loading its data set. When WithEndpoint
// names the server, every attempt would go back to it: its MOVED, ASK or
// READONLY is returned at once.
//
// When the connection is found broken before WATCH, or MULTI ... EXEC,
// was written (the server restarted, or closed it, while fn ran), nothing
// ran either, and the WATCH is gone: Transaction starts again on a new
// connection, after a pause, within the same 32 attempts.
//
// ctx, or WithTimeout when ctx has no deadline, bounds the whole
// transaction, pauses and attempts included. A network error on the round
// trip with EXEC matches ErrNotRetried: whether the transaction ran is
// unknown, and it is not tried again.
func (r *Redis) Transaction(ctx context.Context, fn func(c *Connection) ([][]any, error), keys ...string) ([]any, error) {
	if err := r.usable(ctx); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, invalidArg("Transaction: nil fn")
	}
	ctx, cancel := r.withTimeout(ctx)
	if cancel != nil {
		defer cancel()
	}
	c, err := r.Connection(ctx, keys...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if c != nil {
			c.Close()
		}
	}()

	probe := true
	for attempt, waits := 1, 0; ; attempt++ {
		// tx sends Transaction's own commands, in r's database even if fn
		// switched c to another one; user is what fn gets.
		tx, user := *c, *c
		tx.call.db, tx.call.dbSet = r.call.db, true
		user.inTx = true

		class, err := tx.watch(ctx, keys, probe)
		var replies []any
		if err == nil {
			probe = false
			var cmds [][]any
			if cmds, err = fn(&user); err != nil {
				return nil, err
			}
			if err := checkQueued(cmds); err != nil {
				return nil, err
			}
			replies, class, err = tx.exec(ctx, cmds)
		}
		// The connection broke before WATCH or MULTI ... EXEC left the
		// client (a restart, a CLIENT KILL while fn ran): nothing ran,
		// but the WATCH went with it. Start again on a new connection.
		lost := err != nil && mayRetryAll(err, false)
		if class == replyFinal && !lost && (replies != nil || err != nil) {
			return replies, err
		}
		if attempt == txMaxAttempts {
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: EXEC aborted %d times in a row", ErrTxAborted, attempt)
		}
		if class == replyFinal && !lost {
			err = txPause(ctx, attempt)
		} else if err = r.txRedirected(ctx, class, waits); err == nil {
			// The slot map now names the node to go to, or the old
			// connection broke: a new connection, which is probed again.
			waits++
			c.Close()
			c, err = r.Connection(ctx, keys...)
			probe = true
		}
		if err != nil {
			return nil, err
		}
	}
}

// txRedirected prepares another attempt of a Transaction that the cluster
// refused, before anything ran, with the reply class: MOVED has updated
// the slot map already (Connection.run); ASK, TRYAGAIN and CLUSTERDOWN
// say the slot is moving, or the cluster is busy, and LOADING that the
// server is still loading its data: wait for it. So does a connection
// lost (replyFinal), as a server restarting may not take calls yet.
func (r *Redis) txRedirected(ctx context.Context, class replyClass, waits int) error {
	if class == replyMoved && waits == 0 {
		return nil // the map knows the new owner: go there at once
	}
	if cl, ok := r.p.router().(*cluster); ok && class == replyClusterDown {
		cl.refreshSoon()
	}
	return sleep(ctx, backoff(waits))
}

// watch WATCHes keys. With probe it first makes sure MULTI is allowed (see
// Transaction), in the same round trip. A refusal that proves the cluster
// sent the call to the wrong node, or is busy, comes with its class: nothing
// was watched, and the transaction may start again.
func (c *Connection) watch(ctx context.Context, keys []string, probe bool) (replyClass, error) {
	var cmds [][]any
	if probe {
		cmds = append(cmds, []any{"MULTI"}, []any{"DISCARD"})
	}
	if len(keys) > 0 {
		watch := make([]any, 0, 1+len(keys))
		watch = append(watch, "WATCH")
		for _, k := range keys {
			watch = append(watch, k)
		}
		cmds = append(cmds, watch)
	}
	if len(cmds) == 0 {
		return replyFinal, nil
	}
	vals, err := c.DoMulti(ctx, cmds...)
	if err != nil {
		return replyFinal, err
	}
	for i, v := range vals {
		if err, ok := v.(error); ok {
			return c.clusterClass(v), fmt.Errorf("justredis: Transaction: %s refused, nothing was queued: %w", cmds[i][0], err)
		}
	}
	return replyFinal, nil
}

// clusterClass is classify's verdict on a refusal seen by a Transaction in
// a cluster, where only the cluster says MOVED, ASK, TRYAGAIN or
// CLUSTERDOWN to WATCH or to a command being queued (a script runs only
// at EXEC). Elsewhere (WithMode(ModeStandalone) on a cluster node, say),
// nothing follows redirections: the refusal is final. LOADING, from a
// server still loading its data set, proves nothing was watched or
// queued in any deployment: the transaction starts again after a pause.
// Through Sentinel, READONLY to a command being queued says the master
// became a replica: it starts again at once on the new master. A
// Connection that WithEndpoint pinned follows neither.
func (c *Connection) clusterClass(v any) replyClass {
	class, _ := classify(v)
	if class == replyLoading {
		return class
	}
	if c.call.endpoint != "" && (class == replyMoved || class == replyAsk || isReadOnly(v)) {
		// WithEndpoint pins every attempt to this server, which would
		// redirect or refuse the same again: the refusal is final. (Nor
		// is a pinned replica's READONLY news of a failover.)
		return replyFinal
	}
	if s, ok := c.d.p.router().(*sentinel); ok && isReadOnly(v) {
		// The master became a replica: the next connection goes to the
		// one the sentinels name now, as for a MOVED in a cluster.
		s.lost(c.d.sv)
		return replyMoved
	}
	if _, ok := c.d.p.router().(*cluster); !ok {
		return replyFinal
	}
	return class
}

// exec sends MULTI, cmds and EXEC in one round trip and returns EXEC's
// replies; nil and no error when EXEC was aborted.
//
// A command refused while being queued aborts the transaction, so that
// nothing ran: when the cluster refused it, the class says so.
func (c *Connection) exec(ctx context.Context, cmds [][]any) ([]any, replyClass, error) {
	sent := make([][]any, 0, len(cmds)+2)
	sent = append(sent, []any{"MULTI"})
	sent = append(sent, cmds...)
	sent = append(sent, []any{"EXEC"})
	vals, err := c.DoMulti(ctx, sent...)
	if err != nil {
		return nil, replyFinal, notRetried(err)
	}
	if err, ok := vals[0].(error); ok {
		// Only if MULTI became forbidden since the probe.
		return nil, replyFinal, fmt.Errorf("justredis: Transaction: MULTI refused, so the commands may have run outside a transaction: %w", err)
	}
	replies, aborted, err := execReplies(vals[len(vals)-1])
	if err != nil {
		var e *Error
		execAbort := errors.As(err, &e) && e.Prefix() == "EXECABORT"
		for i, v := range vals[1 : len(vals)-1] {
			if qerr, ok := v.(error); ok {
				class := replyFinal
				if execAbort {
					class = c.clusterClass(v)
				}
				return nil, class, fmt.Errorf("justredis: Transaction: command %d refused, so none ran: %w; %w", i, qerr, err)
			}
		}
		return nil, replyFinal, fmt.Errorf("justredis: Transaction: EXEC: %w", err)
	}
	if aborted {
		return nil, replyFinal, nil
	}
	return replies, replyFinal, nil
}

// execReplies reads EXEC's reply, whatever the decoder: an array of
// replies, or null when a watched key changed.
func execReplies(v any) (replies []any, aborted bool, err error) {
	switch v := v.(type) {
	case nil:
		return nil, true, nil
	case error:
		return nil, false, v
	case []any:
		return v, false, nil
	case RawValue:
		switch v.Kind {
		case KindNull:
			return nil, true, nil
		case KindArray:
			replies = make([]any, len(v.Elems))
			for i, e := range v.Elems {
				replies[i] = e
				if e.Kind == KindError || e.Kind == KindBlobError {
					replies[i] = &Error{msg: string(e.Data)}
				}
			}
			return replies, false, nil
		}
	}
	return nil, false, fmt.Errorf("EXEC reply decoded as %T, not an array of replies", v)
}

// txCommands are the commands Transaction sends itself.
var txCommands = map[string]bool{"multi": true, "exec": true, "discard": true, "watch": true, "unwatch": true}

// refusedInTx refuses, on the connection given to a Transaction's fn, the
// commands that would break the transaction Transaction runs.
func refusedInTx(cmds [][]any) error {
	for i, args := range cmds {
		if len(args) == 0 {
			continue // Do and DoMulti report it
		}
		var buf [16]byte
		name, _ := lowerName(buf[:0], args[0])
		if !txCommands[string(name)] {
			continue
		}
		err := invalidArg(fmt.Sprintf("%s is not allowed inside a Transaction's fn: Transaction sends it itself", strings.ToUpper(string(name))))
		if len(cmds) > 1 {
			err = fmt.Errorf("command %d: %w", i, err)
		}
		return err
	}
	return nil
}

// checkQueued refuses, before anything is sent, commands that fn may not
// return, and arguments that cannot be encoded (checkAllowed), naming the
// command's index.
func checkQueued(cmds [][]any) error {
	for i, args := range cmds {
		if len(args) == 0 {
			return invalidArg(fmt.Sprintf("Transaction: command %d is empty", i))
		}
		var buf [16]byte
		name, _ := lowerName(buf[:0], args[0])
		switch {
		case txCommands[string(name)]:
			return invalidArg(fmt.Sprintf("Transaction: command %d: %s cannot be queued: Transaction sends it itself", i, strings.ToUpper(string(name))))
		case string(name) == "select":
			return invalidArg(fmt.Sprintf("Transaction: command %d: SELECT cannot be queued: use WithDatabase", i))
		}
		if err := checkAllowed(args, true); err != nil {
			return fmt.Errorf("command %d: %w", i, err)
		}
	}
	return nil
}

// txPause waits before attempt+1, a random time that grows with attempt,
// so that writers that collided do not collide again in step.
func txPause(ctx context.Context, attempt int) error {
	ceiling := time.Duration(min(attempt, 16)) * time.Millisecond
	t := time.NewTimer(ceiling/4 + rand.N(ceiling*3/4))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
