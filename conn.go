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
	stream        *socket.Stream // nc's reads and writes
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
	borrowed bool
	timedOut bool          // the read deadline needs setting again
	park     time.Duration // parkDeadline, or less in tests
	// soon says that the reader's next read is for the reply to a single
	// command it has just written alone (see socket.Stream.ReadSoon).
	// crowded, under mu, that other calls came while the last caller that
	// read its own reply waited for it: then nobody spins, since on a
	// busy connection a spin takes CPU from the other callers and, on the
	// same machine, the server.
	soon, crowded bool
	readDeadline  time.Time // when the reply being read is overdue; zero: never

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
		stream:        socket.NewStream(nc),
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
	soon := len(c.vals) == 1 && !cn.crowded
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
		} else {
			cn.soon = soon
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
			n, err := cn.stream.Write(rest)
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
		if leave && c == mine {
			cn.crowded = !cn.queue.empty()
		}
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
		var m int
		if cn.soon {
			cn.soon = false
			m, err = cn.stream.ReadSoon(cn.rbuf[cn.rend:])
		} else {
			m, err = cn.stream.Read(cn.rbuf[cn.rend:])
		}
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
