package socket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"
)

// blackhole returns a loopback address where TCP connects hang: a socket
// listening with a backlog of 0 that never accepts. Once its one queue slot
// is taken, Linux drops further SYNs and the client keeps waiting.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)

	// Fill the queue until a connect hangs; that proves the address is a
	// black hole rather than assuming how the kernel sizes the queue.
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				return addr
			}
			t.Fatalf("filling backlog: %v", err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("kernel kept accepting connections; cannot make a connect hang")
	return ""
}

func TestConnectTimeoutIsRetried(t *testing.T) {
	addr := blackhole(t)
	backoff, calls := countingBackoff(0)
	_, err := Dial(context.Background(), addr, Config{
		ConnectTimeout: 20 * time.Millisecond,
		Retries:        2,
		Backoff:        backoff,
	})
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("error %v is not a timeout", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("backed off %d times, want 2", n)
	}
	mustContain(t, err, addr)
}

func TestConnectHonoursContextDeadline(t *testing.T) {
	addr := blackhole(t)
	for _, connectTimeout := range []time.Duration{0, time.Hour} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		// Without the deadline this would wait out the kernel's SYN retries
		// (minutes) a thousand times over.
		_, err := Dial(ctx, addr, Config{ConnectTimeout: connectTimeout, Retries: 1000})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ConnectTimeout %v: error %v is not context.DeadlineExceeded", connectTimeout, err)
		}
		mustContain(t, err, addr)
	}
}

// keepIdle reads the keep-alive idle time, in seconds, the kernel has for c.
func keepIdle(t *testing.T, c net.Conn) int {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var idle int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		idle, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return idle
}

// A period past Linux's limit for TCP_KEEPIDLE makes setsockopt fail, and Go
// drops that error: the kernel's default (two hours) would apply instead of
// something near what was asked. It is taken as the limit.
func TestKeepAlivePastLinuxLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		period time.Duration
		want   int
	}{
		{90 * time.Second, 90},
		{32767 * time.Second, 32767},
		{32768 * time.Second, 32767},
		{1000 * time.Hour, 32767},
		{time.Duration(1<<63 - 1), 32767},
	} {
		c, err := Dial(context.Background(), ln.Addr().String(), Config{KeepAlive: tc.period})
		if err != nil {
			t.Fatal(err)
		}
		if got := keepIdle(t, c); got != tc.want {
			t.Errorf("KeepAlive %v: kernel keep-alive idle %d s, want %d s", tc.period, got, tc.want)
		}
		c.Close()
	}
}
