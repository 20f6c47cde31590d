package socket

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestPeek checks what Peek tells of an idle connection over TCP and a
// unix socket: nothing, then the peer's bytes (left unread), then, once
// they are read and the peer closed, io.EOF.
func TestPeek(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			client, peer := connPair(t, network)
			pk := NewPeeker(client)
			if pending, err := pk.Peek(); pending || err != nil {
				t.Fatalf("idle: Peek = %v, %v; want false, nil", pending, err)
			}
			peer.Write([]byte("+OK\r\n"))
			waitFor(t, func() bool { p, _ := pk.Peek(); return p })
			if pending, err := pk.Peek(); !pending || err != nil {
				t.Fatalf("after a write: Peek = %v, %v; want true, nil", pending, err)
			}
			buf := make([]byte, 5)
			if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "+OK\r\n" {
				t.Fatalf("the peeked bytes were consumed: %q, %v", buf, err)
			}
			peer.Close()
			waitFor(t, func() bool { _, err := pk.Peek(); return err != nil })
			if _, err := pk.Peek(); !errors.Is(err, io.EOF) {
				t.Fatalf("after close: Peek error = %v; want io.EOF", err)
			}
		})
	}
}

// Once made, a Peeker allocates nothing: it runs before most writes.
func TestPeekAllocations(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	pk := NewPeeker(client)
	if n := testing.AllocsPerRun(100, func() { pk.Peek() }); n != 0 {
		t.Fatalf("Peek allocates %v times", n)
	}
}

// connPair returns the two ends of a loopback connection over network
// ("tcp" or "unix"), closed when t ends.
func connPair(t *testing.T, network string) (client, peer net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	peer, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return client, peer
}

// waitFor polls cond for up to 5 s: the kernel delivers a loopback write or
// close at once, but not synchronously with the call that made it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5 s")
}
