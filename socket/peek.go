package socket

import (
	"crypto/tls"
	"io"
	"net"
	"syscall"
)

// A Peeker tells, without blocking and without consuming anything, what an
// idle connection holds: bytes waiting to be read, or an error when the
// peer has closed it (io.EOF) or the socket failed.
//
// Clients use it before writing on a connection that owes them nothing,
// because a server's idle timeout, a restart or a proxy closing idle
// connections is otherwise found only after a command was written, when
// nobody can tell whether it ran. It costs one non-blocking system call
// and, once made, no allocation. A Peeker is not safe for concurrent use.
type Peeker struct {
	raw  syscall.RawConn // nil when the socket cannot be asked
	peek func(fd uintptr) bool
	buf  [1]byte
	n    int
	err  error
}

// NewPeeker returns a Peeker for nc. For TLS it asks the underlying
// socket, so the bytes it finds may be TLS records that carry no data (a
// session ticket, say): read them to know.
func NewPeeker(nc net.Conn) *Peeker {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	p := &Peeker{}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			p.raw = raw
		}
	}
	p.peek = p.peekFD // bound once, so that Peek allocates nothing
	return p
}

// Peek reports whether bytes wait to be read, or the error that ended the
// connection. A socket that cannot be asked reports neither.
func (p *Peeker) Peek() (pending bool, err error) {
	if p.raw == nil {
		return false, nil
	}
	if err := p.raw.Read(p.peek); err != nil {
		return false, err
	}
	switch {
	case p.err == syscall.EAGAIN || p.err == syscall.EWOULDBLOCK || p.err == syscall.EINTR:
		return false, nil
	case p.err != nil:
		return false, p.err
	case p.n == 0:
		return false, io.EOF
	}
	return true, nil
}

func (p *Peeker) peekFD(fd uintptr) bool {
	p.n, p.err = peekFD(fd, &p.buf)
	return true // never wait for the poller: the answer is wanted now
}
