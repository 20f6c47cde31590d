package socket

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
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
// One kind of machine makes a lone caller over a unix socket slower this
// way: a virtual machine whose idle vCPUs halt at once, without polling
// first (guest_halt_poll_ns set to 0). There every wake-up goes through the
// hypervisor, and the monitor thread's wake-up, which an ordinary system
// call makes and a raw one does not, happens to start waking the vCPU
// Redis will need before the command reaches it (a guess that fits every
// variant tried). Measured on two 2-vCPU guests, one Intel, one AMD, a
// lone caller in turns beside redigo and rueidis (bench/turns_test.go):
// where idle vCPUs poll for 200 µs before they halt (guest_halt_poll_ns's
// default), raw calls made the Intel guest's unix GET 20-40% faster than
// redigo's in the same runs (10.2-10.6 against 12.2-14.6 µs), where
// through net.Conn all three clients tied, and the full bench there read
// 1.02-1.10 against the closest peer; on the AMD guest they left the
// round trip as it was (GET 19.9 against 20.1 µs through net.Conn) at a
// fifth less client CPU. With polling off, raw calls made the round trip
// 20-80% slower than net.Conn's calls on both (Intel GET 31-41 against
// 22.5-22.9 µs, AMD 43.9 against 34.0), half the speed of the fastest
// peer. Raw reads alone, or raw writes alone, did as net.Conn did under
// both. Raw calls are kept for the polling case, a judgement: that is
// what the haltpoll cpuidle driver does by default, though guests
// without that driver halt at once too. Over TCP, whose write takes
// longer, raw calls beat net.Conn's under both policies on the AMD guest
// (GET 22.0 against 29.8 µs polling, 63.7 against 73.2 halting, at a
// third less CPU).
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
	wmu             sync.Mutex // held for a whole Write, as net.Conn does
	wbuf            []byte
	wn              int
	werr            syscall.Errno
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
	if s.raw == nil || len(p) == 0 || len(p) > rawMax {
		return s.nc.Read(p)
	}
	s.rbuf, s.rn, s.rerr = p, 0, 0
	err := s.raw.Read(s.readFD)
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
			return false
		default:
			s.rerr = errno
		}
		return true
	}
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
