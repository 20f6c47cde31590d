package socket

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// serve accepts on ln until the test ends, running handle for each
// connection, and counts the connections accepted.
func serve(t *testing.T, ln net.Listener, handle func(net.Conn)) *atomic.Int32 {
	t.Helper()
	var accepted atomic.Int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				// Bounds a handler stuck on a client that went away.
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return &accepted
}

func greet(c net.Conn) { io.WriteString(c, "hello") }

func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen %s %s: %v", network, addr, err)
	}
	return ln
}

// closedAddr returns a loopback address nothing listens on, so dialling it
// is refused at once.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln := listen(t, "tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// expectGreeting reads the server's greeting from conn and closes it.
func expectGreeting(t *testing.T, conn net.Conn) {
	t.Helper()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatalf("read greeting: %v", err)
	}
	if string(buf) != "hello" {
		t.Fatalf("greeting = %q, want %q", buf, "hello")
	}
}

// countingBackoff returns a Backoff that records how often it was called.
func countingBackoff(d time.Duration) (func(int) time.Duration, *atomic.Int32) {
	var calls atomic.Int32
	return func(int) time.Duration {
		calls.Add(1)
		return d
	}, &calls
}

func mustContain(t *testing.T, err error, addr string) {
	t.Helper()
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the address %q", err, addr)
	}
}

func TestIsUnix(t *testing.T) {
	for addr, want := range map[string]bool{
		"/tmp/redis.sock":     true,
		"./redis":             true,
		"run/redis":           true,
		"redis.sock":          true,
		"localhost:6379":      false,
		"127.0.0.1:6379":      false,
		"[::1]:6379":          false,
		"redis.example:6379":  false,
		"sock.example.com:80": false,
		"":                    false,
	} {
		if got := IsUnix(addr); got != want {
			t.Errorf("IsUnix(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestDialTCP(t *testing.T) {
	ln := listen(t, "tcp", "127.0.0.1:0")
	serve(t, ln, greet)
	for _, keepAlive := range []time.Duration{0, 30 * time.Second, -1} {
		conn, err := Dial(context.Background(), ln.Addr().String(), Config{KeepAlive: keepAlive})
		if err != nil {
			t.Fatalf("KeepAlive %v: %v", keepAlive, err)
		}
		if _, ok := conn.(*net.TCPConn); !ok {
			t.Errorf("KeepAlive %v: got %T, want *net.TCPConn", keepAlive, conn)
		}
		expectGreeting(t, conn)
	}
}

func TestDialUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "redis.sock")
	ln := listen(t, "unix", path)
	serve(t, ln, greet)
	conn, err := Dial(context.Background(), path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := conn.(*net.UnixConn); !ok {
		t.Errorf("got %T, want *net.UnixConn", conn)
	}
	expectGreeting(t, conn)
}

func TestDialUnixMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.sock")
	_, err := Dial(context.Background(), path, Config{})
	if err == nil {
		t.Fatal("dial of a missing socket succeeded")
	}
	if !errors.Is(err, syscall.ENOENT) {
		t.Errorf("error %q is not ENOENT", err)
	}
	mustContain(t, err, path)
}

func TestDialRefused(t *testing.T) {
	addr := closedAddr(t)
	backoff, calls := countingBackoff(0)
	_, err := Dial(context.Background(), addr, Config{Backoff: backoff})
	if err == nil {
		t.Fatal("dial of a closed port succeeded")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %q is not ECONNREFUSED", err)
	}
	var netErr net.Error
	if !errors.As(err, &netErr) {
		t.Errorf("error %q is not a net.Error", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("Retries 0 backed off %d times", n)
	}
	mustContain(t, err, addr)
}

func TestDialRetriesUntilListening(t *testing.T) {
	addr := closedAddr(t)
	lnc := make(chan net.Listener, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("relisten on %s: %v", addr, err)
		}
		lnc <- ln
	}()
	conn, err := Dial(context.Background(), addr, Config{Retries: 5})
	ln := <-lnc
	if ln == nil {
		t.FailNow()
	}
	serve(t, ln, greet)
	if err != nil {
		t.Fatal(err)
	}
	expectGreeting(t, conn)
}

func TestDialRetriesAreBounded(t *testing.T) {
	addr := closedAddr(t)
	var attempts []int
	backoff := func(attempt int) time.Duration {
		attempts = append(attempts, attempt)
		return 0
	}
	_, err := Dial(context.Background(), addr, Config{Retries: 2, Backoff: backoff})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("error %v is not ECONNREFUSED", err)
	}
	if len(attempts) != 2 || attempts[0] != 0 || attempts[1] != 1 {
		t.Errorf("Backoff called with %v, want [0 1]", attempts)
	}
	mustContain(t, err, addr)
	mustContain(t, err, "3 attempts")
}

func TestDialBadAddressNotRetried(t *testing.T) {
	backoff, calls := countingBackoff(0)
	_, err := Dial(context.Background(), "127.0.0.1", Config{Retries: 3, Backoff: backoff})
	var addrErr *net.AddrError
	if !errors.As(err, &addrErr) {
		t.Fatalf("error %v is not a *net.AddrError", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("malformed address retried %d times", n)
	}
}

func TestDialCancelStopsRetries(t *testing.T) {
	addr := closedAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls int
	backoff := func(int) time.Duration {
		calls++
		if calls == 3 {
			cancel()
		}
		return 0
	}
	_, err := Dial(ctx, addr, Config{Retries: 1000, Backoff: backoff})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %q is not context.Canceled", err)
	}
	// The last real failure must survive the cancellation.
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %q lost ECONNREFUSED", err)
	}
	if calls != 3 {
		t.Errorf("backed off %d times after cancel at the 3rd, want 3", calls)
	}
	mustContain(t, err, addr)
}

func TestDialCancelInterruptsBackoff(t *testing.T) {
	addr := closedAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	backingOff := make(chan struct{})
	var once sync.Once
	backoff := func(int) time.Duration {
		once.Do(func() { close(backingOff) })
		return time.Hour
	}
	go func() {
		<-backingOff
		cancel()
	}()
	// Would block for an hour if the wait ignored ctx.
	_, err := Dial(ctx, addr, Config{Retries: 1, Backoff: backoff})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %q is not context.Canceled", err)
	}
}

func TestDialContextAlreadyDone(t *testing.T) {
	ln := listen(t, "tcp", "127.0.0.1:0")
	accepted := serve(t, ln, greet)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	backoff, calls := countingBackoff(0)
	_, err := Dial(ctx, ln.Addr().String(), Config{Retries: 3, Backoff: backoff})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %q is not context.Canceled", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("retried %d times with a cancelled context", n)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("server accepted %d connections from a cancelled dial", n)
	}
}

// selfSigned returns a server certificate for localhost, 127.0.0.1 and ::1
// that is its own CA, and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "socket test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// tlsServe serves TLS on ln with cert, greeting clients whose handshake
// succeeds.
func tlsServe(t *testing.T, ln net.Listener, cert tls.Certificate) *atomic.Int32 {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	return serve(t, ln, func(c net.Conn) {
		sc := tls.Server(c, cfg)
		if sc.Handshake() == nil {
			greet(sc)
		}
	})
}

func TestDialTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	ln := listen(t, "tcp", "127.0.0.1:0")
	tlsServe(t, ln, cert)
	cfg := &tls.Config{RootCAs: pool}
	conn, err := Dial(context.Background(), ln.Addr().String(), Config{TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	tc, ok := conn.(*tls.Conn)
	if !ok {
		t.Fatalf("got %T, want *tls.Conn", conn)
	}
	if !tc.ConnectionState().HandshakeComplete {
		t.Error("Dial returned before the handshake completed")
	}
	if cfg.ServerName != "" {
		t.Errorf("Dial modified the caller's tls.Config: ServerName = %q", cfg.ServerName)
	}
	expectGreeting(t, conn)
}

func TestDialTLSIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	cert, pool := selfSigned(t)
	tlsServe(t, ln, cert)
	conn, err := Dial(context.Background(), ln.Addr().String(), Config{TLS: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	expectGreeting(t, conn)
}

func TestDialTLSUnix(t *testing.T) {
	cert, pool := selfSigned(t)
	path := filepath.Join(t.TempDir(), "tls.sock")
	tlsServe(t, listen(t, "unix", path), cert)

	// No host in a path, so without a ServerName there is nothing to verify.
	if _, err := Dial(context.Background(), path, Config{TLS: &tls.Config{RootCAs: pool}}); err == nil {
		t.Error("TLS over unix without ServerName succeeded")
	}

	conn, err := Dial(context.Background(), path, Config{TLS: &tls.Config{RootCAs: pool, ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	expectGreeting(t, conn)
}

func TestDialTLSRejected(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, tc := range []struct {
		name  string
		cfg   *tls.Config
		check func(error) bool
	}{
		{
			name: "unknown CA",
			cfg:  &tls.Config{},
			check: func(err error) bool {
				var e x509.UnknownAuthorityError
				return errors.As(err, &e)
			},
		},
		{
			name: "wrong server name",
			cfg:  &tls.Config{RootCAs: pool, ServerName: "wrong.example"},
			check: func(err error) bool {
				var e x509.HostnameError
				return errors.As(err, &e)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listen(t, "tcp", "127.0.0.1:0")
			accepted := tlsServe(t, ln, cert)
			addr := ln.Addr().String()
			backoff, calls := countingBackoff(0)
			_, err := Dial(context.Background(), addr, Config{TLS: tc.cfg, Retries: 3, Backoff: backoff})
			if err == nil {
				t.Fatal("handshake succeeded")
			}
			if !tc.check(err) {
				t.Errorf("unexpected error: %v", err)
			}
			// Every handshake attempt needs an accepted connection, so this
			// counts attempts as well as the backoff does.
			if n, b := accepted.Load(), calls.Load(); n != 1 || b != 0 {
				t.Errorf("bad certificate retried: %d connections, %d backoffs", n, b)
			}
			mustContain(t, err, addr)
		})
	}
}

// stallingListener accepts connections and never answers, so a TLS
// handshake against it hangs until something gives up.
func stallingListener(t *testing.T) string {
	t.Helper()
	ln := listen(t, "tcp", "127.0.0.1:0")
	done := make(chan struct{})
	serve(t, ln, func(net.Conn) { <-done })
	// Cleanups run last-registered first: release the handlers before
	// serve's cleanup waits for them.
	t.Cleanup(func() { close(done) })
	return ln.Addr().String()
}

func TestTLSHandshakeTimeout(t *testing.T) {
	addr := stallingListener(t)
	cfg := &tls.Config{ServerName: "localhost"}

	t.Run("ConnectTimeout", func(t *testing.T) {
		_, err := Dial(context.Background(), addr, Config{TLS: cfg, ConnectTimeout: 50 * time.Millisecond})
		var netErr net.Error
		if !errors.As(err, &netErr) || !netErr.Timeout() {
			t.Errorf("error %v is not a timeout", err)
		}
		mustContain(t, err, addr)
	})

	t.Run("context deadline", func(t *testing.T) {
		// A generous ConnectTimeout must not override the shorter deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := Dial(ctx, addr, Config{TLS: cfg, ConnectTimeout: time.Hour})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v is not context.DeadlineExceeded", err)
		}
	})
}
