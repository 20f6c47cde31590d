package socket

import (
	"io"
	"testing"
	"time"
)

// TestCloseReadKeepsWhatArrived: what CloseRead rests on. A socket shut for
// reading still gives the bytes that arrived before, then the end of the
// stream at once, though its peer keeps the connection open.
func TestCloseReadKeepsWhatArrived(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			c, peer := connPair(t, network) // peer stays open until the test ends
			if _, err := peer.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			p := NewPeeker(c)
			waitFor(t, func() bool { pending, _ := p.Peek(); return pending })
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
