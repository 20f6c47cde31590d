package redistest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running redis-server owned by one test (or program). Its
// address, config and files stay fixed for its whole life, across Kill and
// Restart, so clients can reconnect to the same place.
type Server struct {
	opts    Options
	l       layout
	backend string
	run     runner
	ports   []int

	mu     sync.Mutex // serializes Kill, Pause, Resume, Restart and Close
	state  serverState
	closed bool
	err    error // Close's result, returned again by later calls

	idOnce sync.Once // cluster node ID, fetched once: nodes.conf keeps it across restarts
	id     string
	idErr  error
}

type serverState int

const (
	running serverState = iota
	paused
	killed
)

// Start starts a redis-server for the test and stops it, removing all its
// files, when the test and its subtests finish. It fails the test if no
// server can be started; the message says how to install redis-server.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := StartServer(opts)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { s.cleanup(t) })
	return s
}

// StartServer is Start for code that has no testing.TB, such as examples
// and tours. The caller must call Close.
func StartServer(opts Options) (*Server, error) {
	return startNode(nodeConfig{opts: opts})
}

// cleanup closes the server at the end of a test; when the test failed, the
// server's log often explains why, so it is shown.
func (s *Server) cleanup(t testing.TB) {
	if t.Failed() {
		t.Logf("redis-server %s log tail:\n%s", s.Addr(), s.logTail(15))
	}
	if err := s.Close(); err != nil {
		t.Errorf("redistest: stopping %s: %v", s.Addr(), err)
	}
}

// Addr is the plain TCP address, "127.0.0.1:port".
func (s *Server) Addr() string { return hostPort(s.l.port) }

// TLSAddr is the TLS address, or "" when the server was started without TLS.
func (s *Server) TLSAddr() string {
	if s.l.tlsPort == 0 {
		return ""
	}
	return hostPort(s.l.tlsPort)
}

// UnixPath is the unix socket's path, or "" without Options.UnixSocket.
func (s *Server) UnixPath() string {
	if !s.opts.UnixSocket {
		return ""
	}
	return s.l.path("redis.sock")
}

// URL is a redis:// URL for the plain TCP address, including the default
// user's password when there is one.
func (s *Server) URL() string { return redisURL(s.opts.Password, s.Addr()) }

// redisURL builds the URL by hand because net/url has no notion of the
// comma-separated host list cluster URLs use.
func redisURL(password string, hosts ...string) string {
	user := ""
	if password != "" {
		user = url.UserPassword("", password).String() + "@"
	}
	return "redis://" + user + strings.Join(hosts, ",")
}

// TLSConfig returns a fresh client configuration that trusts the server's
// CA, and presents the client certificate when Options.TLSClientAuth is
// set. It is nil without TLS. The certificates name 127.0.0.1 and localhost,
// so no ServerName override is needed.
func (s *Server) TLSConfig() *tls.Config {
	c := s.l.certs
	if c == nil {
		return nil
	}
	cfg := &tls.Config{RootCAs: c.roots, MinVersion: tls.VersionTLS12}
	if s.opts.TLSClientAuth {
		cfg.Certificates = []tls.Certificate{c.client}
	}
	return cfg
}

// CACertFile is the PEM file of the CA that issued the server's certificate,
// for clients configured by file name; "" without TLS.
func (s *Server) CACertFile() string { return s.certPath(func(c *certFiles) string { return c.ca }) }

// ClientCertFile is a PEM client certificate the server accepts; "" without TLS.
func (s *Server) ClientCertFile() string {
	return s.certPath(func(c *certFiles) string { return c.clientCert })
}

// ClientKeyFile is the PEM private key of ClientCertFile; "" without TLS.
func (s *Server) ClientKeyFile() string {
	return s.certPath(func(c *certFiles) string { return c.clientKey })
}

func (s *Server) certPath(pick func(*certFiles) string) string {
	if s.l.certs == nil {
		return ""
	}
	return pick(s.l.certs)
}

// Backend reports where the server runs, "docker" or "process", so tests
// can skip what one backend cannot do.
func (s *Server) Backend() string { return s.backend }

// Kill stops the server abruptly (SIGKILL), as a crash would, without
// removing its files, so Restart can bring it back.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	if err := s.run.kill(); err != nil {
		return err
	}
	s.state = killed
	return nil
}

// Pause freezes the server (SIGSTOP, or docker pause): connections stay
// open but nothing is answered, which is how clients see a hung server.
func (s *Server) Pause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.state != running {
		return errors.New("redistest: Pause needs a running server")
	}
	if err := s.run.pause(); err != nil {
		return err
	}
	s.state = paused
	return nil
}

// Resume continues a paused server.
func (s *Server) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.state != paused {
		return errors.New("redistest: Resume needs a paused server")
	}
	if err := s.run.resume(); err != nil {
		return err
	}
	s.state = running
	return nil
}

// Restart kills the server if it is running and starts it again on the same
// ports with the same configuration, returning once it answers. The data is
// gone unless the server persisted it (persistence is off unless Args turn
// it on, as "--appendonly", "yes" does); a cluster node keeps its identity.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	if err := s.run.kill(); err != nil {
		return err
	}
	s.state = killed
	if err := s.run.start(); err != nil {
		return s.startError("failed to restart: " + err.Error())
	}
	if err := s.waitReady(startTimeout); err != nil {
		return err
	}
	s.state = running
	return nil
}

// Close stops the server for good and removes its container and files. It
// is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.err
	}
	s.closed = true
	s.err = s.run.remove()
	if err := os.RemoveAll(s.l.dir); err != nil && s.err == nil {
		s.err = err
	}
	releasePorts(s.ports...)
	return s.err
}

var errClosed = errors.New("redistest: server is closed")

// up reports whether the server should be answering: started, not paused,
// killed or closed.
func (s *Server) up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && s.state == running
}

// Do sends one command over a fresh plain TCP connection, authenticating
// first when Options.Password is set, and returns the reply as text: arrays
// become one line per element. Error replies are returned as errors. It is
// meant for test setup and assertions, not as a client. It gives up after
// 30 s without a reply: a paused server (Pause) holds it until Resume, or
// that long.
func (s *Server) Do(args ...string) (string, error) {
	rep, err := s.command(args...)
	if err != nil {
		return "", err
	}
	return rep.text(), nil
}

// command is Do without flattening, for callers that need the elements.
func (s *Server) command(args ...string) (reply, error) {
	if len(args) == 0 {
		return reply{}, errors.New("redistest: Do needs a command")
	}
	c, err := s.dial(30 * time.Second)
	if err != nil {
		return reply{}, fmt.Errorf("redistest: %s: %w", args[0], err)
	}
	defer c.Close()
	rep, err := c.do(args...)
	if err != nil {
		return reply{}, fmt.Errorf("redistest: %s on %s: %w", args[0], s.Addr(), err)
	}
	return rep, nil
}

// dial opens a plain TCP connection, authenticated when Options.Password
// is set; timeout bounds the whole conversation.
func (s *Server) dial(timeout time.Duration) (*respConn, error) {
	c, err := dialRESP("tcp", s.Addr(), timeout)
	if err != nil {
		return nil, err
	}
	if s.opts.Password != "" {
		if _, err := c.do("AUTH", s.opts.Password); err != nil {
			c.Close()
			return nil, fmt.Errorf("AUTH on %s: %w", s.Addr(), err)
		}
	}
	return c, nil
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
