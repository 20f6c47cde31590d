// Package usertest uses redistest as a user of justredis would, from
// outside: each option with a real client, the deployments, the failure
// helpers, and that nothing is left running afterwards.
package usertest

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// running counts the redis-server processes whose command line names
// addr's port: the ones a test started there, and no other.
func running(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	dirs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	n := 0
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // gone meanwhile
		}
		line := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(line, "redis-server") && strings.Contains(line, ":"+port) {
			n++
		}
	}
	return n
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func client(t *testing.T, opts ...justredis.Option) *justredis.Redis {
	t.Helper()
	r, err := justredis.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

func ping(t *testing.T, r *justredis.Redis) {
	t.Helper()
	v, err := r.Do(ctxOf(t), "PING")
	require.NoError(t, err)
	require.Equal(t, "PONG", v)
}

// Each option, with a real client, and each server gone once its test is.
func TestOptionsWithClient(t *testing.T) {
	if os.Getenv("JUSTREDIS_TEST_BACKEND") != "process" {
		t.Skip("counts local processes: set JUSTREDIS_TEST_BACKEND=process")
	}
	var mu sync.Mutex
	var addrs []string
	started := func(s *redistest.Server) {
		mu.Lock()
		defer mu.Unlock()
		addrs = append(addrs, s.Addr())
	}
	t.Run("all", func(t *testing.T) {
		t.Run("password", func(t *testing.T) {
			t.Parallel()
			pw := "p@ss:w/rd%20 #?"
			s := redistest.Start(t, redistest.Options{Password: pw})
			started(s)
			require.Equal(t, 1, running(t, s.Addr()))
			r, err := justredis.FromURL(s.URL())
			require.NoError(t, err)
			defer r.Close()
			ping(t, r)
			_, err = client(t, justredis.WithAddress(s.Addr())).Do(ctxOf(t), "PING")
			require.Error(t, err, "without the password")
			_, err = s.Do("SET", "k", "v")
			require.NoError(t, err, "Do authenticates")
		})
		t.Run("users", func(t *testing.T) {
			t.Parallel()
			s := redistest.Start(t, redistest.Options{Users: []redistest.User{
				{Name: "full", Password: "fpw"},
				{Name: "reader", Password: "rpw", Rules: []string{"on", "~*", "+get"}},
				{Name: "nopw"},
			}})
			started(s)
			ping(t, client(t, justredis.WithAddress(s.Addr()), justredis.WithAuth("full", "fpw")))
			_, err := client(t, justredis.WithAddress(s.Addr()), justredis.WithAuth("full", "bad")).Do(ctxOf(t), "PING")
			require.Error(t, err)
			rd := client(t, justredis.WithAddress(s.Addr()), justredis.WithAuth("reader", "rpw"))
			_, err = rd.Do(ctxOf(t), "GET", "k")
			require.NoError(t, err, "the rules allow GET")
			_, err = rd.Do(ctxOf(t), "SET", "k", "v")
			require.ErrorContains(t, err, "NOPERM", "and nothing else")
			ping(t, client(t, justredis.WithAddress(s.Addr()), justredis.WithAuth("nopw", "anything")))
		})
		t.Run("tls", func(t *testing.T) {
			t.Parallel()
			s := redistest.Start(t, redistest.Options{TLS: true})
			started(s)
			require.NotEmpty(t, s.TLSAddr())
			require.NotEmpty(t, s.CACertFile())
			ping(t, client(t, justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(s.TLSConfig())))
			ping(t, client(t, justredis.WithAddress(s.Addr())))
			_, err := client(t, justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(&tls.Config{})).Do(ctxOf(t), "PING")
			require.Error(t, err, "the system roots do not trust the test CA")
		})
		t.Run("mtls", func(t *testing.T) {
			t.Parallel()
			s := redistest.Start(t, redistest.Options{TLSClientAuth: true})
			started(s)
			ping(t, client(t, justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(s.TLSConfig())))
			cfg := s.TLSConfig()
			cfg.Certificates = nil
			_, err := client(t, justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(cfg)).Do(ctxOf(t), "PING")
			require.Error(t, err, "no client certificate")
		})
		t.Run("unix", func(t *testing.T) {
			t.Parallel()
			s := redistest.Start(t, redistest.Options{UnixSocket: true})
			started(s)
			ping(t, client(t, justredis.WithAddress(s.UnixPath())))
			r, err := justredis.FromURL("unix://" + s.UnixPath())
			require.NoError(t, err)
			defer r.Close()
			ping(t, r)
		})
		t.Run("args", func(t *testing.T) {
			t.Parallel()
			s := redistest.Start(t, redistest.Options{Args: []string{"--maxmemory", "10mb", "--databases", "3"}})
			started(s)
			r := client(t, justredis.WithAddress(s.Addr()))
			_, err := r.Modify(justredis.WithDatabase(2)).Do(ctxOf(t), "SET", "k", "v")
			require.NoError(t, err)
			_, err = r.Modify(justredis.WithDatabase(3)).Do(ctxOf(t), "SET", "k", "v")
			require.Error(t, err, "Args won: 3 databases")
		})
	})
	for _, a := range addrs {
		require.Zero(t, running(t, a), "%s is stopped once its test ended", a)
	}
}

// A bad Args fails clearly: the error quotes redis-server's own complaint.
func TestBadArgsError(t *testing.T) {
	t.Parallel()
	s, err := redistest.StartServer(redistest.Options{Args: []string{"--no-such-directive", "1"}})
	if err == nil {
		s.Close()
		t.Fatal("a server with a bad directive started")
	}
	require.ErrorContains(t, err, "no-such-directive")
}

// Kill, Restart, Pause and Resume through a client's eyes.
func TestKillRestartPause(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	r := client(t, justredis.WithAddress(s.Addr()), justredis.WithSocketTimeout(2*time.Second))
	ctx := ctxOf(t)
	_, err := r.Do(ctx, "SET", "k", "v")
	require.NoError(t, err)

	require.NoError(t, s.Kill())
	require.NoError(t, s.Kill(), "Kill twice is harmless")
	_, err = s.Do("PING")
	require.Error(t, err, "a killed server does not answer")
	require.Error(t, s.Pause(), "a killed server cannot pause")
	require.NoError(t, s.Restart())
	v, err := r.Do(ctx, "GET", "k")
	require.NoError(t, err, "the client reconnects to the same address")
	require.Nil(t, v, "the data is gone")

	require.NoError(t, s.Pause())
	_, err = r.Do(ctx, "PING")
	require.Error(t, err, "a paused server does not answer")
	require.NoError(t, s.Resume())
	require.Error(t, s.Resume(), "Resume twice is an error")
	ping(t, r)

	require.NoError(t, s.Pause())
	require.NoError(t, s.Restart(), "Restart takes a paused server too")
	ping(t, r)

	require.NoError(t, s.Close())
	require.Error(t, s.Restart(), "a closed server stays closed")
	require.NoError(t, s.Close(), "Close twice is harmless")
}

// Parallel tests each get their own ports.
func TestParallelPorts(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{}
	for i := range 6 {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			s := redistest.Start(t, redistest.Options{TLS: i%2 == 0, UnixSocket: true})
			mu.Lock()
			defer mu.Unlock()
			for _, a := range []string{s.Addr(), s.TLSAddr(), s.UnixPath()} {
				if a == "" {
					continue
				}
				require.NotContains(t, seen, a, "two servers at one address")
				seen[a] = t.Name()
			}
		})
	}
}

// A cluster with a client: Nodes, Addrs, URL and Masters agree.
func TestClusterWithClient(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 1, redistest.Options{Password: "pw"})
	require.Len(t, c.Nodes(), 6)
	require.Len(t, c.Addrs(), 6)
	require.Len(t, c.Masters(), 3)
	r, err := justredis.FromURL(c.URL())
	require.NoError(t, err)
	defer r.Close()
	ctx := ctxOf(t)
	for _, k := range []string{"a", "b", "c", "d"} {
		_, err := r.Do(ctx, "SET", k, k)
		require.NoError(t, err)
	}
	eps, err := r.Endpoints(ctx)
	require.NoError(t, err)
	require.Len(t, eps, 6)
	require.NoError(t, c.Failover(c.Replicas()[0]))
	for _, k := range []string{"a", "b", "c", "d"} {
		v, err := r.Do(ctx, "GET", k)
		require.NoError(t, err)
		require.Equal(t, k, v)
	}
}

// A Sentinel deployment with a client, through a failover.
func TestSentinelWithClient(t *testing.T) {
	t.Parallel()
	d := redistest.StartSentinel(t, redistest.SentinelOptions{Replicas: 2, Server: redistest.Options{Password: "pw"}})
	r := client(t, justredis.WithSentinel(d.MasterName(), d.SentinelAddrs()...), justredis.WithAuth("", "pw"))
	ctx := ctxOf(t)
	_, err := r.Do(ctx, "SET", "k", "v")
	require.NoError(t, err)
	old := d.Master().Addr()
	require.NoError(t, d.Failover(ctx))
	require.NotEqual(t, old, d.Master().Addr())
	v, err := r.Do(ctx, "GET", "k")
	require.NoError(t, err)
	require.Equal(t, "v", v)
	eps, err := r.Endpoints(ctx)
	require.NoError(t, err)
	require.Equal(t, d.Master().Addr(), eps[0].Address)
	for _, ep := range eps {
		_, err := r.Modify(justredis.WithEndpoint(ep.Address)).Do(ctx, "PING")
		require.NoError(t, err, ep.Address)
	}
	var e *justredis.Error
	_, err = r.Modify(justredis.WithEndpoint(old)).Do(ctx, "SET", "x", "1")
	require.True(t, errors.As(err, &e) && e.Prefix() == "READONLY", "the old master is a replica now: %v", err)
}

// children counts the redis-server processes this test binary started
// that are still alive (zombies aside).
func children(t *testing.T) int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	me := strconv.Itoa(os.Getpid())
	n := 0
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "redis-server") {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[0] != "Z" && f[1] == me {
			n++
		}
	}
	return n
}

// Deployments that cannot be built fail with an error that says why, and
// leave nothing running. Not parallel: it counts this binary's children.
func TestFailedStartsCleanUp(t *testing.T) {
	if os.Getenv("JUSTREDIS_TEST_BACKEND") != "process" {
		t.Skip("counts local processes: set JUSTREDIS_TEST_BACKEND=process")
	}
	before := children(t)
	bad := redistest.Options{Args: []string{"--no-such-directive", "1"}}
	_, err := redistest.StartClusterServer(3, 1, bad)
	require.ErrorContains(t, err, "no-such-directive")
	require.Equal(t, before, children(t), "cluster: nothing left running")

	_, err = redistest.StartClusterServer(2, 0, redistest.Options{Args: []string{"--cluster-enabled", "no"}})
	require.Error(t, err)
	t.Logf("a cluster of non-cluster nodes: %v", err)
	require.Equal(t, before, children(t), "cluster: nothing left running")

	_, err = redistest.StartSentinelDeployment(redistest.SentinelOptions{Server: bad})
	require.ErrorContains(t, err, "no-such-directive")
	require.Equal(t, before, children(t), "sentinel: nothing left running")

	_, err = redistest.StartSentinelDeployment(redistest.SentinelOptions{Server: redistest.Options{TLS: true}})
	require.ErrorContains(t, err, "TLS")
	require.Equal(t, before, children(t), "sentinel: nothing left running")

	d, err := redistest.StartSentinelDeployment(redistest.SentinelOptions{})
	require.NoError(t, err)
	require.Greater(t, children(t), before)
	require.NoError(t, d.Close())
	require.Equal(t, before, children(t), "sentinel: Close stops every node and sentinel")

	c, err := redistest.StartClusterServer(1, 1, redistest.Options{})
	require.NoError(t, err)
	require.NoError(t, c.Nodes()[1].Kill())
	require.NoError(t, c.Nodes()[0].Pause())
	require.NoError(t, c.Close())
	require.Equal(t, before, children(t), "cluster: Close stops killed and paused nodes alike")
}
