package justredis_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestTransactionPinnedToReplicaFailsOnce: through Sentinel, a
// Transaction that WithEndpoint sends to a replica is refused READONLY by
// that replica, which is no sign of a failover: the master was not asked.
// Starting again goes back to the same replica, so the refusal is final at
// once, as it is for Do, not after every attempt and pause.
func TestTransactionPinnedToReplicaFailsOnce(t *testing.T) {
	t.Parallel()
	d := redistest.StartSentinel(t, redistest.SentinelOptions{Replicas: 1})
	ctx := testCtx(t)
	r, err := justredis.New(justredis.WithSentinel(d.MasterName(), d.SentinelAddrs()...))
	require.NoError(t, err)
	defer r.Close()
	replica := d.Replicas()[0].Addr()
	calls := 0
	_, err = r.Modify(justredis.WithEndpoint(replica)).Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		calls++
		return [][]any{{"SET", "tx:pinned", "1"}}, nil
	}, "tx:pinned")
	require.Error(t, err)
	require.Contains(t, err.Error(), "READONLY")
	require.Equal(t, 1, calls, "fn ran once: a pinned replica's READONLY is final")
	eps, err := r.Endpoints(ctx)
	require.NoError(t, err)
	require.Len(t, eps, 2, "the replica is still listed: it was not taken for lost")
}

// TestTransactionPinnedToOtherNodeFailsOnce: in a cluster, a Transaction
// that WithEndpoint sends to a node that does not serve its key is
// answered MOVED; starting again goes back to that node, so the MOVED is
// final at once rather than after every attempt.
func TestTransactionPinnedToOtherNodeFailsOnce(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 2, 0, redistest.Options{})
	ctx := testCtx(t)
	r := clusterClient(t, c.Addrs()[0])
	// The node that does not serve the key: the one whose GET says MOVED.
	var otherNode *redistest.Server
	for _, n := range c.Nodes() {
		if _, err := n.Do("GET", "tx:other"); err != nil {
			otherNode = n
		}
	}
	require.NotNil(t, otherNode)
	other := otherNode.Addr()
	calls := 0
	_, err := r.Modify(justredis.WithEndpoint(other)).Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		calls++
		return [][]any{{"SET", "tx:other", "1"}}, nil
	}, "tx:other")
	require.Error(t, err)
	require.Contains(t, err.Error(), "MOVED")
	require.Zero(t, calls, "WATCH was refused: fn never ran")
	require.Equal(t, 1, watches(t, otherNode), "one WATCH: a pinned node's MOVED is final")
}

// watches is how many WATCH commands n was sent, refused ones included.
func watches(t *testing.T, n *redistest.Server) int {
	t.Helper()
	stats, err := n.Do("INFO", "commandstats")
	require.NoError(t, err)
	total := 0
	for _, line := range splitLines(stats) {
		rest, ok := strings.CutPrefix(line, "cmdstat_watch:")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if k == "calls" || k == "rejected_calls" || k == "failed_calls" {
				n, err := strconv.Atoi(v)
				require.NoError(t, err)
				total += n
			}
		}
	}
	return total
}
