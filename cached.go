package justredis

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"sync"
	"time"
	"unsafe"
)

// Client-side caching at the face of the client: dispatch hands the calls
// of a copy made with WithCache here, which answers cacheable reads from
// the cache (cache.go) and reads misses through the server's tracked
// connection (tracking.go); and every write through the client drops the
// entries of its keys before it returns.

// dispatchCached is dispatch for a client with a cache.
func (r *Redis) dispatchCached(ctx context.Context, cmds [][]any, multi bool) (v any, vals []any, err error) {
	if r.call.cacheTTL > 0 && r.call.endpoint != Masters {
		if r.call.endpoint != "" {
			// A hit dials nothing, but an address that is none of the
			// deployment's is refused all the same, hit or miss.
			if _, err := r.p.endpoint(ctx, r.call.endpoint); err != nil {
				return nil, nil, err
			}
		}
		var done bool
		if multi {
			vals, err, done = r.cachedMulti(ctx, cmds)
		} else {
			v, err, done = r.cachedDo(ctx, cmds[0])
		}
		if done {
			return v, vals, err
		}
	}
	v, vals, err = r.route(ctx, cmds, multi)
	r.p.cache.written(r.p.cmds.Load(), cmds)
	return v, vals, err
}

// cachedDo answers one cacheable read from the cache, or reads it through
// a tracked connection and keeps the reply. done is false for a command
// the cache does not serve, and when the read must go the usual way.
func (r *Redis) cachedDo(ctx context.Context, args []any) (v any, err error, done bool) {
	t := r.cacheTable(ctx)
	if t == nil {
		return nil, nil, false
	}
	cmd := t.lookup(args)
	if cmd == nil || !cmd.cacheable {
		return nil, nil, false
	}
	var buf [192]byte
	id, err := appendCacheID(buf[:0], r.call.db, args)
	if err != nil {
		return nil, err, true
	}
	c := r.p.cache
	for {
		if h, ok := c.hit(id, cacheNow(), r.call.cacheTTL); ok {
			r.call.trace.hit()
			v, err = decodeHit(h, r.call.decoder, r.p.s.password)
			return v, err, true
		}
		mine, wait := c.begin(id, cacheKeys(cmd, args), cacheNow(), r.call.cacheTTL)
		if wait != nil {
			select {
			case <-wait.done:
				continue
			case <-ctx.Done():
				return nil, ctx.Err(), true
			}
		}
		if mine == nil {
			continue // stored meanwhile
		}
		return r.fillOne(ctx, cmd, args, mine)
	}
}

// cacheTable returns the COMMAND table, which says what is cacheable.
// The table comes with the first connection's handshake, so the first
// call of a new client would find none and go uncached, and a read would
// be answered locally only from its third call on. Before it is there,
// cacheTable makes sure of a shared connection to the server a connection
// without keys goes to, as the usual path would make one. nil when that
// fails: the call then goes the usual way, which reports the failure.
func (r *Redis) cacheTable(ctx context.Context) *commandTable {
	if t := r.p.cmds.Load(); t != nil {
		return t
	}
	sv, err := r.p.serverFor(ctx, &r.call, nil)
	if err != nil {
		return nil
	}
	cn, err := sv.sharedConn(ctx, r.call.db)
	if err != nil {
		return nil
	}
	cn.done()
	return r.p.cmds.Load()
}

// fillOne reads one miss through the tracked connection of the server
// the read goes to, and stores the reply.
func (r *Redis) fillOne(ctx context.Context, cmd *command, args []any, f *cacheFill) (v any, err error, done bool) {
	c := r.p.cache
	sv, key, err := r.readServer(ctx, cmd, args)
	if err != nil || sv == nil {
		c.abandon(f)
		return nil, err, err != nil
	}
	cn, err := sv.trackedConn(ctx, key, c)
	if err != nil {
		c.abandon(f)
		if ctx.Err() != nil {
			return nil, ctx.Err(), true
		}
		return nil, nil, false
	}
	enc, err := appendFill(nil, args, f.keys)
	if err != nil {
		c.abandon(f)
		return nil, err, true
	}
	r.call.trace.served(sv.addr)
	vals := make([]any, fillReplies(f))
	now := cacheNow()
	fctx, cancel := r.fillContext(ctx)
	_, err = cn.roundTripEncoded(fctx, enc, frameDecoder{}, vals)
	if cancel != nil {
		cancel()
	}
	if err != nil {
		c.abandon(f)
		if ctx.Err() != nil {
			return nil, ctx.Err(), true
		}
		if fctx.Err() != nil {
			cn.fail(err) // silent for the socket timeout: deemed dead
		}
		return nil, nil, false // the read goes the usual way
	}
	frame, keep, final := c.finish(f, vals, cn, now, r.call.cacheTTL)
	if !final {
		return nil, nil, false // a redirection, say: the usual way follows it
	}
	if !keep {
		v, err = reply(vals[1]) // an error reply
		return v, err, true
	}
	v, err = decodeFrame(frame, r.call.decoder, r.p.s.password)
	return v, err, true
}

// finish ends fill f with vals, the replies to the commands appendFill
// encoded, read at now on cn, and stores the reply unless it is an error.
// final is false when the reply is a redirection or the like, which the
// usual path handles; keep false when vals[1] is an error to return.
func (c *clientCache) finish(f *cacheFill, vals []any, cn *conn, now int64, ttl time.Duration) (frame []byte, keep, final bool) {
	frame, ok := vals[1].([]byte)
	if !ok {
		c.abandon(f)
		class, _ := classify(vals[1])
		return nil, false, class == replyFinal
	}
	if _, refused := vals[0].(error); refused {
		c.abandon(f) // not tracked: CLIENT CACHING was refused
		return frame, true, true
	}
	expires := saturatingAdd(now, int64(ttl))
	for _, v := range vals[2:] {
		b, _ := v.([]byte)
		if len(b) < 3 || Kind(b[0]) != KindInt {
			continue
		}
		if ms, ok := parseInt(b[1 : len(b)-2]); ok && ms >= 0 {
			d := int64(math.MaxInt64) // a key's expiry too far off for nanoseconds
			if ms <= math.MaxInt64/int64(time.Millisecond) {
				d = ms * int64(time.Millisecond)
			}
			expires = min(expires, saturatingAdd(now, d))
		}
	}
	c.store(f, frame, cn, now, expires)
	return frame, true, true
}

// fillContext bounds a read through a tracked connection, which has no
// socket timeout of its own, by WithSocketTimeout when ctx has no
// deadline.
func (r *Redis) fillContext(ctx context.Context) (context.Context, context.CancelFunc) {
	st := r.p.s.socketTimeout
	if _, ok := ctx.Deadline(); ok || st == 0 {
		return ctx, nil
	}
	return context.WithTimeout(ctx, st)
}

// readServer returns the server a read goes to, routed as the usual path
// would route it, and the kind of connection it needs there; nil for a
// router the cache does not serve through (nothing detected yet).
func (r *Redis) readServer(ctx context.Context, cmd *command, args []any) (*server, connKey, error) {
	cs := &r.call
	key := connKey{db: cs.db}
	rt := r.p.router()
	if cs.endpoint != "" {
		if err := rt.check(cs); err != nil {
			return nil, key, err
		}
		sv, err := r.p.endpoint(ctx, cs.endpoint)
		return sv, key, err
	}
	switch rt := rt.(type) {
	case *standalone:
		sv, err := rt.server(ctx)
		return sv, key, err
	case *cluster:
		if err := rt.check(cs); err != nil {
			return nil, key, err
		}
		slot, err := rt.slot(ctx, cmd, args)
		if err != nil {
			return nil, key, err
		}
		sv := rt.pick(slot, cs.replicaReads)
		key.readonly = cs.replicaReads && sv != rt.pick(slot, false)
		return sv, key, nil
	case *sentinel:
		if cs.replicaReads {
			if sv := rt.replica(args); sv != nil {
				return sv, key, nil // outside a cluster, replicas serve reads as they are
			}
		}
		sv, err := rt.master(ctx, cs.db)
		return sv, key, err
	}
	return nil, key, nil
}

// frameDecoder keeps a reply as its frame, for the cache to store.
type frameDecoder struct{}

func (frameDecoder) Decode(r *Reader) (any, error) {
	f := bytes.Clone(r.buf[r.pos:])
	r.pos = len(r.buf)
	return f, nil
}

var readerPool = sync.Pool{New: func() any { return new(Reader) }}

// decodeHit decodes a stored reply with d, sharing the memo when d is
// StringDecoder.
func decodeHit(h cacheHit, d Decoder, secret string) (any, error) {
	if _, ok := d.(stringDecoder); ok && h.memoOK {
		return h.memo, nil
	}
	return decodeFrame(h.frame, d, secret)
}

// decodeFrame decodes a stored reply, kept as the server sent it, with d.
// secret is the password to hide in its errors.
func decodeFrame(frame []byte, d Decoder, secret string) (any, error) {
	rd := readerPool.Get().(*Reader)
	rd.secret = secret
	v, err := decodeReply(rd, frame, d) // which lets go of the frame
	rd.secret = ""
	readerPool.Put(rd)
	return v, err
}

// appendCacheID encodes the cache ID of a read: its database, then each
// argument as its length and its text, which tells any two commands apart
// and is quicker to write than RESP.
func appendCacheID(b []byte, db int, args []any) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(db))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		case []byte:
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		default:
			var num [32]byte
			text, err := appendArgText(num[:0], a)
			if err != nil {
				return b, badArgument(args, i, err)
			}
			b = binary.AppendUvarint(b, uint64(len(text)))
			b = append(b, text...)
		}
	}
	return b, nil
}

// cachingYes is CLIENT CACHING yes, which makes the server track the keys
// of the next command: a tracked connection is in OPTIN mode.
var cachingYes = appendStrings(nil, "CLIENT", "CACHING", "yes")

// appendFill encodes a miss as it goes to a tracked connection: CLIENT
// CACHING yes, the read, and PTTL of each of its keys, in one write, so
// that nothing another caller sends on the connection comes in between.
func appendFill(b []byte, args []any, keys []string) ([]byte, error) {
	b = append(b, cachingYes...)
	b, err := appendCommand(b, args)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		b = appendStrings(b, "PTTL", k)
	}
	return b, nil
}

func fillReplies(f *cacheFill) int { return 2 + len(f.keys) }

// cacheKeys returns the keys of a cacheable read, as the server finds
// them.
func cacheKeys(cmd *command, args []any) []string {
	var keys []string
	it := keyIter{f: cmd.keys, args: args}
	var buf [64]byte
	for k, ok := it.next(buf[:0]); ok; k, ok = it.next(buf[:0]) {
		keys = append(keys, string(k))
	}
	return keys
}

// keyIter walks the keys that a keyFinder finds in args. (A loop, not a
// callback: a function value would make the compiler take the keys for
// escaping, and with them Do's arguments.)
type keyIter struct {
	f             *keyFinder
	args          []any
	spec          int // the next spec to start
	p, last, step int // in the spec under way
	started       bool
}

// next returns the text of the next key, valid until the next call; buf
// may hold it.
func (it *keyIter) next(buf []byte) ([]byte, bool) {
	for {
		if it.started && it.p <= it.last {
			a := it.args[it.p]
			it.p += it.step
			if k, ok := keyBytes(buf, a); ok {
				return k, true
			}
			continue
		}
		if it.spec >= len(it.f.specs) {
			return nil, false
		}
		it.p, it.last, it.step = it.f.specs[it.spec].bounds(it.args)
		it.spec++
		it.started = true
	}
}

// keyBytes is argText without a copy for a string: the text is only read.
func keyBytes(buf []byte, a any) ([]byte, bool) {
	if s, ok := a.(string); ok {
		return unsafe.Slice(unsafe.StringData(s), len(s)), true
	}
	return argText(buf, a)
}

// written drops the entries that cmds, sent through the client, may have
// changed: those of the keys of every command that is not read-only, or
// everything for a write whose keys are not known (FLUSHALL, say). The
// server's invalidation would come too, but maybe only after the call
// returned: a read after a write through the same client must not see
// the value from before.
func (c *clientCache) written(t *commandTable, cmds [][]any) {
	if c.live.Load() == 0 || t == nil {
		return
	}
	for _, args := range cmds {
		if cmd := t.lookup(args); cmd != nil && !cmd.readonly {
			c.writtenBy(cmd, args)
		}
	}
}

func (c *clientCache) writtenBy(cmd *command, args []any) {
	f := cmd.keys
	if f.getKeys || len(f.specs) == 0 {
		if cmd.write {
			c.flush()
		}
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		if len(s.byKey) > 0 || len(s.fills) > 0 {
			it := keyIter{f: f, args: args}
			var buf [64]byte
			for k, ok := it.next(buf[:0]); ok; k, ok = it.next(buf[:0]) {
				s.invalidateKey(k, c)
			}
		}
		s.mu.Unlock()
	}
}
