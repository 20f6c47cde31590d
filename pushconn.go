package justredis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Message is one thing the server pushed to a PushConnection.
//
// Kind says what it is:
//
//   - "message": Data published on Channel (SUBSCRIBE).
//   - "pmessage": Data published on Channel, which matched Pattern
//     (PSUBSCRIBE).
//   - "smessage": Data published on the shard channel Channel (SSUBSCRIBE).
//   - "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
//     "sunsubscribe": the server confirms a change to the subscriptions;
//     Channel is the channel or pattern, Data the number of subscriptions
//     the connection now has (int64 with the standard decoders).
//   - "pong": the reply to PING; Data is PING's argument, "" when it had
//     none. The same under RESP2 and RESP3.
//   - "monitor": one line of MONITOR output, as a string in Data.
//   - "invalidate": client-side caching (CLIENT TRACKING, RESP3) says that
//     the keys in Data ([]any) changed; Data is nil when the whole database
//     was flushed. Under RESP2, the messages of the __redis__:invalidate
//     channel (CLIENT TRACKING ... REDIRECT) are given this Kind too, with
//     Channel "__redis__:invalidate".
//   - "dropped": the buffer (WithPushBuffer) was full and Data (int64)
//     messages, the oldest, were thrown away. It comes before the messages
//     that were kept.
//   - "error": the server refused a command; Data is the *Error, which
//     NextMessage also returns as its error.
//
// Anything else the server pushes keeps the name it was sent with as Kind,
// and its remaining elements in Data (one as itself, several as []any); a
// reply that is not a push at all has Kind "reply".
//
// Data is decoded by the decoder of the PushConnection that NextMessage was
// called on (WithDecoder): with BytesDecoder, message payloads are []byte.
// Channel and Pattern are always strings. The reply that confirms MONITOR or
// CLIENT TRACKING ("OK") is not delivered; send PING after them and wait for
// the "pong" to know the server has acted on them.
type Message struct {
	// Kind is what the message is: "message", "pmessage", "smessage",
	// "subscribe", "pong", "monitor", "invalidate", "dropped", "error", ...
	Kind string
	// Channel is the channel a message was published on, or the channel or
	// pattern a (un)subscription confirms.
	Channel string
	// Pattern is the pattern that matched, for "pmessage" only.
	Pattern string
	// Data is the payload: the message, a subscription count, a MONITOR
	// line, the invalidated keys, the number of dropped messages, the
	// *Error.
	Data any
}

// defaultPushBuffer is how many messages a PushConnection keeps for
// NextMessage when WithPushBuffer is not given.
const defaultPushBuffer = 10000

// WithPushBuffer sets how many received messages each PushConnection keeps
// until NextMessage takes them. When the buffer is full the oldest message
// is dropped, and the next call to NextMessage reports how many were, as a
// Message of Kind "dropped", before the messages that were kept. 0 means
// the default, 10000.
func WithPushBuffer(n int) Option {
	return poolOption(func(s *settings) error {
		if n < 0 {
			return invalidArg(fmt.Sprintf("WithPushBuffer: %d is negative", n))
		}
		s.pushBuffer = n
		return nil
	})
}

// PushConnection is a connection in push mode, for publish/subscribe,
// MONITOR and (RESP3) client-side caching invalidations. Make one with
// Redis.PushConnection; Close it when done.
//
// Do sends commands: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBE
// forms, PING, MONITOR, and under RESP3 CLIENT TRACKING. Whatever the
// server sends back, confirmations included, comes through NextMessage or
// Messages, in the order it arrived.
//
// A PushConnection is safe for concurrent use. Each message is handed to one
// caller of NextMessage. Copies made by Modify share the connection and
// its messages.
//
// When the server goes away (a restart, a network failure, CLIENT KILL),
// the PushConnection connects again, with backoff, until it is closed. It
// then subscribes again to every channel, pattern and shard channel it had,
// and sends MONITOR and CLIENT TRACKING again if they were on; the fresh
// confirmations arrive as messages and tell you it happened. Messages
// published while it was away are lost, as Redis pub/sub does not keep
// them.
type PushConnection struct {
	ps   *pushState
	call callSettings
	err  error // an invalid CallOption given to Modify
}

// PushConnection opens a connection in push mode, with the client's
// address, credentials, TLS, protocol and database. In a cluster, keys
// choose the node (they must hash to one slot). The connection is made
// before it returns, so a server that cannot be reached is an error here.
func (r *Redis) PushConnection(ctx context.Context, keys ...string) (*PushConnection, error) {
	if err := r.usable(nil); err != nil {
		return nil, err
	}
	ctx, cancel := r.withTimeout(ctx)
	if cancel != nil {
		defer cancel()
	}
	limit := r.p.s.pushBuffer
	if limit == 0 {
		limit = defaultPushBuffer
	}
	ps := &pushState{
		p:     r.p,
		route: r.call,
		keys:  slices.Clone(keys),
		limit: limit,
		done:  make(chan struct{}),
	}
	for i := range ps.subs {
		ps.subs[i] = make(map[string]struct{})
	}
	ps.ctx, ps.cancel = context.WithCancel(context.Background())
	cn, sv, resp, err := ps.connect(ctx)
	if err == nil {
		err = ps.install(ctx, cn, sv, resp)
	}
	if err != nil {
		ps.cancel()
		return nil, err
	}
	ps.wg.Add(1)
	go ps.run(cn)
	return &PushConnection{ps: ps, call: r.call}, nil
}

// String describes the connection without credentials.
func (p *PushConnection) String() string {
	addr := ""
	if a := p.ps.addr.Load(); a != nil {
		addr = *a
	}
	return fmt.Sprintf("justredis.PushConnection{addr: %s}", addr)
}

// GoString is String, so that %#v shows no credentials either.
func (p *PushConnection) GoString() string { return p.String() }

// Modify returns a copy of p that receives with opts applied; it shares the
// connection and its messages. WithDecoder decides how the Data of the
// messages that the copy's NextMessage returns are decoded, including
// messages that arrived before the copy was made: nothing buffered is lost.
// WithTimeout bounds Do and NextMessage calls whose context has no deadline.
// Other options (WithDatabase, WithEndpoint) have no effect on a
// PushConnection.
func (p *PushConnection) Modify(opts ...CallOption) *PushConnection {
	m := *p
	for _, o := range opts {
		if o == nil {
			m.err = invalidArg("Modify: nil CallOption")
			break
		}
		if err := o.applyToCall(&m.call); err != nil && m.err == nil {
			m.err = err
		}
	}
	return &m
}

// Do sends one command: SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE with at least
// one channel or pattern, UNSUBSCRIBE, PUNSUBSCRIBE or SUNSUBSCRIBE (without
// arguments: from all), PING, MONITOR, or, on a RESP3 connection, CLIENT
// TRACKING. Any other command is refused with ErrInvalidArgument before
// anything is sent.
//
// Do returns once the command is written; its error is about sending only.
// The server's answer (a confirmation, a pong, or an error reply) comes
// through NextMessage. When Do returns ctx's error, the command was not
// sent.
//
// Changes to subscriptions, MONITOR and CLIENT TRACKING are remembered: if
// the connection is down, or breaks while sending, Do returns nil and the
// command takes effect when the connection is back. PING is not
// remembered: it then fails with the network error.
func (p *PushConnection) Do(ctx context.Context, args ...any) error {
	if p.err != nil {
		return p.err
	}
	if len(args) == 0 {
		return invalidArg("empty command")
	}
	op, err := pushCommand(args)
	if err != nil {
		return err
	}
	buf, err := appendCommand(nil, args)
	if err != nil {
		return err
	}
	if timeout := p.call.timeout; timeout > 0 {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
	}
	return p.ps.do(ctx, op, buf)
}

// NextMessage returns the next message, waiting for one until ctx ends. An
// error reply from the server (to a command sent by Do) is returned as the
// error, an *Error, together with a Message of Kind "error"; the connection
// stays usable. So it does when ctx ends: NextMessage then returns
// ctx.Err(), and a message that arrives later is returned by the next call.
// After Close, and after the Redis it came from is closed, NextMessage
// returns ErrClosed, even while it waits.
func (p *PushConnection) NextMessage(ctx context.Context) (Message, error) {
	if p.err != nil {
		return Message{}, p.err
	}
	if timeout := p.call.timeout; timeout > 0 {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
	}
	return p.next(ctx)
}

func (p *PushConnection) next(ctx context.Context) (Message, error) {
	frame, dropped, err := p.ps.take(ctx)
	if err != nil {
		return Message{}, err
	}
	if dropped > 0 {
		return Message{Kind: "dropped", Data: dropped}, nil
	}
	return decodeMessage(frame, p.call.decoder)
}

// Messages returns the messages as they arrive, for use with range:
//
//	for msg, err := range p.Messages(ctx) {
//		if err != nil {
//			log.Print(err) // an error reply, such as a refused command
//			continue
//		}
//		...
//	}
//
// The loop ends, without an error, when ctx ends or p is closed (check
// ctx.Err() if you need to know which). Other errors (error replies from the
// server, a failing Decoder) are given to the loop, which may carry on.
// Breaking out of the loop loses nothing: the connection stays usable and
// the next message is returned by the next NextMessage or Messages.
// WithTimeout does not apply to Messages.
func (p *PushConnection) Messages(ctx context.Context) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		if p.err != nil {
			yield(Message{}, p.err)
			return
		}
		for ctx.Err() == nil {
			msg, err := p.next(ctx)
			if err != nil && (errors.Is(err, ErrClosed) || (ctx.Err() != nil && errors.Is(err, ctx.Err()))) {
				return
			}
			if !yield(msg, err) {
				return
			}
		}
	}
}

// Close closes the connection for good and ends its goroutine. A
// NextMessage waiting on it, on any copy, returns ErrClosed. Close always
// returns nil.
func (p *PushConnection) Close() error {
	ps := p.ps
	if !ps.closing.Swap(true) {
		ps.finish()
		ps.cancel()
		if cn := ps.cur.Load(); cn != nil {
			cn.close()
		}
	}
	ps.wg.Wait()
	return nil
}

// pushState is what all copies of one PushConnection share. One goroutine
// (run) reads frames from the server connection into a bounded queue,
// unchanged; NextMessage decodes them, so that every copy decodes with its
// own decoder. Writes are serialised by wmu.
type pushState struct {
	p     *pool
	route callSettings // the server and database to connect to
	keys  []string     // the keys given to PushConnection: in a cluster, they pick the node
	limit int          // messages kept at most
	// routeSlot is the cluster slot the connection in use was chosen by
	// (see routeKeys, in shardpubsub.go); -1 for none. Only connect and the
	// reader, one after the other, use it.
	routeSlot int

	ctx     context.Context // ended by Close
	cancel  context.CancelFunc
	closing atomic.Bool          // Close was called
	cur     atomic.Pointer[conn] // the connection in use, for Close to close
	addr    atomic.Pointer[string]
	wg      sync.WaitGroup // the reader

	// wmu serialises writes and guards the fields after it.
	wmu     sync.Mutex
	cn      *conn // nil while reconnecting
	sv      *server
	resp    int
	lastErr error // why the last connection or attempt failed, naming the address
	// What to set up again on a new connection, as the user asked for it.
	subs     [3]map[string]struct{} // channels, patterns, shard channels
	monitor  bool
	tracking [][]string // CLIENT TRACKING commands since the last "off"

	// mu guards the queue of frames.
	mu      sync.Mutex
	frames  [][]byte
	head    int           // frames[head:] are waiting
	dropped int64         // dropped since NextMessage last reported it
	wake    chan struct{} // closed when a frame arrives; made by a waiter
	closed  bool
	done    chan struct{} // closed once closed is set
}

// The subscription sets.
const (
	subChannels = iota
	subPatterns
	subShards
)

// pushOp is a command allowed on a push connection.
type pushOp struct {
	kind pushKind
	set  int // the subscription set for subscribe and unsubscribe
}

type pushKind uint8

const (
	opSubscribe pushKind = iota
	opUnsubscribe
	opPing
	opMonitor
	opTracking
)

var pushOps = map[string]pushOp{
	"subscribe":    {opSubscribe, subChannels},
	"psubscribe":   {opSubscribe, subPatterns},
	"ssubscribe":   {opSubscribe, subShards},
	"unsubscribe":  {opUnsubscribe, subChannels},
	"punsubscribe": {opUnsubscribe, subPatterns},
	"sunsubscribe": {opUnsubscribe, subShards},
	"ping":         {kind: opPing},
	"monitor":      {kind: opMonitor},
}

const pushAllowed = "SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE, PING, MONITOR and (RESP3) CLIENT TRACKING"

// pushCommand says which command args is, or why it is refused.
func pushCommand(args []any) (pushOp, error) {
	var buf [32]byte
	name, ok := lowerName(buf[:0], args[0])
	if !ok {
		return pushOp{}, invalidArg(fmt.Sprintf("argument 0 (command name): unsupported type %T", args[0]))
	}
	if len(name) == 0 {
		return pushOp{}, invalidArg("empty command name")
	}
	op, found := pushOps[string(name)]
	if !found && string(name) == "client" && len(args) > 1 {
		var sub [16]byte
		if s, ok := lowerName(sub[:0], args[1]); ok && string(s) == "tracking" {
			op, found = pushOp{kind: opTracking}, true
		}
	}
	if !found {
		shown := strings.ToUpper(string(name))
		if shown == "CLIENT" && len(args) > 1 {
			if s, ok := lowerName(nil, args[1]); ok {
				shown += " " + strings.ToUpper(string(s))
			}
		}
		if len(shown) > 40 {
			shown = shown[:40] + "..."
		}
		return pushOp{}, invalidArg(fmt.Sprintf("%s is not allowed on a PushConnection, which takes only %s; use Redis.Do or a Connection for other commands", shown, pushAllowed))
	}
	if op.kind == opSubscribe && len(args) < 2 {
		return pushOp{}, invalidArg(fmt.Sprintf("%s needs at least one channel or pattern", strings.ToUpper(string(name))))
	}
	return op, nil
}

// connect opens a new server connection.
func (ps *pushState) connect(ctx context.Context) (*conn, *server, int, error) {
	keys := ps.routeKeys()
	sv, err := ps.p.serverFor(ctx, &ps.route, keys)
	if err != nil {
		return nil, nil, 0, err
	}
	ps.routeSlot = -1
	if len(keys) > 0 {
		ps.routeSlot = hashSlot(keys[0])
	}
	cn, info, err := sv.openPlan(ctx, setupPlan{db: ps.route.db})
	if err != nil {
		ps.p.serverLost(sv)
		return nil, nil, 0, err
	}
	// The reader sets its own deadlines: an idle push connection is not a
	// dead one, so the socket timeout means something else here.
	cn.socketTimeout = 0
	cn.timedOut = false
	cn.nc.SetDeadline(time.Time{})
	return cn, sv, info.resp, nil
}

// install makes cn the connection in use, after sending it everything the
// user had set up.
func (ps *pushState) install(ctx context.Context, cn *conn, sv *server, resp int) error {
	ps.wmu.Lock()
	defer ps.wmu.Unlock()
	if buf := ps.setupCommands(nil); len(buf) > 0 {
		if _, _, err := ps.write(ctx, cn, buf); err != nil {
			sv.drop(cn)
			return &netError{addr: sv.addr, err: err}
		}
	}
	ps.cn, ps.sv, ps.resp = cn, sv, resp
	ps.addr.Store(&sv.addr)
	ps.cur.Store(cn)
	if ps.closing.Load() {
		// Close came meanwhile, and may have missed cn.
		ps.cn = nil
		sv.drop(cn)
		return ErrClosed
	}
	return nil
}

// setupCommands appends the commands that restore the tracked state: CLIENT
// TRACKING, MONITOR, then the subscriptions, one SSUBSCRIBE per slot.
func (ps *pushState) setupCommands(buf []byte) []byte {
	for _, t := range ps.tracking {
		buf = appendStrings(buf, t...)
	}
	if ps.monitor {
		buf = appendStrings(buf, "MONITOR")
	}
	buf = appendInChunks(buf, "SUBSCRIBE", sortedKeys(ps.subs[subChannels]))
	buf = appendInChunks(buf, "PSUBSCRIBE", sortedKeys(ps.subs[subPatterns]))
	bySlot := make(map[int][]string)
	for ch := range ps.subs[subShards] {
		s := hashSlot(ch)
		bySlot[s] = append(bySlot[s], ch)
	}
	slots := make([]int, 0, len(bySlot))
	for s := range bySlot {
		slots = append(slots, s)
	}
	slices.Sort(slots)
	for _, s := range slots {
		chans := bySlot[s]
		slices.Sort(chans)
		buf = appendInChunks(buf, "SSUBSCRIBE", chans)
	}
	return buf
}

// resubscribeChunk bounds the channels given to one command when
// subscribing again.
const resubscribeChunk = 1000

func appendInChunks(buf []byte, cmd string, names []string) []byte {
	for len(names) > 0 {
		n := min(len(names), resubscribeChunk)
		buf = appendStrings(buf, append([]string{cmd}, names[:n]...)...)
		names = names[n:]
	}
	return buf
}

func appendStrings(buf []byte, args ...string) []byte {
	a := make([]any, len(args))
	for i, s := range args {
		a[i] = s
	}
	buf, _ = appendCommand(buf, a) // strings always encode
	return buf
}

func sortedKeys(m map[string]struct{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// do sends one encoded command and remembers what it changes.
func (ps *pushState) do(ctx context.Context, op pushOp, buf []byte) error {
	if ps.isClosed() {
		return ErrClosed
	}
	ps.wmu.Lock()
	defer ps.wmu.Unlock()
	if ps.isClosed() {
		return ErrClosed
	}
	if op.kind == opTracking && ps.resp == 2 {
		return invalidArg("CLIENT TRACKING on a PushConnection needs RESP3 (WithRESP(3)): under RESP2 the server cannot push invalidations to it; subscribe to __redis__:invalidate there instead and send CLIENT TRACKING ... REDIRECT on a Connection")
	}
	cn := ps.cn
	if cn == nil {
		if op.kind == opPing {
			return ps.downError()
		}
		ps.remember(op, buf)
		return nil
	}
	n, ctxEnded, err := ps.write(ctx, cn, buf)
	switch {
	case err == nil:
		ps.remember(op, buf)
		return nil
	case ctxEnded:
		if n > 0 {
			// Half a command went out: only a new connection is clean.
			cn.fail(err)
		}
		return err
	}
	cn.fail(err) // the reader sees it and connects again
	if op.kind == opPing {
		return &netError{addr: cn.addr, err: err, written: n > 0}
	}
	ps.remember(op, buf)
	return nil
}

// remember records what a command sent (or to be sent) changes, so that a
// new connection can be set up the same way. wmu is held.
func (ps *pushState) remember(op pushOp, buf []byte) {
	args := commandStrings(buf)
	switch op.kind {
	case opSubscribe:
		for _, a := range args[1:] {
			ps.subs[op.set][a] = struct{}{}
		}
	case opUnsubscribe:
		if len(args) == 1 {
			clear(ps.subs[op.set])
		}
		for _, a := range args[1:] {
			delete(ps.subs[op.set], a)
		}
	case opMonitor:
		// Under RESP2 the server refuses MONITOR while subscribed.
		if ps.resp != 2 || len(ps.subs[subChannels])+len(ps.subs[subPatterns])+len(ps.subs[subShards]) == 0 {
			ps.monitor = true
		}
	case opTracking:
		if len(args) > 2 && strings.EqualFold(args[2], "off") {
			ps.tracking = nil
		} else {
			ps.tracking = append(ps.tracking, args)
		}
	}
}

// commandStrings reads back the arguments of an encoded command.
func commandStrings(buf []byte) []string {
	r := Reader{buf: buf}
	t, err := r.Next()
	if err != nil {
		return nil
	}
	args := make([]string, 0, t.Len)
	for i := 0; i < t.Len; i++ {
		a, err := r.Next()
		if err != nil {
			break
		}
		args = append(args, string(a.Data))
	}
	return args
}

// write writes buf to cn within ctx and the socket timeout. It returns how
// much it wrote, and whether it stopped because ctx ended (err is then
// ctx's error).
func (ps *pushState) write(ctx context.Context, cn *conn, buf []byte) (written int, ctxEnded bool, err error) {
	if err := ctx.Err(); err != nil {
		return 0, true, err
	}
	var deadline time.Time
	if t := ps.p.s.socketTimeout; t > 0 {
		deadline = time.Now().Add(t)
	}
	ctxDeadline, hasCtxDeadline := ctx.Deadline()
	if hasCtxDeadline && (deadline.IsZero() || ctxDeadline.Before(deadline)) {
		deadline = ctxDeadline
	}
	cn.nc.SetWriteDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { cn.nc.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	for written < len(buf) {
		n, err := cn.nc.Write(buf[written:])
		written += n
		if err == nil {
			continue
		}
		if isTimeout(err) {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return written, true, ctxErr
			}
			if hasCtxDeadline && !time.Now().Before(ctxDeadline) {
				return written, true, context.DeadlineExceeded
			}
			if deadline.IsZero() || time.Now().Before(deadline) {
				cn.nc.SetWriteDeadline(deadline) // a stale interrupt: carry on
				continue
			}
		}
		return written, false, err
	}
	return written, false, nil
}

// keepAliveArg is the argument of the PINGs a push connection sends when
// the server has been silent for the socket timeout. Their replies are not
// delivered.
const keepAliveArg = "justredis-keepalive"

var (
	keepAliveCmd      = appendStrings(nil, "PING", keepAliveArg)
	keepAliveBulk     = appendBulkString(nil, keepAliveArg)
	keepAlivePong     = appendBulkString([]byte("*2\r\n$4\r\npong\r\n"), keepAliveArg)
	keepAliveMonitor  = []byte(`"PING" "` + keepAliveArg + "\"\r\n")
	replyOKFrame      = []byte("+OK\r\n")
	emptyBulkFrame    = []byte("$0\r\n\r\n")
	trackingChannel   = "__redis__:invalidate"
	errNotConnected   = errors.New("not connected")
	reconnectMaxDelay = 2 * time.Second
)

// keepAlive sends a PING unless a write is under way; it reports whether
// it did.
func (ps *pushState) keepAlive(cn *conn) bool {
	if !ps.wmu.TryLock() {
		return false
	}
	defer ps.wmu.Unlock()
	if ps.cn != cn {
		return false
	}
	_, _, err := ps.write(ps.ctx, cn, keepAliveCmd)
	return err == nil
}

// run reads from cn, connects again whenever the connection is lost, and
// ends when the PushConnection or its pool is closed.
func (ps *pushState) run(cn *conn) {
	defer ps.wg.Done()
	for cn != nil {
		err := ps.read(cn)
		ps.lost(cn, err)
		cn = ps.reconnect()
	}
	ps.finish()
	ps.cancel()
}

// read queues the frames cn receives until it fails.
func (ps *pushState) read(cn *conn) error {
	idle := ps.p.s.socketTimeout
	pinged := false
	for {
		var deadline time.Time
		if idle > 0 {
			deadline = time.Now().Add(idle)
			cn.nc.SetReadDeadline(deadline)
		}
		frame, err := cn.readFrame(context.Background())
		if err != nil {
			if ps.closing.Load() {
				return ErrClosed
			}
			if !isTimeout(err) {
				return err
			}
			if deadline.IsZero() {
				cn.nc.SetReadDeadline(time.Time{}) // a stale interrupt
				continue
			}
			if time.Now().Before(deadline) {
				continue
			}
			// Silent for the socket timeout: ask whether it is alive, and
			// give up after another timeout without a word.
			if pinged {
				return err
			}
			pinged = ps.keepAlive(cn)
			continue
		}
		pinged = false
		if quietFrame(frame) {
			continue
		}
		ps.push(frame)
		if ps.shardMoved(frame) {
			return errShardMoved // connect again, to the slot's new owner
		}
	}
}

// quietFrame reports whether a frame is not for the user: the OK that
// confirms MONITOR or CLIENT TRACKING, and what keep-alive PINGs cause.
func quietFrame(f []byte) bool {
	return bytes.Equal(f, replyOKFrame) || bytes.Equal(f, keepAliveBulk) || bytes.Equal(f, keepAlivePong) ||
		(f[0] == byte(KindSimple) && bytes.HasSuffix(f, keepAliveMonitor))
}

// push queues a copy of frame, dropping the oldest when the queue is full.
func (ps *pushState) push(frame []byte) {
	f := bytes.Clone(frame)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return
	}
	if len(ps.frames)-ps.head >= ps.limit {
		ps.frames[ps.head] = nil
		ps.head++
		ps.dropped++
	}
	if ps.head >= 64 && 2*ps.head >= len(ps.frames) {
		n := copy(ps.frames, ps.frames[ps.head:])
		clear(ps.frames[n:])
		ps.frames, ps.head = ps.frames[:n], 0
	}
	ps.frames = append(ps.frames, f)
	if ps.wake != nil {
		close(ps.wake)
		ps.wake = nil
	}
}

// take returns the oldest frame, or the count of dropped frames, waiting
// for one until ctx ends or the connection is closed.
func (ps *pushState) take(ctx context.Context) ([]byte, int64, error) {
	for {
		ps.mu.Lock()
		if ps.closed {
			ps.mu.Unlock()
			return nil, 0, ErrClosed
		}
		if n := ps.dropped; n > 0 {
			ps.dropped = 0
			ps.mu.Unlock()
			return nil, n, nil
		}
		if ps.head < len(ps.frames) {
			f := ps.frames[ps.head]
			ps.frames[ps.head] = nil
			ps.head++
			if ps.head == len(ps.frames) {
				ps.frames, ps.head = ps.frames[:0], 0
				if cap(ps.frames) > 1024 {
					ps.frames = nil // a burst is over: give its memory back
				}
			}
			ps.mu.Unlock()
			return f, 0, nil
		}
		if ps.wake == nil {
			ps.wake = make(chan struct{})
		}
		wake := ps.wake
		ps.mu.Unlock()
		select {
		case <-wake:
		case <-ps.done:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

// finish marks the PushConnection closed and wakes those waiting.
func (ps *pushState) finish() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if !ps.closed {
		ps.closed = true
		ps.frames, ps.head, ps.dropped = nil, 0, 0
		close(ps.done)
	}
}

func (ps *pushState) isClosed() bool {
	if ps.closing.Load() || ps.p.closed.Load() {
		return true
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.closed
}

// lost lets go of a connection that failed.
func (ps *pushState) lost(cn *conn, err error) {
	ps.wmu.Lock()
	sv := ps.sv
	if ps.cn == cn {
		ps.cn = nil
		ps.lastErr = &netError{addr: cn.addr, err: err}
	}
	ps.wmu.Unlock()
	ps.cur.CompareAndSwap(cn, nil)
	sv.drop(cn)
}

// reconnect connects again, with backoff, until it succeeds or the
// PushConnection or its pool is closed (then it returns nil).
func (ps *pushState) reconnect() *conn {
	for attempt := 0; ; attempt++ {
		if ps.closing.Load() || ps.p.closed.Load() {
			return nil
		}
		if attempt > 0 {
			t := time.NewTimer(reconnectDelay(attempt))
			select {
			case <-t.C:
			case <-ps.ctx.Done():
				t.Stop()
				return nil
			}
		}
		timeout := ps.p.s.connectTimeout
		if timeout == 0 {
			timeout = 10 * time.Second
		}
		ctx, cancel := context.WithTimeout(ps.ctx, timeout)
		cn, sv, resp, err := ps.connect(ctx)
		if err == nil {
			err = ps.install(ctx, cn, sv, resp)
		}
		cancel()
		if err == nil {
			return cn
		}
		ps.wmu.Lock()
		ps.lastErr = err
		ps.wmu.Unlock()
	}
}

// reconnectDelay is the wait before attempt (from 1): 50ms doubling up to
// 2s, half of it random.
func reconnectDelay(attempt int) time.Duration {
	d := reconnectMaxDelay
	if attempt < 7 {
		d = min(50*time.Millisecond<<(attempt-1), reconnectMaxDelay)
	}
	return d/2 + rand.N(d/2)
}

func (ps *pushState) addrText() string {
	if a := ps.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// downError says why the connection is down. wmu is held.
func (ps *pushState) downError() error {
	if ps.lastErr != nil {
		return ps.lastErr // it names the address
	}
	return &netError{addr: ps.addrText(), err: errNotConnected}
}

// decodeMessage turns a frame the server pushed into a Message, decoding
// its payload with d.
func decodeMessage(frame []byte, d Decoder) (Message, error) {
	switch Kind(frame[0]) {
	case KindError, KindBlobError:
		_, err := decodeReply(&Reader{}, frame, d)
		var e *Error
		if errors.As(err, &e) {
			return Message{Kind: "error", Data: e}, e
		}
		return Message{}, err
	case KindSimple:
		// PONG (PING outside subscribed mode, or under RESP3) or a MONITOR
		// line.
		text := frame[1 : len(frame)-2]
		if string(text) == "PONG" {
			// Give what RESP2's ["pong", ""] gives: an empty argument.
			v, err := decodeReply(&Reader{}, emptyBulkFrame, d)
			return Message{Kind: "pong", Data: v}, err
		}
		return Message{Kind: "monitor", Data: string(text)}, nil
	case KindBulk, KindVerbatim:
		// PING with an argument, outside subscribed mode or under RESP3.
		v, err := decodeReply(&Reader{}, frame, d)
		return Message{Kind: "pong", Data: v}, err
	case KindArray, KindPush:
		return decodePush(frame, d)
	}
	v, err := decodeReply(&Reader{}, frame, d)
	return Message{Kind: "reply", Data: v}, err
}

// decodePush decodes a push: an array (RESP2) or push (RESP3) whose first
// element names its kind.
func decodePush(frame []byte, d Decoder) (Message, error) {
	r := Reader{buf: frame}
	t, err := r.Next()
	if err != nil {
		return Message{}, err
	}
	var kt Token
	if t.Kind != KindNull && t.Len > 0 {
		if kt, err = r.Next(); err != nil {
			return Message{}, err
		}
	}
	if kt.Kind != KindBulk && kt.Kind != KindSimple {
		v, err := decodeReply(&Reader{}, frame, d)
		return Message{Kind: "reply", Data: v}, err
	}
	m := Message{Kind: pushKindName(kt.Data)}
	n := t.Len - 1 // elements after the kind
	switch {
	case n == 2 && (m.Kind == "message" || m.Kind == "smessage" || strings.HasSuffix(m.Kind, "subscribe")):
		if m.Channel, err = textElem(&r); err != nil {
			return Message{}, err
		}
		if m.Data, err = d.Decode(&r); err != nil {
			return Message{}, err
		}
		if m.Kind == "message" && m.Channel == trackingChannel {
			m.Kind = "invalidate"
		}
		return m, nil
	case n == 3 && m.Kind == "pmessage":
		if m.Pattern, err = textElem(&r); err != nil {
			return Message{}, err
		}
		if m.Channel, err = textElem(&r); err != nil {
			return Message{}, err
		}
		if m.Data, err = d.Decode(&r); err != nil {
			return Message{}, err
		}
		return m, nil
	case n == 1:
		// "pong" (PING while subscribed, RESP2), "invalidate" (RESP3), ...
		if m.Data, err = d.Decode(&r); err != nil {
			return Message{}, err
		}
		return m, nil
	}
	rest := make([]any, n)
	for i := range rest {
		if rest[i], err = d.Decode(&r); err != nil {
			return Message{}, err
		}
	}
	m.Data = rest
	return m, nil
}

// pushKindName returns a push's kind as a string, without allocating for
// the known ones.
func pushKindName(b []byte) string {
	switch string(b) {
	case "message":
		return "message"
	case "pmessage":
		return "pmessage"
	case "smessage":
		return "smessage"
	case "subscribe":
		return "subscribe"
	case "psubscribe":
		return "psubscribe"
	case "ssubscribe":
		return "ssubscribe"
	case "unsubscribe":
		return "unsubscribe"
	case "punsubscribe":
		return "punsubscribe"
	case "sunsubscribe":
		return "sunsubscribe"
	case "pong":
		return "pong"
	case "invalidate":
		return "invalidate"
	}
	return strings.ToLower(string(b))
}

// textElem reads a channel or pattern name: a string, or "" for a null.
func textElem(r *Reader) (string, error) {
	t, err := r.Next()
	if err != nil {
		return "", err
	}
	switch t.Kind {
	case KindArray, KindSet, KindPush, KindMap, KindAttribute:
		return "", &protocolError{fmt.Sprintf("channel name is a %v", t.Kind)}
	}
	return string(t.Data), nil
}
