package justredis_test

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// freePort returns a loopback port nothing listens on at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestEndpointOfSlotlessMaster: a master that joined the cluster and
// serves no slot yet (a resharding's target, before its first slot) is a
// node of the deployment, though CLUSTER SLOTS does not list it. Naming
// it with WithEndpoint is how a user prepares it (CLUSTER SETSLOT ...
// IMPORTING); refusing it would leave no way to address it.
func TestEndpointOfSlotlessMaster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	bus := freePort(t)
	n := redistest.Start(t, redistest.Options{Args: []string{
		"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
		"--cluster-announce-hostname", "localhost",
	}})
	_, err := c.Nodes()[0].Do("CLUSTER", "MEET", "127.0.0.1", strings.Split(n.Addr(), ":")[1], strconv.Itoa(bus))
	require.NoError(t, err)
	joined := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		nodes, err := n.Do("CLUSTER", "NODES")
		if err == nil && strings.Count(strings.TrimSpace(nodes), "\n") == 3 {
			joined = true
			break
		}
	}
	nodes, _ := n.Do("CLUSTER", "NODES")
	require.True(t, joined, "the new node joined the cluster: %q", nodes)

	ctx := testCtx(t)
	r := clusterClient(t, c.Addrs()[0])
	_, err = r.Do(ctx, "PING")
	require.NoError(t, err)
	want, err := n.Do("CLUSTER", "MYID")
	require.NoError(t, err)
	id, err := justredis.String(r.Modify(justredis.WithEndpoint(n.Addr())).Do(ctx, "CLUSTER", "MYID"))
	require.NoError(t, err, "a slotless master of the cluster is taken")
	require.Equal(t, want, id)
	conn, err := r.Modify(justredis.WithEndpoint(n.Addr())).Connection(ctx)
	require.NoError(t, err, "a Connection to it too")
	require.NoError(t, conn.Close())

	// By the hostname it announces, as CLUSTER SLOTS would name it.
	byName := "localhost:" + strings.Split(n.Addr(), ":")[1]
	id, err = justredis.String(clusterClient(t, c.Addrs()[0]).Modify(justredis.WithEndpoint(byName)).Do(ctx, "CLUSTER", "MYID"))
	require.NoError(t, err, "named by its hostname")
	require.Equal(t, want, id)
}

// TestEndpointRefusedOnCacheHit: an address that is none of the
// deployment's is refused whether or not the cache holds the reply, as
// WithEndpoint's doc says; a hit must not make the same call succeed.
func TestEndpointRefusedOnCacheHit(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	addr, accepted := stranger(t)
	r := newRedisOf(t, s.Addr(), justredis.WithClientCache(1<<20))
	ctx := testCtx(t)
	cached := r.Modify(justredis.WithCache(time.Minute))
	_, err := r.Do(ctx, "SET", "hit", "v")
	require.NoError(t, err)
	for range 3 {
		_, err = cached.Do(ctx, "GET", "hit")
		require.NoError(t, err)
	}
	require.NotZero(t, r.Stats().CacheHits, "the reply is cached")
	bad := cached.Modify(justredis.WithEndpoint(addr))
	_, err = bad.Do(ctx, "GET", "hit")
	require.ErrorIs(t, err, justredis.ErrInvalidArgument, "Do")
	_, err = bad.DoMulti(ctx, []any{"GET", "hit"}, []any{"GET", "hit"})
	require.ErrorIs(t, err, justredis.ErrInvalidArgument, "DoMulti")
	require.Zero(t, accepted.Load(), "nothing was dialled")
}

// TestEndpointOfReplicaWhileMasterDown: through Sentinel, a replica is a
// server of the deployment while its master is down, and that is when an
// operator names it (to see what it has, or to promote it by hand): a new
// client's WithEndpoint takes it, and nothing else is dialled.
func TestEndpointOfReplicaWhileMasterDown(t *testing.T) {
	t.Parallel()
	// DownAfter long: the sentinels leave the dead master in place.
	d := redistest.StartSentinel(t, redistest.SentinelOptions{Replicas: 1, DownAfter: time.Minute})
	replica := d.Replicas()[0]
	require.NoError(t, d.Master().Kill())
	addr, accepted := stranger(t)
	ctx := testCtx(t)

	r, err := justredis.New(justredis.WithSentinel(d.MasterName(), d.SentinelAddrs()...))
	require.NoError(t, err)
	defer r.Close()
	role, err := justredis.Values(r.Modify(justredis.WithEndpoint(replica.Addr())).Do(ctx, "ROLE"))
	require.NoError(t, err, "the replica answers though its master is down")
	require.Equal(t, "slave", role[0])
	_, err = r.Modify(justredis.WithEndpoint(addr)).Do(ctx, "PING")
	require.ErrorIs(t, err, justredis.ErrInvalidArgument, "a stranger is still refused")
	require.Zero(t, accepted.Load(), "nothing was dialled")
}

// TestEndpointOfOwnAddresses: a new client's first call may name any
// address it was given: a unix socket, a TLS address, each of several
// seeds, the standby seed included.
func TestEndpointOfOwnAddresses(t *testing.T) {
	t.Parallel()
	a := redistest.Start(t, redistest.Options{UnixSocket: true, TLS: true})
	b := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	for _, tc := range []struct {
		name string
		addr string
		opts []justredis.Option
	}{
		{"unix", a.UnixPath(), []justredis.Option{justredis.WithAddress(a.UnixPath())}},
		{"tls", a.TLSAddr(), []justredis.Option{justredis.WithAddress(a.TLSAddr()), justredis.WithTLS(a.TLSConfig())}},
		{"first seed", a.Addr(), []justredis.Option{justredis.WithAddresses(a.Addr(), b.Addr())}},
		{"standby seed", b.Addr(), []justredis.Option{justredis.WithAddresses(a.Addr(), b.Addr())}},
		{"standby seed, standalone", b.Addr(), []justredis.Option{justredis.WithAddresses(a.Addr(), b.Addr()), justredis.WithMode(justredis.ModeStandalone)}},
	} {
		r, err := justredis.New(tc.opts...)
		require.NoError(t, err)
		_, err = r.Modify(justredis.WithEndpoint(tc.addr)).Do(ctx, "PING")
		require.NoError(t, err, tc.name)
		p, err := r.Modify(justredis.WithEndpoint(tc.addr)).PushConnection(ctx)
		require.NoError(t, err, tc.name)
		require.NoError(t, p.Close())
		r.Close()
	}
}
