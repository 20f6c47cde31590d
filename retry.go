package justredis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/justredis/justredis/socket"
)

// This file is the client's retry policy, in one place: which failures a
// command or a connect may be tried again after, how error replies are
// classified, and how long to pause in between.
//
// The rule for commands: a command is sent again only when it cannot have
// run, or running it twice is harmless. A network failure before the
// command was written, or on a read-only command that runs no script,
// qualifies; so do the error replies of a cluster that prove the command
// did not run (MOVED, ASK, TRYAGAIN, CLUSTERDOWN), once they are known to
// be the cluster's and not a script's (redirect.go).
//
// LOADING, a server still loading its data set at start-up (or a replica
// after a full sync), proves the command did not run too, in any
// deployment: the call goes again after a pause (see loadingRetry), as
// long as its context lasts. For a pipeline only when every reply is
// LOADING, since sending some commands again would run them after later
// ones that did run; and never for a script, whose own error text it may
// be, as for TRYAGAIN.

// maxRedirects bounds, per command and call, the MOVED and ASK
// redirections followed and the retries after a node could not be
// reached. TRYAGAIN and CLUSTERDOWN do not count: they are retried until
// the context ends.
const maxRedirects = 16

// replyClass is what an error reply asks of the client.
type replyClass uint8

const (
	replyFinal       replyClass = iota // a reply like any other: hand it to the caller
	replyMoved                         // the slot lives elsewhere for good: go there, update the map
	replyAsk                           // the slot is moving: ask the node named, once, after ASKING
	replyTryAgain                      // a multi-key command amid a migration: pause and retry
	replyClusterDown                   // the cluster cannot serve the slot now: pause, reload, retry
	replyLoading                       // the server is loading its data set: pause and retry
)

// classify tells what a reply asks of the client. Every path that follows
// redirections goes through it.
func classify(v any) (replyClass, *Error) {
	e, ok := v.(*Error)
	if !ok {
		return replyFinal, nil
	}
	switch e.Prefix() {
	case "MOVED":
		return replyMoved, e
	case "ASK":
		return replyAsk, e
	case "TRYAGAIN":
		return replyTryAgain, e
	case "CLUSTERDOWN":
		return replyClusterDown, e
	case "LOADING":
		return replyLoading, e
	}
	return replyFinal, e
}

// loadingPatience bounds how long a call whose context has no deadline
// retries LOADING replies; then it returns the last one. A call with a
// deadline retries until the deadline.
const loadingPatience = 30 * time.Second

// loadingRetry paces the tries of one call that a server answered
// LOADING: the backoff between them, and, for a call without deadline,
// loadingPatience.
type loadingRetry struct {
	n     int       // pauses so far
	until time.Time // for a call without deadline: give up after this
}

// loadingReply returns v as an *Error when it is a LOADING reply.
func loadingReply(v any) *Error {
	if e, ok := v.(*Error); ok && e.Prefix() == "LOADING" {
		return e
	}
	return nil
}

// allLoading returns the first of vals when every one of them is a
// LOADING reply: then none of the commands ran.
func allLoading(vals []any) *Error {
	for _, v := range vals {
		if loadingReply(v) == nil {
			return nil
		}
	}
	if len(vals) == 0 {
		return nil
	}
	return vals[0].(*Error)
}

// patient reports whether a call answered LOADING may go again: its
// context has a deadline (the pause honours it), or it has not retried for
// loadingPatience yet.
func (l *loadingRetry) patient(ctx context.Context) bool {
	if _, ok := ctx.Deadline(); ok {
		return true
	}
	if l.until.IsZero() {
		l.until = time.Now().Add(loadingPatience)
	}
	return time.Now().Before(l.until)
}

// again takes in e, a LOADING reply from addr (nil for any other reply),
// and reports whether the call goes again: it then has paused. A call
// that is out of patience gets the reply as it is (false, nil); one whose
// context ends during the pause gets ctx's error, naming the reply, which
// does not match ErrNotRetried: nothing ran.
func (l *loadingRetry) again(ctx context.Context, addr string, e *Error) (bool, error) {
	if e == nil || !l.patient(ctx) {
		return false, nil
	}
	d := backoff(l.n)
	l.n++
	if err := sleep(ctx, d); err != nil {
		return false, lastReplyError(addr, err, e)
	}
	return true, nil
}

// lastReplyError is the error of a call that was to go again, after the
// error reply last from addr, when its context ended (err).
func lastReplyError(addr string, err error, last *Error) error {
	return fmt.Errorf("justredis: %s: %w; the last reply was %q", addr, err, last.msg)
}

// parseRedirect reads "MOVED <slot> <host>:<port>" or the same with ASK.
// A node that does not know its own host sends ":<port>": it is then
// from's host.
func parseRedirect(msg, from string) (slot int, addr string, ok bool) {
	f := strings.Fields(msg)
	if len(f) != 3 {
		return 0, "", false
	}
	slot, err := strconv.Atoi(f[1])
	if err != nil || slot < 0 || slot >= numSlots {
		return 0, "", false
	}
	i := strings.LastIndexByte(f[2], ':')
	if i < 0 {
		return 0, "", false
	}
	host, port := f[2][:i], f[2][i+1:]
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strings.ContainsAny(host, " /") {
		return 0, "", false
	}
	if host == "" {
		host, _, _ = net.SplitHostPort(from)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return slot, net.JoinHostPort(host, port), true
}

// mayRetry reports whether a command that failed with err can be sent again
// without risk of running twice: it never left the client, or it is
// read-only and no script (a script runs once, EVAL_RO included).
func mayRetry(err error, cmd *command) bool {
	return mayRetryAll(err, cmd.repeatable())
}

// mayRetryAll is mayRetry for commands sent together: readonly says
// whether all of them are.
func mayRetryAll(err error, readonly bool) bool {
	var ne *netError
	if !errors.As(err, &ne) || ne.notRetried || errors.Is(err, ErrClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return !ne.written || readonly
}

// notRetried marks a network error on a command that may have run.
func notRetried(err error) error {
	var ne *netError
	if errors.As(err, &ne) && ne.written {
		ne.notRetried = true
	}
	return err
}

// ownCommand is the error of a command the client sent for its own sake
// (a handshake, SELECT, COMMAND GETKEYS, CLUSTER SLOTS), when the
// caller's command was not sent: whether the client's own ran does not
// concern the caller, so it must not match ErrNotRetried.
func ownCommand(err error) error {
	var ne *netError
	if errors.As(err, &ne) && (ne.written || ne.notRetried) {
		return &netError{addr: ne.addr, err: ne.err}
	}
	return err
}

// mayRetryElsewhere reports whether a failure to get or use a connection
// to a cluster node may be worth another try, on a node that the
// refreshed slot map may name.
func mayRetryElsewhere(err error) bool {
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrPoolTimeout) || errors.Is(err, ErrInvalidArgument) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		// A handshake refused: only a node still loading its data is worth
		// waiting for.
		return e.Prefix() == "LOADING"
	}
	return true
}

// mayRetryConnect reports whether an attempt to connect that failed with
// err may be made again: it failed on the way (refused, timed out, cut
// off), not because the server answered with an error, the reply made no
// sense, or the address or TLS settings are wrong.
func mayRetryConnect(err error) bool {
	return !isServerError(err) && !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrInvalidArgument) &&
		!errors.Is(err, ErrClosed) && !socket.Permanent(err)
}

// isServerError reports whether err is an error reply.
func isServerError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// backoff is the pause before retry n (from 0) of anything the client
// retries (a connect, a command the cluster asked to retry, a push
// connection's reconnect): 10ms doubling up to 1s, less up to a half at
// random, so that many clients cut off at once do not retry in step.
func backoff(n int) time.Duration {
	d := time.Second
	if n >= 0 && n < 7 {
		d = 10 * time.Millisecond << n
	}
	return d - rand.N(d/2+1)
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
