package socket

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"testing"
)

// On Linux a TCP socket is read and written with raw system calls;
// anything else (TLS, unix sockets of every kind) through its own
// methods. Stream's doc says why unix sockets are not.
func TestStreamRawWhereItCan(t *testing.T) {
	client, _ := connPair(t, "tcp")
	if NewStream(client).raw == nil {
		t.Errorf("a Stream over a %T does not make its own system calls", client)
	}
	if s := NewStream(tls.Client(client, &tls.Config{})); s.raw != nil {
		t.Error("a Stream over TLS would bypass TLS")
	}
	for _, network := range []string{"unix", "unixpacket"} {
		client, _ := connPair(t, network)
		if NewStream(client).raw != nil {
			t.Errorf("%s: a Stream makes its own system calls", network)
		}
	}
	gram, err := net.ListenPacket("unixgram", filepath.Join(t.TempDir(), "g.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer gram.Close()
	if NewStream(gram.(net.Conn)).raw != nil {
		t.Error("unixgram: a Stream makes its own system calls")
	}
}

// A raw system call is not preemptible: every one a Stream makes stays
// within rawMax bytes, however large the buffer it is given, and what is
// larger still arrives intact.
func TestStreamRawCallsAreSmall(t *testing.T) {
	for _, network := range []string{"tcp"} {
		t.Run(network, func(t *testing.T) {
			client, peer := connPair(t, network)
			s := NewStream(client)
			largest := 0
			read, write := s.readFD, s.writeFD
			s.readFD = func(fd uintptr) bool { largest = max(largest, len(s.rbuf)); return read(fd) }
			s.writeFD = func(fd uintptr) bool { largest = max(largest, len(s.wbuf)); return write(fd) }

			want := make([]byte, 4<<20)
			for i := range want {
				want[i] = byte(i * 13)
			}
			go func() { peer.Write(want) }()
			got := make([]byte, len(want))
			if _, err := io.ReadFull(s, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("4 MiB read through a Stream: intact %v, %v", bytes.Equal(got, want), err)
			}
			for _, size := range []int{1, rawMax, rawMax + 1, 4 << 20} {
				go func() { s.Write(want[:size]) }()
				if _, err := io.ReadFull(peer, got[:size]); err != nil || !bytes.Equal(got[:size], want[:size]) {
					t.Fatalf("%d B written through a Stream: intact %v, %v", size, bytes.Equal(got[:size], want[:size]), err)
				}
			}
			if largest == 0 || largest > rawMax {
				t.Errorf("largest raw call: %d B, want 1 to %d", largest, rawMax)
			}
		})
	}
}

// What one goroutine does before writing to a socket happens before what
// another does after reading those bytes, as with net.Conn. Under -race
// the detector must see that order: raw system calls would hide it, and it
// would report a race here.
func TestStreamOrdersForTheRaceDetector(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		client, peer := connPair(t, network)
		s, p := NewStream(client), NewStream(peer)
		shared := 0
		done := make(chan bool)
		go func() {
			buf := make([]byte, 1)
			io.ReadFull(p, buf)
			shared++ // after the write below, by the socket's order
			done <- true
		}()
		shared++
		s.Write([]byte("x"))
		<-done
		if shared != 2 {
			t.Errorf("%s: shared = %d", network, shared)
		}
	}
}
