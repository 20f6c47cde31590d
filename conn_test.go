package justredis

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// These tests drive conn over an in-memory pipe, with the test as the
// server, to pin down conn's own promises: replies go to the calls that
// asked, in order, whatever the callers do meanwhile.

// pipePeer is the server end of a pipe: it reads commands and lets the
// test answer them.
type pipePeer struct {
	nc net.Conn
	br *bufio.Reader
}

func newPipeConn(t *testing.T) (*conn, *pipePeer) {
	t.Helper()
	client, server := net.Pipe()
	cn := newConn(client, "pipe", 0)
	t.Cleanup(func() { cn.close(); server.Close() })
	return cn, &pipePeer{nc: server, br: bufio.NewReader(server)}
}

// command reads one command and returns its arguments.
func (p *pipePeer) command(t *testing.T) []string {
	t.Helper()
	args, err := hostileReadCommand(p.br)
	require.NoError(t, err)
	return args
}

func (p *pipePeer) send(t *testing.T, s string) {
	t.Helper()
	_, err := p.nc.Write(wireBytes(s))
	require.NoError(t, err)
}

// wireBytes is s's own bytes, for a fake server to write without copying
// them: tests count the bytes the whole process allocates while the client
// reads, and a server's copy of a large reply would be charged to the
// client. net.Conn's Write does not modify what it is given.
func wireBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// goGet sends GET key on cn from a goroutine of its own, which gives the
// reply, or the error, on the channel returned.
func goGet(t *testing.T, cn *conn, ctx context.Context, key string, d Decoder) <-chan any {
	got := make(chan any, 1)
	go func() {
		v, err := cn.roundTrip(ctx, [][]any{{"GET", key}}, d, nil)
		if err != nil {
			v = err
		}
		got <- v
	}()
	return got
}

func pipeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestConnPipelinedOrder: many callers at once each get the reply to their
// own command, though the server answers them all in one write.
func TestConnPipelinedOrder(t *testing.T) {
	cn, peer := newPipeConn(t)
	ctx := pipeCtx(t)
	const callers = 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := cn.roundTrip(ctx, [][]any{{"ECHO", i}}, StringDecoder, nil)
			if err == nil && v != fmt.Sprint(i) {
				err = fmt.Errorf("caller %d got %v", i, v)
			}
			errs <- err
		}()
	}
	var replies string
	for range callers {
		args := peer.command(t)
		replies += fmt.Sprintf("$%d\r\n%s\r\n", len(args[1]), args[1])
	}
	peer.send(t, replies)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestConnCancelKeepsStep: a caller that gives up while its reply is owed
// leaves at once, and its reply, when it comes, is dropped rather than
// handed to the next caller.
func TestConnCancelKeepsStep(t *testing.T) {
	cn, peer := newPipeConn(t)
	ctx, cancel := context.WithCancel(pipeCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := cn.roundTrip(ctx, [][]any{{"GET", "slow"}}, StringDecoder, nil)
		done <- err
	}()
	require.Equal(t, []string{"GET", "slow"}, peer.command(t))
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	next := make(chan any, 1)
	go func() {
		v, err := cn.roundTrip(pipeCtx(t), [][]any{{"GET", "fast"}}, StringDecoder, nil)
		if err != nil {
			v = err
		}
		next <- v
	}()
	require.Equal(t, []string{"GET", "fast"}, peer.command(t))
	peer.send(t, "$4\r\nslow\r\n$4\r\nfast\r\n")
	require.Equal(t, "fast", <-next, "the abandoned reply is dropped, not shifted onto the next call")
}

// TestConnBrokenPeerFailsEveryCall: when the peer goes away with replies
// owed, every waiting call fails with a network error naming the address,
// marked as possibly run since it was written, and the conn is dead.
func TestConnBrokenPeerFailsEveryCall(t *testing.T) {
	cn, peer := newPipeConn(t)
	ctx := pipeCtx(t)
	const callers = 5
	errs := make(chan error, callers)
	for i := range callers {
		go func() {
			_, err := cn.roundTrip(ctx, [][]any{{"INCR", i}}, StringDecoder, nil)
			errs <- err
		}()
	}
	for range callers {
		peer.command(t)
	}
	peer.nc.Close()
	for range callers {
		err := <-errs
		var ne *netError
		require.True(t, errors.As(err, &ne), "%v is a netError", err)
		require.Equal(t, "pipe", ne.addr)
		require.True(t, ne.written)
		require.False(t, mayRetryAll(err, false), "a written command is not sent again")
	}
	require.True(t, cn.dead.Load())
	_, err := cn.roundTrip(ctx, [][]any{{"PING"}}, StringDecoder, nil)
	var ne *netError
	require.True(t, errors.As(err, &ne))
	require.True(t, mayRetryAll(err, false), "a command on a dead conn was never written")
}

// TestConnDropsPushes: a RESP3 push between replies is not taken for a
// reply on a connection that is not in push mode.
func TestConnDropsPushes(t *testing.T) {
	cn, peer := newPipeConn(t)
	got := goGet(t, cn, pipeCtx(t), "k", StringDecoder)
	peer.command(t)
	peer.send(t, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n$1\r\nv\r\n")
	require.Equal(t, "v", <-got)
}

// TestConnParkDeadlineIsNoLimit: the deadline a connection without a
// socket timeout keeps armed, so that a timer is pending while it parks, is
// not a limit: a reply slower than it, arriving in pieces, still comes.
func TestConnParkDeadlineIsNoLimit(t *testing.T) {
	cn, peer := newPipeConn(t)
	cn.park = 10 * time.Millisecond
	got := goGet(t, cn, pipeCtx(t), "k", StringDecoder)
	peer.command(t)
	time.Sleep(5 * cn.park)
	peer.send(t, "$5\r\nva")
	time.Sleep(5 * cn.park)
	peer.send(t, "lue\r\n")
	require.Equal(t, "value", <-got)
}

// A caller reading its reply straight into its own memory (BytesInto) that
// gives up halfway leaves with the memory its own again: the rest of the
// reply is read elsewhere, while the caller overwrites its memory, and the
// next call gets its own reply.
func TestConnBytesIntoCallerLeavesMidReply(t *testing.T) {
	cn, peer := newPipeConn(t)
	const size = 1 << 20
	buf := make([]byte, 0, size+64)
	ctx, cancel := context.WithCancel(pipeCtx(t))
	errc := make(chan error, 1)
	go func() {
		_, err := cn.roundTrip(ctx, [][]any{{"GET", "big"}}, BytesInto(&buf), nil)
		errc <- err
	}()
	peer.command(t)
	body := bytes.Repeat([]byte("b"), size)
	peer.send(t, fmt.Sprintf("$%d\r\n", size)+string(body[:200<<10]))
	cancel()
	err := <-errc
	require.ErrorIs(t, err, context.Canceled)
	for i := range buf[:cap(buf)] {
		buf[:cap(buf)][i] = 'X'
	}
	rest := make(chan struct{})
	go func() {
		peer.send(t, string(body[200<<10:])+"\r\n")
		close(rest)
	}()
	got := goGet(t, cn, pipeCtx(t), "k", StringDecoder)
	peer.command(t)
	<-rest
	peer.send(t, "$5\r\nvalue\r\n")
	v := <-got
	if err, ok := v.(error); ok {
		t.Fatal(err)
	}
	require.Equal(t, "value", v)
}

type blockingDecoder struct{ started, release chan struct{} }

func (d blockingDecoder) Decode(r *Reader) (any, error) {
	close(d.started)
	<-d.release
	return decodeValue(r, false)
}

// A caller whose context ends while another goroutine decodes its reply
// waits for the decoding, which may write into memory of the caller's
// (BytesInto), before it leaves.
func TestConnCallerWaitsForItsDecode(t *testing.T) {
	cn, peer := newPipeConn(t)
	a := make(chan any, 1)
	go func() {
		v, _ := cn.roundTrip(pipeCtx(t), [][]any{{"GET", "a"}}, StringDecoder, nil)
		a <- v
	}()
	peer.command(t)
	d := blockingDecoder{make(chan struct{}), make(chan struct{})}
	ctx, cancel := context.WithCancel(pipeCtx(t))
	b := goGet(t, cn, ctx, "b", d)
	peer.command(t)
	peer.send(t, "$1\r\na\r\n$1\r\nb\r\n")
	require.Equal(t, "a", <-a)
	<-d.started
	cancel()
	select {
	case v := <-b:
		t.Fatalf("the caller left while its reply was being decoded: %v", v)
	case <-time.After(50 * time.Millisecond):
	}
	close(d.release)
	require.Equal(t, "b", <-b)
}

// TestConnSpinsOnlyWhenAlone: a caller alone on a connection may spin for
// its reply (socket.Stream.ReadSoon); once other calls came while a
// caller waited for its own, the connection counts as crowded and nobody
// spins, until a caller's round trip passes with nobody else.
func TestConnSpinsOnlyWhenAlone(t *testing.T) {
	cn, peer := newPipeConn(t)
	ctx := pipeCtx(t)
	crowded := func() bool {
		cn.mu.Lock()
		defer cn.mu.Unlock()
		return cn.crowded
	}
	first := goGet(t, cn, ctx, "a", StringDecoder)
	peer.command(t)
	// A second caller queues behind the first, whose reply is owed.
	second := goGet(t, cn, ctx, "b", StringDecoder)
	peer.command(t)
	peer.send(t, "$1\r\nA\r\n$1\r\nB\r\n")
	require.Equal(t, "A", <-first)
	require.Equal(t, "B", <-second)
	require.True(t, crowded(), "another call came while the first waited")

	alone := goGet(t, cn, ctx, "c", StringDecoder)
	peer.command(t)
	peer.send(t, "$1\r\nC\r\n")
	require.Equal(t, "C", <-alone)
	require.False(t, crowded(), "a round trip passed with nobody else")
}
