package justredis

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// pushCtx bounds a push test, so a bug fails it instead of hanging the run.
func pushCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// forBothRESP runs f under RESP2 and RESP3.
func forBothRESP(t *testing.T, f func(t *testing.T, resp int)) {
	for _, resp := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", resp), func(t *testing.T) { f(t, resp) })
	}
}

// pushClient returns a client of s, closed when t ends.
func pushClient(t testing.TB, s *redistest.Server, opts ...Option) *Redis {
	t.Helper()
	r, err := New(append([]Option{WithAddress(s.Addr())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// openPush opens a push connection, closed when t ends.
func openPush(t testing.TB, r *Redis) *PushConnection {
	t.Helper()
	p, err := r.PushConnection(pushCtx(t))
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// next returns the next message, failing the test on an error or after a
// bounded wait.
func next(t testing.TB, p *PushConnection) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msg, err := p.NextMessage(ctx)
	require.NoError(t, err)
	return msg
}

// nextKind skips messages until one of kind arrives.
func nextKind(t testing.TB, p *PushConnection, kind string) Message {
	t.Helper()
	for {
		if msg := next(t, p); msg.Kind == kind {
			return msg
		}
	}
}

// nothingPending checks that no message arrives for a short while.
func nothingPending(t testing.TB, p *PushConnection) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	msg, err := p.NextMessage(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "unexpected %+v", msg)
}

func do(t testing.TB, p *PushConnection, args ...any) {
	t.Helper()
	require.NoError(t, p.Do(pushCtx(t), args...))
}

func TestPushMessageKinds(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	forBothRESP(t, func(t *testing.T, resp int) {
		ctx := pushCtx(t)
		r := pushClient(t, s, WithRESP(resp))
		p := openPush(t, r)

		do(t, p, "SUBSCRIBE", "ch1")
		require.Equal(t, Message{Kind: "subscribe", Channel: "ch1", Data: int64(1)}, next(t, p))
		do(t, p, "PSUBSCRIBE", "pat.*")
		require.Equal(t, Message{Kind: "psubscribe", Channel: "pat.*", Data: int64(2)}, next(t, p))
		do(t, p, "SSUBSCRIBE", "sh{1}")
		require.Equal(t, Message{Kind: "ssubscribe", Channel: "sh{1}", Data: int64(1)}, next(t, p))

		_, err := r.Do(ctx, "PUBLISH", "ch1", "hello")
		require.NoError(t, err)
		require.Equal(t, Message{Kind: "message", Channel: "ch1", Data: "hello"}, next(t, p))
		_, err = r.Do(ctx, "PUBLISH", "pat.x", "hi")
		require.NoError(t, err)
		require.Equal(t, Message{Kind: "pmessage", Channel: "pat.x", Pattern: "pat.*", Data: "hi"}, next(t, p))
		_, err = r.Do(ctx, "SPUBLISH", "sh{1}", "yo")
		require.NoError(t, err)
		require.Equal(t, Message{Kind: "smessage", Channel: "sh{1}", Data: "yo"}, next(t, p))

		do(t, p, "PING")
		require.Equal(t, Message{Kind: "pong", Data: ""}, next(t, p))
		do(t, p, "PING", "x")
		require.Equal(t, Message{Kind: "pong", Data: "x"}, next(t, p))

		// An error reply comes back as the error, and as a Message of Kind
		// "error"; the connection carries on.
		do(t, p, "PING", "a", "b")
		msg, err := p.NextMessage(ctx)
		var e *Error
		require.ErrorAs(t, err, &e)
		require.Contains(t, e.Error(), "wrong number of arguments")
		require.Equal(t, "error", msg.Kind)
		require.Same(t, e, msg.Data)

		do(t, p, "UNSUBSCRIBE", "ch1")
		require.Equal(t, Message{Kind: "unsubscribe", Channel: "ch1", Data: int64(1)}, next(t, p))
		do(t, p, "PUNSUBSCRIBE")
		require.Equal(t, Message{Kind: "punsubscribe", Channel: "pat.*", Data: int64(0)}, next(t, p))
		do(t, p, "SUNSUBSCRIBE", "sh{1}")
		require.Equal(t, Message{Kind: "sunsubscribe", Channel: "sh{1}", Data: int64(0)}, next(t, p))
		// Subscribed to nothing: UNSUBSCRIBE still confirms, with no
		// channel.
		do(t, p, "UNSUBSCRIBE")
		require.Equal(t, Message{Kind: "unsubscribe", Data: int64(0)}, next(t, p))

		// Outside subscribed mode PING looks the same.
		do(t, p, "PING")
		require.Equal(t, Message{Kind: "pong", Data: ""}, next(t, p))
		do(t, p, "PING", "y")
		require.Equal(t, Message{Kind: "pong", Data: "y"}, next(t, p))
		nothingPending(t, p)
	})
}

func TestPushDecoderPerCopy(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	forBothRESP(t, func(t *testing.T, resp int) {
		ctx := pushCtx(t)
		r := pushClient(t, s, WithRESP(resp))
		p := openPush(t, r)
		do(t, p, "SUBSCRIBE", "bin")
		require.Equal(t, Message{Kind: "subscribe", Channel: "bin", Data: int64(1)}, next(t, p))

		for _, v := range []string{"a", "b", "c"} {
			_, err := r.Do(ctx, "PUBLISH", "bin", v)
			require.NoError(t, err)
		}
		do(t, p, "PING")
		do(t, p, "PING", "z")
		// The copy decodes messages that arrived before it was made.
		b := p.Modify(WithDecoder(BytesDecoder))
		require.Equal(t, Message{Kind: "message", Channel: "bin", Data: []byte("a")}, next(t, b))
		require.Equal(t, Message{Kind: "message", Channel: "bin", Data: "b"}, next(t, p))
		raw := next(t, p.Modify(WithDecoder(RawDecoder)))
		require.Equal(t, "message", raw.Kind)
		require.Equal(t, RawValue{Kind: KindBulk, Data: []byte("c")}, raw.Data)
		require.Equal(t, Message{Kind: "pong", Data: []byte{}}, next(t, b))
		require.Equal(t, Message{Kind: "pong", Data: []byte("z")}, next(t, b))

		bad := p.Modify(WithDecoder(nil))
		_, err := bad.NextMessage(ctx)
		require.ErrorIs(t, err, ErrInvalidArgument)
		require.ErrorIs(t, bad.Do(ctx, "PING"), ErrInvalidArgument)
		nothingPending(t, p)
	})
}

func TestPushNextMessageTimeout(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	forBothRESP(t, func(t *testing.T, resp int) {
		ctx := pushCtx(t)
		r := pushClient(t, s, WithRESP(resp))
		p := openPush(t, r)
		do(t, p, "SUBSCRIBE", "late")
		next(t, p)

		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err := p.NextMessage(short)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, err = p.NextMessage(cancelled)
		require.ErrorIs(t, err, context.Canceled)

		_, err = p.Modify(WithTimeout(50 * time.Millisecond)).NextMessage(context.Background())
		require.ErrorIs(t, err, context.DeadlineExceeded)

		// The connection is still fine, and a message published after the
		// timeouts is received.
		_, err = r.Do(ctx, "PUBLISH", "late", "still here")
		require.NoError(t, err)
		require.Equal(t, Message{Kind: "message", Channel: "late", Data: "still here"}, next(t, p))

		// A message that arrives while a call times out is kept for the
		// next one.
		for i := 0; i < 20; i++ {
			short, cancel := context.WithTimeout(ctx, time.Millisecond)
			go r.Do(ctx, "PUBLISH", "late", strconv.Itoa(i))
			msg, err := p.NextMessage(short)
			cancel()
			if err == nil {
				require.Equal(t, strconv.Itoa(i), msg.Data)
				continue
			}
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Equal(t, strconv.Itoa(i), next(t, p).Data)
		}
	})
}

func TestPushMessagesIterator(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	forBothRESP(t, func(t *testing.T, resp int) {
		ctx := pushCtx(t)
		r := pushClient(t, s, WithRESP(resp))
		p := openPush(t, r)
		do(t, p, "SUBSCRIBE", "it")
		for i := 0; i < 5; i++ {
			_, err := r.Do(ctx, "PUBLISH", "it", i)
			require.NoError(t, err)
		}

		var got []Message
		for msg, err := range p.Messages(ctx) {
			require.NoError(t, err)
			got = append(got, msg)
			if msg.Data == "2" {
				break
			}
		}
		require.Equal(t, []Message{
			{Kind: "subscribe", Channel: "it", Data: int64(1)},
			{Kind: "message", Channel: "it", Data: "0"},
			{Kind: "message", Channel: "it", Data: "1"},
			{Kind: "message", Channel: "it", Data: "2"},
		}, got)
		// Breaking out lost nothing.
		require.Equal(t, "3", next(t, p).Data)

		// Error replies are given to the loop, which carries on; the end of
		// the context ends the loop quietly.
		do(t, p, "PING", "a", "b")
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		got = nil
		var errs []error
		for msg, err := range p.Messages(short) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			got = append(got, msg)
		}
		require.Equal(t, []Message{{Kind: "message", Channel: "it", Data: "4"}}, got)
		require.Len(t, errs, 1)
		var e *Error
		require.ErrorAs(t, errs[0], &e)

		// Closing ends a loop quietly too.
		done := make(chan int)
		go func() {
			n := 0
			for range p.Messages(ctx) {
				n++
			}
			done <- n
		}()
		require.NoError(t, p.Close())
		select {
		case n := <-done:
			require.Zero(t, n)
		case <-ctx.Done():
			t.Fatal("Messages did not end on Close")
		}
	})
}

func TestPushMonitor(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	forBothRESP(t, func(t *testing.T, resp int) {
		ctx := pushCtx(t)
		r := pushClient(t, s, WithRESP(resp))
		p := openPush(t, r)
		do(t, p, "MONITOR")
		// Once the PING's answer is in, MONITOR is on.
		do(t, p, "PING", "monitoring")
		for {
			msg := next(t, p)
			if msg.Kind == "pong" {
				require.Equal(t, "monitoring", msg.Data)
				break
			}
			require.Equal(t, "monitor", msg.Kind)
		}

		k := fmt.Sprintf("monitored-%d", resp)
		_, err := r.Do(ctx, "SET", k, "v")
		require.NoError(t, err)
		for {
			msg := nextKind(t, p, "monitor")
			line, ok := msg.Data.(string)
			require.True(t, ok, "%T", msg.Data)
			if strings.Contains(line, `"SET" "`+k+`" "v"`) {
				require.Empty(t, msg.Channel)
				break
			}
		}
	})
}

// killPubSub kills the server's pub/sub connections, as an operator would.
func killPubSub(t *testing.T, s *redistest.Server) {
	t.Helper()
	n, err := s.Do("CLIENT", "KILL", "TYPE", "pubsub")
	require.NoError(t, err)
	require.NotEqual(t, "0", n, "no connection killed")
}

// confirmations collects subscription confirmations until want are all in.
func confirmations(t *testing.T, p *PushConnection, want ...string) {
	t.Helper()
	missing := map[string]bool{}
	for _, w := range want {
		missing[w] = true
	}
	for len(missing) > 0 {
		msg := next(t, p)
		require.True(t, strings.HasSuffix(msg.Kind, "subscribe"), "%+v while waiting for %v", msg, missing)
		delete(missing, msg.Kind+" "+msg.Channel)
	}
}

// publishSequence publishes 0..n-1 on channel and checks that p receives
// them all, in order.
func publishSequence(t *testing.T, r *Redis, p *PushConnection, channel string, n int) {
	t.Helper()
	ctx := pushCtx(t)
	for i := 0; i < n; i++ {
		_, err := r.Do(ctx, "PUBLISH", channel, i)
		require.NoError(t, err)
	}
	for i := 0; i < n; i++ {
		require.Equal(t, Message{Kind: "message", Channel: channel, Data: strconv.Itoa(i)}, next(t, p))
	}
}

func TestPushResubscribeAfterClientKill(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	forBothRESP(t, func(t *testing.T, resp int) {
		ctx := pushCtx(t)
		r := pushClient(t, s, WithRESP(resp))
		p := openPush(t, r)
		// A RESP3 monitor on the side shows what is sent when subscribing
		// again.
		mon := openPush(t, pushClient(t, s, WithRESP(3)))
		do(t, mon, "MONITOR")
		do(t, mon, "PING")
		nextKind(t, mon, "pong")

		do(t, p, "SUBSCRIBE", "news", "gone")
		do(t, p, "PSUBSCRIBE", "sport.*")
		do(t, p, "SSUBSCRIBE", "s{a}1", "s{a}2")
		do(t, p, "SSUBSCRIBE", "s{b}")
		do(t, p, "UNSUBSCRIBE", "gone")
		if resp == 3 {
			do(t, p, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "trk:")
		}
		want := []string{"subscribe news", "psubscribe sport.*", "ssubscribe s{a}1", "ssubscribe s{a}2", "ssubscribe s{b}"}
		confirmations(t, p, append(want, "subscribe gone", "unsubscribe gone")...)

		killPubSub(t, s)
		if resp == 3 {
			require.Equal(t, Message{Kind: "invalidate"}, next(t, p), "tracking was lost with the connection")
		}
		confirmations(t, p, want...)
		publishSequence(t, r, p, "news", 100)
		_, err := r.Do(ctx, "PUBLISH", "sport.ski", "fast")
		require.NoError(t, err)
		require.Equal(t, Message{Kind: "pmessage", Channel: "sport.ski", Pattern: "sport.*", Data: "fast"}, next(t, p))
		_, err = r.Do(ctx, "SPUBLISH", "s{b}", "sharded")
		require.NoError(t, err)
		require.Equal(t, Message{Kind: "smessage", Channel: "s{b}", Data: "sharded"}, next(t, p))
		_, err = r.Do(ctx, "PUBLISH", "gone", "unheard")
		require.NoError(t, err)
		if resp == 3 {
			// CLIENT TRACKING was turned on again.
			_, err = r.Do(ctx, "SET", "trk:x", 1)
			require.NoError(t, err)
			require.Equal(t, Message{Kind: "invalidate", Data: []any{"trk:x"}}, next(t, p))
		}
		nothingPending(t, p)

		// The first five are the commands above; then what reconnecting
		// sent: one command per channel, the shard channels by slot, and
		// nothing for "gone".
		var resent []string
		for len(resent) < 10 {
			line := nextKind(t, mon, "monitor").Data.(string)
			if i := strings.Index(line, `] "`); i > 0 && strings.Contains(line, "SUBSCRIBE") {
				resent = append(resent, line[i+2:])
			}
		}
		require.Equal(t, []string{
			`"SUBSCRIBE" "news"`,
			`"PSUBSCRIBE" "sport.*"`,
			`"SSUBSCRIBE" "s{b}"`,  // slot 3300 (CLUSTER KEYSLOT b)
			`"SSUBSCRIBE" "s{a}1"`, // slot 15495 (CLUSTER KEYSLOT a)
			`"SSUBSCRIBE" "s{a}2"`,
		}, resent[5:])
	})
}

func TestPushResubscribeAfterRestart(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	forBothRESP(t, func(t *testing.T, resp int) {
		r := pushClient(t, s, WithRESP(resp))
		p := openPush(t, r)
		do(t, p, "SUBSCRIBE", "restart")
		do(t, p, "PSUBSCRIBE", "re*")
		confirmations(t, p, "subscribe restart", "psubscribe re*")

		require.NoError(t, s.Restart())
		confirmations(t, p, "subscribe restart", "psubscribe re*")
		// A new client: the old one's shared connection died with the
		// server, and a PUBLISH that may have run is not sent again.
		pub := pushClient(t, s, WithRESP(resp))
		ctx := pushCtx(t)
		for i := 0; i < 50; i++ {
			_, err := pub.Do(ctx, "PUBLISH", "restart", i)
			require.NoError(t, err)
		}
		for i := 0; i < 50; i++ {
			want := strconv.Itoa(i)
			got := map[string]Message{}
			for len(got) < 2 {
				msg := next(t, p)
				got[msg.Kind] = msg
			}
			require.Equal(t, Message{Kind: "message", Channel: "restart", Data: want}, got["message"])
			require.Equal(t, Message{Kind: "pmessage", Channel: "restart", Pattern: "re*", Data: want}, got["pmessage"])
		}
		nothingPending(t, p)
	})
}

func TestPushKeepsCommandsWhileDisconnected(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	r := pushClient(t, s, WithConnectRetry(0))
	p := openPush(t, r)
	do(t, p, "SUBSCRIBE", "before")
	confirmations(t, p, "subscribe before")
	require.NoError(t, s.Kill())
	ctx := pushCtx(t)
	// Wait until the connection is known to be down, then change the
	// subscriptions: they are made once the server is back.
	for {
		p.ps.wmu.Lock()
		down := p.ps.cn == nil
		p.ps.wmu.Unlock()
		if down {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the connection was never lost")
		case <-time.After(10 * time.Millisecond):
		}
	}
	do(t, p, "SUBSCRIBE", "during")
	do(t, p, "UNSUBSCRIBE", "before")
	err := p.Do(ctx, "PING")
	var ne interface{ Unwrap() error }
	require.ErrorAs(t, err, &ne, "PING while disconnected fails: %v", err)
	require.Contains(t, err.Error(), s.Addr())

	require.NoError(t, s.Restart())
	confirmations(t, p, "subscribe during")
	publishSequence(t, pushClient(t, s), p, "during", 10)
	nothingPending(t, p)
}

func TestPushBufferBound(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	forBothRESP(t, func(t *testing.T, resp int) {
		ctx := pushCtx(t)
		const limit, sent = 10, 500
		r := pushClient(t, s, WithRESP(resp), WithPushBuffer(limit))
		p := openPush(t, r)
		do(t, p, "SUBSCRIBE", "flood")
		confirmations(t, p, "subscribe flood")

		cmds := make([][]any, sent)
		for i := range cmds {
			cmds[i] = []any{"PUBLISH", "flood", i}
		}
		_, err := r.DoMulti(ctx, cmds...)
		require.NoError(t, err)
		do(t, p, "PING", "end")
		// Everything is in (or dropped) before reading starts.
		for {
			p.ps.mu.Lock()
			in := int64(len(p.ps.frames)-p.ps.head) + p.ps.dropped
			p.ps.mu.Unlock()
			if in == sent+1 {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("only %d messages came", in)
			case <-time.After(10 * time.Millisecond):
			}
		}

		var dropped int64
		var kept []int
		last := ""
		for {
			msg := next(t, p)
			if msg.Kind == "dropped" {
				require.NotEqual(t, "dropped", last, "two reports in a row")
				dropped += msg.Data.(int64)
			} else if msg.Kind == "pong" {
				require.Equal(t, "end", msg.Data)
				break
			} else {
				require.Equal(t, "message", msg.Kind)
				n, err := strconv.Atoi(msg.Data.(string))
				require.NoError(t, err)
				kept = append(kept, n)
			}
			last = msg.Kind
		}
		require.Equal(t, int64(sent+1-limit), dropped)
		require.Len(t, kept, limit-1) // and the pong
		for i, n := range kept {
			require.Equal(t, sent-limit+1+i, n, "the newest are kept")
		}

		// Reported once: afterwards messages flow as usual.
		publishSequence(t, r, p, "flood", 5)
	})
}

func TestPushBufferDefaultAndInvalid(t *testing.T) {
	t.Parallel()
	_, err := New(WithPushBuffer(-1))
	require.ErrorIs(t, err, ErrInvalidArgument)
	s := redistest.Start(t, redistest.Options{})
	p := openPush(t, pushClient(t, s))
	require.Equal(t, defaultPushBuffer, p.ps.limit)
}

func TestPushCloseWakesNextMessage(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	ctx := pushCtx(t)
	p := openPush(t, pushClient(t, s))
	do(t, p, "SUBSCRIBE", "quiet")
	next(t, p)

	errs := make(chan error, 2)
	for _, q := range []*PushConnection{p, p.Modify(WithDecoder(BytesDecoder))} {
		go func() {
			_, err := q.NextMessage(ctx)
			errs <- err
		}()
	}
	// Wait until both wait.
	for {
		p.ps.mu.Lock()
		waiting := p.ps.wake != nil
		p.ps.mu.Unlock()
		if waiting {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, p.Close())
	for range 2 {
		select {
		case err := <-errs:
			require.ErrorIs(t, err, ErrClosed)
		case <-ctx.Done():
			t.Fatal("NextMessage still waits after Close")
		}
	}
	_, err := p.NextMessage(ctx)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, p.Do(ctx, "PING"), ErrClosed)
	require.NoError(t, p.Close(), "Close twice")
}

// pushGoroutines counts the goroutines of push connections.
func pushGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "(*pushState).run")
}

// noPushGoroutines checks that no push reader is left. Close waits for the
// reader's last act, its WaitGroup's Done; the goroutine then still has to
// return, so it may be seen for a moment longer.
func noPushGoroutines(t *testing.T, why string) {
	t.Helper()
	require.Eventually(t, func() bool { return pushGoroutines() == 0 }, time.Second, time.Millisecond, why)
}

// waitGoroutines waits until no more than n goroutines run.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPushGoroutinesEndOnClose(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	ctx := pushCtx(t)
	r := pushClient(t, s)
	_, err := r.Do(ctx, "PING")
	require.NoError(t, err)
	// The push readers of earlier tests' clients, closed by Redis.Close,
	// may still be winding down.
	require.Eventually(t, func() bool { return pushGoroutines() == 0 }, 10*time.Second, 10*time.Millisecond)
	before := runtime.NumGoroutine()

	// Connected and subscribed.
	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	do(t, p, "SUBSCRIBE", "g")
	next(t, p)
	require.Equal(t, 1, pushGoroutines())
	require.NoError(t, p.Close())
	noPushGoroutines(t, "Close waits for the reader")
	waitGoroutines(t, before)

	// Reconnecting to a server that is down.
	p, err = r.PushConnection(ctx)
	require.NoError(t, err)
	do(t, p, "SUBSCRIBE", "g")
	next(t, p)
	require.NoError(t, s.Kill())
	time.Sleep(200 * time.Millisecond) // let it try a few times
	require.NoError(t, p.Close())
	noPushGoroutines(t, "Close waits for the reader, also while it reconnects")
	waitGoroutines(t, before)
	require.NoError(t, s.Restart())

	// Closing the client ends its push connections.
	p, err = r.PushConnection(ctx)
	require.NoError(t, err)
	do(t, p, "SUBSCRIBE", "g")
	next(t, p)
	require.NoError(t, r.Close())
	_, err = p.NextMessage(ctx)
	require.ErrorIs(t, err, ErrClosed)
	for pushGoroutines() > 0 {
		require.NoError(t, ctx.Err())
		time.Sleep(10 * time.Millisecond)
	}
	require.ErrorIs(t, p.Do(ctx, "PING"), ErrClosed)
	require.NoError(t, p.Close())
	_, err = r.PushConnection(ctx)
	require.ErrorIs(t, err, ErrClosed)
}

func TestPushRefusals(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	forBothRESP(t, func(t *testing.T, resp int) {
		ctx := pushCtx(t)
		r := pushClient(t, s, WithRESP(resp))
		p := openPush(t, r)
		do(t, p, "SUBSCRIBE", "r")
		next(t, p)

		err := p.Do(ctx, "GET", "k")
		require.ErrorIs(t, err, ErrInvalidArgument)
		require.Contains(t, err.Error(), "GET is not allowed on a PushConnection")
		require.Contains(t, err.Error(), "SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE")
		err = p.Do(ctx, "CLIENT", "LIST")
		require.ErrorIs(t, err, ErrInvalidArgument)
		require.Contains(t, err.Error(), "CLIENT LIST")
		for _, args := range [][]any{
			{"QUIT"}, {"RESET"}, {"PUBLISH", "r", "x"}, {"subscribe"}, {"SSUBSCRIBE"}, {"SUBSCRIBE", nil},
			{"SUBSCRIBE", time.Second}, {42}, {""},
		} {
			require.ErrorIs(t, p.Do(ctx, args...), ErrInvalidArgument, "%v", args)
		}
		require.ErrorIs(t, p.Do(ctx), ErrInvalidArgument)
		if resp == 2 {
			err = p.Do(ctx, "CLIENT", "TRACKING", "on")
			require.ErrorIs(t, err, ErrInvalidArgument)
			require.Contains(t, err.Error(), "RESP3")
		}
		// Nothing was sent: a command would have had an answer.
		nothingPending(t, p)

		// Lower case and []byte names are fine.
		require.NoError(t, p.Do(ctx, []byte("ping"), []byte("b")))
		require.Equal(t, Message{Kind: "pong", Data: "b"}, next(t, p))
	})
}

func TestPushInvalidationsRESP3(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	ctx := pushCtx(t)
	r := pushClient(t, s, WithRESP(3))
	p := openPush(t, r)
	do(t, p, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "inv:")
	do(t, p, "PING")
	require.Equal(t, Message{Kind: "pong", Data: ""}, next(t, p), "the OK of CLIENT TRACKING is not delivered")

	_, err := r.Do(ctx, "SET", "inv:a", 1)
	require.NoError(t, err)
	require.Equal(t, Message{Kind: "invalidate", Data: []any{"inv:a"}}, next(t, p))
	_, err = r.Do(ctx, "SET", "other", 1)
	require.NoError(t, err)
	_, err = r.Do(ctx, "FLUSHALL")
	require.NoError(t, err)
	require.Equal(t, Message{Kind: "invalidate", Data: nil}, next(t, p), "a flush invalidates everything")

	_, err = r.Do(ctx, "SET", "inv:b", 1)
	require.NoError(t, err)
	msg := next(t, p.Modify(WithDecoder(BytesDecoder)))
	require.Equal(t, Message{Kind: "invalidate", Data: []any{[]byte("inv:b")}}, msg)

	do(t, p, "CLIENT", "TRACKING", "off")
	do(t, p, "PING")
	require.Equal(t, "pong", next(t, p).Kind)
	_, err = r.Do(ctx, "SET", "inv:c", 1)
	require.NoError(t, err)
	nothingPending(t, p)
}

func TestPushInvalidationsRedirectedRESP2(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	ctx := pushCtx(t)
	p := openPush(t, pushClient(t, s, WithRESP(2), WithClientName("push-target")))
	do(t, p, "SUBSCRIBE", "__redis__:invalidate")
	confirmations(t, p, "subscribe __redis__:invalidate")

	list, err := s.Do("CLIENT", "LIST")
	require.NoError(t, err)
	// The subscribed one (flags=P): the client also has a shared
	// connection with that name.
	m := regexp.MustCompile(`id=(\d+) .*name=push-target .*flags=P `).FindStringSubmatch(list)
	require.NotNil(t, m, list)

	r := pushClient(t, s, WithRESP(2))
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Do(ctx, "CLIENT", "TRACKING", "on", "REDIRECT", m[1], "BCAST", "PREFIX", "rd:")
	require.NoError(t, err)
	_, err = r.Do(ctx, "SET", "rd:1", 1)
	require.NoError(t, err)
	require.Equal(t, Message{Kind: "invalidate", Channel: "__redis__:invalidate", Data: []any{"rd:1"}}, next(t, p))
}

func TestPushSettings(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{
		Password: "pw-secret",
		Users:    []redistest.User{{Name: "alice", Password: "alice-secret"}},
	})
	forBothRESP(t, func(t *testing.T, resp int) {
		ctx := pushCtx(t)
		name := fmt.Sprintf("push-settings-%d", resp)
		r := pushClient(t, s, WithRESP(resp), WithAuth("alice", "alice-secret"), WithClientName(name))
		p, err := r.Modify(WithDatabase(3)).PushConnection(ctx)
		require.NoError(t, err)
		defer p.Close()
		list, err := s.Do("CLIENT", "LIST")
		require.NoError(t, err)
		require.Regexp(t, `name=`+name+` .*db=3 .*user=alice `, list)
		require.Regexp(t, fmt.Sprintf(`name=%s .*resp=%d`, name, resp), list)
		for _, shown := range []string{p.String(), fmt.Sprintf("%v %+v %#v", p, p, p)} {
			require.NotContains(t, shown, "secret")
			require.Contains(t, shown, s.Addr())
		}

		_, err = pushClient(t, s, WithRESP(resp), WithAuth("alice", "bad-pw-xyz")).PushConnection(ctx)
		var e *Error
		require.ErrorAs(t, err, &e)
		require.NotContains(t, err.Error(), "bad-pw-xyz")
	})
}

func TestPushIdleWithSocketTimeout(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	forBothRESP(t, func(t *testing.T, resp int) {
		ctx := pushCtx(t)
		r := pushClient(t, s, WithRESP(resp), WithSocketTimeout(250*time.Millisecond))
		p := openPush(t, r)
		do(t, p, "SUBSCRIBE", "idle")
		confirmations(t, p, "subscribe idle")
		// Silent for many socket timeouts: keep-alive PINGs keep the
		// connection, and their replies are not delivered.
		time.Sleep(time.Second)
		nothingPending(t, p)
		_, err := r.Do(ctx, "PUBLISH", "idle", "awake")
		require.NoError(t, err)
		require.Equal(t, Message{Kind: "message", Channel: "idle", Data: "awake"}, next(t, p), "no reconnection happened")
	})
}

func TestPushHungServer(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r := pushClient(t, s, WithSocketTimeout(250*time.Millisecond), WithConnectTimeout(500*time.Millisecond))
	p := openPush(t, r)
	do(t, p, "SUBSCRIBE", "hung")
	confirmations(t, p, "subscribe hung")
	require.NoError(t, s.Pause())
	// Long enough for the keep-alive to go unanswered.
	time.Sleep(time.Second)
	require.NoError(t, s.Resume())
	// It gave up on the silent connection and subscribed again.
	confirmations(t, p, "subscribe hung")
	publishSequence(t, pushClient(t, s), p, "hung", 10)
}

func TestPushSetupCommands(t *testing.T) {
	s := newPushSetup()
	apply := func(op pushOp, args ...any) {
		buf, err := appendCommand(nil, args)
		require.NoError(t, err)
		s.apply(op, commandStrings(buf))
	}
	encoded := func(s *pushSetup) string {
		var buf []byte
		for _, e := range s.commands() {
			buf = appendStrings(buf, e.args...)
		}
		return string(buf)
	}
	apply(pushOps["subscribe"], "SUBSCRIBE", "b", "a", 7)
	apply(pushOps["unsubscribe"], "UNSUBSCRIBE", "7")
	apply(pushOps["psubscribe"], "PSUBSCRIBE", "p*")
	apply(pushOps["ssubscribe"], "SSUBSCRIBE", "x{1}", "y", "z{1}")
	apply(pushOps["monitor"], "MONITOR")
	apply(pushOp{kind: opTracking}, "CLIENT", "TRACKING", "on", "BCAST")
	require.Equal(t,
		"*4\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non\r\n$5\r\nBCAST\r\n"+
			"*1\r\n$7\r\nMONITOR\r\n"+
			"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n"+
			"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nb\r\n"+
			"*2\r\n$10\r\nPSUBSCRIBE\r\n$2\r\np*\r\n"+
			"*2\r\n$10\r\nSSUBSCRIBE\r\n$4\r\nx{1}\r\n"+ // slot 9842
			"*2\r\n$10\r\nSSUBSCRIBE\r\n$4\r\nz{1}\r\n"+
			"*2\r\n$10\r\nSSUBSCRIBE\r\n$1\r\ny\r\n", // slot 14360... after 9842
		encoded(&s))
	require.Less(t, hashSlot("x{1}"), hashSlot("y"))
	for _, e := range s.commands() {
		op := pushOps[strings.ToLower(e.args[0])]
		if e.args[0] == "CLIENT" {
			op = pushOp{kind: opTracking}
		}
		require.Equal(t, op, e.op, "%v", e.args)
	}

	apply(pushOp{kind: opTracking}, "CLIENT", "TRACKING", "OFF")
	apply(pushOps["unsubscribe"], "UNSUBSCRIBE")
	apply(pushOps["punsubscribe"], "PUNSUBSCRIBE", "p*")
	apply(pushOps["sunsubscribe"], "SUNSUBSCRIBE")
	require.Equal(t, "*1\r\n$7\r\nMONITOR\r\n", encoded(&s))

	many := newPushSetup()
	for i := 0; i < 2500; i++ {
		many.subs[subChannels][fmt.Sprint(i)] = struct{}{}
	}
	require.Equal(t, 2500, strings.Count(encoded(&many), "SUBSCRIBE"), "one each")
}

func TestDecodeMessage(t *testing.T) {
	for _, c := range []struct {
		name  string
		frame string
		d     Decoder
		want  Message
	}{
		{"message2", "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", StringDecoder, Message{Kind: "message", Channel: "ch", Data: "hi"}},
		{"message3", ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", BytesDecoder, Message{Kind: "message", Channel: "ch", Data: []byte("hi")}},
		{"pmessage", ">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n", StringDecoder, Message{Kind: "pmessage", Pattern: "c*", Channel: "ch", Data: "hi"}},
		{"unsubscribe nil", "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n", StringDecoder, Message{Kind: "unsubscribe", Data: int64(0)}},
		{"unsubscribe null", ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n", StringDecoder, Message{Kind: "unsubscribe", Data: int64(0)}},
		{"pong2", "*2\r\n$4\r\npong\r\n$0\r\n\r\n", StringDecoder, Message{Kind: "pong", Data: ""}},
		{"pong3", "+PONG\r\n", StringDecoder, Message{Kind: "pong", Data: ""}},
		{"pong3 bytes", "+PONG\r\n", BytesDecoder, Message{Kind: "pong", Data: []byte{}}},
		{"pong arg", "$1\r\nx\r\n", StringDecoder, Message{Kind: "pong", Data: "x"}},
		{"monitor", "+1700000000.1 [0 127.0.0.1:1] \"GET\" \"k\"\r\n", BytesDecoder, Message{Kind: "monitor", Data: "1700000000.1 [0 127.0.0.1:1] \"GET\" \"k\""}},
		{"invalidate", ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n", StringDecoder, Message{Kind: "invalidate", Data: []any{"k"}}},
		{"invalidate flush", ">2\r\n$10\r\ninvalidate\r\n_\r\n", StringDecoder, Message{Kind: "invalidate", Data: nil}},
		{"invalidate RESP2", "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n", StringDecoder, Message{Kind: "invalidate", Channel: "__redis__:invalidate", Data: []any{"k"}}},
		{"invalidate RESP2 flush", "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*-1\r\n", StringDecoder, Message{Kind: "invalidate", Channel: "__redis__:invalidate", Data: nil}},
		{"unknown", ">3\r\n$3\r\nNew\r\n:1\r\n:2\r\n", StringDecoder, Message{Kind: "new", Data: []any{int64(1), int64(2)}}},
		{"not a push", ":5\r\n", StringDecoder, Message{Kind: "reply", Data: int64(5)}},
		{"array without kind", "*1\r\n:5\r\n", StringDecoder, Message{Kind: "reply", Data: []any{int64(5)}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeMessage([]byte(c.frame), c.d, "")
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
	msg, err := decodeMessage([]byte("-ERR nope\r\n"), StringDecoder, "")
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, Message{Kind: "error", Data: e}, msg)
	_, err = decodeMessage([]byte("*3\r\n$7\r\nmessage\r\n*0\r\n$2\r\nhi\r\n"), StringDecoder, "")
	require.ErrorIs(t, err, ErrProtocol)
	_, err = decodeMessage([]byte("*2\r\n$4\r\npong\r\n$x\r\n"), StringDecoder, "")
	require.True(t, err != nil && !errors.Is(err, ErrClosed))
}

func TestQuietFrames(t *testing.T) {
	for _, f := range []string{
		"+OK\r\n",
		"$19\r\njustredis-keepalive\r\n",
		"*2\r\n$4\r\npong\r\n$19\r\njustredis-keepalive\r\n",
		"+1700000000.1 [0 127.0.0.1:1] \"PING\" \"justredis-keepalive\"\r\n",
	} {
		require.True(t, quietFrame([]byte(f)), f)
	}
	for _, f := range []string{"+PONG\r\n", "$2\r\nOK\r\n", "+1 [0 x] \"SET\" \"k\" \"OK\"\r\n"} {
		require.False(t, quietFrame([]byte(f)), f)
	}
}
