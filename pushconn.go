package justredis

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// Message is one thing the server pushed to a PushConnection.
//
// Kind says what it is:
//
//   - "message": Data published on Channel (SUBSCRIBE).
//   - "pmessage": Data published on Channel, which matched Pattern
//     (PSUBSCRIBE).
//   - "smessage": Data published on the shard channel Channel (SSUBSCRIBE).
//   - "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
//     "sunsubscribe": the server confirms a change to the subscriptions;
//     Channel is the channel or pattern, Data the number of subscriptions
//     the connection now has (int64 with the standard decoders). In a
//     cluster, "sunsubscribe" also comes unasked when the node gives up
//     the shard channel's slot.
//   - "pong": the reply to PING; Data is PING's argument, "" when it had
//     none. The same under RESP2 and RESP3.
//   - "monitor": one line of MONITOR output, as a string in Data.
//   - "invalidate": client-side caching (CLIENT TRACKING, RESP3) says that
//     the keys in Data ([]any) changed; Data is nil when the whole database
//     was flushed, and when the connection broke, taking the server's
//     tracking with it: anything read before may be stale. Under RESP2, the messages of the __redis__:invalidate
//     channel (CLIENT TRACKING ... REDIRECT) are given this Kind too, with
//     Channel "__redis__:invalidate".
//   - "dropped": the buffer (WithPushBuffer) was full and Data (int64)
//     messages, the oldest, were thrown away. It comes before the messages
//     that were kept.
//   - "error": the server refused a command; Data is the *Error, which
//     NextMessage also returns as its error. It also stands for the reply
//     to a PING lost with a connection that broke (see PushConnection.Do);
//     Data is then that error. In a cluster, it is also the
//     client refusing or giving up shard channels that another node serves
//     than the connection's others (see PushConnection.Do); Data is then an
//     error that matches ErrInvalidArgument and names them. So it is for a
//     MONITOR given on a subscribed RESP2 connection while it is down,
//     which the client refuses, as the server would.
//
// Anything else the server pushes keeps the name it was sent with as Kind,
// and its remaining elements in Data (one as itself, several as []any); a
// reply that is not a push at all has Kind "reply".
//
// Data is decoded by the decoder of the PushConnection that NextMessage was
// called on (WithDecoder): with BytesDecoder, message payloads are []byte.
// Channel and Pattern are always strings. The reply that confirms MONITOR or
// CLIENT TRACKING ("OK") is not delivered; send PING after them and wait for
// the "pong" to know the server has acted on them.
type Message struct {
	// Kind is what the message is: "message", "pmessage", "smessage",
	// "subscribe", "pong", "monitor", "invalidate", "dropped", "error", ...
	Kind string
	// Channel is the channel a message was published on, or the channel or
	// pattern a (un)subscription confirms.
	Channel string
	// Pattern is the pattern that matched, for "pmessage" only.
	Pattern string
	// Data is the payload: the message, a subscription count, a MONITOR
	// line, the invalidated keys, the number of dropped messages, the
	// *Error.
	Data any
}

// PushConnection is a connection in push mode, for publish/subscribe,
// MONITOR and (RESP3) client-side caching invalidations. Make one with
// Redis.PushConnection; Close it when done.
//
// Do sends commands: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBE
// forms, PING, MONITOR, and under RESP3 CLIENT TRACKING. Whatever the
// server sends back, confirmations included, comes through NextMessage or
// Messages, in the order it arrived.
//
// A PushConnection is safe for concurrent use. Each message is handed to one
// caller of NextMessage. Copies made by Modify share the connection and
// its messages.
//
// When the server goes away (a restart, a network failure, CLIENT KILL),
// the PushConnection connects again, with backoff, until it is closed. It
// then subscribes again to every channel, pattern and shard channel it had,
// and sends MONITOR and CLIENT TRACKING again if they were on; the fresh
// confirmations arrive as messages and tell you it happened. What the
// server refused is not among them. Messages published while it was away
// are lost, as Redis pub/sub does not keep them. CLIENT TRACKING and
// MONITOR have no confirmation to deliver: with CLIENT TRACKING on, an
// "invalidate" with nil Data comes first, as for a flush; MONITOR lines
// of the gap are lost without a word.
//
// In a cluster, a PushConnection is one connection to one node, so its
// shard channels must all be served by one node; use one PushConnection per
// node. When the slot of its shard channels moves, it follows them to their
// new node. When only some of them move, it stays with the others and gives
// up those that moved: NextMessage returns an error, matching
// ErrInvalidArgument, that names them.
type PushConnection struct {
	ps   *pushState
	call callSettings
	err  error // an invalid CallOption given to Modify
}

// PushConnection opens a connection in push mode, with the client's
// address, credentials, TLS, protocol and database. In a cluster, keys
// choose the node (they must hash to one slot). The connection is made
// before it returns, so a server that cannot be reached is an error here.
func (r *Redis) PushConnection(ctx context.Context, keys ...string) (*PushConnection, error) {
	if err := r.usable(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := r.withTimeout(ctx)
	if cancel != nil {
		defer cancel()
	}
	limit := r.p.s.pushBuffer
	if limit == 0 {
		limit = defaultPushBuffer
	}
	ps := &pushState{
		p:     r.p,
		route: r.call,
		keys:  slices.Clone(keys),
		limit: limit,
		done:  make(chan struct{}),
	}
	ps.want, ps.base = newPushSetup(), newPushSetup()
	ps.ctx, ps.cancel = context.WithCancel(context.Background())
	cn, sv, resp, err := ps.connect(ctx)
	if err == nil {
		err = ps.install(ctx, cn, sv, resp)
	}
	if err != nil {
		ps.cancel()
		return nil, err
	}
	ps.wg.Add(1)
	go ps.run(cn)
	return &PushConnection{ps: ps, call: r.call}, nil
}

// usable checks what every method checks first: a PushConnection made by
// Redis.PushConnection (a zero value, or a nil pointer, has no connection
// to use and would panic) and a ctx.
func (p *PushConnection) usable(ctx context.Context) error {
	if p == nil || p.ps == nil {
		return errNotPush
	}
	if ctx == nil {
		return errNilContext
	}
	return p.err
}

// String describes the connection without credentials.
func (p *PushConnection) String() string {
	if p == nil || p.ps == nil {
		return "justredis.PushConnection{not made by Redis.PushConnection}"
	}
	addr := ""
	if a := p.ps.addr.Load(); a != nil {
		addr = *a
	}
	return fmt.Sprintf("justredis.PushConnection{addr: %s}", addr)
}

// GoString is String, so that %#v shows no credentials either.
func (p *PushConnection) GoString() string { return p.String() }

// Modify returns a copy of p that receives with opts applied; it shares the
// connection and its messages. WithDecoder decides how the Data of the
// messages that the copy's NextMessage returns are decoded, including
// messages that arrived before the copy was made: nothing buffered is lost.
// WithTimeout bounds Do and NextMessage calls whose context has no deadline.
// Other options (WithDatabase, WithEndpoint) have no effect on a
// PushConnection.
func (p *PushConnection) Modify(opts ...CallOption) *PushConnection {
	if p == nil {
		// A copy of nothing: its calls fail as those of a zero
		// PushConnection do, rather than Modify panicking.
		p = &PushConnection{}
	}
	m := *p
	m.call, m.err = modifiedBound(m.call, m.err, opts, "PushConnection")
	return &m
}

// Do sends one command: SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE with at least
// one channel or pattern, UNSUBSCRIBE, PUNSUBSCRIBE or SUNSUBSCRIBE (without
// arguments: from all), PING, MONITOR, or, on a RESP3 connection, CLIENT
// TRACKING. Any other command is refused with ErrInvalidArgument before
// anything is sent.
//
// Do returns once the command is written; its error is about sending only.
// The server's answer (a confirmation, a pong, or an error reply) comes
// through NextMessage. When Do returns ctx's error, the command was not
// sent.
//
// Changes to subscriptions, MONITOR and CLIENT TRACKING are remembered: if
// the connection is down, or breaks while sending, Do returns nil and the
// command takes effect when the connection is back, one channel, pattern
// or shard channel at a time, so that the server refusing one costs only
// that one. An UNSUBSCRIBE (of any kind) that was not confirmed when the
// connection broke, or was given while it was down, is sent first on the
// next connection, for its confirmation. PING is not
// remembered: it then fails with the network error; and when the connection
// breaks after sending it, before its reply, NextMessage returns that error
// in the pong's place, with a Message of Kind "error". A command the server
// refuses changes nothing, now or after a reconnect: an SSUBSCRIBE refused
// with CROSSSLOT is not sent again, an UNSUBSCRIBE refused leaves the
// subscription in place. To tell which command an error answers, Do sends
// each command but PING followed by a PING of its own, whose reply is not
// delivered, an error (LOADING, NOPERM) included. A MONITOR while MONITOR
// is on is not sent: the server would not answer it.
//
// In a cluster, SSUBSCRIBE of a shard channel that another node serves than
// the connection's other shard channels is refused with ErrInvalidArgument
// before anything is sent; the connection and its subscriptions are left as
// they were. Subscribe to it on a second PushConnection. If the client's
// slot map was out of date, the server answers MOVED instead, and
// NextMessage returns the same refusal. An SSUBSCRIBE on a connection
// without shard channels goes to the node that serves it.
func (p *PushConnection) Do(ctx context.Context, args ...any) error {
	if err := p.usable(ctx); err != nil {
		return err
	}
	if len(args) == 0 {
		return invalidArg("empty command")
	}
	op, err := pushCommand(args)
	if err != nil {
		return err
	}
	buf, err := appendCommand(nil, args)
	if err != nil {
		return err
	}
	ctx, cancel := p.call.withTimeout(ctx)
	if cancel != nil {
		defer cancel()
	}
	return p.ps.do(ctx, op, buf)
}

// NextMessage returns the next message, waiting for one until ctx ends. An
// error reply from the server (to a command sent by Do) is returned as the
// error, an *Error, together with a Message of Kind "error"; the connection
// stays usable. So it does when ctx ends: NextMessage then returns
// ctx.Err(), and a message that arrives later is returned by the next call.
// After Close, and after the Redis it came from is closed, NextMessage
// returns ErrClosed, even while it waits.
func (p *PushConnection) NextMessage(ctx context.Context) (Message, error) {
	if err := p.usable(ctx); err != nil {
		return Message{}, err
	}
	ctx, cancel := p.call.withTimeout(ctx)
	if cancel != nil {
		defer cancel()
	}
	return p.next(ctx)
}

func (p *PushConnection) next(ctx context.Context) (Message, error) {
	frame, dropped, err := p.ps.take(ctx)
	if err != nil {
		return Message{}, err
	}
	if dropped > 0 {
		return Message{Kind: "dropped", Data: dropped}, nil
	}
	switch frame[0] {
	case clientErrorFrame:
		err := invalidArg(string(frame[1:]))
		return Message{Kind: "error", Data: err}, err
	case lostFrame:
		addr, what, _ := strings.Cut(string(frame[1:]), "\x00")
		err := &netError{addr: addr, err: errors.New(what), written: true}
		return Message{Kind: "error", Data: err}, err
	}
	return decodeMessage(frame, forSeveral(p.call.decoder), p.ps.p.s.password)
}

// Messages returns the messages as they arrive, for use with range:
//
//	for msg, err := range p.Messages(ctx) {
//		if err != nil {
//			log.Print(err) // an error reply, such as a refused command
//			continue
//		}
//		...
//	}
//
// The loop ends, without an error, when ctx ends or p is closed (check
// ctx.Err() if you need to know which). Other errors (error replies from the
// server, shard channels given up, a PING's reply lost with its connection,
// a failing Decoder) are given to the loop, which may carry on.
// Breaking out of the loop loses nothing: the connection stays usable and
// the next message is returned by the next NextMessage or Messages.
// WithTimeout does not apply to Messages.
func (p *PushConnection) Messages(ctx context.Context) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		if err := p.usable(ctx); err != nil {
			yield(Message{}, err)
			return
		}
		for ctx.Err() == nil {
			msg, err := p.next(ctx)
			if err != nil && (errors.Is(err, ErrClosed) || (ctx.Err() != nil && errors.Is(err, ctx.Err()))) {
				return
			}
			if !yield(msg, err) {
				return
			}
		}
	}
}

// Close closes the connection for good and ends its goroutine. A
// NextMessage waiting on it, on any copy, returns ErrClosed. Close always
// returns nil, but on a PushConnection not made by Redis.PushConnection.
func (p *PushConnection) Close() error {
	if p == nil || p.ps == nil {
		return errNotPush
	}
	ps := p.ps
	if !ps.closing.Swap(true) {
		ps.finish()
		ps.cancel()
		if cn := ps.cur.Load(); cn != nil {
			cn.close()
		}
	}
	ps.wg.Wait()
	return nil
}
