package justredis

import (
	"bufio"
	"context"
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// These tests: a write the peer refuses (EPIPE) leaves the socket to the
// reader, for the replies that came before. Over a unix socket a peer
// refuses writes once it shuts its side for reading, and it may keep the
// connection open meanwhile: the reader must still end, with what was
// already there, instead of waiting for a close that does not come. The
// command whose write was refused did not run, so it fails as never
// written, and at once, not when its context ends.

// refusingPeer returns a conn over a unix socket and the server's end of
// it, which the test drives by hand.
func refusingPeer(t *testing.T) (*conn, *net.UnixConn) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the socket is shut for reading only on Linux (socket.CloseRead)")
	}
	path := filepath.Join(t.TempDir(), "refuse.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	defer ln.Close()
	nc, err := net.Dial("unix", path) // the backlog takes it before Accept
	require.NoError(t, err)
	srv, err := ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	cn := newConn(nc, path, 0)
	t.Cleanup(cn.close)
	return cn, srv.(*net.UnixConn)
}

// readPing reads one PING command off br.
func readPing(br *bufio.Reader) error {
	for i := 0; i < 3; i++ { // *1, $4, PING
		if _, err := br.ReadString('\n'); err != nil {
			return err
		}
	}
	return nil
}

// stopReadingAfterPing has the server read one PING, answer it with reply
// unless that is "", and then shut its side for reading but keep the
// connection. The channel gives the error of that, nil if none.
func stopReadingAfterPing(srv *net.UnixConn, reply string) <-chan error {
	served := make(chan error, 1)
	go func() {
		if err := readPing(bufio.NewReader(srv)); err != nil {
			served <- err
			return
		}
		if reply != "" {
			if _, err := srv.Write([]byte(reply)); err != nil {
				served <- err
				return
			}
		}
		served <- srv.CloseRead()
	}()
	return served
}

// requireRefused checks that err is the refused write's, with written as
// said.
func requireRefused(t *testing.T, ctx context.Context, err error, written bool) {
	t.Helper()
	require.Error(t, err)
	require.NoError(t, ctx.Err(), "the call waited for its context to end: %v", err)
	var ne *netError
	require.True(t, errors.As(err, &ne), "%v is a netError", err)
	require.True(t, errors.Is(err, syscall.EPIPE), "%v is the refused write's", err)
	require.Equal(t, written, ne.written, "%v", err)
}

// TestConnWriteRefusedPeerStillOpen: the caller whose write was refused
// reads itself.
func TestConnWriteRefusedPeerStillOpen(t *testing.T) {
	cn, srv := refusingPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	served := stopReadingAfterPing(srv, "+PONG\r\n")
	v, err := cn.roundTrip(ctx, [][]any{{"PING"}}, StringDecoder, nil)
	require.NoError(t, err)
	require.Equal(t, "PONG", v)
	require.NoError(t, <-served)

	_, err = cn.roundTrip(ctx, [][]any{{"GET", "k"}}, StringDecoder, nil)
	requireRefused(t, ctx, err, false)
}

// TestConnWriteRefusedReaderWaiting: another caller holds the reading
// role, waiting in a read for a reply the server will not send; the
// refused write must wake it.
func TestConnWriteRefusedReaderWaiting(t *testing.T) {
	cn, srv := refusingPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	served := stopReadingAfterPing(srv, "") // no reply
	first := make(chan error, 1)
	go func() {
		_, err := cn.roundTrip(ctx, [][]any{{"PING"}}, StringDecoder, nil)
		first <- err
	}()
	require.NoError(t, <-served)
	// The PING's caller reads now, or is about to: its bytes are out.
	_, err := cn.roundTrip(ctx, [][]any{{"GET", "k"}}, StringDecoder, nil)
	requireRefused(t, ctx, err, false)
	requireRefused(t, ctx, <-first, true)
}
