package socket

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// On Linux a TCP or unix stream socket is read and written with raw
// system calls; anything else through its own methods.
func TestStreamRawWhereItCan(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		client, _ := connPair(t, network)
		if NewStream(client).raw == nil {
			t.Errorf("%s: a Stream over a %T does not make its own system calls", network, client)
		}
		if s := NewStream(tls.Client(client, &tls.Config{})); s.raw != nil {
			t.Errorf("%s: a Stream over TLS would bypass TLS", network)
		}
	}
	client, peer := connPair(t, "unixpacket")
	if NewStream(client).raw != nil {
		t.Error("unixpacket: a Stream makes its own system calls")
	}
	// Through the Stream a seqpacket socket still reads as its own Read
	// does (a raw read(2) would too: the type check above is the guard).
	peer.Write([]byte("one message"))
	buf := make([]byte, 3)
	if n, err := NewStream(client).Read(buf); n != 3 || err != nil {
		t.Errorf("unixpacket read: %d, %v", n, err)
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
	for _, network := range []string{"tcp", "unix"} {
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

// fdOf is the descriptor number under a TCP connection.
func fdOf(t *testing.T, c net.Conn) int {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	raw.Control(func(u uintptr) { fd = int(u) })
	return fd
}

// A Stream used after its connection closed fails as net.Conn does and
// touches nothing else, even once a new socket has the old descriptor's
// number: the raw calls go through the RawConn, whose closed check and
// reference keep them off a descriptor that is no longer theirs.
func TestStreamAfterCloseLeavesReusedDescriptorAlone(t *testing.T) {
	client, _ := connPair(t, "tcp")
	s := NewStream(client)
	old := fdOf(t, client)
	client.Close()
	var reused, peer net.Conn
	for i := 0; i < 8 && reused == nil; i++ { // the lowest free number is the one just freed
		c, p := connPair(t, "tcp")
		if fdOf(t, c) == old {
			reused, peer = c, p
		} else if fdOf(t, p) == old {
			reused, peer = p, c
		}
	}
	if reused == nil {
		t.Skip("no new socket got the closed one's descriptor number")
	}
	if got := describe(s.Write([]byte("stray"))); got != "write: closed" {
		t.Errorf("write after close: %s", got)
	}
	peer.Write([]byte("mine"))
	pk := NewPeeker(reused)
	waitFor(t, func() bool { pending, _ := pk.Peek(); return pending }) // the bytes are there to steal
	if got := describe(s.Read(make([]byte, 8))); got != "read: closed" {
		t.Errorf("read after close: %s", got)
	}
	buf := make([]byte, 8)
	if n, err := io.ReadFull(reused, buf[:4]); err != nil || string(buf[:n]) != "mine" {
		t.Errorf("the new socket read %q, %v: the closed Stream took its bytes", buf[:n], err)
	}
	peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := peer.Read(buf); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the new socket's peer got %q, %v: the closed Stream wrote to it", buf[:n], err)
	}
}

// ReadSoon spins only on a unix stream socket read with raw calls: a TCP
// peer may be a network away, and TLS and datagram sockets are read
// through their own methods.
func TestStreamSpinsOnlyOnUnix(t *testing.T) {
	for network, want := range map[string]bool{"unix": true, "tcp": false} {
		client, _ := connPair(t, network)
		if got := NewStream(client).spins(); got != want {
			t.Errorf("%s: spins = %v", network, got)
		}
		if NewStream(tls.Client(client, &tls.Config{})).spins() {
			t.Errorf("%s: a Stream over TLS spins", network)
		}
	}
	client, _ := connPair(t, "unixpacket")
	if NewStream(client).spins() {
		t.Error("unixpacket: a Stream spins")
	}
}

// A spin that runs out of time makes the next reads skip spinning, twice
// as many after each miss in a row up to 64, and a read that finds its
// bytes while spinning starts the count again. Either way every byte
// arrives in order.
func TestStreamSpinBacksOff(t *testing.T) {
	client, peer := connPair(t, "unix")
	s := NewStream(client)
	// The peer writes only once the read has handed its wait to the
	// poller, that is after any spin ran out, however slow the machine.
	waiting := make(chan struct{}, 1)
	read := s.readFD
	s.readFD = func(fd uintptr) bool {
		done := read(fd)
		if !done {
			select {
			case waiting <- struct{}{}:
			default:
			}
		}
		return done
	}
	buf := make([]byte, 8)
	late := func(msg string) { // bytes that come after any spin
		t.Helper()
		select {
		case <-waiting: // left by a spurious wake-up
		default:
		}
		go func() {
			<-waiting
			peer.Write([]byte(msg))
		}()
		if n, err := s.ReadSoon(buf); err != nil || string(buf[:n]) != msg {
			t.Fatalf("late read: %q, %v", buf[:n], err)
		}
	}
	for miss := 1; miss <= 8; miss++ {
		late(fmt.Sprint(miss))
		want := uint16(1) << min(miss, 6)
		if s.misses != uint8(min(miss, 6)) || s.skip != want {
			t.Fatalf("after %d misses: misses %d, skip %d; want skip %d", miss, s.misses, s.skip, want)
		}
		for i := uint16(0); i < want; i++ {
			late("skip") // no spin, so no miss either
		}
		if s.skip != 0 || s.misses != uint8(min(miss, 6)) {
			t.Fatalf("after the skipped reads: misses %d, skip %d", s.misses, s.skip)
		}
	}
	peer.Write([]byte("now"))
	if n, err := s.ReadSoon(buf); err != nil || string(buf[:n]) != "now" {
		t.Fatalf("read: %q, %v", buf[:n], err)
	}
	if s.misses != 0 || s.skip != 0 || s.spinning {
		t.Fatalf("after bytes found while spinning: misses %d, skip %d, spinning %v", s.misses, s.skip, s.spinning)
	}
}

// With a single P nothing spins: the scheduler looks for goroutines whose
// network bytes came only when it has nothing else to run, and a spinning
// goroutine always is something, so a spin would hold up every one of
// them (a server in the same program could not even answer it).
func TestStreamNoSpinWithOneP(t *testing.T) {
	for _, procs := range []int{2, 1} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			client, _ := connPair(t, "unix") // its peer never answers
			s := NewStream(client)
			client.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := s.ReadSoon(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read: %v", err)
			}
			if spun := !s.spinStart.IsZero(); spun != (procs > 1) {
				t.Errorf("GOMAXPROCS=%d: spun %v", procs, spun)
			}
			if want := uint8(min(procs-1, 1)); s.misses != want {
				t.Errorf("GOMAXPROCS=%d: misses %d, want %d", procs, s.misses, want)
			}
		}()
	}
}

// Only a read that got bytes while spinning starts the back-off's count
// again: one that failed at once (a deadline past) or found the end of
// the connection leaves it.
func TestStreamSpinKeepsMissesWithoutBytes(t *testing.T) {
	client, peer := connPair(t, "unix")
	s := NewStream(client)
	buf := make([]byte, 8)
	s.misses = 3
	client.SetReadDeadline(time.Unix(1, 0))
	if _, err := s.ReadSoon(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v", err)
	}
	if s.misses != 3 {
		t.Errorf("a read that timed out at once made misses %d, want 3", s.misses)
	}
	client.SetReadDeadline(time.Time{})
	peer.Close()
	if _, err := s.ReadSoon(buf); err != io.EOF {
		t.Fatalf("read: %v", err)
	}
	if s.misses != 3 {
		t.Errorf("a read that found the end made misses %d, want 3", s.misses)
	}
}

// Close, or a read deadline moved into the past (an interrupt), while a
// read spins: the read ends as it would have waiting in the poller, at
// once or when the spin runs out, and never hangs; after an interrupt the
// Stream reads on as before.
func TestStreamSpinEndsOnCloseAndInterrupt(t *testing.T) {
	wait := func(t *testing.T, errc <-chan error, want error) {
		t.Helper()
		select {
		case err := <-errc:
			if !errors.Is(err, want) {
				t.Fatalf("read: %v, want %v", err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a spinning read did not end")
		}
	}
	for i := range 100 {
		client, _ := connPair(t, "unix")
		s := NewStream(client)
		errc := make(chan error, 1)
		go func() {
			_, err := s.ReadSoon(make([]byte, 8))
			errc <- err
		}()
		time.Sleep(time.Duration(i%40) * time.Microsecond)
		client.Close()
		wait(t, errc, net.ErrClosed)
	}
	client, peer := connPair(t, "unix")
	s := NewStream(client)
	buf := make([]byte, 8)
	for i := range 100 {
		errc := make(chan error, 1)
		go func() {
			_, err := s.ReadSoon(buf)
			errc <- err
		}()
		time.Sleep(time.Duration(i%50) * time.Microsecond)
		client.SetReadDeadline(time.Unix(1, 0))
		wait(t, errc, os.ErrDeadlineExceeded)
		client.SetReadDeadline(time.Time{})
	}
	peer.Write([]byte("ok"))
	if n, err := s.ReadSoon(buf); err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("read after the interrupts: %q, %v", buf[:n], err)
	}
}
