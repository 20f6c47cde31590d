package socket

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestCloseTLSPeerNotReading: Close of a TLS connection whose peer stopped
// reading returns without waiting the 5s crypto/tls gives close_notify.
// net.Pipe has no buffer, so the alert's write waits on the peer every
// time. The bound, 3s, only tells a wait from none: a close that waited
// takes 5s, one that did not a tenth of a second.
func TestCloseTLSPeerNotReading(t *testing.T) {
	cert, pool := selfSigned(t)
	cp, sp := net.Pipe()
	defer sp.Close()
	deadline := time.Now().Add(10 * time.Second) // the handshake cannot hang the test
	cp.SetDeadline(deadline)
	sp.SetDeadline(deadline)
	client := tls.Client(cp, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	server := tls.Server(sp, &tls.Config{Certificates: []tls.Certificate{cert}})
	handshook := make(chan error, 1)
	go func() { handshook <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-handshook; err != nil {
		t.Fatal(err)
	}
	cp.SetDeadline(time.Time{})

	closed := make(chan error, 1)
	go func() { closed <- Close(client) }() // the server never reads again
	timer := time.NewTimer(3 * time.Second)
	defer timer.Stop()
	select {
	case <-closed:
	case <-timer.C:
		t.Fatal("Close waits on a peer that does not read")
	}
	if _, err := cp.Write([]byte("x")); err == nil {
		t.Error("the connection beneath is still open")
	}
}

// TestCloseTLSSendsCloseNotify: with a peer that reads, Close still ends
// the stream with close_notify, which the peer reads as a clean end.
func TestCloseTLSSendsCloseNotify(t *testing.T) {
	cert, pool := selfSigned(t)
	cp, sp := net.Pipe()
	defer sp.Close()
	deadline := time.Now().Add(10 * time.Second)
	cp.SetDeadline(deadline)
	sp.SetDeadline(deadline)
	client := tls.Client(cp, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	server := tls.Server(sp, &tls.Config{Certificates: []tls.Certificate{cert}})
	read := make(chan error, 1)
	go func() {
		var buf [16]byte
		_, err := server.Read(buf[:]) // the handshake, then the alert
		read <- err
	}()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := Close(client); err != nil {
		t.Fatal(err)
	}
	if err := <-read; !errors.Is(err, io.EOF) {
		t.Fatalf("the server read %v, want EOF from close_notify", err)
	}
}
