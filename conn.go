package justredis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/justredis/justredis/socket"
)

// conn is one pipelined connection to a server. Any number of goroutines
// may call roundTrip at once: their commands are coalesced into as few
// writes as possible and their replies handed back in order.
//
// There are no goroutines of its own while one caller is alone: that caller
// writes its command and reads its reply itself. Whoever finds nobody
// writing becomes the writer and flushes everything queued; whoever finds
// nobody reading becomes the reader and reads replies for everyone until its
// own has come. A reader that leaves while replies are still owed (its own
// came first, or its context ended) hands reading to a goroutine that stays
// only as long as replies are owed.
type conn struct {
	nc            net.Conn
	addr          string
	socketTimeout time.Duration
	db            int         // the selected database; changed only by its one user
	dead          atomic.Bool // set once err is; read without the lock
	// onClose, when set before the connection is used, is told once that
	// it closed: err is why it broke, nil when it was closed on purpose.
	onClose func(err error)
	pushing atomic.Bool    // in push mode, for good
	peeker  *socket.Peeker // made at the first idle check; used by the reader
	// closing counts the commands under way after whose reply the server
	// may close the connection, and ending is set once one was answered
	// (see beforeClosing).
	closing atomic.Int32
	ending  atomic.Bool
	// interrupted is set when interrupt may have left a deadline in the
	// past, so that the next reader clears it. Clearing it on every call
	// instead costs timer work, and wake-ups of the poller, per reply.
	interrupted atomic.Bool
	// fragileWrites says that a write cut short by a deadline cannot be
	// resumed: after one, crypto/tls fails every later write on the
	// connection. Only TCP and unix sockets are known to lose nothing, so
	// any other net.Conn is taken as fragile. On a fragile connection only
	// the writer's own context may cut a write short (watchWrite), and
	// doing so breaks the connection.
	fragileWrites bool
	wmu           sync.Mutex // guards wgen and the write deadline a cut sets
	wgen          uint64     // counts writes watched by watchWrite
	// wait is what a blocking command under way may add to the socket
	// timeout while its reply is owed, in nanoseconds; noDeadline lifts
	// the socket timeout (see blockwait.go).
	wait atomic.Int64
	// The limits of WithConnMaxIdleTime and WithConnMaxLifetime, which
	// apply while the connection is pooled: shared (set once, before it
	// is published) or at rest (see brokenAtRest).
	maxIdle, maxLife time.Duration
	pooled           bool
	born             time.Time
	// used is set, under mu, by the first call that queues commands on
	// the connection: the limits above never close it before that call,
	// the one that dialled it, has used it (see checkIdle).
	used bool
	// idleSince is when it last had nothing owed, written under mu by the
	// reader that found so.
	idleSince time.Time

	mu   sync.Mutex
	wbuf []byte // encoded commands waiting to be written
	// spare is a buffer no write holds, to become wbuf at the next flush.
	// A buffer given to Write is the writer's alone until Write returns:
	// it is nil here meanwhile, so nobody can append into bytes the
	// kernel is still reading.
	spare   []byte
	writing bool
	reading bool
	queue   callQueue
	seq     uint64 // calls queued so far
	sent    uint64 // calls whose bytes the writer has taken
	err     error  // why the connection broke; it is then useless
	closed  bool   // the socket is closed (err is set before)

	// Owned by whoever holds the reading role.
	rbuf      []byte
	rstart    int // start of the frame being read
	rend      int // end of the bytes read so far
	scan      frameScanner
	rd        Reader
	lastFrame int // length of the frame returned last, dropped on the next read
	// A frame that outgrows rbuf gets a buffer of its own, which its
	// reply's values then share instead of copying (see makeRoom): growing
	// says rbuf is such a buffer, for the frame being read; lent, that it
	// holds the frame returned last and must not be written again; small
	// keeps the usual buffer meanwhile, and while the replies that came
	// after such a frame are read from a buffer of their own.
	growing, lent bool
	small         []byte
	// borrowed says rbuf is the memory of the call whose reply it is
	// being read into (BytesInto), which must be given back before that
	// caller leaves (see unborrow).
	borrowed     bool
	timedOut     bool          // the read deadline needs setting again
	park         time.Duration // parkDeadline, or less in tests
	readDeadline time.Time     // when the reply being read is overdue; zero: never

	// alwaysRead is set on a connection that a goroutine of its own reads
	// for as long as it lives (see readAlways); onPush, set before, is
	// given the pushes it receives.
	alwaysRead bool
	onPush     func(frame []byte)
}

const (
	readBufSize = 16 << 10
	// A frame's own buffer grows to the length a string's prefix announces,
	// but never by more than doubling or this past the bytes received,
	// whichever is more: a prefix is a claim, not bytes, and a hostile one
	// must not reserve 512 MiB.
	maxReserve = 1 << 20
	// A write buffer grown past this by a large command is dropped after
	// its write, not kept as the spare.
	keepWriteBuf = 1 << 20
)

func newConn(nc net.Conn, addr string, socketTimeout time.Duration) *conn {
	var fragile bool
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		fragile = true
	}
	return &conn{
		nc:            nc,
		addr:          addr,
		socketTimeout: socketTimeout,
		fragileWrites: fragile,
		rbuf:          make([]byte, readBufSize),
		timedOut:      true, // the first read arms the deadline
		park:          parkDeadline,
	}
}

// freshFor is how long a connection may rest after its last reply and
// still be written to without asking the socket first (checkIdle). The
// question is a system call, some 0.7 µs or 4% of a sequential call's
// client CPU, and a caller calling in a loop comes back within a few
// microseconds. The
// bytes that came with the last reply were looked at for free when it was
// read (unsolicited); only what arrives in the few microseconds after goes
// unseen, and the peek leaves a race of that size too, between its look
// and the write. What it guards against comes after rest of another scale:
// idle timeouts, restarts and proxies cut connections idle for seconds,
// and a CLIENT KILL from elsewhere takes a round trip of its own.
const freshFor = 5 * time.Microsecond

// parkDeadline is the read deadline of a connection with no socket
// timeout: not a limit (reaching it only re-arms it) but a timer kept
// pending. When a goroutine parks on the network poller while no timer is
// pending anywhere in the process, Go's scheduler more often hands its
// wake-up to another thread: measured over a unix socket, one goroutine
// making round trips alone, a pending timer took futex calls from about
// 0.5 to 0.15 per round trip and the round trip from 56 µs to 36 µs
// (median of six runs). Arming it once per connection costs no timer work
// per call, which resetting a deadline on every read would.
const parkDeadline = time.Hour

// call is one round trip: one command, or a DoMulti batch, and its replies.
type call struct {
	decoder Decoder
	vals    []any // one per command; a failed command holds its *Error
	one     [1]any
	got     int
	arena   arena // holds the values of a multi-reply call's replies
	seq     uint64
	state   callState // guarded by conn.mu
	err     error     // the connection broke before every reply came
	done    chan struct{}
}

type callState uint8

const (
	pending callState = iota
	finished
	abandoned // the caller left; the reply is read and dropped
	// decoding: the one reply is in and being decoded, maybe into memory
	// of the caller's (BytesInto), so the caller may not leave until it is
	// done, which takes no I/O.
	decoding
)

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// free puts c back in callPool holding nothing of its caller's: a pooled
// call outlives a garbage collection, and one that kept its decoder (a
// BytesInto caller's memory), its values or its arena would keep them
// alive as long.
func (c *call) free() {
	c.decoder, c.vals, c.one[0], c.arena, c.err = nil, nil, nil, arena{}, nil
	callPool.Put(c)
}

// callQueue is a FIFO of calls owed replies, reusing its backing array.
type callQueue struct {
	items []*call
	head  int
}

func (q *callQueue) push(c *call) {
	if q.head > 0 && q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	q.items = append(q.items, c)
}

func (q *callQueue) peek() *call {
	if q.head == len(q.items) {
		return nil
	}
	return q.items[q.head]
}

func (q *callQueue) pop() {
	q.items[q.head] = nil
	q.head++
}

func (q *callQueue) empty() bool { return q.head == len(q.items) }

func (q *callQueue) drain() []*call {
	calls := q.items[q.head:]
	q.items, q.head = nil, 0
	return calls
}

// roundTrip sends cmds as one batch and decodes their replies with d into
// vals, one per command; a top-level error reply is stored there as
// *Error. With vals nil, cmds must be one command, whose reply is
// returned. The commands are encoded before anything is written, so an
// invalid argument sends nothing.
//
// When ctx ends first, roundTrip returns ctx.Err() at once; the replies
// are still read, and dropped, so the connection stays in step.
func (cn *conn) roundTrip(ctx context.Context, cmds [][]any, d Decoder, vals []any) (any, error) {
	return cn.send(ctx, cmds, nil, d, vals)
}

// roundTripEncoded is roundTrip for commands already encoded, as when one
// command goes to several servers: vals must have one slot per command in
// encoded, or be nil for one command.
func (cn *conn) roundTripEncoded(ctx context.Context, encoded []byte, d Decoder, vals []any) (any, error) {
	return cn.send(ctx, nil, encoded, d, vals)
}

// roundTripBlocking is roundTrip, or roundTripEncoded when cmds is nil,
// for commands that may block: the server may stay silent for w on top of
// the socket timeout. Only the one user of a connection of its own may
// call it, since the allowance holds for whatever the connection reads
// meanwhile.
func (cn *conn) roundTripBlocking(ctx context.Context, cmds [][]any, encoded []byte, d Decoder, vals []any, w blockWait) (any, error) {
	if cn.socketTimeout > 0 {
		cn.wait.Store(w.nanos())
		defer cn.wait.Store(0)
	}
	return cn.send(ctx, cmds, encoded, d, vals)
}

func (cn *conn) send(ctx context.Context, cmds [][]any, encoded []byte, d Decoder, vals []any) (v any, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err // a caller that has given up sends nothing
	}
	c := callPool.Get().(*call)
	c.decoder, c.vals, c.got, c.err, c.state, c.arena = d, vals, 0, nil, pending, arena{}
	if vals == nil {
		c.vals = c.one[:]
	}

	cn.mu.Lock()
	if cn.err != nil {
		err := cn.err
		cn.mu.Unlock()
		c.free()
		return nil, &netError{addr: cn.addr, err: err}
	}
	start := len(cn.wbuf)
	cn.wbuf = append(cn.wbuf, encoded...)
	for _, args := range cmds {
		var err error
		if cn.wbuf, err = appendCommand(cn.wbuf, args); err != nil {
			cn.wbuf = cn.wbuf[:start]
			cn.mu.Unlock()
			c.free()
			return nil, err
		}
	}
	cn.seq++
	c.seq = cn.seq
	fresh := !cn.used
	cn.used = true
	busy := !cn.queue.empty()
	cn.queue.push(c)
	write := !cn.writing
	cn.writing = true
	read := !cn.reading
	cn.reading = true
	cn.mu.Unlock()

	if write && read && !busy {
		if err := cn.checkIdle(fresh); err != nil {
			// c fails with the rest, as never written, so it may be retried.
			cn.failReading(err)
			write, read = false, false
		}
	}
	// Only a caller that does I/O itself needs waking from it when its
	// context is cancelled; one that merely waits selects on ctx.Done.
	if (write || read) && ctx.Done() != nil {
		stop := context.AfterFunc(ctx, cn.interrupt)
		defer stop()
	}
	if write {
		if busy {
			// Replies are flowing, so the callers they wake are about to
			// send more: let them queue first, and write all at once.
			runtime.Gosched()
		}
		if cn.flush(ctx) {
			// The connection broke under this caller's write: the others
			// learn why from it, this caller from its context.
			defer func() {
				if err != nil {
					v, err = nil, cn.ended(ctx)
				}
			}()
		}
	}
	if read {
		if cn.read(ctx, c) {
			return nil, cn.ended(ctx) // c now belongs to the reader
		}
	} else {
		select {
		case <-c.done:
		case <-ctx.Done():
			if cn.abandon(c) {
				return nil, cn.ended(ctx) // c now belongs to the reader
			}
			<-c.done
		}
	}
	select {
	case <-c.done: // fail signals every call, the reader's own included
	default:
	}
	v, err = c.one[0], c.err
	c.free()
	return v, err
}

// checkIdle looks at a connection that owed nothing before its caller took
// both roles, before anything is written. Bytes waiting there are no reply
// to any command, and would be taken for the caller's; a peer that closed
// the connection (an idle timeout, a restart, a proxy) would swallow the
// command without a word, leaving nobody to know whether it ran. Either
// way the connection must go before the write, while the command is still
// provably unsent.
//
// A connection that rested less than freshFor is not asked (see there).
//
// A fresh connection, which no call used yet, is not judged by
// WithConnMaxIdleTime and WithConnMaxLifetime: it was dialled for the
// call at hand, and limits shorter than the connection setup takes
// (1ns, or a few milliseconds on a far server) would otherwise close it
// before every call could use it, so that calls failed instead of going
// on a fresh connection as the options say.
func (cn *conn) checkIdle(fresh bool) error {
	if cn.pooled && !fresh {
		if err := cn.expired(); err != nil {
			return err
		}
	}
	if cn.interrupted.Swap(false) {
		// A caller that gave up earlier left the deadline in the past,
		// which would fail the peek; the next read sets its own.
		cn.nc.SetReadDeadline(time.Time{})
		cn.timedOut = true
	}
	if time.Since(cn.idleSince) < freshFor {
		return nil
	}
	if cn.peeker == nil {
		cn.peeker = socket.NewPeeker(cn.nc)
	}
	pending, err := cn.peeker.Peek()
	for tries := 0; isTimeout(err) && tries < 3; tries++ {
		// The peek never waits, so a timeout is a deadline an interrupt
		// left in the past: one whose caller gave up just as its call
		// ended can land after the swap above.
		cn.nc.SetReadDeadline(time.Time{})
		cn.timedOut = true
		pending, err = cn.peeker.Peek()
	}
	if err != nil || !pending {
		return err
	}
	// Read what waits, without waiting for more. Pushes (the invalidations
	// of a user's own CLIENT TRACKING, say) are dropped, as the reader drops
	// them; anything else answers nothing. Under TLS what waited may have
	// been records that carry no data.
	cn.nextFrame()
	cn.makeRoom(nil)
	// The bytes are there already, so the read does not wait; the deadline
	// only ends the wait for TLS records that held no data. (One already
	// past would fail the read before it looks.)
	cn.nc.SetReadDeadline(time.Now().Add(time.Millisecond))
	n, err := cn.nc.Read(cn.rbuf[cn.rend:])
	cn.rend += n
	cn.timedOut = true // the next read sets its own deadline
	for cn.rstart < cn.rend {
		if Kind(cn.rbuf[cn.rstart]) != KindPush {
			return &protocolError{"bytes arrived while no reply was owed"}
		}
		m, err := cn.scan.scan(cn.rbuf[cn.rstart:cn.rend])
		if err != nil {
			return err
		}
		if m == 0 {
			break // a push still arriving: the reader will finish it
		}
		cn.scan.reset()
		cn.rstart += m
	}
	if err != nil && !isTimeout(err) {
		return err
	}
	return nil
}

// beforeClosing is called before a command after whose reply the server
// may close the connection (closesConnection) is sent on it, and
// afterClosing once its round trip is over. From the first, the pools
// lease the connection to nobody new; from the second, it closes as soon
// as nothing is owed: so no command written later can be swallowed by the
// server's close. Calls queued beside it take their chances with that
// close, as with any.
func (cn *conn) beforeClosing() { cn.closing.Add(1) }

// afterClosing: see beforeClosing.
func (cn *conn) afterClosing() {
	cn.ending.Store(true) // first, so that goingAway holds throughout
	cn.closing.Add(-1)
	cn.mu.Lock()
	idle := !cn.reading && !cn.writing && cn.queue.empty()
	cn.mu.Unlock()
	if idle {
		cn.fail(errEnded)
	} // else the reader ends it, once nothing is owed
}

// closedByClient reports whether err, why a connection broke, says the
// client closed it on purpose: Close, or after a closing command.
func closedByClient(err error) bool { return errors.Is(err, ErrClosed) || err == errEnded }

// goingAway reports whether the connection is to be leased to nobody new:
// it sent a command after which the server may close it.
func (cn *conn) goingAway() bool { return cn.closing.Load() > 0 || cn.ending.Load() }

// errEnded is why a connection that sent such a command went.
var errEnded = errors.New("closed by the client: it sent a command after which the server may close it (CLIENT KILL, ACL DELUSER, ACL LOAD)")

// expired reports, as an error, that the connection outlived
// WithConnMaxLifetime or idled past WithConnMaxIdleTime. It is called only
// while nothing is owed, by whoever is about to use it.
func (cn *conn) expired() error {
	if cn.maxIdle == 0 && cn.maxLife == 0 {
		return nil
	}
	now := time.Now()
	if cn.maxLife > 0 && now.Sub(cn.born) > cn.maxLife {
		return fmt.Errorf("closed by the client: older than WithConnMaxLifetime(%v)", cn.maxLife)
	}
	cn.mu.Lock()
	since := cn.idleSince
	cn.mu.Unlock()
	if cn.maxIdle > 0 && now.Sub(since) > cn.maxIdle {
		return fmt.Errorf("closed by the client: idle longer than WithConnMaxIdleTime(%v)", cn.maxIdle)
	}
	return nil
}

// brokenAtRest reports whether a connection that rested in a pool, owing
// nothing, broke meanwhile or expired, and closes it if so: a pool must not
// hand out a connection whose first command would fail without having
// been sent.
func (cn *conn) brokenAtRest() bool {
	if cn.dead.Load() {
		return true
	}
	if cn.goingAway() {
		cn.fail(errEnded)
		return true
	}
	err := cn.expired()
	if err == nil {
		err = cn.checkIdle(false)
	}
	if err != nil {
		cn.fail(err)
		return true
	}
	return false
}

// ended is the error of a call whose context ended after its commands were
// queued: they are written, or will be, since a command cannot be taken
// back from the middle of a pipeline, so they may run. The error matches
// the context's error and ErrNotRetried.
func (cn *conn) ended(ctx context.Context) error {
	return &netError{addr: cn.addr, err: ctx.Err(), written: true, notRetried: true}
}

// abandon marks c as given up by its caller, unless its replies are all in
// already; it reports whether it did.
func (cn *conn) abandon(c *call) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if c.state != pending {
		return false
	}
	c.state = abandoned
	return true
}

// interrupt wakes whoever is blocked reading or writing, so that a caller
// whose context ended can leave. The others see a timeout, find their own
// context alive and carry on. A fragile connection's writer is left alone:
// a write cut short there breaks the connection, which only the writer's
// own context may decide (watchWrite).
func (cn *conn) interrupt() {
	cn.interrupted.Store(true)
	if cn.fragileWrites {
		cn.nc.SetReadDeadline(time.Unix(1, 0))
		return
	}
	cn.nc.SetDeadline(time.Unix(1, 0))
}

// watchWrite makes the end of ctx cut short the write about to start, and
// returns what ends the watch once the write is over. A cut that comes too late to stop the write is undone there, under
// wmu, so that it never lands on the next write: on a fragile connection
// that write would fail, and every one after it. deadline is the write
// deadline to restore.
func (cn *conn) watchWrite(ctx context.Context, deadline time.Time) (done func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	cn.wmu.Lock()
	cn.wgen++
	gen := cn.wgen
	cn.wmu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		cn.wmu.Lock()
		if cn.wgen == gen {
			cn.nc.SetWriteDeadline(time.Unix(1, 0))
		}
		cn.wmu.Unlock()
	})
	return func() {
		if stop() {
			return
		}
		cn.wmu.Lock()
		cn.wgen++
		cn.nc.SetWriteDeadline(deadline)
		cn.wmu.Unlock()
	}
}

// errWriteCut breaks a fragile connection whose writer's context ended
// mid-write: what was sent of the write cannot be completed or taken back.
var errWriteCut = errors.New("a write was cut short when its caller's context ended, and this kind of connection (TLS) cannot resume it")

// flush writes whatever is queued until nothing is. ctx is the writing
// caller's; when it ends mid-write, the rest is handed to a goroutine, since
// a half-written command cannot be taken back. On a fragile connection the
// write cannot be resumed, so the connection breaks instead, and flush
// reports that it did (cut).
func (cn *conn) flush(ctx context.Context) (cut bool) {
	for {
		cn.mu.Lock()
		if len(cn.wbuf) == 0 || cn.err != nil {
			cn.writing = false
			cn.mu.Unlock()
			return
		}
		buf := cn.wbuf
		cn.wbuf, cn.spare = cn.spare[:0], nil
		before := cn.sent
		cn.sent = cn.seq
		cn.mu.Unlock()

		deadline := cn.ioDeadline()
		if cn.socketTimeout > 0 {
			cn.nc.SetWriteDeadline(deadline)
		}
		unwatch := func() {} // interrupt wakes the writer of a robust connection
		if cn.fragileWrites {
			unwatch = cn.watchWrite(ctx, deadline)
		}
		rest := buf
		for len(rest) > 0 {
			n, err := cn.nc.Write(rest)
			rest = rest[n:]
			if err == nil {
				continue
			}
			unwatch()
			broken := cn.fragileWrites || !isTimeout(err) || (!deadline.IsZero() && time.Now().After(deadline))
			if broken && len(rest) == len(buf) {
				cn.unsend(before) // none of this write's calls can have run
			}
			if cn.fragileWrites && isTimeout(err) && ctx.Err() != nil {
				cn.fail(errWriteCut)
				return true
			}
			if broken {
				cn.failWriting(err)
				return
			}
			if ctx.Err() != nil {
				cn.mu.Lock()
				cn.wbuf = append(append([]byte(nil), rest...), cn.wbuf...)
				cn.mu.Unlock()
				go cn.flush(context.Background())
				return
			}
			// Woken for another caller's sake: carry on.
			cn.nc.SetWriteDeadline(deadline)
		}
		unwatch()
		if cap(buf) <= keepWriteBuf {
			cn.mu.Lock()
			cn.spare = buf[:0]
			cn.mu.Unlock()
		}
	}
}

// read holds the reading role: it reads replies and completes the calls
// they belong to, until mine is finished (or, for mine == nil, until no
// reply is owed), and then gives the role up or hands it on. It reports
// whether it gave up on mine because ctx ended.
func (cn *conn) read(ctx context.Context, mine *call) (abandonedMine bool) {
	for {
		frame, err := cn.readFrame(ctx, mine)
		if err != nil {
			if isTimeout(err) {
				if mine != nil && ctx.Err() != nil && cn.abandon(mine) {
					cn.unborrow()
					go cn.read(context.Background(), nil) // replies are still owed
					return true
				}
				if cn.readDeadline.IsZero() || time.Now().Before(cn.readDeadline) {
					// Woken for another caller's sake, or parkDeadline.
					cn.timedOut = true
					continue
				}
			}
			cn.failReading(err)
			return
		}
		if Kind(frame[0]) == KindPush {
			// Only a push connection asks for pushes, and it reads them
			// with readPush, and so does a connection of the client-side
			// cache, with onPush; elsewhere they are noise (a stray
			// invalidation, say) that must not be taken for a reply.
			if cn.onPush != nil {
				cn.onPush(frame)
			}
			continue
		}

		cn.mu.Lock()
		c := cn.queue.peek()
		state := pending
		if c != nil {
			state = c.state
			if state == pending && len(c.vals) == 1 {
				c.state = decoding
			}
		}
		cn.mu.Unlock()
		if c == nil {
			shown := fmt.Sprintf("%q", truncate(frame))
			if k := Kind(frame[0]); cn.rd.secret != "" && (k == KindError || k == KindBlobError) {
				// Cut short, it might hold the start of a quoted password.
				shown = "(an error)"
			}
			cn.failReading(&protocolError{"unexpected reply " + shown + " with no command waiting"})
			return
		}
		if state != abandoned {
			cn.rd.arena = nil
			switch Kind(frame[0]) {
			case KindArray, KindSet, KindMap, KindAttribute:
				c.arena.oneFrame = len(c.vals) == 1
				cn.rd.arena = &c.arena
			default:
				if len(c.vals) > 1 {
					cn.rd.arena = &c.arena
				}
			}
			cn.rd.share = 0
			if cn.lent {
				// The frame's buffer is the reply's: a string that is at
				// least half of it shares it, so that a value kept never
				// holds more than twice its size.
				cn.rd.share = (len(frame) + 1) / 2
			}
			v, err := decodeReply(&cn.rd, frame, c.decoder)
			if err != nil && errors.Is(err, ErrProtocol) {
				// Well framed but malformed: nothing else it sends can be
				// trusted either.
				cn.failReading(err)
				return false
			}
			if err != nil {
				v = err
			}
			c.vals[c.got] = v
		}
		c.got++
		if c.got < len(c.vals) {
			continue
		}

		cn.mu.Lock()
		cn.queue.pop()
		state = c.state
		if state != abandoned {
			c.state = finished
		}
		leave := !cn.alwaysRead && (c == mine || (mine == nil && cn.queue.empty()))
		var end error // why the connection goes, now that nothing is owed
		if leave {
			switch {
			case !cn.queue.empty():
				go cn.read(context.Background(), nil)
			case cn.ending.Load():
				end = errEnded
			case cn.err != nil:
				end = cn.err // the writer found the server gone
			case cn.unsolicited():
				end = &protocolError{"a reply came that no command asked for"}
			default:
				cn.release()
				cn.reading = false
				cn.idleSince = time.Now()
			}
		}
		cn.mu.Unlock()
		switch {
		case state == abandoned:
			c.free()
		case c != mine:
			c.done <- struct{}{}
		}
		if end != nil {
			cn.failReading(end)
		}
		if leave {
			return false
		}
	}
}

// unsolicited reports whether bytes other than a push follow the last reply
// when no reply is owed. They would be taken for the next caller's reply.
// Bytes that arrive later, while nobody reads, cannot be told from the
// next reply: no client can catch those without reading while idle.
func (cn *conn) unsolicited() bool {
	rest := cn.rbuf[cn.rstart+cn.lastFrame : cn.rend]
	return len(rest) > 0 && Kind(rest[0]) != KindPush
}

// readFrame returns the next complete reply, which stays valid until the
// next call. mine is the call of the reader, if it has one.
func (cn *conn) readFrame(ctx context.Context, mine *call) ([]byte, error) {
	cn.nextFrame()
	for {
		n, err := cn.scan.scan(cn.rbuf[cn.rstart:cn.rend])
		if err != nil {
			return nil, err
		}
		if n > 0 {
			frame := cn.rbuf[cn.rstart : cn.rstart+n]
			cn.scan.reset()
			cn.lastFrame = n
			cn.lent, cn.growing, cn.borrowed = cn.growing, false, false
			return frame, nil
		}
		cn.makeRoom(mine)
		if cn.interrupted.Swap(false) || cn.timedOut || cn.socketTimeout > 0 {
			cn.readDeadline = cn.replyDeadline()
			armed := cn.readDeadline
			if armed.IsZero() {
				armed = time.Now().Add(cn.park)
			}
			cn.nc.SetReadDeadline(armed)
			cn.timedOut = false
			// An interrupt that came just before the line above was undone
			// by it: look again.
			if ctx.Err() != nil {
				return nil, os.ErrDeadlineExceeded
			}
		}
		m, err := cn.nc.Read(cn.rbuf[cn.rend:])
		cn.rend += m
		if err != nil {
			return nil, err
		}
	}
}

// nextFrame drops the frame returned last. A buffer lent to that frame's
// values is left to them: the bytes that followed the frame move to the
// small buffer.
func (cn *conn) nextFrame() {
	cn.rstart += cn.lastFrame
	cn.lastFrame = 0
	if !cn.lent {
		return
	}
	cn.lent = false
	rest := cn.rbuf[cn.rstart:cn.rend]
	if len(rest) <= len(cn.small) {
		cn.rbuf, cn.small = cn.small, nil
	} else {
		// More followed than the small buffer holds (the replies after an
		// aggregate, read with its last bytes): they get a buffer of just
		// their size, given up for the small one once they are read (see
		// makeRoom). Their values are copies, so keeping one holds no
		// large buffer.
		cn.rbuf = make([]byte, len(rest))
	}
	cn.rend = copy(cn.rbuf, rest)
	cn.rstart = 0
}

// makeRoom makes space at the end of the read buffer: it moves the
// unfinished frame to the front, or gives a frame that fills the buffer
// one of its own, which may be memory of mine's (see memoryOf).
func (cn *conn) makeRoom(mine *call) {
	if cn.rstart == cn.rend {
		cn.rstart, cn.rend = 0, 0
		if cn.small != nil && !cn.growing {
			cn.rbuf, cn.small = cn.small, nil // the replies that followed a large one are read
		}
		return
	}
	if cn.rend < len(cn.rbuf) {
		return
	}
	if cn.rstart > 0 {
		cn.rend = copy(cn.rbuf, cn.rbuf[cn.rstart:cn.rend])
		cn.rstart = 0
		if cn.rend < len(cn.rbuf) {
			return
		}
	}
	// Reading a large reply into a buffer that is then copied out would
	// touch every byte twice, and keep a large buffer for the next reply
	// that may never come. Instead the frame gets a buffer of its own, read
	// into directly, which is lent to its values once complete (see
	// nextFrame). It grows as bytes arrive: straight to the end of the
	// string they belong to when its length is known, but never by more
	// than doubling or maxReserve, whichever is more, so that a string of
	// many megabytes costs a few copies, not one per megabyte.
	size := 2 * len(cn.rbuf)
	if want := cn.scan.want; want > len(cn.rbuf) {
		size = min(want, max(size, cn.rend+maxReserve))
	}
	grown := cn.memoryOf(mine)
	cn.borrowed = grown != nil
	if grown == nil {
		grown = make([]byte, size)
	}
	copy(grown, cn.rbuf[:cn.rend])
	if cn.small == nil {
		cn.small = cn.rbuf
	}
	cn.growing = true
	cn.rbuf = grown
}

// memoryOf returns the memory a BytesInto caller offers for its reply, to
// read the frame now filling the buffer straight into: only when the
// frame is a bulk string of known length, mine's one reply, and mine is
// the reader, so that nobody writes into its memory once it has left
// (see unborrow). Else it returns nil.
func (cn *conn) memoryOf(mine *call) []byte {
	if mine == nil || len(mine.vals) != 1 || Kind(cn.rbuf[0]) != KindBulk || len(cn.scan.open) > 0 || cn.scan.chunking {
		return nil
	}
	d, ok := mine.decoder.(bytesInto)
	want := cn.scan.want
	if !ok || want <= len(cn.rbuf) || cap(*d.buf) < want {
		return nil
	}
	cn.mu.Lock()
	head := cn.queue.peek()
	cn.mu.Unlock()
	if head != mine {
		return nil // an earlier call's reply
	}
	return (*d.buf)[:want]
}

// unborrow moves the frame being read into memory of the reader's own
// call to memory of the connection's, for a reader whose caller is
// about to leave: that memory is the caller's alone again once it has.
func (cn *conn) unborrow() {
	if !cn.borrowed {
		return
	}
	cn.borrowed = false
	own := make([]byte, min(len(cn.rbuf), cn.rend+maxReserve))
	copy(own, cn.rbuf[:cn.rend])
	cn.rbuf = own
}

// trim gives back the buffers that large commands or replies grew, for a
// connection about to rest in a pool with nothing owed: a resting
// connection should not hold on to the memory of its largest reply.
func (cn *conn) trim() {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.reading || cn.writing || !cn.queue.empty() {
		return // in use after all: its buffers are not ours to touch
	}
	cn.release()
	if cap(cn.wbuf) > readBufSize {
		cn.wbuf = nil
	}
	if cap(cn.spare) > readBufSize {
		cn.spare = nil
	}
}

// release drops the frame returned last, which is decoded already, and
// with it a buffer lent to its values; then, if nothing else waits, the
// buffer of the replies that followed a large one. Whoever holds the
// reading role calls it as it leaves with nothing owed, so that a
// connection at rest, shared or pooled, holds its small buffer and no
// memory of its largest reply. It costs nothing otherwise.
func (cn *conn) release() {
	cn.nextFrame()
	if cn.rstart == cn.rend {
		cn.makeRoom(nil)
	}
}

// ioDeadline is when a read or write starting now gives up: the socket
// timeout, or never. Callers' contexts end I/O through interrupt instead.
func (cn *conn) ioDeadline() time.Time {
	if cn.socketTimeout == 0 {
		return time.Time{}
	}
	return time.Now().Add(cn.socketTimeout)
}

// replyDeadline is when a read for a reply, starting now, gives up: the
// socket timeout, plus what a blocking command under way may wait.
func (cn *conn) replyDeadline() time.Time {
	if cn.socketTimeout == 0 {
		return time.Time{}
	}
	w := cn.wait.Load()
	if w == noDeadline {
		return time.Time{}
	}
	d := saturatingAdd(int64(cn.socketTimeout), w)
	if d == math.MaxInt64 {
		return time.Time{} // a wait too long to count: none in effect
	}
	return time.Now().Add(time.Duration(d))
}

// unsend takes the calls of the write under way back from those sent, when
// none of its bytes went out: they cannot have run, so they may be
// retried. before is what cn.sent was before that write.
func (cn *conn) unsend(before uint64) {
	cn.mu.Lock()
	cn.sent = before
	cn.mu.Unlock()
}

// peerClosed reports whether a write failed because the server closed the
// connection.
func peerClosed(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// failWriting is fail for the writer whose write failed with err. When the
// server closed the connection, the replies it sent before it did may still
// be waiting to be read, the reply to a CLIENT KILL of this very connection
// among them: nothing more is queued or written then, but the socket stays
// open for the reader, which hands out those replies and fails the calls
// still owed once it reads the end of the connection.
//
// The reader is not left to wait for that end, though, where that can be
// helped (socket.CloseRead). Those replies are here already: the refusal
// came after them, and whatever was lost on the way is lost for good with
// the connection. And the end may never come: a peer that shuts a unix
// socket for reading refuses writes and may keep the connection open. So
// the socket is shut for reading: the reader takes what is here, and then
// finds the end at once.
func (cn *conn) failWriting(err error) {
	if !peerClosed(err) {
		cn.fail(err)
		return
	}
	cn.mu.Lock()
	cn.brokenLocked(err)
	reading := cn.reading
	cn.mu.Unlock()
	if !reading {
		cn.fail(err)
		return
	}
	socket.CloseRead(cn.nc)
}

// brokenLocked marks the connection broken for err, unless it is already:
// nothing more is queued or written on it. cn.mu is held.
func (cn *conn) brokenLocked(err error) {
	if cn.err == nil {
		cn.err = err
		cn.dead.Store(true)
		cn.wbuf = nil
	}
}

// fail breaks the connection: every call still owed a reply gets err.
func (cn *conn) fail(err error) { cn.breakDown(err, false) }

// failReading is fail for the holder of the reading role.
func (cn *conn) failReading(err error) { cn.breakDown(err, true) }

// breakDown marks the connection broken and closes it. The calls still owed
// replies are failed by the reader when there is one, since it may be
// decoding into one of them right now; closing the socket makes it stop
// and call failReading. Otherwise they are failed here.
func (cn *conn) breakDown(err error, reader bool) {
	cn.mu.Lock()
	cn.brokenLocked(err)
	first := !cn.closed
	cn.closed = true
	why := cn.err
	var wake []*call
	if reader || !cn.reading {
		calls := cn.queue.drain()
		for _, c := range calls {
			if c.state == abandoned {
				continue
			}
			c.state = finished
			c.err = &netError{addr: cn.addr, err: cn.err, written: c.seq <= cn.sent}
			wake = append(wake, c)
		}
	}
	cn.mu.Unlock()
	if first {
		socket.Close(cn.nc) // not waiting on a peer that does not read
		if cn.onClose != nil {
			if closedByClient(why) {
				why = nil
			}
			cn.onClose(why)
		}
	}
	for _, c := range wake {
		c.done <- struct{}{}
	}
}

// close ends the connection; calls in flight fail with ErrClosed.
func (cn *conn) close() {
	cn.fail(ErrClosed)
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// readAlways makes a goroutine of its own the connection's reader for as
// long as it lives, for a connection that must be read even while it owes
// nothing (the client-side cache's, whose invalidations must be seen at
// once); done is called once it broke. cn must owe nothing and have no
// socket timeout: an idle connection is not a dead one. The role is taken
// before readAlways returns, so that no caller takes it first.
func (cn *conn) readAlways(done func()) error {
	cn.mu.Lock()
	if cn.err != nil || cn.reading || cn.writing || !cn.queue.empty() {
		cn.mu.Unlock()
		return &protocolError{"readAlways on a connection in use"} // a bug, not the server
	}
	cn.reading, cn.alwaysRead = true, true
	cn.mu.Unlock()
	go func() {
		cn.read(context.Background(), nil)
		done()
	}()
	return nil
}

// Push mode: a push connection (pushstate.go) is a conn whose replies
// match no call, so it does not use roundTrip. One goroutine holds the
// reading role for good and reads frames with readPush; writes are made
// one at a time with writePush, which its owner serialises.

// pushMode turns a conn that owes nothing into a push connection's, and
// gives the caller the reading role for as long as the conn lives. The
// socket timeout stops applying: an idle push connection is not a dead
// one, so readPush takes its own idle limit instead.
func (cn *conn) pushMode() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.err != nil {
		return cn.netError(cn.err, false)
	}
	if cn.reading || cn.writing || !cn.queue.empty() {
		return &protocolError{"push mode on a connection in use"} // a bug, not the server
	}
	cn.reading = true
	cn.pushing.Store(true)
	cn.socketTimeout = 0
	cn.timedOut = false
	cn.nc.SetDeadline(time.Time{})
	return nil
}

// readPush returns the next frame, valid until the next call, for the
// holder of the reading role in push mode. With idle > 0 it returns an
// error matching os.ErrDeadlineExceeded after idle without a frame; it
// may also return one early when a write was interrupted, which the
// caller tells from a real timeout by the time.
func (cn *conn) readPush(idle time.Duration) ([]byte, error) {
	var deadline time.Time
	if idle > 0 {
		deadline = time.Now().Add(idle)
	}
	cn.nc.SetReadDeadline(deadline)
	return cn.readFrame(context.Background(), nil)
}

// writePush writes buf within ctx and timeout (0: none), for a push
// connection, whose owner makes one write at a time. It returns how much
// it wrote, and whether it stopped because ctx ended (err is then ctx's
// error). A write that failed, or that ctx cut after some of buf went out,
// breaks the connection (failWriting), so that its reader sees it.
func (cn *conn) writePush(ctx context.Context, buf []byte, timeout time.Duration) (written int, ctxEnded bool, err error) {
	if err := ctx.Err(); err != nil {
		return 0, true, err
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	ctxDeadline, hasCtxDeadline := ctx.Deadline()
	if hasCtxDeadline && (deadline.IsZero() || ctxDeadline.Before(deadline)) {
		deadline = ctxDeadline
	}
	cn.nc.SetWriteDeadline(deadline)
	unwatch := cn.watchWrite(ctx, deadline)
	defer unwatch()
	for written < len(buf) {
		n, err := cn.nc.Write(buf[written:])
		written += n
		if err == nil {
			continue
		}
		if isTimeout(err) {
			ctxErr := ctx.Err()
			if ctxErr == nil && hasCtxDeadline && !time.Now().Before(ctxDeadline) {
				ctxErr = context.DeadlineExceeded
			}
			if ctxErr != nil {
				switch {
				case cn.fragileWrites:
					cn.fail(errWriteCut)
				case written > 0:
					cn.fail(ctxErr) // half a command went out: only a new connection is clean
				}
				return written, true, ctxErr
			}
			if !cn.fragileWrites && (deadline.IsZero() || time.Now().Before(deadline)) {
				cn.nc.SetWriteDeadline(deadline) // a stale interrupt: carry on
				continue
			}
		}
		cn.failWriting(err)
		return written, false, err
	}
	return written, false, nil
}

// netError wraps err, a failure of this connection, naming its address.
func (cn *conn) netError(err error, written bool) *netError {
	return &netError{addr: cn.addr, err: err, written: written}
}

// netError is a failure of the connection, not of the command. It names
// the address and wraps the cause.
type netError struct {
	addr       string
	err        error
	written    bool // the command may have reached the server
	notRetried bool // and, not being read-only, it was not sent again
}

func (e *netError) Error() string {
	if e.notRetried {
		return fmt.Sprintf("justredis: %s: %v (the command may have run, so it was not retried)", e.addr, e.err)
	}
	return fmt.Sprintf("justredis: %s: %v", e.addr, e.err)
}

func (e *netError) Unwrap() error { return e.err }

// Is makes a command that may have run match ErrNotRetried.
func (e *netError) Is(target error) bool { return target == ErrNotRetried && e.notRetried }
