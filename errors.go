package justredis

import (
	"errors"
	"strings"
)

// Error is an error reply from the server, such as "WRONGTYPE Operation
// against a key holding the wrong kind of value". A top-level error reply is
// returned as the error of a call; one inside an aggregate (for example in the
// reply of EXEC, or at its index in DoMulti) stands in the value as an *Error.
type Error struct {
	msg string
}

// Error returns the server's text unchanged.
func (e *Error) Error() string { return e.msg }

// Prefix returns the first word of the error, by which Redis classifies it:
// "ERR", "WRONGTYPE", "MOVED", "NOSCRIPT", ...
func (e *Error) Prefix() string {
	if i := strings.IndexByte(e.msg, ' '); i >= 0 {
		return e.msg[:i]
	}
	return e.msg
}

var (
	// ErrNil is returned by the converters (String, Int64, ...) when the
	// reply is nil, that is a missing key or a null reply. Do itself returns
	// (nil, nil) for a null reply.
	ErrNil = errors.New("justredis: nil reply")

	// ErrClosed is returned by calls on a Redis, Connection or
	// PushConnection that has been closed.
	ErrClosed = errors.New("justredis: closed")

	// ErrPoolTimeout is returned when no connection to a server became free
	// within WithWaitTimeout (or before the call's context ended) because
	// WithMaxConnections were all in use.
	ErrPoolTimeout = errors.New("justredis: timed out waiting for a free connection")

	// ErrInvalidArgument is matched by errors about what the caller passed:
	// an argument of an unsupported type, an empty command, a command that
	// must go through another API, an invalid option, or shard channels on
	// another node than a PushConnection's others.
	ErrInvalidArgument = errors.New("justredis: invalid argument")

	// ErrProtocol is matched by errors about a malformed reply. The connection
	// that received it is closed, because nothing that follows on it can be
	// trusted.
	ErrProtocol = errors.New("justredis: protocol error")

	// ErrNotRetried is matched by the errors of a command that may have
	// reached the server: it was written (or queued behind a write, which
	// cannot be taken back), the reply was lost, and it was not sent again.
	// Whether it ran is unknown. That is so after a network failure on a
	// command that is not read-only, and whenever the call's context ended
	// after the command was written: that error matches both ctx.Err() and
	// ErrNotRetried. An error that matches the context's error but not
	// ErrNotRetried is from a call whose command was never sent.
	ErrNotRetried = errors.New("justredis: command may have run; not retried")

	// ErrTxAborted is matched by the error of Redis.Transaction when EXEC
	// was aborted on every attempt, because a WATCHed key changed each time
	// between WATCH and EXEC. None of the transaction's commands ran.
	ErrTxAborted = errors.New("justredis: transaction aborted: a watched key kept changing")
)

// argError describes what was wrong with the caller's input. It matches
// ErrInvalidArgument.
type argError struct{ msg string }

func (e *argError) Error() string        { return "justredis: " + e.msg }
func (e *argError) Is(target error) bool { return target == ErrInvalidArgument }

func invalidArg(msg string) error { return &argError{msg} }

// errNotNew and errNilContext are made once, so that checking for them
// costs a call nothing.
var (
	errNotNew        = invalidArg("the Redis was not made by New: use New (or FromURL)")
	errNotConnection = invalidArg("the Connection was not made by Redis.Connection: use it")
	errNotPush       = invalidArg("the PushConnection was not made by Redis.PushConnection: use it")
	errNilContext    = invalidArg("nil context: pass context.Background() or a context of your own")
)

// errReadPastReply is what a Decoder gets that reads more than one value.
var errReadPastReply = errors.New("justredis: the Decoder read past the end of the reply (Decode must consume exactly one value)")

// protocolError describes a malformed reply. It matches ErrProtocol.
type protocolError struct{ msg string }

func (e *protocolError) Error() string        { return "justredis: protocol error: " + e.msg }
func (e *protocolError) Is(target error) bool { return target == ErrProtocol }
