package socket

import (
	"crypto/tls"
	"io"
	"net"
	"syscall"
)

// Peek tells, without blocking and without consuming anything, what an idle
// connection holds: bytes waiting to be read (pending), or an error when
// the peer has closed it (io.EOF) or the socket failed. A connection whose
// socket cannot be asked reports neither.
//
// It costs one non-blocking system call. Clients use it before writing on a
// connection that owes them nothing, because a server's idle timeout, a
// restart or a proxy closing idle connections is otherwise found only after
// a command was written, when nobody can tell whether it ran.
//
// For TLS the underlying socket is asked, so pending bytes may be TLS
// records that carry no data (a session ticket, say): read them to know.
func Peek(nc net.Conn) (pending bool, err error) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false, err
	}
	var n int
	var perr error
	if err := raw.Read(func(fd uintptr) bool {
		n, perr = peekFD(fd)
		return true // never wait for the poller: the answer is wanted now
	}); err != nil {
		return false, err
	}
	switch {
	case perr == syscall.EAGAIN || perr == syscall.EWOULDBLOCK || perr == syscall.EINTR:
		return false, nil
	case perr != nil:
		return false, perr
	case n == 0:
		return false, io.EOF
	}
	return true, nil
}
