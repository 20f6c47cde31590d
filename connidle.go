package justredis

import (
	"errors"
	"fmt"
	"time"

	"github.com/justredis/justredis/socket"
)

// A connection at rest: what is checked before a connection that owed
// nothing is used again (bytes nobody asked for, a peer that closed, the
// idle and lifetime limits), and the commands after which it must go.

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
	n, err := cn.stream.Read(cn.rbuf[cn.rend:])
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
