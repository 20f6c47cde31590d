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

// TestConnWriteRefusedPeerStillOpen: a write the peer refuses (EPIPE)
// leaves the socket to the reader, for the replies that came before. Over
// a unix socket a peer refuses writes once it shuts its side for reading,
// and it may keep the connection open meanwhile: the reader must still end,
// with what was already there, instead of waiting for a close that does
// not come. The command whose write was refused did not run, so it fails
// as never written, and at once, not when its context ends.
func TestConnWriteRefusedPeerStillOpen(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the socket is shut for reading only on Linux (socket.CloseRead)")
	}
	path := filepath.Join(t.TempDir(), "refuse.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	nc, err := net.Dial("unix", path)
	require.NoError(t, err)
	srv, ok := <-accepted
	require.True(t, ok)
	defer srv.Close()
	cn := newConn(nc, path, 0)
	defer cn.close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		// One command, one reply; then the server stops reading but
		// keeps the connection.
		br := bufio.NewReader(srv)
		for i := 0; i < 3; i++ { // *1, $4, PING
			if _, err := br.ReadString('\n'); err != nil {
				served <- err
				return
			}
		}
		if _, err := srv.Write([]byte("+PONG\r\n")); err != nil {
			served <- err
			return
		}
		served <- srv.(*net.UnixConn).CloseRead()
	}()
	v, err := cn.roundTrip(ctx, [][]any{{"PING"}}, StringDecoder, nil)
	require.NoError(t, err)
	require.Equal(t, "PONG", v)
	require.NoError(t, <-served)

	_, err = cn.roundTrip(ctx, [][]any{{"GET", "k"}}, StringDecoder, nil)
	require.Error(t, err)
	require.NoError(t, ctx.Err(), "the call waited for its context to end: %v", err)
	var ne *netError
	require.True(t, errors.As(err, &ne), "%v is a netError", err)
	require.True(t, errors.Is(err, syscall.EPIPE), "%v is the refused write's", err)
	require.False(t, ne.written, "nothing of the refused write went out: %v", err)
}
