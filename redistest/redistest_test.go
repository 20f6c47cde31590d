package redistest_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/justredis/justredis/redistest"
)

// These tests follow JUSTREDIS_TEST_BACKEND like users' tests do; run them
// with it set to docker, to process, and unset to cover every backend.

// inline sends an inline command over conn and returns the first reply line,
// so the tests check the server through a path independent of Server.Do.
func inline(t *testing.T, conn net.Conn, cmd string) string {
	t.Helper()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := conn.Write([]byte(cmd + "\r\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimRight(line, "\r\n")
}

func dial(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout(network, addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestStartAndPing(t *testing.T) {
	t.Parallel()
	start := time.Now()
	srv := redistest.Start(t, redistest.Options{})
	t.Logf("%s server answered after %v", srv.Backend(), time.Since(start))

	if want := os.Getenv("JUSTREDIS_TEST_BACKEND"); want != "" {
		assert.Equal(t, want, srv.Backend())
	}
	assert.Contains(t, []string{"docker", "process"}, srv.Backend())
	assert.True(t, strings.HasPrefix(srv.Addr(), "127.0.0.1:"), srv.Addr())
	assert.Equal(t, "redis://"+srv.Addr(), srv.URL())
	assert.Empty(t, srv.TLSAddr())
	assert.Empty(t, srv.UnixPath())
	assert.Nil(t, srv.TLSConfig())

	assert.Equal(t, "+PONG", inline(t, dial(t, "tcp", srv.Addr()), "PING"))

	_, err := srv.Do("RPUSH", "list", "a", "b c", "d")
	require.NoError(t, err)
	got, err := srv.Do("LRANGE", "list", "0", "-1")
	require.NoError(t, err)
	assert.Equal(t, "a\nb c\nd", got)

	_, err = srv.Do("NOSUCHCOMMAND")
	assert.ErrorContains(t, err, "unknown command")

	// Tests rely on DEBUG (e.g. DEBUG SLEEP) and on nothing being persisted.
	_, err = srv.Do("DEBUG", "SLEEP", "0")
	assert.NoError(t, err)
	save, err := srv.Do("CONFIG", "GET", "save")
	require.NoError(t, err)
	assert.Equal(t, "save\n", save)
}

func TestArgs(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{Args: []string{"--maxmemory", "10mb"}})
	got, err := srv.Do("CONFIG", "GET", "maxmemory")
	require.NoError(t, err)
	assert.Equal(t, "maxmemory\n10485760", got)
}

func TestPassword(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{Password: `s3 "cret"`})

	conn := dial(t, "tcp", srv.Addr())
	assert.True(t, strings.HasPrefix(inline(t, conn, "PING"), "-NOAUTH"))
	assert.Equal(t, "+OK", inline(t, conn, `AUTH "s3 \"cret\""`))

	got, err := srv.Do("PING")
	require.NoError(t, err)
	assert.Equal(t, "PONG", got)
	assert.Equal(t, "redis://:s3%20%22cret%22@"+srv.Addr(), srv.URL())
}

func TestACLUsers(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{Users: []redistest.User{
		{Name: "alice", Password: "wonderland"},
		{Name: "reader", Password: "r", Rules: []string{"on", "~*", "+@read", "+auth"}},
	}})

	alice := dial(t, "tcp", srv.Addr())
	assert.True(t, strings.HasPrefix(inline(t, alice, "AUTH alice wrong"), "-WRONGPASS"))
	assert.Equal(t, "+OK", inline(t, alice, "AUTH alice wonderland"))
	assert.Equal(t, "+OK", inline(t, alice, "SET k v"))

	reader := dial(t, "tcp", srv.Addr())
	assert.Equal(t, "+OK", inline(t, reader, "AUTH reader r"))
	assert.Equal(t, "$1", inline(t, reader, "GET k"))
	assert.True(t, strings.HasPrefix(inline(t, reader, "SET k w"), "-NOPERM"))
}

func TestUnixSocket(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{UnixSocket: true})
	require.NotEmpty(t, srv.UnixPath())
	assert.Equal(t, "+PONG", inline(t, dial(t, "unix", srv.UnixPath()), "PING"))
}

func TestTLS(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{TLS: true})
	require.True(t, strings.HasPrefix(srv.TLSAddr(), "127.0.0.1:"), srv.TLSAddr())
	for _, f := range []string{srv.CACertFile(), srv.ClientCertFile(), srv.ClientKeyFile()} {
		assert.FileExists(t, f)
	}

	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", srv.TLSAddr(), srv.TLSConfig())
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, "+PONG", inline(t, conn, "PING"))

	// Without the CA the certificate must not verify.
	_, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", srv.TLSAddr(),
		&tls.Config{RootCAs: x509.NewCertPool()})
	var unknown x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &unknown)

	// The certificate names localhost too.
	cfg := srv.TLSConfig()
	cfg.ServerName = "localhost"
	conn2, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", srv.TLSAddr(), cfg)
	require.NoError(t, err)
	conn2.Close()

	// The plain port keeps working next to TLS.
	assert.Equal(t, "+PONG", inline(t, dial(t, "tcp", srv.Addr()), "PING"))
}

func TestTLSClientAuth(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{TLSClientAuth: true})

	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", srv.TLSAddr(), srv.TLSConfig())
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, "+PONG", inline(t, conn, "PING"))

	// With TLS 1.3 a missing client certificate is only reported after the
	// handshake, on the first read.
	cfg := srv.TLSConfig()
	cfg.Certificates = nil
	bare, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", srv.TLSAddr(), cfg)
	if err == nil {
		defer bare.Close()
		require.NoError(t, bare.SetDeadline(time.Now().Add(5*time.Second)))
		_, _ = bare.Write([]byte("PING\r\n"))
		_, err = bufio.NewReader(bare).ReadString('\n')
	}
	assert.Error(t, err)

	// Files work for clients configured by path.
	pair, err := tls.LoadX509KeyPair(srv.ClientCertFile(), srv.ClientKeyFile())
	require.NoError(t, err)
	caPEM, err := os.ReadFile(srv.CACertFile())
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	byFile, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", srv.TLSAddr(),
		&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}})
	require.NoError(t, err)
	assert.Equal(t, "+PONG", inline(t, byFile, "PING"))
	byFile.Close()
}

func TestOtherServersCAIsRejected(t *testing.T) {
	t.Parallel()
	a := redistest.Start(t, redistest.Options{TLS: true})
	b := redistest.Start(t, redistest.Options{TLS: true})
	_, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", a.TLSAddr(), b.TLSConfig())
	assert.Error(t, err)
}

func TestKillAndRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{Password: "pw", UnixSocket: true})
	_, err := srv.Do("SET", "k", "v")
	require.NoError(t, err)
	addr := srv.Addr()

	require.NoError(t, srv.Kill())
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "killed server still accepts connections")

	require.NoError(t, srv.Restart())
	assert.Equal(t, addr, srv.Addr())
	got, err := srv.Do("EXISTS", "k")
	require.NoError(t, err)
	assert.Equal(t, "0", got, "data survived a restart without persistence")
	assert.True(t, strings.HasPrefix(inline(t, dial(t, "unix", srv.UnixPath()), "PING"), "-NOAUTH"))

	// Restarting a running server works too.
	require.NoError(t, srv.Restart())
	_, err = srv.Do("PING")
	assert.NoError(t, err)
}

func TestPauseAndResume(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	conn := dial(t, "tcp", srv.Addr())
	assert.Equal(t, "+PONG", inline(t, conn, "PING"))

	require.NoError(t, srv.Pause())
	require.NoError(t, conn.SetDeadline(time.Now().Add(300*time.Millisecond)))
	_, err := conn.Write([]byte("PING\r\n"))
	require.NoError(t, err)
	r := bufio.NewReader(conn)
	_, err = r.ReadString('\n')
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "a paused server answered: %v", err)

	require.NoError(t, srv.Resume())
	// The command sent while paused is answered after resuming.
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "+PONG\r\n", line)

	assert.Error(t, srv.Resume(), "resuming a running server")

	// A paused server can be restarted and closed.
	require.NoError(t, srv.Pause())
	require.NoError(t, srv.Restart())
	_, err = srv.Do("PING")
	require.NoError(t, err)
	require.NoError(t, srv.Pause())
	require.NoError(t, srv.Close())
}

func TestCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{TLS: true})
	ca := srv.CACertFile()
	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close())
	assert.NoFileExists(t, ca)
	_, err := net.DialTimeout("tcp", srv.Addr(), time.Second)
	assert.Error(t, err)
	assert.Error(t, srv.Restart())
}

func TestStartServerManyInParallel(t *testing.T) {
	t.Parallel()
	const n = 6
	servers := make(chan *redistest.Server, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			srv, err := redistest.StartServer(redistest.Options{})
			if err != nil {
				errs <- err
				return
			}
			servers <- srv
		}()
	}
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			t.Error(err)
		case srv := <-servers:
			t.Cleanup(func() { assert.NoError(t, srv.Close()) })
			assert.False(t, seen[srv.Addr()], "address %s handed out twice", srv.Addr())
			seen[srv.Addr()] = true
			_, err := srv.Do("PING")
			assert.NoError(t, err)
		case <-time.After(60 * time.Second):
			t.Fatal("servers did not start in time")
		}
	}
}

func TestUnknownBackend(t *testing.T) {
	t.Parallel()
	_, err := redistest.StartServer(redistest.Options{Backend: "vm"})
	assert.ErrorContains(t, err, "unknown backend")
}

// A user named "default" would replace the default user's rules rather
// than add a user, and the server would then refuse redistest's own
// readiness check: every way of starting servers refuses it at once, in
// words, before starting anything.
func TestUserNamedDefaultRefused(t *testing.T) {
	t.Parallel()
	users := []redistest.User{{Name: "default", Password: "p"}}
	_, err := redistest.StartServer(redistest.Options{Users: users})
	require.ErrorContains(t, err, `"default"`)
	_, err = redistest.StartClusterServer(1, 0, redistest.Options{Users: users})
	require.ErrorContains(t, err, `"default"`)
	_, err = redistest.StartSentinelDeployment(redistest.SentinelOptions{Server: redistest.Options{Users: users}})
	require.ErrorContains(t, err, `"default"`)
	_, err = redistest.StartSentinelDeployment(redistest.SentinelOptions{SentinelUsers: users})
	require.ErrorContains(t, err, `"default"`)
}
