package justredis

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func nodeOf(host string, port int64, id string) []any { return []any{host, port, id} }

// slotsOf is a CLUSTER SLOTS reply: two shards, a and b, b with replica
// c, named by host as the answering node's naming says.
func slotsOf(a, b, c string) []any {
	return []any{
		[]any{int64(0), int64(8191), nodeOf(a, 7000, "a")},
		[]any{int64(8192), int64(16383), nodeOf(b, 7001, "b"), nodeOf(c, 7002, "c")},
	}
}

// nodesText is CLUSTER NODES for slotsOf's shards, plus: d, a master with
// no slot, announced as host-d; e, its replica; f, a replica of a not yet
// in sync; g, failed; h, in handshake; i, unreachable from a; j, a
// replica of g.
const nodesText = `a 10.0.0.1:7000@17000,host-a myself,master - 0 0 1 connected 0-8191
b 10.0.0.2:7001@17001,host-b master - 0 0 2 connected 8192-16383
c 10.0.0.3:7002@17002,host-c,shard-id=x slave b 0 0 2 connected
d 10.0.0.4:7003@17003,host-d,shard-id=y master - 0 0 3 connected
e 10.0.0.5:7004@17004,,shard-id=y slave d 0 0 3 connected
f 10.0.0.6:7005@17005,host-f slave a 0 0 1 connected
g 10.0.0.7:7006@17006 master,fail - 0 0 4 disconnected
h 10.0.0.8:7007@17007 handshake - 0 0 0 disconnected
i 10.0.0.9:7008@17008,host-i master,fail? - 0 0 5 connected
j 10.0.0.10:7009@17009,host-j slave g 0 0 4 connected
`

func TestParseClusterNodes(t *testing.T) {
	nodes := parseClusterNodes(nodesText + "garbage\n\n")
	require.Len(t, nodes, 10)
	require.Equal(t, clusterNode{id: "c", ip: "10.0.0.3", port: "7002", hostname: "host-c", flags: []string{"slave"}, master: "b"}, nodes[2])
	require.Empty(t, nodes[4].hostname, "an empty hostname before auxiliary fields")
	require.True(t, nodes[0].listed())
	require.False(t, nodes[6].listed(), "failed")
	require.False(t, nodes[7].listed(), "in handshake")
	require.False(t, nodes[8].listed(), "unreachable from the node that answered")
}

// TestIdleShards: the nodes CLUSTER SLOTS leaves out are listed, named as
// it names the others, each master followed by its replicas.
func TestIdleShards(t *testing.T) {
	for _, tc := range []struct {
		name    string
		a, b, c string
		want    []Endpoint
	}{
		{"by IP", "10.0.0.1", "10.0.0.2", "10.0.0.3", []Endpoint{
			{"10.0.0.1:7000", "master"}, {"10.0.0.6:7005", "replica"},
			{"10.0.0.2:7001", "master"}, {"10.0.0.3:7002", "replica"},
			{"10.0.0.4:7003", "master"}, {"10.0.0.5:7004", "replica"},
			{"10.0.0.10:7009", "replica"},
		}},
		{"by hostname", "host-a", "host-b", "host-c", []Endpoint{
			{"host-a:7000", "master"}, {"host-f:7005", "replica"},
			{"host-b:7001", "master"}, {"host-c:7002", "replica"},
			{"host-d:7003", "master"}, // e announces no hostname: no address
			{"host-j:7009", "replica"},
		}},
		{"unknown endpoint", "", "", "", []Endpoint{
			{"10.0.0.99:7000", "master"}, {"10.0.0.99:7005", "replica"},
			{"10.0.0.99:7001", "master"}, {"10.0.0.99:7002", "replica"},
			{"10.0.0.99:7003", "master"}, {"10.0.0.99:7004", "replica"},
			{"10.0.0.99:7009", "replica"},
		}},
	} {
		p := newPool(defaultSettings())
		m, err := parseCluster(p, slotsOf(tc.a, tc.b, tc.c), nodesText, "10.0.0.99:7000")
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, m.endpoints(), tc.name)
		var masters []string
		for _, sv := range m.masters() {
			masters = append(masters, sv.addr)
		}
		require.Equal(t, []string{tc.want[0].Address, tc.want[2].Address, tc.want[4].Address}, masters, tc.name)
		require.Len(t, m.shards, 2, "%s: routing knows only the slot map", tc.name)
	}
}

// TestParseClusterWithoutNodes: CLUSTER NODES refused (an ACL) leaves the
// slot map as CLUSTER SLOTS says.
func TestParseClusterWithoutNodes(t *testing.T) {
	p := newPool(defaultSettings())
	m, err := parseCluster(p, slotsOf("10.0.0.1", "10.0.0.2", "10.0.0.3"), &Error{msg: "NOPERM"}, "10.0.0.1:7000")
	require.NoError(t, err)
	require.Empty(t, m.idle)
	require.Len(t, m.endpoints(), 3)
}

// TestIdleKeptByMoved: a MOVED patches the slots and keeps the nodes that
// serve none.
func TestIdleKeptByMoved(t *testing.T) {
	p := newPool(defaultSettings())
	m, err := parseCluster(p, slotsOf("10.0.0.1", "10.0.0.2", "10.0.0.3"), nodesText, "10.0.0.1:7000")
	require.NoError(t, err)
	c := newCluster(p, m)
	defer c.close()
	c.moved(100, "10.0.0.2:7001")
	require.Equal(t, m.endpoints(), c.slots.Load().endpoints())
	c.moved(0, "10.0.0.4:7003")
	eps := c.slots.Load().endpoints()
	require.Equal(t, Endpoint{"10.0.0.4:7003", "master"}, eps[0], "the idle master that took a slot")
	require.Equal(t, Endpoint{"10.0.0.5:7004", "replica"}, eps[1], "with its replica")
}
