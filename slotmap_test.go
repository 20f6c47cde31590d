package justredis

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func node(host string, port int64) []any { return []any{host, port, "id"} }

func TestParseSlotMap(t *testing.T) {
	p := newPool(defaultSettings())
	reply := []any{
		[]any{int64(0), int64(5460), node("10.0.0.1", 7000), node("10.0.0.4", 7003)},
		[]any{int64(5461), int64(10922), node("", 7001)}, // a node that does not know its host
		[]any{int64(10923), int64(16383), node("10.0.0.3", 7002), node("?", 7005)},
	}
	m, err := parseSlotMap(p, reply, "10.0.0.9:7009")
	require.NoError(t, err)
	require.Len(t, m.shards, 3)
	require.Equal(t, "10.0.0.1:7000", m.shards[m.owner[0]-1].master.addr)
	require.Equal(t, "10.0.0.4:7003", m.shards[m.owner[5460]-1].replicas[0].addr)
	require.Equal(t, "10.0.0.9:7001", m.shards[m.owner[5461]-1].master.addr, "the answering node's host stands in")
	require.Empty(t, m.shards[m.owner[16383]-1].replicas, "an unknown endpoint serves nobody")
	require.Equal(t, []Endpoint{
		{"10.0.0.1:7000", "master"}, {"10.0.0.4:7003", "replica"},
		{"10.0.0.9:7001", "master"}, {"10.0.0.3:7002", "master"},
	}, m.endpoints())
	require.Len(t, m.masters(), 3)
	require.Equal(t, "10.0.0.1:7000", m.anyMaster().addr)
}

func TestParseSlotMapRefusesMalformed(t *testing.T) {
	p := newPool(defaultSettings())
	for _, reply := range []any{
		"not an array",
		[]any{"not an entry"},
		[]any{[]any{int64(0)}},
		[]any{[]any{int64(5), int64(1), node("h", 1)}},     // lo > hi
		[]any{[]any{int64(0), int64(16384), node("h", 1)}}, // past the last slot
		[]any{},
		[]any{[]any{int64(0), int64(1), node("?", 1)}}, // nobody serves a slot
	} {
		_, err := parseSlotMap(p, reply, "h:1")
		require.Error(t, err, "%v", reply)
	}
}

// TestSlotMapMoved: a MOVED reply patches the map at once, for that slot
// only, adding a master it did not know.
func TestSlotMapMoved(t *testing.T) {
	p := newPool(defaultSettings())
	m, err := parseSlotMap(p, []any{[]any{int64(0), int64(16383), node("127.0.0.1", 1)}}, "127.0.0.1:1")
	require.NoError(t, err)
	c := newCluster(p, m)
	defer c.close()
	c.moved(42, "127.0.0.1:2")
	require.Equal(t, "127.0.0.1:2", c.pick(42, false).addr)
	require.Equal(t, "127.0.0.1:1", c.pick(43, false).addr)
	require.Equal(t, "127.0.0.1:1", c.pick(-1, false).addr, "keyless commands go to slot 0's master")
	require.Equal(t, "127.0.0.1:1", m.shards[m.owner[42]-1].master.addr, "the old map is never changed")
}
