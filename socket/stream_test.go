package socket

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readWriter is what a connection's user reads and writes through: the
// net.Conn itself, or a Stream over it.
type readWriter interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
}

// streamCases are the ways a connection's reads and writes end: each
// returns what happened in words, which a Stream must say exactly as the
// net.Conn it wraps does.
var streamCases = []struct {
	name string
	run  func(t *testing.T, network string, client net.Conn, rw readWriter, peer net.Conn) string
}{
	{"bytes", func(t *testing.T, _ string, _ net.Conn, rw readWriter, peer net.Conn) string {
		peer.Write([]byte("+OK\r\n"))
		buf := make([]byte, 64)
		n, err := io.ReadAtLeast(rw, buf, 5)
		if _, err := rw.Write([]byte("PING")); err != nil {
			return describe(0, err)
		}
		got := make([]byte, 4)
		io.ReadFull(peer, got)
		return fmt.Sprintf("read %q %s, peer got %q", buf[:n], describe(n, err), got)
	}},
	{"empty read", func(t *testing.T, _ string, _ net.Conn, rw readWriter, _ net.Conn) string {
		return describe(rw.Read(nil))
	}},
	{"peer closed", func(t *testing.T, _ string, _ net.Conn, rw readWriter, peer net.Conn) string {
		peer.Write([]byte("last"))
		peer.Close()
		all, err := io.ReadAll(rw) // io.ReadAll stops at io.EOF only
		return fmt.Sprintf("%q %s", all, describe(0, err))
	}},
	{"read deadline", func(t *testing.T, _ string, client net.Conn, rw readWriter, _ net.Conn) string {
		client.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		return describe(rw.Read(make([]byte, 8)))
	}},
	{"deadline set while reading", func(t *testing.T, _ string, client net.Conn, rw readWriter, _ net.Conn) string {
		go func() {
			time.Sleep(20 * time.Millisecond)
			client.SetDeadline(time.Unix(1, 0))
		}()
		return describe(rw.Read(make([]byte, 8)))
	}},
	{"closed here", func(t *testing.T, _ string, client net.Conn, rw readWriter, _ net.Conn) string {
		client.Close()
		r := describe(rw.Read(make([]byte, 8)))
		return r + "; " + describe(rw.Write([]byte("x")))
	}},
	{"peer reset", func(t *testing.T, network string, client net.Conn, rw readWriter, peer net.Conn) string {
		if network == "tcp" {
			peer.(*net.TCPConn).SetLinger(0) // close sends RST
		}
		peer.Close()
		// Writes go out until the kernel has heard of the close.
		var err error
		for i := 0; i < 1000 && err == nil; i++ {
			_, err = rw.Write([]byte("x"))
			time.Sleep(time.Millisecond)
		}
		return describe(0, err)
	}},
	{"large write, slow reader", func(t *testing.T, _ string, _ net.Conn, rw readWriter, peer net.Conn) string {
		want := make([]byte, 8<<20)
		for i := range want {
			want[i] = byte(i * 7)
		}
		got := make(chan []byte)
		go func() {
			var b bytes.Buffer
			buf := make([]byte, 4096)
			for b.Len() < len(want) {
				n, err := peer.Read(buf)
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			got <- b.Bytes()
		}()
		n, err := rw.Write(want)
		return fmt.Sprintf("%s, intact %v", describe(n, err), bytes.Equal(<-got, want))
	}},
	{"write deadline, peer not reading", func(t *testing.T, _ string, client net.Conn, rw readWriter, _ net.Conn) string {
		client.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := rw.Write(make([]byte, 64<<20))
		// How much fit in the socket's buffers is the kernel's business:
		// over a unix socket, now and then nothing.
		return fmt.Sprintf("wrote less than all: %v, %s", n < 64<<20, describe(0, err))
	}},
	{"concurrent writes", func(t *testing.T, _ string, _ net.Conn, rw readWriter, peer net.Conn) string {
		const writers, size = 8, 256 << 10
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rw.Write(bytes.Repeat([]byte{byte('a' + w)}, size))
			}()
		}
		all := make([]byte, writers*size)
		_, err := io.ReadFull(peer, all)
		wg.Wait()
		// Each write's bytes arrive in one run: writes do not interleave.
		for i := 0; i < len(all); i += size {
			if !bytes.Equal(all[i:i+size], bytes.Repeat(all[i:i+1], size)) {
				return fmt.Sprintf("write interleaved at %d", i)
			}
		}
		return describe(0, err)
	}},
	{"small writes, peer not reading, deadline", func(t *testing.T, _ string, client net.Conn, rw readWriter, _ net.Conn) string {
		// Writes within rawMax, so that a Stream over TCP makes its own
		// calls, until the socket's buffers are full and one waits.
		client.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		return describe(0, fillUntilError(rw))
	}},
	{"deadline set while a small write waits", func(t *testing.T, _ string, client net.Conn, rw readWriter, _ net.Conn) string {
		go func() {
			time.Sleep(20 * time.Millisecond)
			client.SetWriteDeadline(time.Unix(1, 0))
		}()
		return describe(0, fillUntilError(rw))
	}},
	{"closed while reading", func(t *testing.T, _ string, client net.Conn, rw readWriter, _ net.Conn) string {
		go func() {
			time.Sleep(20 * time.Millisecond)
			client.Close()
		}()
		r := describe(rw.Read(make([]byte, 8)))
		return r + "; again " + describe(rw.Read(make([]byte, 8)))
	}},
	{"closed while a small write waits", func(t *testing.T, _ string, client net.Conn, rw readWriter, _ net.Conn) string {
		go func() {
			time.Sleep(20 * time.Millisecond)
			client.Close()
		}()
		return describe(0, fillUntilError(rw)) + "; again " + describe(rw.Write([]byte("x")))
	}},
	{"closed while writers queue", func(t *testing.T, _ string, client net.Conn, rw readWriter, _ net.Conn) string {
		// One write waits on a full socket, others wait for it: a close
		// ends every one of them.
		const writers = 6
		errs := make(chan string, writers)
		for w := 0; w < writers; w++ {
			go func() {
				size := []int{1, 4 << 10, rawMax, rawMax + 1, 1 << 20, 8 << 20}[w]
				errs <- describe(0, fillUntilErrorSize(rw, size))
			}()
		}
		time.Sleep(50 * time.Millisecond)
		client.Close()
		seen := map[string]int{}
		for w := 0; w < writers; w++ {
			select {
			case e := <-errs:
				seen[e]++
			case <-time.After(10 * time.Second):
				return "a write still waits after the close"
			}
		}
		return fmt.Sprint(seen)
	}},
	{"peer half-closed", func(t *testing.T, network string, _ net.Conn, rw readWriter, peer net.Conn) string {
		peer.Write([]byte("bye"))
		peer.(interface{ CloseWrite() error }).CloseWrite()
		all, err := io.ReadAll(rw)
		r := fmt.Sprintf("%q %s; again %s", all, describe(0, err), describe(rw.Read(make([]byte, 8))))
		// The other direction still works.
		n, err := rw.Write([]byte("still here"))
		got := make([]byte, 10)
		io.ReadFull(peer, got)
		return fmt.Sprintf("%s; write %s, peer got %q", r, describe(n, err), got)
	}},
	{"one-byte reads", func(t *testing.T, _ string, _ net.Conn, rw readWriter, peer net.Conn) string {
		msg := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
		go peer.Write(msg)
		var got []byte
		b := make([]byte, 1)
		for len(got) < len(msg) {
			n, err := rw.Read(b)
			if n != 1 || err != nil {
				return describe(n, err)
			}
			got = append(got, b[0])
		}
		return fmt.Sprintf("%q", got)
	}},
	{"concurrent writes of mixed sizes", func(t *testing.T, _ string, _ net.Conn, rw readWriter, peer net.Conn) string {
		// Writes taking both of a Stream's paths, at once: each arrives
		// whole, in one run of its own byte, never split by another.
		sizes := []int{0, 1, 2, 4 << 10, rawMax - 1, rawMax, rawMax + 1, 1 << 20}
		const rounds = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed []string
		total, want := 0, map[byte]int{}
		id := byte(1)
		for r := 0; r < rounds; r++ {
			for _, size := range sizes {
				if size > 0 {
					want[id] = size
				}
				total += size
				wg.Add(1)
				go func(b byte) {
					defer wg.Done()
					n, err := rw.Write(bytes.Repeat([]byte{b}, size))
					if n != size || err != nil {
						mu.Lock()
						failed = append(failed, describe(n, err))
						mu.Unlock()
					}
				}(id)
				id++
			}
		}
		all := make([]byte, total)
		_, err := io.ReadFull(peer, all)
		wg.Wait()
		if err != nil || failed != nil {
			return fmt.Sprintf("peer %s, writes %v", describe(0, err), failed)
		}
		for i := 0; i < len(all); {
			b := all[i]
			j := i
			for j < len(all) && all[j] == b {
				j++
			}
			if want[b] != j-i {
				return fmt.Sprintf("at %d: a run of %d bytes of write %d, which wrote %d", i, j-i, b, want[b])
			}
			delete(want, b)
			i = j
		}
		return fmt.Sprintf("%d writes whole, %d missing", len(sizes)*rounds, len(want))
	}},
	{"peer reset during large write", func(t *testing.T, network string, _ net.Conn, rw readWriter, peer net.Conn) string {
		if network == "tcp" {
			peer.(*net.TCPConn).SetLinger(0)
		}
		go func() {
			io.ReadFull(peer, make([]byte, 1<<20))
			peer.Close()
		}()
		var err error
		for _, size := range []int{32 << 20, rawMax, 1} {
			if _, err = rw.Write(make([]byte, size)); err != nil {
				break
			}
		}
		for i := 0; i < 1000 && err == nil; i++ {
			_, err = rw.Write([]byte("x"))
			time.Sleep(time.Millisecond)
		}
		return describe(0, err) + "; again " + describe(0, func() error { _, err := rw.Write([]byte("x")); return err }())
	}},
	{"deadline passed, bytes waiting", func(t *testing.T, _ string, client net.Conn, rw readWriter, peer net.Conn) string {
		// An expired deadline fails a read even with bytes to read, and
		// a write: the deadline is checked before the call.
		peer.Write([]byte("+OK\r\n"))
		time.Sleep(20 * time.Millisecond)
		client.SetDeadline(time.Unix(1, 0))
		r := describe(rw.Read(make([]byte, 8))) + "; " + describe(rw.Write([]byte("x")))
		client.SetDeadline(time.Time{})
		buf := make([]byte, 5)
		n, err := io.ReadFull(rw, buf)
		return fmt.Sprintf("%s; cleared: %q %s", r, buf[:n], describe(n, err))
	}},
	{"write after closing for writing here", func(t *testing.T, _ string, client net.Conn, rw readWriter, peer net.Conn) string {
		// EPIPE, which must not kill the process with SIGPIPE.
		client.(interface{ CloseWrite() error }).CloseWrite()
		r := describe(rw.Write([]byte("x")))
		n, err := peer.Read(make([]byte, 8))
		return fmt.Sprintf("%s; peer %s", r, describe(n, err))
	}},
}

// fillUntilError writes 4 KiB at a time until a write fails, as one will
// once the socket's buffers are full and a deadline or close comes.
func fillUntilError(w io.Writer) error { return fillUntilErrorSize(w, 4<<10) }

func fillUntilErrorSize(w io.Writer, size int) error {
	buf := make([]byte, size)
	for i := 0; i < 1<<16; i++ {
		n, err := w.Write(buf)
		if err != nil {
			return err
		}
		if n != len(buf) {
			return fmt.Errorf("short write with no error: %d of %d", n, len(buf))
		}
	}
	return errors.New("64 Ki writes and none waited")
}

// describe says what a read or write returned, without the addresses.
func describe(n int, err error) string {
	var oe *net.OpError
	var errno syscall.Errno
	switch {
	case err == nil:
		return fmt.Sprintf("n=%d ok", n)
	case err == io.EOF:
		return fmt.Sprintf("n=%d io.EOF", n)
	case !errors.As(err, &oe):
		return fmt.Sprintf("n=%d not an OpError: %T %v", n, err, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Sprintf("%s: deadline, timeout %v", oe.Op, oe.Timeout())
	case errors.Is(err, net.ErrClosed):
		return oe.Op + ": closed"
	case errors.As(err, &errno):
		// A reset peer fails a write with either, depending on timing.
		if errno == syscall.EPIPE {
			errno = syscall.ECONNRESET
		}
		return fmt.Sprintf("%s: %T %v", oe.Op, oe.Err, errno)
	}
	return fmt.Sprintf("%s: %T %v", oe.Op, oe.Err, oe.Err)
}

// TestStreamActsAsConn runs each way a connection's reads and writes end
// through a net.Conn and through a Stream over one, over TCP and a unix
// socket, and wants the same outcome: the library judges errors
// (timeouts, EOF, a closed connection) by their shape, so a Stream must
// give the same.
func TestStreamActsAsConn(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		for _, c := range streamCases {
			t.Run(network+"/"+c.name, func(t *testing.T) {
				client, peer := connPair(t, network)
				want := c.run(t, network, client, client, peer)
				client, peer = connPair(t, network)
				got := c.run(t, network, client, NewStream(client), peer)
				if got != want {
					t.Fatalf("through a Stream: %s\nthrough the net.Conn: %s", got, want)
				}
				client, peer = connPair(t, network)
				if got := c.run(t, network, client, soon{NewStream(client)}, peer); got != want {
					t.Fatalf("through a Stream's ReadSoon: %s\nthrough the net.Conn: %s", got, want)
				}
				t.Log(got)
			})
		}
	}
}

// soon reads through ReadSoon, which spins where it can: every way a read
// ends must come out of it as out of Read.
type soon struct{ *Stream }

func (s soon) Read(p []byte) (int, error) { return s.ReadSoon(p) }

// Read and Write allocate nothing: they are on every round trip.
func TestStreamAllocations(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		client, peer := connPair(t, network)
		s := NewStream(client)
		msg, buf := []byte("+OK\r\n"), make([]byte, 64)
		n := testing.AllocsPerRun(100, func() {
			if _, err := s.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(peer, buf[:len(msg)]); err != nil {
				t.Fatal(err)
			}
			peer.Write(msg)
			if _, err := io.ReadFull(s, buf[:len(msg)]); err != nil {
				t.Fatal(err)
			}
			peer.Write(msg)
			if _, err := io.ReadFull(soon{s}, buf[:len(msg)]); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("%s: a write and a read allocate %v times", network, n)
		}
	}
}
