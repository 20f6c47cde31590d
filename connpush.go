package justredis

import (
	"context"
	"time"
)

// Connections read by a goroutine of their own, whatever they owe: the
// client-side cache's (readAlways) and push connections for pub/sub and
// MONITOR (push mode, below), whose frames answer no call.

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
		n, err := cn.stream.Write(buf[written:])
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
