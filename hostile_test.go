package justredis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// These tests talk to a fake server that answers the handshake and then
// breaks the protocol on purpose, in ways no real server would: it is the
// only place where a fake server is right, since a real one cannot be made
// to send such replies. Everything else is tested against real servers.
//
// The fake answers HELLO, COMMAND (with an empty table, so no command is
// read-only and none is sent twice) and PING, and GET <key> with "v:<key>".
// A test's handler gets every other command, and GET of keys it cares
// about.

type hostileServer struct {
	ln       net.Listener
	handle   func(c *hostileConn, args []string) bool // false closes the connection
	accepted atomic.Int64                             // connections so far
	sent     atomic.Int64                             // bytes written to clients
	done     chan struct{}                            // closed when the test ends

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

type hostileConn struct {
	nc  net.Conn
	srv *hostileServer
}

// send writes s at once and reports whether the client is still there.
func (c *hostileConn) send(s string) bool {
	n, err := c.nc.Write(wireBytes(s))
	c.srv.sent.Add(int64(n))
	return err == nil
}

// stopped reports whether the test is over.
func (c *hostileConn) stopped() bool {
	select {
	case <-c.srv.done:
		return true
	default:
		return false
	}
}

const hostileHello = "%3\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n+mode\r\n+standalone\r\n"

func startHostile(t *testing.T, handle func(c *hostileConn, args []string) bool) *hostileServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &hostileServer{ln: ln, handle: handle, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns[nc] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go s.serve(nc)
		}
	}()
	t.Cleanup(func() {
		close(s.done)
		ln.Close()
		s.mu.Lock()
		for nc := range s.conns {
			nc.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *hostileServer) addr() string { return s.ln.Addr().String() }

// closeAll drops every client connection, as a server that restarts would.
func (s *hostileServer) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for nc := range s.conns {
		nc.Close()
	}
}

func (s *hostileServer) serve(nc net.Conn) {
	defer s.wg.Done()
	defer func() {
		nc.Close()
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
	}()
	c := &hostileConn{nc: nc, srv: s}
	br := bufio.NewReader(nc)
	for {
		args, err := hostileReadCommand(br)
		if err != nil {
			return
		}
		ok := true
		switch strings.ToUpper(args[0]) {
		case "HELLO":
			ok = c.send(hostileHello)
		case "COMMAND":
			ok = c.send("*0\r\n")
		case "PING":
			ok = c.send("+PONG\r\n")
		case "CLIENT", "SELECT":
			ok = c.send("+OK\r\n")
		default:
			ok = s.handle(c, args)
		}
		if !ok {
			return
		}
	}
}

// hostileGood answers GET as a well-behaved server would.
func hostileGood(c *hostileConn, args []string) bool {
	if strings.ToUpper(args[0]) != "GET" || len(args) != 2 {
		return c.send("-ERR unknown command\r\n")
	}
	return c.send(respBulk("v:" + args[1]))
}

// hostileReadCommand reads one command: an array of bulk strings.
func hostileReadCommand(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("not a command: %q", line)
	}
	n, err := strconv.Atoi(line[1 : len(line)-2])
	if err != nil || n < 1 || n > 1000 {
		return nil, fmt.Errorf("bad command length %q", line)
	}
	args := make([]string, n)
	for i := range args {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(line, "$") || !strings.HasSuffix(line, "\r\n") {
			return nil, fmt.Errorf("not a bulk string: %q", line)
		}
		size, err := strconv.Atoi(line[1 : len(line)-2])
		if err != nil || size < 0 || size > 1<<20 {
			return nil, fmt.Errorf("bad bulk length %q", line)
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:size])
	}
	return args, nil
}

func hostileClient(t *testing.T, s *hostileServer, opts ...Option) *Redis {
	t.Helper()
	opts = append([]Option{WithAddress(s.addr()), WithRESP(3), WithConnectRetry(0), WithConnectTimeout(5 * time.Second)}, opts...)
	r, err := New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// hostileCtx bounds a call that is expected to end on its own: a test
// never waits without limit.
func hostileCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func hostileGet(t *testing.T, r *Redis, key string) {
	t.Helper()
	v, err := r.Do(hostileCtx(t), "GET", key)
	require.NoError(t, err)
	require.Equal(t, "v:"+key, v)
}

// hostileGetAfterBreak checks that the next call works on a fresh
// connection once the server behaves again. Where the old connection's
// end reaches the client only after its call returned (a caller that gave
// up leaves the connection to be drained), a call or two may still fail
// on it, with a network error and never with a wrong reply.
func hostileGetAfterBreak(t *testing.T, r *Redis, s *hostileServer, tries int, reconnect bool) {
	t.Helper()
	before := s.accepted.Load()
	for i := 1; ; i++ {
		v, err := r.Do(hostileCtx(t), "GET", "good")
		if err == nil {
			require.Equal(t, "v:good", v)
			break
		}
		var ne *netError
		require.True(t, errors.As(err, &ne), "the call after a broken connection: %v", err)
		require.Less(t, i, tries, "still failing: %v", err)
	}
	if reconnect {
		require.Greater(t, s.accepted.Load(), before, "the call after a broken connection did not reconnect")
	}
	hostileGet(t, r, "again")
}

// hostileCrowd runs callers alongside a hostile call: each of their calls
// must get its own reply or an error, never somebody else's reply.
func hostileCrowd(t *testing.T, r *Redis, callers int) (wait func() (ok, failed int)) {
	var wg sync.WaitGroup
	var okN, failedN atomic.Int64
	wrong := make(chan string, callers)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				key := fmt.Sprintf("c%d-%d", i, j)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				v, err := r.Do(ctx, "GET", key)
				cancel()
				switch {
				case err != nil:
					failedN.Add(1)
				case v != "v:"+key:
					wrong <- fmt.Sprintf("GET %s gave %v", key, v)
					return
				default:
					okN.Add(1)
				}
			}
		}()
	}
	return func() (int, int) {
		wg.Wait()
		close(wrong)
		for w := range wrong {
			t.Error(w)
		}
		return int(okN.Load()), int(failedN.Load())
	}
}

// hostileAllocated runs call and returns how many bytes the process
// allocated meanwhile, and how many the fake server sent.
func hostileAllocated(s *hostileServer, call func()) (alloc, sent uint64) {
	sent0 := s.sent.Load()
	before := respTotalAlloc()
	call()
	alloc = respTotalAlloc() - before
	return alloc, uint64(s.sent.Load() - sent0)
}

// The server answers one command with a malformed or incomplete reply.
// The call fails with a clear error, allocates about what it received and
// never what the reply claims, leaves the callers alongside it with their
// own replies or errors, and the next call works on a fresh connection.
func TestHostileReplies(t *testing.T) {
	cases := []struct {
		name  string
		reply string
		close bool // the server closes the connection after the reply
		want  error
	}{
		{"truncated bulk, then close", "$10\r\nabc", true, io.EOF},
		{"truncated array, then close", "*3\r\n:1\r\n$3\r\nab", true, io.EOF},
		{"truncated header, then close", "*3", true, io.EOF},
		{"wrong type byte", "@oops\r\n", false, ErrProtocol},
		{"wrong type byte inside an array", "*2\r\n:1\r\n?x\r\n", false, ErrProtocol},
		{"LF without CR", "+OK\n", false, ErrProtocol},
		{"body not ended by CRLF", "$3\r\nabcdef\r\n", false, ErrProtocol},
		{"non-numeric length", "*abc\r\n", false, ErrProtocol},
		{"negative length", "$-5\r\n", false, ErrProtocol},
		{"huge bulk length", "$9999999999\r\nabc", false, ErrProtocol},
		{"huge array length", "*2147483647\r\n:1\r\n:2\r\n", false, ErrProtocol},
		{"huge map length", "%2147483647\r\n+k\r\n", false, ErrProtocol},
		{"bulk at the limit, then silence", "$536870912\r\nabc", false, os.ErrDeadlineExceeded},
		{"array at the limit, then silence", "*536870912\r\n:1\r\n:2\r\n", false, os.ErrDeadlineExceeded},
		{"streamed string chunk at the limit, then silence", "$?\r\n;536870912\r\nabc", false, os.ErrDeadlineExceeded},
		{"bulk prefix, then silence", "$100\r\nabc", false, os.ErrDeadlineExceeded},
		{"nothing at all", "", false, os.ErrDeadlineExceeded},
		{"nested too deep", strings.Repeat("*1\r\n", maxDepth+10) + ":1\r\n", false, ErrProtocol},
		{"attributes chained too deep", strings.Repeat("|0\r\n", maxDepth+10) + ":1\r\n", false, ErrProtocol},
		{"line too long", "+" + strings.Repeat("a", maxLine+10) + "\r\n", false, ErrProtocol},
		{"line without end", "-ERR " + strings.Repeat("a", maxLine+10), false, ErrProtocol},
		{"'.' outside a streamed aggregate", "*1\r\n.\r\n", false, ErrProtocol},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startHostile(t, func(hc *hostileConn, args []string) bool {
				if len(args) != 2 || args[1] != "bad" {
					return hostileGood(hc, args)
				}
				if !hc.send(c.reply) || c.close {
					return false
				}
				if c.want == os.ErrDeadlineExceeded {
					// Silence: read on, answer nothing, until the client
					// hangs up.
					io.Copy(io.Discard, hc.nc)
					return false
				}
				return true
			})
			r := hostileClient(t, s, WithSocketTimeout(300*time.Millisecond))
			hostileGet(t, r, "warm-up") // connected, command table loaded

			var err error
			alloc, sent := hostileAllocated(s, func() {
				_, err = r.Do(hostileCtx(t), "GET", "bad")
			})
			require.Error(t, err)
			require.ErrorIs(t, err, c.want)
			require.Less(t, alloc, 1<<20+4*sent, "allocated %d bytes for a reply of %d", alloc, sent)
			hostileGetAfterBreak(t, r, s, 3, true)

			// The same with callers alongside, whose replies may now come
			// after the bad one's, or be lost with the connection.
			wait := hostileCrowd(t, r, 4)
			_, err = r.Do(hostileCtx(t), "GET", "bad")
			var ne *netError
			require.True(t, errors.As(err, &ne), "%v", err)
			wait()
			hostileGet(t, r, "last")
		})
	}
}

// A well-framed reply whose content is wrong fails with ErrProtocol, and
// the connection is closed as ErrProtocol promises.
func TestHostileUndecodableReply(t *testing.T) {
	for _, reply := range []string{":12x\r\n", "#maybe\r\n", ",one\r\n", "(1.5\r\n", "=3\r\ntxt\r\n", "*2\r\n:1\r\n:x\r\n", "%?\r\n+k\r\n.\r\n"} {
		s := startHostile(t, func(hc *hostileConn, args []string) bool {
			if len(args) == 2 && args[1] == "bad" {
				return hc.send(reply)
			}
			return hostileGood(hc, args)
		})
		r := hostileClient(t, s, WithSocketTimeout(300*time.Millisecond))
		hostileGet(t, r, "warm-up")
		_, err := r.Do(hostileCtx(t), "GET", "bad")
		require.ErrorIs(t, err, ErrProtocol, "%q", reply)
		hostileGetAfterBreak(t, r, s, 3, true)
	}
}

// A streamed aggregate that never ends, at a bounded rate, is ended by the
// caller's deadline, and the client holds no more than what it received.
func TestHostileEndlessStream(t *testing.T) {
	for _, c := range []struct{ name, head, elem string }{
		{"array", "*?\r\n", ":1\r\n"},
		{"map", "%?\r\n", "+k\r\n:1\r\n"},
		{"nested arrays", "*?\r\n", "*?\r\n"},
		{"string", "$?\r\n", ";4\r\nabcd\r\n"},
		{"counted array", "*536870912\r\n", ":1\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stop := make(chan struct{})
			s := startHostile(t, func(hc *hostileConn, args []string) bool {
				if len(args) != 2 || args[1] != "bad" {
					return hostileGood(hc, args)
				}
				if !hc.send(c.head) {
					return false
				}
				batch := strings.Repeat(c.elem, 64)
				for !hc.stopped() {
					select {
					case <-stop:
						return false
					case <-time.After(time.Millisecond):
					}
					if !hc.send(batch) {
						return false
					}
				}
				return false
			})
			r := hostileClient(t, s, WithSocketTimeout(300*time.Millisecond))
			hostileGet(t, r, "warm-up")

			var err error
			alloc, sent := hostileAllocated(s, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
				defer cancel()
				_, err = r.Do(ctx, "GET", "bad")
			})
			if c.name == "nested arrays" {
				require.ErrorIs(t, err, ErrProtocol) // past maxDepth
			} else {
				require.ErrorIs(t, err, context.DeadlineExceeded)
			}
			require.Less(t, alloc, 1<<20+4*sent, "allocated %d bytes for %d received", alloc, sent)

			close(stop) // the server gives up and closes the connection
			hostileGetAfterBreak(t, r, s, 3, true)
		})
	}
}

// A reply that starts and then stops, with no socket timeout: the caller's
// deadline ends the call, and the connection is replaced once the server
// drops it.
func TestHostileStalledReplyContextDeadline(t *testing.T) {
	s := startHostile(t, func(hc *hostileConn, args []string) bool {
		if len(args) == 2 && args[1] == "bad" {
			return hc.send("$100\r\nabc")
		}
		return hostileGood(hc, args)
	})
	r := hostileClient(t, s)
	hostileGet(t, r, "warm-up")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := r.Do(ctx, "GET", "bad")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	s.closeAll()
	hostileGetAfterBreak(t, r, s, 3, true)
}

// A reply nobody asked for, in the same write as a real one, never passes
// for the reply of the next call.
func TestHostileUnsolicitedReply(t *testing.T) {
	s := startHostile(t, func(hc *hostileConn, args []string) bool {
		if len(args) == 2 && args[1] == "bad" {
			return hc.send(respBulk("v:bad") + "+EXTRA\r\n")
		}
		return hostileGood(hc, args)
	})
	r := hostileClient(t, s, WithSocketTimeout(300*time.Millisecond))
	hostileGet(t, r, "warm-up")
	before := s.accepted.Load()
	hostileGet(t, r, "bad")
	v, err := r.Do(hostileCtx(t), "GET", "next")
	require.NoError(t, err)
	require.Equal(t, "v:next", v, "the unsolicited reply was taken for the next call's")
	require.Greater(t, s.accepted.Load(), before, "the connection that carried the extra reply was closed")
	hostileGet(t, r, "again")
}

// A reply that comes later, while the connection owes nothing, is no reply
// to the next command either: the connection is closed before that command
// is written, and the command goes to a fresh one. Dedicated connections
// taken from the pool, and blocking commands, are checked the same way.
func TestHostileStrayReplyWhileIdle(t *testing.T) {
	s := startHostile(t, func(hc *hostileConn, args []string) bool {
		if len(args) >= 2 && args[1] == "bad" {
			if !hc.send(respBulk("v:bad")) {
				return false
			}
			go func() {
				time.Sleep(20 * time.Millisecond)
				hc.send("+STRAY\r\n")
			}()
			return true
		}
		return hostileGood(hc, args)
	})
	r := hostileClient(t, s)
	ctx := hostileCtx(t)
	for i := 0; i < 3; i++ {
		hostileGet(t, r, "bad")
		time.Sleep(100 * time.Millisecond) // the stray arrives meanwhile
		before := s.accepted.Load()
		hostileGet(t, r, "next")
		require.Greater(t, s.accepted.Load(), before, "the connection that got the stray reply was not replaced")
	}

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	v, err := c.Do(ctx, "GET", "bad")
	require.NoError(t, err)
	require.Equal(t, "v:bad", v)
	require.NoError(t, c.Close())
	time.Sleep(100 * time.Millisecond)
	c, err = r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	v, err = c.Do(ctx, "GET", "next")
	if err == nil {
		require.Equal(t, "v:next", v, "a pooled connection handed the stray reply to its next user")
	} else {
		require.ErrorIs(t, err, ErrProtocol)
	}
}

// RESP3 pushes arriving in the middle of a pipeline are set aside: every
// caller gets its own reply.
func TestHostilePushInPipeline(t *testing.T) {
	var n atomic.Int64
	pushes := []string{
		">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
		">2\r\n+invalidate\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n",
		">?\r\n+message\r\n+ch\r\n$?\r\n;2\r\nhi\r\n;0\r\n.\r\n",
		">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$2\r\nnx\r\n_\r\n",
	}
	s := startHostile(t, func(hc *hostileConn, args []string) bool {
		i := n.Add(1)
		var b strings.Builder
		if i%2 == 0 {
			b.WriteString(pushes[i%int64(len(pushes))])
		}
		if i%3 == 0 {
			b.WriteString(pushes[(i+1)%int64(len(pushes))])
		}
		if i%5 == 0 {
			b.WriteString("|1\r\n+ttl\r\n:5\r\n") // an attribute before the reply
		}
		b.WriteString(respBulk("v:" + args[1]))
		if i%7 == 0 {
			// The push split across writes, the rest after a pause.
			p := pushes[0]
			if !hc.send(b.String() + p[:9]) {
				return false
			}
			time.Sleep(time.Millisecond)
			return hc.send(p[9:])
		}
		return hc.send(b.String())
	})
	r := hostileClient(t, s, WithSocketTimeout(5*time.Second))
	hostileGet(t, r, "warm-up")

	vs, err := r.DoMulti(hostileCtx(t), []any{"GET", "a"}, []any{"GET", "b"}, []any{"GET", "c"}, []any{"GET", "d"}, []any{"GET", "e"})
	require.NoError(t, err)
	require.Equal(t, []any{"v:a", "v:b", "v:c", "v:d", "v:e"}, vs)

	wait := hostileCrowd(t, r, 8)
	for i := 0; i < 20; i++ {
		cmds := make([][]any, 7)
		want := make([]any, 7)
		for j := range cmds {
			key := fmt.Sprintf("m%d-%d", i, j)
			cmds[j], want[j] = []any{"GET", key}, "v:"+key
		}
		vs, err := r.DoMulti(hostileCtx(t), cmds...)
		require.NoError(t, err)
		require.Equal(t, want, vs)
	}
	ok, failed := wait()
	require.Zero(t, failed)
	require.Equal(t, 8*20, ok)
	require.Equal(t, int64(1), s.accepted.Load(), "pushes broke the connection")
}

// Replies written one byte at a time are read whole: the scanner keeps its
// place across reads.
func TestHostileOneByteWrites(t *testing.T) {
	reply := "*4\r\n$?\r\n;3\r\nabc\r\n;0\r\n%2\r\n+k\r\n:1\r\n|1\r\n+a\r\n+b\r\n+l\r\n,1.5\r\n*?\r\n~1\r\n#t\r\n=7\r\ntxt:xyz\r\n.\r\n!3\r\nbad\r\n"
	s := startHostile(t, func(hc *hostileConn, args []string) bool {
		if len(args) != 2 || args[1] != "slow" {
			return hostileGood(hc, args)
		}
		for i := range len(reply) {
			if !hc.send(reply[i : i+1]) {
				return false
			}
			time.Sleep(100 * time.Microsecond)
		}
		return true
	})
	r := hostileClient(t, s, WithSocketTimeout(5*time.Second))
	v, err := r.Do(hostileCtx(t), "GET", "slow")
	require.NoError(t, err)
	want := []any{"abc", map[string]any{"k": int64(1), "l": 1.5}, []any{[]any{true}, "xyz"}, &Error{"bad"}}
	require.True(t, respEqual(want, v), "got %s", respShow(v))
	hostileGet(t, r, "after")
	require.Equal(t, int64(1), s.accepted.Load())
}

// Deeply nested streamed aggregates once took time exponential in their
// depth to decode: a reply of a few kilobytes would hold the client's CPU
// forever. Now the call returns.
func TestHostileNestedStreamedReply(t *testing.T) {
	const depth = 200
	reply := strings.Repeat("*?\r\n:1\r\n", depth) + strings.Repeat(".\r\n", depth)
	s := startHostile(t, func(hc *hostileConn, args []string) bool {
		if len(args) == 2 && args[1] == "deep" {
			return hc.send(reply)
		}
		return hostileGood(hc, args)
	})
	r := hostileClient(t, s, WithSocketTimeout(5*time.Second))
	v, err := r.Do(hostileCtx(t), "GET", "deep")
	require.NoError(t, err)
	for i := 0; i < depth; i++ {
		a, ok := v.([]any)
		require.True(t, ok, "level %d is %T", i, v)
		require.Equal(t, int64(1), a[0])
		if i < depth-1 {
			require.Len(t, a, 2)
			v = a[1]
		}
	}
	hostileGet(t, r, "after")
}
