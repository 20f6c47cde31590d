package socket

import (
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestCloseReadKeepsWhatArrived: what CloseRead rests on. A socket shut for
// reading still gives the bytes that arrived before, then the end of the
// stream at once, though its peer keeps the connection open.
func TestCloseReadKeepsWhatArrived(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "s.sock")
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
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
			c, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			peer, ok := <-accepted
			if !ok {
				t.Fatal("accept failed")
			}
			defer peer.Close() // open until the test ends
			if _, err := peer.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			p := NewPeeker(c)
			for tries := 0; ; tries++ {
				pending, err := p.Peek()
				if err != nil {
					t.Fatal(err)
				}
				if pending {
					break
				}
				if tries == 5000 {
					t.Fatal("the bytes written never arrived")
				}
				time.Sleep(time.Millisecond)
			}
			if !CloseRead(c) {
				t.Fatal("CloseRead did not shut the socket")
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound, not a measure
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read %q, then %v, not the end of the stream", got, err)
			}
			if string(got) != "hello" {
				t.Fatalf("read %q, want what arrived before: %q", got, "hello")
			}
		})
	}
}
