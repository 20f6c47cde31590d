package justredis

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/justredis/justredis/socket"
)

// How a connection breaks: who learns of it, which calls fail and how, and
// the error that says so.

// closedByClient reports whether err, why a connection broke, says the
// client closed it on purpose: Close, or after a closing command.
func closedByClient(err error) bool { return errors.Is(err, ErrClosed) || err == errEnded }

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
