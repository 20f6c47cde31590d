package justredis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// pushState is what all copies of one PushConnection share. One goroutine
// (run) reads frames from the server connection into a bounded queue,
// unchanged; NextMessage decodes them, so that every copy decodes with its
// own decoder. Writes are serialised by wmu.
type pushState struct {
	p     *pool
	route callSettings // the server and database to connect to
	keys  []string     // the keys given to PushConnection: in a cluster, they pick the node
	limit int          // messages kept at most

	ctx     context.Context // ended by Close
	cancel  context.CancelFunc
	closing atomic.Bool          // Close was called
	cur     atomic.Pointer[conn] // the connection in use, for Close to close
	addr    atomic.Pointer[string]
	wg      sync.WaitGroup // the reader

	// wmu serialises writes and guards the fields after it. A Do waiting
	// for it behind a write stuck on a server that does not read gives up
	// when its context ends.
	wmu     ctxMutex
	cn      *conn // nil while reconnecting
	sv      *server
	resp    int
	lastErr error // why the last connection or attempt failed, naming the address

	// smu guards what the connection has set up, and what to set up again
	// on a new one. The server answers commands in order, and each command
	// but PING is sent followed by a PING (keepAliveCmd, the fence), whose
	// reply ends that command's replies. A command's own replies are either
	// one error (it is refused, and forgotten) or one or more confirmations;
	// the fence's reply comes after them, and may be an error too (LOADING,
	// or NOPERM for a user without PING), which is not the command's and is
	// not delivered. want is what the user asked for and the server did not
	// refuse: base, then pending in order, less those refused. base is what
	// the server answered on the connection in use (all of want while there
	// is none), pending the commands sent on it whose replies are not all
	// in.
	smu     sync.Mutex
	want    pushSetup
	base    pushSetup
	pending []*pushEntry
	// owed are the (P|S)UNSUBSCRIBE commands given while there was no
	// connection, or whose connection broke before confirming them. The
	// next connection sends them first, though it is subscribed to
	// nothing yet, for their confirmations: a user may wait for one to
	// know no more messages come from a channel.
	owed []*pushEntry

	// mu guards the queue of frames.
	mu      sync.Mutex
	frames  [][]byte
	head    int           // frames[head:] are waiting
	dropped int64         // dropped since NextMessage last reported it
	wake    chan struct{} // closed when a frame arrives; made by a waiter
	closed  bool
	done    chan struct{} // closed once closed is set
}

// pushSetup is what a push connection sets up: its subscriptions, MONITOR
// and CLIENT TRACKING.
type pushSetup struct {
	subs     [3]map[string]struct{} // channels, patterns, shard channels
	monitor  bool
	tracking [][]string // CLIENT TRACKING commands since the last "off"
}

// pushEntry is a command sent on the connection in use.
type pushEntry struct {
	op        pushOp
	args      []string // the command and its arguments
	refused   bool     // by an error reply; its PING's reply is still to come
	confirmed bool     // by a reply that is not an error; the same
	keepAlive bool     // a PING of the client's own, whose replies are not delivered
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
		switch args[0].(type) {
		case string, []byte:
			return pushOp{}, invalidArg(fmt.Sprintf("argument 0 (command name): longer than any command name (%d bytes at most)", maxNameLen))
		}
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
	cn, info, err := sv.openPlan(ctx, setupPlan{db: ps.route.db}, true)
	if err != nil {
		ps.p.lost(sv)
		return nil, nil, 0, err
	}
	if err := cn.pushMode(); err != nil {
		sv.drop(cn)
		return nil, nil, 0, err
	}
	return cn, sv, info.resp, nil
}

// install makes cn the connection in use, after sending it everything the
// user had set up.
func (ps *pushState) install(ctx context.Context, cn *conn, sv *server, resp int) error {
	ps.wmu.Lock()
	defer ps.wmu.Unlock()
	ps.smu.Lock()
	setup := append(slices.Clone(ps.owed), ps.want.commands()...)
	ps.smu.Unlock()
	if len(setup) > 0 {
		var buf []byte
		for _, e := range setup {
			buf = append(appendStrings(buf, e.args...), keepAliveCmd...)
		}
		if _, _, err := ps.write(ctx, cn, buf); err != nil {
			sv.drop(cn)
			return cn.netError(err, false)
		}
	}
	// The reader of cn has not begun: nothing of it is answered yet.
	ps.smu.Lock()
	ps.base, ps.pending, ps.owed = newPushSetup(), setup, nil
	ps.smu.Unlock()
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

func newPushSetup() pushSetup {
	var s pushSetup
	for i := range s.subs {
		s.subs[i] = make(map[string]struct{})
	}
	return s
}

func (s *pushSetup) clone() pushSetup {
	c := pushSetup{monitor: s.monitor, tracking: slices.Clone(s.tracking)}
	for i := range s.subs {
		c.subs[i] = maps.Clone(s.subs[i])
	}
	return c
}

// apply records what a command changes.
func (s *pushSetup) apply(op pushOp, args []string) {
	switch op.kind {
	case opSubscribe:
		for _, a := range args[1:] {
			s.subs[op.set][a] = struct{}{}
		}
	case opUnsubscribe:
		if len(args) == 1 {
			clear(s.subs[op.set])
		}
		for _, a := range args[1:] {
			delete(s.subs[op.set], a)
		}
	case opMonitor:
		s.monitor = true
	case opTracking:
		if len(args) > 2 && strings.EqualFold(args[2], "off") {
			s.tracking = nil
		} else {
			s.tracking = append(s.tracking, args)
		}
	}
}

func (s *pushSetup) subscribed() bool {
	return len(s.subs[subChannels])+len(s.subs[subPatterns])+len(s.subs[subShards]) > 0
}

// commands returns the commands that set s up on a new connection: CLIENT
// TRACKING, MONITOR, then the subscriptions, one channel, pattern or shard
// channel per command. The server refuses a command whole: one channel it
// refuses (ACL) would take down with it all the others given in the same
// command, those it had accepted before included (an operator revoking one
// of them disconnects the client). So each goes alone, with its own fence,
// and a refusal costs only what is refused. The commands are pipelined.
func (s *pushSetup) commands() []*pushEntry {
	var out []*pushEntry
	for _, t := range s.tracking {
		out = append(out, &pushEntry{op: pushOp{kind: opTracking}, args: t})
	}
	if s.monitor {
		out = append(out, &pushEntry{op: pushOps["monitor"], args: []string{"MONITOR"}})
	}
	out = appendEach(out, "SUBSCRIBE", sortedKeys(s.subs[subChannels]))
	out = appendEach(out, "PSUBSCRIBE", sortedKeys(s.subs[subPatterns]))
	shards := sortedKeys(s.subs[subShards])
	slices.SortStableFunc(shards, func(a, b string) int { return hashSlot(a) - hashSlot(b) })
	return appendEach(out, "SSUBSCRIBE", shards)
}

// appendEach appends one command cmd per name.
func appendEach(out []*pushEntry, cmd string, names []string) []*pushEntry {
	op := pushOps[strings.ToLower(cmd)]
	for _, n := range names {
		out = append(out, &pushEntry{op: op, args: []string{cmd, n}})
	}
	return out
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
	if err := ps.wmu.LockContext(ctx); err != nil {
		return err // nothing was sent
	}
	defer ps.wmu.Unlock()
	if ps.isClosed() {
		return ErrClosed
	}
	if op.kind == opTracking && ps.resp == 2 {
		return invalidArg("CLIENT TRACKING on a PushConnection needs RESP3 (WithRESP(3)): under RESP2 the server cannot push invalidations to it; subscribe to __redis__:invalidate there instead and send CLIENT TRACKING ... REDIRECT on a Connection")
	}
	args := commandStrings(buf)
	if op == pushOps["ssubscribe"] {
		if err := ps.shardCheck(args); err != nil {
			return err
		}
	}
	if op.kind == opMonitor {
		ps.smu.Lock()
		on := ps.want.monitor
		ps.smu.Unlock()
		if on {
			// The server does not answer MONITOR when it is on: a
			// command without a reply of its own could not be told
			// from its fence's.
			return nil
		}
	}
	cn := ps.cn
	if cn != nil && cn.dead.Load() {
		cn = nil // broken, and about to be replaced by the reader
	}
	if cn == nil {
		if op.kind == opPing {
			return ps.downError()
		}
		ps.remember(op, args)
		return nil
	}
	// The entry goes in before the write: the reply may come before the
	// write returns.
	e := ps.sent(&pushEntry{op: op, args: args})
	if op.kind != opPing {
		buf = append(buf, keepAliveCmd...)
	}
	n, ctxEnded, err := ps.write(ctx, cn, buf)
	switch {
	case err == nil:
		return nil
	case ctxEnded:
		ps.unsent(e) // if half of it went out, writePush broke the connection
		return err
	}
	// writePush broke the connection: the reader sees it and connects again.
	if op.kind == opPing {
		ps.unsent(e)
		return cn.netError(err, n > 0)
	}
	return nil // it is sent again on the new connection
}

// remember records what a command changes while there is no connection,
// so that the next one is set up the same way. wmu is held.
func (ps *pushState) remember(op pushOp, args []string) {
	ps.smu.Lock()
	defer ps.smu.Unlock()
	if op.kind == opMonitor && ps.resp == 2 && ps.want.subscribed() {
		// Under RESP2 the server refuses MONITOR while subscribed, and
		// says so through NextMessage; so does the client for one it
		// does not send, or its user would wait for lines that never
		// come.
		ps.pushError("MONITOR is refused on a subscribed RESP2 connection, as the server would refuse it: unsubscribe from all first, or use RESP3 (WithRESP(3))")
		return
	}
	ps.want.apply(op, args)
	ps.base.apply(op, args)
	if op.kind == opUnsubscribe {
		ps.owe(&pushEntry{op: op, args: args})
	}
}

// owe adds e to the UNSUBSCRIBEs the next connection sends, unless the
// same is there already: one confirmation serves both, and a loop that
// subscribes and unsubscribes while the server is away must not grow the
// list without bound. smu is held.
func (ps *pushState) owe(e *pushEntry) {
	same := func(o *pushEntry) bool { return o.op == e.op && slices.Equal(o.args, e.args) }
	if !slices.ContainsFunc(ps.owed, same) {
		ps.owed = append(ps.owed, e)
	}
}

// sent records e, a command about to be written on the connection in
// use, and returns it. wmu is held.
func (ps *pushState) sent(e *pushEntry) *pushEntry {
	ps.smu.Lock()
	defer ps.smu.Unlock()
	ps.pending = append(ps.pending, e)
	ps.want.apply(e.op, e.args)
	return e
}

// unsent forgets a command that was not sent after all. wmu is held.
func (ps *pushState) unsent(e *pushEntry) {
	ps.smu.Lock()
	defer ps.smu.Unlock()
	if i := slices.Index(ps.pending, e); i >= 0 {
		ps.pending = slices.Delete(ps.pending, i, i+1)
		ps.rebuild()
	}
}

// rebuild works want out again, after a command was refused or taken
// back. smu is held.
func (ps *pushState) rebuild() {
	ps.want = ps.base.clone()
	for _, e := range ps.pending {
		if !e.refused {
			ps.want.apply(e.op, e.args)
		}
	}
}

// answered ends the oldest command in flight, at the reply to the PING
// sent after it (or to it, for PING): unless the server refused it, it is
// now in base. It reports whether that was the user's PING.
func (ps *pushState) answered() (userPing bool) {
	ps.smu.Lock()
	defer ps.smu.Unlock()
	if len(ps.pending) > 0 {
		e := ps.pending[0]
		userPing = e.op.kind == opPing && !e.keepAlive
	}
	ps.answeredLocked()
	return userPing
}

func (ps *pushState) answeredLocked() {
	if len(ps.pending) == 0 {
		return
	}
	e := ps.pending[0]
	ps.pending[0] = nil
	ps.pending = ps.pending[1:]
	if len(ps.pending) == 0 {
		ps.pending = nil
	}
	if !e.refused {
		ps.base.apply(e.op, e.args)
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

// write writes buf to cn within ctx and the socket timeout.
func (ps *pushState) write(ctx context.Context, cn *conn, buf []byte) (written int, ctxEnded bool, err error) {
	return cn.writePush(ctx, buf, ps.p.s.socketTimeout)
}

var (
	trackingChannel = "__redis__:invalidate"
	// invalidateAllFrame is the RESP3 push by which the server invalidates
	// every key (FLUSHALL), for a PushConnection that lost its tracking.
	invalidateAllFrame = []byte(">2\r\n$10\r\ninvalidate\r\n_\r\n")
	errNotConnected    = errors.New("not connected")
)

// keepAlive sends a PING unless a write is under way; it reports whether
// it did. A PING that could not be written breaks the connection, as any
// failed write does: part of it may be on the wire, and a connection that
// cannot take 14 bytes is not alive either.
func (ps *pushState) keepAlive(cn *conn) bool {
	if !ps.wmu.TryLock() {
		return false
	}
	defer ps.wmu.Unlock()
	if ps.cn != cn {
		return false
	}
	e := ps.sent(&pushEntry{op: pushOp{kind: opPing}, keepAlive: true})
	if _, _, err := ps.write(ps.ctx, cn, keepAliveCmd); err != nil {
		ps.unsent(e) // writePush broke the connection: the reader connects again
		return false
	}
	return true
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
		}
		frame, err := cn.readPush(idle)
		if err != nil {
			if ps.closing.Load() {
				return ErrClosed
			}
			if !isTimeout(err) {
				return err
			}
			if deadline.IsZero() {
				continue // a stale interrupt
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
		if ps.received(frame) {
			return errShardMoved // connect again, to the shard channels' node
		}
	}
}

// received takes in a frame: it queues what is the user's, keeps account
// of the commands in flight, and reports whether to connect again to
// follow the shard channels.
func (ps *pushState) received(frame []byte) (reconnect bool) {
	switch {
	case bytes.Equal(frame, keepAliveBulk) || bytes.Equal(frame, keepAlivePong):
		if ps.answered() {
			ps.push(frame) // the user's PING, with the keep-alive's argument
		}
		return false
	case bytes.Equal(frame, replyOKFrame):
		ps.confirmed(frame) // MONITOR or CLIENT TRACKING
		return false
	case quietFrame(frame):
		return false
	case frame[0] == byte(KindError) || frame[0] == byte(KindBlobError):
		return ps.errorReply(frame)
	case isPong(frame):
		ps.answered() // the user's PING
		ps.push(frame)
		return false
	}
	own := ps.confirmed(frame)
	ps.push(frame)
	// Whether the server gave a shard channel up is told by what is in
	// flight, not by what is wanted: an SSUBSCRIBE sent after the user's
	// SUNSUBSCRIBE makes the channel wanted again before the SUNSUBSCRIBE
	// is confirmed.
	return !own && ps.shardUnsubscribed(frame)
}

// confirmed takes in a reply that is not an error, and reports whether it
// confirms the oldest command in flight (after which an error reply is
// its fence's). A command may have one confirmation per channel.
func (ps *pushState) confirmed(frame []byte) bool {
	ps.smu.Lock()
	defer ps.smu.Unlock()
	if len(ps.pending) == 0 {
		return false
	}
	e := ps.pending[0]
	if e.refused {
		return false
	}
	own := false
	switch e.op.kind {
	case opMonitor, opTracking:
		own = !e.confirmed && bytes.Equal(frame, replyOKFrame)
	case opSubscribe, opUnsubscribe:
		// A message published meanwhile, or a shard channel the server
		// gave up, is not a confirmation.
		kind, channel, ok := pushHead(frame)
		own = ok && strings.EqualFold(kind, e.args[0]) &&
			(len(e.args) == 1 || slices.Contains(e.args[1:], channel))
	}
	e.confirmed = e.confirmed || own
	return own
}

// pushHead reads the first two elements of an array or push frame, as
// strings: the kind of a pub/sub message and its channel ("" when null).
func pushHead(f []byte) (kind, channel string, ok bool) {
	if len(f) == 0 || (f[0] != byte(KindArray) && f[0] != byte(KindPush)) {
		return "", "", false
	}
	var r Reader
	r.buf = f
	t, err := r.Next()
	if err != nil || t.Len < 2 {
		return "", "", false
	}
	k, err := r.Next()
	if err != nil {
		return "", "", false
	}
	c, err := r.Next()
	if err != nil {
		return "", "", false
	}
	return string(k.Data), string(c.Data), true
}

// errorReply takes in an error reply: it refuses the oldest command in
// flight, unless it is the reply to the PING sent after it: a command
// answers either one error or confirmations, so an error after either is
// its fence's. The fence's and the keep-alive's errors are not delivered.
func (ps *pushState) errorReply(frame []byte) (reconnect bool) {
	msg, _ := decodeMessage(frame, StringDecoder, ps.p.s.password)
	text := ""
	if e, ok := msg.Data.(*Error); ok {
		text = e.msg
	}
	ps.smu.Lock()
	var e *pushEntry
	if len(ps.pending) > 0 {
		e = ps.pending[0]
	}
	switch {
	case e == nil:
	case e.op.kind == opPing && e.keepAlive:
		ps.answeredLocked()
		ps.smu.Unlock()
		return false
	case e.op.kind == opPing:
		ps.answeredLocked() // the user's PING
	case e.op == pushOps["sunsubscribe"] && strings.HasPrefix(text, "MOVED "):
		// Not the fence's: PING has no channel to redirect. The node does
		// not serve the channel, so the connection is not subscribed to it
		// there, and the SUNSUBSCRIBE holds. An sunsubscribe taken for its
		// confirmation was the node giving the slot up just before.
		e.confirmed = true
	case e.refused || e.confirmed || strings.Contains(text, "'ping' command"):
		// The PING after the command failed (LOADING, a user without
		// PING...): not the user's news.
		ps.answeredLocked()
		ps.smu.Unlock()
		return false
	case e.op == pushOps["ssubscribe"] && strings.HasPrefix(text, "MOVED "):
		follow, why := ps.shardRedirected(e, text)
		if follow {
			ps.smu.Unlock()
			return true
		}
		e.refused = true
		ps.rebuild()
		if why != "" {
			ps.smu.Unlock()
			ps.pushError(why)
			return false
		}
	default:
		e.refused = true
		ps.rebuild()
	}
	ps.smu.Unlock()
	ps.push(frame)
	return false
}

// isPong reports whether f is the reply to a PING: a bulk string, PONG, or
// a "pong" array (RESP2, subscribed).
func isPong(f []byte) bool {
	return f[0] == byte(KindBulk) || bytes.Equal(f, pongFrame) || bytes.HasPrefix(f, pongArrayPrefix)
}

var (
	pongFrame       = []byte("+PONG\r\n")
	pongArrayPrefix = []byte("*2\r\n$4\r\npong\r\n")
)

// quietFrame reports whether a frame is not for the user: the OK that
// confirms MONITOR or CLIENT TRACKING, and what keep-alive PINGs cause.
func quietFrame(f []byte) bool {
	return bytes.Equal(f, replyOKFrame) || bytes.Equal(f, keepAliveBulk) || bytes.Equal(f, keepAlivePong) ||
		(f[0] == byte(KindSimple) && bytes.HasSuffix(f, keepAliveMonitor))
}

// push queues a copy of frame, dropping the oldest when the queue is full.
// The observers hear of the first drop since the user last learnt of
// drops, not of every one: a flood would otherwise flood the log too; take
// tells them of the rest.
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
		if ps.dropped == 1 && ps.p.s.observed() {
			go ps.p.s.emit(ps.ctx, &Event{Kind: EventDropped, Addr: ps.addrText(), Count: 1})
		}
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
			if n > 1 && ps.p.s.observed() {
				// push told of the first only: the rest now, so that
				// the observers' counts add up to what was dropped.
				ps.p.s.emit(ctx, &Event{Kind: EventDropped, Addr: ps.addrText(), Count: int(n - 1)})
			}
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
		ps.lastErr = cn.netError(err, false)
		// What is in flight and not refused is still wanted: the next
		// connection sets it up.
		ps.smu.Lock()
		pings := 0
		for _, e := range ps.pending {
			switch {
			case e.op.kind == opPing && !e.keepAlive:
				pings++
			case e.op.kind == opUnsubscribe && !e.refused && !e.confirmed:
				ps.owe(&pushEntry{op: e.op, args: e.args})
			}
		}
		ps.base, ps.pending = ps.want.clone(), nil
		tracking := len(ps.want.tracking) > 0
		ps.smu.Unlock()
		if !ps.closing.Load() {
			// A PING is not sent again, and its pong will not come:
			// its user, waiting for it, is told so in its place.
			for range pings {
				ps.pushLost(fmt.Sprintf("the connection broke before the reply to PING: %v", err))
			}
		}
		if tracking && !ps.closing.Load() {
			// The server's tracking went with the connection, and what
			// it would have invalidated until the next one is set up
			// is lost. Unlike subscriptions, CLIENT TRACKING has no
			// confirmation to tell the user: say what a flush says,
			// that everything read before may be stale.
			ps.push(invalidateAllFrame)
		}
	}
	ps.wmu.Unlock()
	ps.cur.CompareAndSwap(cn, nil)
	sv.drop(cn)
	if !ps.closing.Load() {
		// The server may have failed over: the router finds out before
		// reconnect asks it where to go.
		ps.p.lost(sv)
	}
}

// reconnect connects again, with backoff, until it succeeds or the
// PushConnection or its pool is closed (then it returns nil).
func (ps *pushState) reconnect() *conn {
	for attempt := 0; ; attempt++ {
		if ps.closing.Load() || ps.p.closed.Load() {
			return nil
		}
		if attempt > 0 {
			t := time.NewTimer(backoff(attempt - 1))
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
			ps.p.s.emit(ps.ctx, &Event{Kind: EventResubscribe, Addr: ps.addrText()})
			return cn
		}
		ps.wmu.Lock()
		ps.lastErr = err
		ps.wmu.Unlock()
	}
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
