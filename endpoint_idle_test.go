package justredis_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// refreshCounter counts the slot-map refreshes a client made.
type refreshCounter struct{ n atomic.Int64 }

func (h *refreshCounter) CallStart(ctx context.Context, _ *justredis.Call) context.Context {
	return ctx
}
func (h *refreshCounter) CallEnd(context.Context, *justredis.Call) {}
func (h *refreshCounter) Event(_ context.Context, ev *justredis.Event) {
	if ev.Kind == justredis.EventRefresh && ev.Err == nil {
		h.n.Add(1)
	}
}

// joinCluster starts a cluster node, has c meet it, and waits until every
// node of c, and those given, know it, past the handshake. Redis 7 turns
// a master emptied by a resharding into a replica of the node that took
// its last slot, and moves its replicas there too, unless
// cluster-allow-replica-migration is off: it is, so that such a master
// stays one, as it does on Redis 6 or for an operator who turned it off.
func joinCluster(t *testing.T, c *redistest.Cluster, others ...*redistest.Server) *redistest.Server {
	t.Helper()
	bus := freePort(t)
	n := redistest.Start(t, redistest.Options{Args: []string{
		"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
		"--cluster-allow-replica-migration", "no",
	}})
	_, err := c.Nodes()[0].Do("CLUSTER", "MEET", "127.0.0.1", strings.Split(n.Addr(), ":")[1], strconv.Itoa(bus))
	require.NoError(t, err)
	all := append(append(c.Nodes(), others...), n)
	require.Eventually(t, func() bool {
		for _, s := range all {
			nodes, err := s.Do("CLUSTER", "NODES")
			if err != nil || strings.Count(strings.TrimSpace(nodes), "\n")+1 != len(all) || strings.Contains(nodes, "handshake") {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "%s joined the cluster", n.Addr())
	return n
}

// rolesOf maps each address Endpoints lists to its role, failing on an
// address listed twice.
func rolesOf(t *testing.T, r *justredis.Redis) map[string]string {
	t.Helper()
	eps, err := r.Endpoints(testCtx(t))
	require.NoError(t, err)
	out := map[string]string{}
	for _, ep := range eps {
		require.NotContains(t, out, ep.Address, "listed twice")
		out[ep.Address] = ep.Role
	}
	return out
}

// afterRefreshes polls Endpoints, which asks for refreshes in the
// background, until two more have finished: the second began after the
// first ended, so it saw the cluster as it is when afterRefreshes is
// called.
func afterRefreshes(t *testing.T, r *justredis.Redis, h *refreshCounter) {
	t.Helper()
	want := h.n.Load() + 2
	require.Eventually(t, func() bool {
		_, err := r.Endpoints(testCtx(t))
		require.NoError(t, err)
		return h.n.Load() >= want
	}, 20*time.Second, 20*time.Millisecond, "the slot map was not refreshed")
}

// TestEndpointsSlotlessMaster: a master that serves no slot, just added
// with CLUSTER MEET or emptied by a resharding, is a node of the cluster
// as CLUSTER SLOTS does not show: Endpoints lists it and its replica with
// their roles, WithEndpoint(Masters) runs on it, and refreshes leave its
// connections open. Once the cluster sees its replica fail, the replica
// is no longer listed.
func TestEndpointsSlotlessMaster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	n := joinCluster(t, c)
	rep := joinCluster(t, c, n)
	nID, err := n.Do("CLUSTER", "MYID")
	require.NoError(t, err)
	_, err = rep.Do("CLUSTER", "REPLICATE", nID)
	require.NoError(t, err)

	h := &refreshCounter{}
	r, err := justredis.New(justredis.WithAddress(c.Nodes()[0].Addr()), justredis.WithClientName("idle"), justredis.WithHook(h))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	require.Eventually(t, func() bool {
		roles := rolesOf(t, r)
		return roles[n.Addr()] == "master" && roles[rep.Addr()] == "replica"
	}, 20*time.Second, 50*time.Millisecond, "the slotless master and its replica are listed")
	want := map[string]string{n.Addr(): "master", rep.Addr(): "replica"}
	for _, m := range c.Masters() {
		want[m.Addr()] = "master"
	}
	require.Equal(t, want, rolesOf(t, r))

	masters := func() map[string]any {
		t.Helper()
		v, err := r.Modify(justredis.WithEndpoint(justredis.Masters)).Do(ctx, "CLUSTER", "MYID")
		require.NoError(t, err)
		return v.(map[string]any)
	}
	got := masters()
	require.Len(t, got, 4, "every master, the slotless one included")
	require.Equal(t, nID, got[n.Addr()])
	// A new client knows it from its first call, whose handshake asks
	// CLUSTER NODES beside CLUSTER SLOTS.
	v, err := clusterClient(t, c.Nodes()[1].Addr()).Modify(justredis.WithEndpoint(justredis.Masters)).Do(ctx, "PING")
	require.NoError(t, err)
	require.Contains(t, v.(map[string]any), n.Addr(), "a new client's first fan-out")

	ours := func(s *redistest.Server) int {
		list, err := s.Do("CLIENT", "LIST")
		require.NoError(t, err)
		return strings.Count(list, "name=idle ")
	}
	afterRefreshes(t, r, h)
	require.Positive(t, ours(n), "refreshes leave the connection to a slotless master open")

	// A resharding gives it a slot, then takes it back.
	var from *redistest.Server
	for _, m := range c.Masters() {
		if owns(t, m, 0) {
			from = m
		}
	}
	require.NotNil(t, from)
	key := keyInSlot(t, c, 0, "idle")
	require.NoError(t, c.MoveSlot(0, from, n))
	_, err = r.Do(ctx, "SET", key, "v") // the MOVED brings the slot to n
	require.NoError(t, err)
	require.NoError(t, c.MoveSlot(0, n, from))
	_, err = r.Do(ctx, "GET", key) // and back
	require.NoError(t, err)
	afterRefreshes(t, r, h)
	view, _ := c.Nodes()[0].Do("CLUSTER", "NODES")
	require.Equal(t, want, rolesOf(t, r), "a master emptied by a resharding is listed: n %s, rep %s\n%s", n.Addr(), rep.Addr(), view)
	got = masters()
	require.Len(t, got, 4)
	require.Contains(t, got, n.Addr())
	require.Positive(t, ours(n))

	require.NoError(t, rep.Kill())
	require.Eventually(t, func() bool {
		_, listed := rolesOf(t, r)[rep.Addr()]
		return !listed
	}, 30*time.Second, 50*time.Millisecond, "a failed replica is no longer listed")
	require.Equal(t, "master", rolesOf(t, r)[n.Addr()])
}
