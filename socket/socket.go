// Package socket opens connections to a server: TCP, unix socket, or TLS over
// either, with per-attempt timeouts and retries. It deals in bytes and dialing
// only; it knows nothing of Redis or RESP.
package socket

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"
)

// Config says how to reach one server. The zero value dials TCP with no
// timeouts and no retries.
//
// TCP connections always have TCP_NODELAY on (Go's default): clients send
// small requests and wait for the reply, which is exactly the pattern where
// Nagle's algorithm adds latency and saves nothing. There is deliberately no
// option to turn it off.
type Config struct {
	// ConnectTimeout bounds each attempt: the connect and, with TLS, the
	// handshake. 0 means no limit of its own; the context still applies.
	ConnectTimeout time.Duration

	// KeepAlive is the TCP keep-alive period. 0 means the Go default
	// (currently 15s); negative turns keep-alive off. Periods above
	// MaxKeepAlive are taken as MaxKeepAlive. Ignored for unix sockets.
	KeepAlive time.Duration

	// TLS, when not nil, wraps the connection in TLS. If ServerName is empty,
	// the certificate is verified against the host part of the address (as
	// tls.Dial does), IP addresses included. The config is never modified.
	// For a unix socket there is no host to verify, so ServerName must be set
	// (or verification disabled) or the handshake fails.
	TLS *tls.Config

	// Retries is how many extra attempts to make after a failed connect
	// (connection refused, timeout, unknown host, ...). Only connecting is
	// retried: once the server has accepted the connection it is evidently
	// up, so a failed TLS handshake (bad certificate, wrong name, a server
	// that never answers) is returned at once; another attempt would fail
	// the same way. Negative means 0.
	Retries int

	// Backoff returns how long to wait before the next retry; attempt is 0
	// for the wait after the first failure, 1 after the second, and so on.
	// nil means 10ms * 2^attempt, capped at 1s, with half of it random.
	Backoff func(attempt int) time.Duration
}

// MaxKeepAlive is the longest keep-alive period a socket gets: Linux's limit
// for TCP_KEEPIDLE and TCP_KEEPINTVL. Past it setsockopt fails, Go drops that
// error, and the kernel's default of two hours would apply instead; the limit
// is nearer to what was asked. It applies on every system, so one setting
// means the same everywhere.
const MaxKeepAlive = 32767 * time.Second

// IsUnix reports whether addr names a unix socket path rather than a
// host:port: anything containing a '/' or ending in ".sock". Neither can
// appear in a valid host:port, so the two never collide.
func IsUnix(addr string) bool {
	return strings.Contains(addr, "/") || strings.HasSuffix(addr, ".sock")
}

// Dial opens a connection to addr, which is "host:port", "[ipv6]:port", or a
// unix socket path (see IsUnix). With cfg.TLS set it returns a *tls.Conn
// whose handshake has already completed, so certificate problems surface
// here and not on the first read.
//
// Failed connects are retried per cfg.Retries until ctx ends. Errors name
// addr and wrap the cause, so errors.Is (syscall.ECONNREFUSED,
// context.Canceled, ...) and errors.As (net.Error, x509 errors, ...) work.
func Dial(ctx context.Context, addr string, cfg Config) (net.Conn, error) {
	network := "tcp"
	if IsUnix(addr) {
		network = "unix"
	}
	dialer := &net.Dialer{KeepAlive: min(cfg.KeepAlive, MaxKeepAlive)}
	backoff := cfg.Backoff
	if backoff == nil {
		backoff = defaultBackoff
	}
	attempts := max(cfg.Retries, 0) + 1

	var err error
	for n := 0; n < attempts; n++ {
		if n > 0 {
			if !sleep(ctx, backoff(n-1)) {
				return nil, dialError(ctx, addr, n, err)
			}
		}
		var conn net.Conn
		var retry bool
		conn, retry, err = attempt(ctx, dialer, network, addr, cfg)
		if err == nil {
			return conn, nil
		}
		if !retry {
			return nil, &permanentError{dialError(ctx, addr, n+1, err)}
		}
		if ctx.Err() != nil {
			return nil, dialError(ctx, addr, n+1, err)
		}
	}
	return nil, dialError(ctx, addr, attempts, err)
}

// attempt connects once. retry reports whether the failure is one that may
// go away by itself (the server not listening yet, a dropped SYN, DNS not
// ready), as opposed to a malformed address or a TLS rejection.
func attempt(ctx context.Context, dialer *net.Dialer, network, addr string, cfg Config) (conn net.Conn, retry bool, err error) {
	// One deadline for connect and handshake together: the caller cares how
	// long until the connection is usable, not how that time is split.
	if cfg.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.ConnectTimeout)
		defer cancel()
	}
	conn, err = dialer.DialContext(ctx, network, addr)
	if err != nil {
		var addrErr *net.AddrError
		return nil, !errors.As(err, &addrErr), err
	}
	if cfg.TLS == nil {
		return conn, false, nil
	}
	tlsConn := tls.Client(conn, tlsConfig(cfg.TLS, network, addr))
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("tls handshake: %w", err)
	}
	return tlsConn, false, nil
}

// permanentError marks a failure that another attempt would meet again.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent reports whether err, from Dial, is a failure that another
// attempt would meet again, such as a malformed address or a TLS
// rejection, as opposed to one that may go away by itself. It lets a
// caller that retries whole attempts of its own (connect and more) make
// the same choice as Retries does.
func Permanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// tlsConfig returns c, or a copy naming the dialled host when c names no
// server: without a ServerName, crypto/tls refuses to verify at all.
func tlsConfig(c *tls.Config, network, addr string) *tls.Config {
	if c.ServerName != "" || network != "tcp" {
		return c
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		// Unreachable in practice: the dial already parsed addr.
		return c
	}
	c = c.Clone()
	c.ServerName = host
	return c
}

// dialError puts the address in front of err, because net's own messages
// omit it for some failures (DNS, TLS) and callers juggling several servers
// need to know which one failed. If ctx ended, that is why we gave up, so it
// comes first, but the last real failure is kept: it is what needs fixing.
func dialError(ctx context.Context, addr string, attempts int, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w; last error: %w", ctxErr, err)
	}
	if attempts > 1 {
		return fmt.Errorf("socket: connecting to %s (%d attempts): %w", addr, attempts, err)
	}
	return fmt.Errorf("socket: connecting to %s: %w", addr, err)
}

const (
	backoffBase = 10 * time.Millisecond
	backoffMax  = time.Second
)

// defaultBackoff doubles from backoffBase up to backoffMax. Half the delay is
// random so that many clients cut off by the same server restart do not all
// reconnect in the same instant, while each still waits at least half.
func defaultBackoff(attempt int) time.Duration {
	d := backoffMax
	// Past 6 doublings 10ms exceeds the cap; checking first also keeps the
	// shift from overflowing on large attempt numbers.
	if attempt >= 0 && attempt < 7 {
		d = min(backoffBase<<attempt, backoffMax)
	}
	half := d / 2
	return half + rand.N(half+1)
}

// sleep waits for d and reports true, or reports false as soon as ctx ends.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
