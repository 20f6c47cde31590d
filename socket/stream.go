package socket

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// A Stream reads and writes a connection's bytes as net.Conn's Read and
// Write do: the same deadlines, the same errors, and a Write that returns
// only once all of its bytes are out or it failed.
//
// On Linux, for a TCP or unix stream socket, it makes the read and write
// system calls itself, as raw ones, and leaves only the waiting to Go's
// network poller. The socket is non-blocking, so those calls never wait,
// and Go's runtime need not be told of them: a raw call keeps its P for
// the microseconds it takes, as any other code does. Being told costs more
// than the call: a goroutine in a system call leaves its P for the
// runtime's monitor thread to hand to another thread should the call
// last, as a loopback TCP write that runs the receiver's side of the
// protocol may, and entering one wakes that thread when it sleeps, which
// it does whenever every goroutine waits (a caller making round trips
// alone, once per reply). Measured on 2-vCPU virtual machines against the
// same code through net.Conn: client CPU per sequential call fell by a
// fifth to a third, a lone caller's round trip over TCP by up to a
// quarter, and GETs from 64 goroutines went up by 29-40%.
//
// Over a unix socket a lone caller's round trip with raw calls depended on
// how the machine idles. On 2-vCPU guests whose idle vCPUs poll for 200 µs
// before they halt (the haltpoll cpuidle driver's default), raw calls made
// a unix GET 20-40% faster than net.Conn's calls on an Intel guest and as
// fast at a fifth less CPU on an AMD one; where idle vCPUs halt at once
// (guest_halt_poll_ns=0), 20-80% slower, half the fastest peer's speed:
// there every wake-up goes through the hypervisor, and the monitor
// thread's wake-up, which an ordinary system call makes and a raw one does
// not, happens to start waking the vCPU Redis will need (a guess that fits
// every variant tried). Such a caller now reads with ReadSoon, whose spin
// keeps its vCPU awake: on the AMD guest it is ahead of the peers with
// polling (1.22-1.45 against the closest in the full bench) and level with
// the fastest one halting at once (0.96-1.05 in bench/results/
// halt-at-once.md); the Intel guest was not measured with it.
// Over TCP, whose write takes longer, raw calls beat net.Conn's under both
// on the AMD guest (GET 22.0 against 29.8 µs polling, 63.7 against 73.2
// halting, at a third less CPU).
//
// A raw call cannot be preempted, so it stays short: reads and writes of
// more than rawMax bytes, where the copy costs far more than telling the
// runtime, go through the net.Conn, lest one call into a megabyte-sized
// buffer hold up a garbage collector's stop-the-world for everyone.
//
// Elsewhere, and for any other net.Conn (TLS, datagram and seqpacket
// sockets, whose reads are not a byte stream's), it calls the net.Conn's
// own methods. Read is for one goroutine at a time; Write is safe for
// concurrent use.
type Stream struct {
	nc  net.Conn
	raw syscall.RawConn // nil: nc's own Read and Write are used
	// network names raw's socket in errors: "tcp" or "unix", decided once,
	// so an error path never asks the socket (LocalAddr may be nil).
	network string

	// Arguments and results pass through these fields, so that the
	// functions given to raw, bound once, allocate nothing per call.
	readFD, writeFD func(fd uintptr) bool
	rbuf            []byte
	rn              int
	rerr            syscall.Errno

	// Spinning (see ReadSoon, and spins for where): spinning says that the
	// read under way may try again at once, spinStart when it first found
	// nothing; misses counts the spins in a row that ran out of time, skip
	// the reads left that do not spin.
	spinning  bool
	spinStart time.Time
	misses    uint8
	skip      uint16

	wmu  sync.Mutex // held for a whole Write, as net.Conn does
	wbuf []byte
	wn   int
	werr syscall.Errno
}

// NewStream returns a Stream for nc.
//
// One difference from nc's own errors remains: an error a raw system call
// returns (a reset, say) names the network "tcp" in its *net.OpError even
// where nc was dialed as "tcp4" or "tcp6", since a *net.TCPConn does not
// say how it was dialed. The library dials "tcp".
func NewStream(nc net.Conn) *Stream {
	s := &Stream{nc: nc}
	if !rawIO {
		return s
	}
	switch c := nc.(type) {
	case *net.TCPConn:
		s.useRaw(c, "tcp")
	case *net.UnixConn:
		// Only a byte stream: a datagram or seqpacket read takes one
		// message, as the net.Conn's own Read knows.
		if a := c.LocalAddr(); a != nil && a.Network() == "unix" {
			s.useRaw(c, "unix")
		}
	}
	return s
}

func (s *Stream) useRaw(c syscall.Conn, network string) {
	if raw, err := c.SyscallConn(); err == nil {
		s.raw, s.network = raw, network
		s.readFD, s.writeFD = s.readOnce, s.writeAll
	}
}

// Read reads into p, as nc.Read does.
func (s *Stream) Read(p []byte) (int, error) {
	return s.read(p, false)
}

// ReadSoon is Read for bytes the caller expects within microseconds: the
// reply to a single command it has just written when no earlier reply was
// owed (other callers' commands may have joined its write). On a unix
// stream socket (raw calls), a read that finds nothing tries again at
// once, for about spinFor, before it leaves the wait to Go's network
// poller. Nothing spins with GOMAXPROCS=1 (see spinAgain).
//
// Waiting in the poller costs a lone caller more than the reply takes
// over a unix socket: the goroutine parks, its thread finds nothing else
// to do and sleeps in epoll_wait, its CPU goes idle, and the reply must
// wake all three. Spinning keeps them awake for the few microseconds the
// server takes. Measured on a 2-vCPU AMD guest, a lone caller's unix GET
// in turns beside rueidis and redigo (bench/turns_test.go): with idle
// vCPUs polling for 200 µs before they halt, 14-16.5 µs against 23.5-26 µs
// without spinning and 21-31 µs for the peers, at 12.6-14.3 µs of client
// CPU against 12.0-14.0 without (peers 15-22); with idle vCPUs halting at
// once, 29-35 µs against 49-69 µs without, peers 33-50 µs, at 25-27 µs of
// CPU against 21-31 without (peers 21-31). In the bench's run of the
// single-caller rows at that setting (bench/results/halt-at-once.md) the
// spin cost a sixth more CPU than rueidis (24.4 against 20.8 µs a GET)
// for a round trip level with it.
//
// Only unix sockets spin: their peer is a process on the same machine, so
// a reply is usually microseconds away (a forwarder to a far server is
// possible; the back-off below bounds what spinning costs there), and a
// read does not hold up its delivery. Over loopback TCP spinning left the
// round trip as it was (about 28 µs polling) for 45% more client CPU,
// since a read that holds the socket makes the arriving segment wait in
// its backlog (a guess that fits); over a network the reply is further off
// than any spin should last.
//
// A spin that runs out of time (a slow command, a busy server) is a miss:
// after one, the next 2 reads do not spin, after two misses in a row the
// next 4, doubling up to 64, and a read that gets its bytes while
// spinning starts the count again (one that fails or finds the end of
// the connection leaves it). A server slower than the spin for good costs
// one spinFor per 65 calls.
func (s *Stream) ReadSoon(p []byte) (int, error) {
	return s.read(p, s.spins())
}

// spins reports whether ReadSoon spins here: on a unix stream socket read
// with raw calls, the only kind whose network useRaw names "unix".
func (s *Stream) spins() bool { return s.network == "unix" }

// spinFor bounds one spin, as checked between tries (a try lets other
// goroutines run first, which may take longer). A reply over a unix socket
// came within it in the measurements above; a 100 µs spin only spent more
// CPU.
const spinFor = 30 * time.Microsecond

func (s *Stream) read(p []byte, spin bool) (int, error) {
	if s.raw == nil || len(p) == 0 || len(p) > rawMax {
		return s.nc.Read(p)
	}
	if spin {
		if s.skip > 0 {
			s.skip--
		} else {
			s.spinning, s.spinStart = true, time.Time{}
		}
	}
	s.rbuf, s.rn, s.rerr = p, 0, 0
	err := s.raw.Read(s.readFD)
	if s.spinning {
		s.spinning = false
		if s.rn > 0 {
			s.misses = 0 // the bytes came while spinning
		}
	}
	n, errno := s.rn, s.rerr
	s.rbuf = nil
	switch {
	case err != nil:
		return n, s.opError("read", err)
	case errno != 0:
		return 0, s.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p, as nc.Write does.
func (s *Stream) Write(p []byte) (int, error) {
	if s.raw == nil || len(p) == 0 || len(p) > rawMax {
		return s.nc.Write(p)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wbuf, s.wn, s.werr = p, 0, 0
	err := s.raw.Write(s.writeFD)
	n, errno := s.wn, s.werr
	s.wbuf = nil
	switch {
	case err != nil:
		return n, s.opError("write", err)
	case errno != 0:
		return n, s.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// opError gives err the shape net.Conn's methods give theirs. The poller's
// errors (deadlines, a closed connection) come wrapped already, as a
// "raw-read" or "raw-write": they get the plain operation's name.
func (s *Stream) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		oe.Op = op
		return oe
	}
	return &net.OpError{Op: op, Net: s.network, Source: s.nc.LocalAddr(), Addr: s.nc.RemoteAddr(), Err: err}
}

// readOnce makes one read into rbuf, unless nothing is there yet: then it
// has the poller wait until something is.
func (s *Stream) readOnce(fd uintptr) bool {
	for {
		n, errno := rawRead(fd, s.rbuf)
		switch errno {
		case 0:
			s.rn = n
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if s.spinning && s.spinAgain() {
				continue
			}
			return false
		default:
			s.rerr = errno
		}
		return true
	}
}

// spinAgain reports whether a read that found nothing may try again at
// once. Each try first lets any other goroutine that is ready to run go
// first. Goroutines that wait on the network are another matter: the
// scheduler looks for them only when it has nothing else to run, and the
// spinning one is always there, so one whose bytes came meanwhile waits
// for the spin to end unless an idle P's thread finds it. With a single P
// nobody would: nothing spins there, or a spin would always hold them up
// (a server in the same program could not even answer).
func (s *Stream) spinAgain() bool {
	if s.spinStart.IsZero() {
		if runtime.GOMAXPROCS(0) == 1 {
			s.spinning = false
			return false
		}
		s.spinStart = time.Now()
	} else if time.Since(s.spinStart) >= spinFor {
		s.spinning = false
		s.misses = min(s.misses+1, 6)
		s.skip = 1 << s.misses
		return false
	}
	runtime.Gosched()
	return true
}

// writeAll writes wbuf until all of it is out, having the poller wait
// whenever the socket's buffer is full.
func (s *Stream) writeAll(fd uintptr) bool {
	for s.wn < len(s.wbuf) {
		n, errno := rawWrite(fd, s.wbuf[s.wn:])
		switch errno {
		case 0:
			s.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			s.werr = errno
			return true
		}
	}
	return true
}

// rawMax bounds the bytes of one raw system call. A 64 KiB copy takes
// microseconds; a GET's reply, a command, or a pipeline of a few hundred
// small commands fits.
const rawMax = 64 << 10
