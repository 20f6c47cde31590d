package justredis_test

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// stranger listens on loopback and counts the connections made to it: an
// address that is no server of any deployment under test.
func stranger(t *testing.T) (addr string, accepted *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), accepted
}

// TestEndpointOutsideDeploymentRefused: WithEndpoint takes an address of
// the deployment's (Endpoints lists them); any other is refused before
// anything is dialled, since the client would log in there with its
// credentials. Every entry point that honours WithEndpoint: Do, DoMulti,
// a cached read, Connection, PushConnection and Scan.
func TestEndpointOutsideDeploymentRefused(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Password: "secret-not-to-send"})
	addr, accepted := stranger(t)
	r := newRedisOf(t, s.Addr(), justredis.WithAuth("", "secret-not-to-send"), justredis.WithClientCache(1<<20))
	ctx := testCtx(t)
	bad := r.Modify(justredis.WithEndpoint(addr))
	_, err := r.Modify(justredis.WithEndpoint(s.Addr())).Do(ctx, "PING")
	require.NoError(t, err, "the server's own address is taken")

	check := func(what string, err error) {
		t.Helper()
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, what)
		require.Contains(t, err.Error(), addr, what)
		require.Contains(t, err.Error(), "Endpoints", what)
	}
	_, err = bad.Do(ctx, "PING")
	check("Do", err)
	_, err = bad.DoMulti(ctx, []any{"PING"}, []any{"PING"})
	check("DoMulti", err)
	_, err = bad.Modify(justredis.WithCache(time.Minute)).Do(ctx, "GET", "k")
	check("cached Do", err)
	_, err = bad.Connection(ctx)
	check("Connection", err)
	_, err = bad.PushConnection(ctx)
	check("PushConnection", err)
	for _, err := range bad.Scan(ctx, "SCAN", "0") {
		check("Scan", err)
		break
	}
	require.Zero(t, accepted.Load(), "nothing was dialled")
}

// TestEndpointOfClusterNodes: in a cluster, every node's address is taken,
// replicas too, by a new client that has not met them yet; others are
// refused without a dial.
func TestEndpointOfClusterNodes(t *testing.T) {
	c := redistest.StartCluster(t, 3, 1, redistest.Options{})
	addr, accepted := stranger(t)
	ctx := testCtx(t)
	for _, n := range c.Nodes() {
		r := clusterClient(t, c.Addrs()[0])
		id, err := justredis.String(r.Modify(justredis.WithEndpoint(n.Addr())).Do(ctx, "CLUSTER", "MYID"))
		require.NoError(t, err, n.Addr())
		want, err := n.Do("CLUSTER", "MYID")
		require.NoError(t, err)
		require.Equal(t, want, id, "the call ran on the node named")
	}
	r := clusterClient(t, c.Addrs()[0])
	_, err := r.Modify(justredis.WithEndpoint(addr)).Do(ctx, "PING")
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	_, err = r.Modify(justredis.WithEndpoint(addr)).Connection(ctx)
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	require.Zero(t, accepted.Load(), "nothing was dialled")
}
