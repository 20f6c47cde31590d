package redistest_test

import (
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/justredis/justredis/redistest"
)

// keyInSlot returns a key with the given prefix that hashes to slot.
func keyInSlot(t *testing.T, slot int, prefix string) string {
	t.Helper()
	for i := 0; i < 1000000; i++ {
		key := prefix + strconv.Itoa(i)
		if int(crc16([]byte(key))%16384) == slot {
			return key
		}
	}
	t.Fatalf("no key for slot %d", slot)
	return ""
}

// crc16 is CRC-16/XMODEM, the hash Redis Cluster uses for keys without a
// hash tag.
func crc16(data []byte) uint16 {
	var crc uint16
	for _, b := range data {
		crc ^= uint16(b) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func TestCRC16MatchesServer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{Args: []string{"--cluster-enabled", "yes"}})
	for _, key := range []string{"a", "foo", "user:1000", "123456789"} {
		got, err := srv.Do("CLUSTER", "KEYSLOT", key)
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(int(crc16([]byte(key))%16384)), got, key)
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := redistest.StartCluster(t, 3, 1, redistest.Options{Password: "pw"})
	t.Logf("3 masters + 3 replicas healthy after %v", time.Since(start))

	nodes := c.Nodes()
	require.Len(t, nodes, 6)
	assert.Len(t, c.Masters(), 3)
	assert.Len(t, c.Replicas(), 3)
	assert.Equal(t, "redis://:pw@"+strings.Join(c.Addrs(), ","), c.URL())

	info, err := nodes[4].Do("CLUSTER", "INFO")
	require.NoError(t, err)
	assert.Contains(t, info, "cluster_state:ok")
	assert.Contains(t, info, "cluster_known_nodes:6")

	// Slots were split evenly, nodes advertise loopback, and writes go to
	// the owning master.
	slots, err := nodes[0].Do("CLUSTER", "SHARDS")
	require.NoError(t, err)
	assert.Contains(t, slots, "127.0.0.1")
	_, err = nodes[0].Do("SET", keyInSlot(t, 0, "a"), "v")
	assert.NoError(t, err)
	_, err = nodes[0].Do("SET", keyInSlot(t, 16383, "a"), "v")
	assert.ErrorContains(t, err, "MOVED 16383 "+nodes[2].Addr())
}

func TestClusterOfFiveMasters(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := redistest.StartCluster(t, 5, 0, redistest.Options{})
	t.Logf("5 masters healthy after %v", time.Since(start))
	require.Len(t, c.Nodes(), 5)
	assert.Len(t, c.Masters(), 5)
	assert.Empty(t, c.Replicas())

	// The slots are split evenly: each master owns about a fifth, in order.
	for i, n := range c.Nodes() {
		lo, hi := i*16384/5, (i+1)*16384/5-1
		for _, slot := range []int{lo, hi} {
			_, err := n.Do("SET", keyInSlot(t, slot, "five"), "v")
			assert.NoError(t, err, "slot %d on master %d", slot, i)
		}
	}
	info, err := c.Nodes()[4].Do("CLUSTER", "INFO")
	require.NoError(t, err)
	assert.Contains(t, info, "cluster_slots_assigned:16384")
	assert.Contains(t, info, "cluster_known_nodes:5")
}

func TestClusterMoveSlot(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 2, 0, redistest.Options{})
	a, b := c.Nodes()[0], c.Nodes()[1]

	const slot = 100
	var keys []string
	for i := 0; i < 3; i++ {
		key := keyInSlot(t, slot, "k"+strconv.Itoa(i)+"-")
		keys = append(keys, key)
		_, err := a.Do("SET", key, "v"+strconv.Itoa(i))
		require.NoError(t, err)
	}

	// Enough keys for several MIGRATE batches.
	tag := "{" + keyInSlot(t, slot, "tag") + "}"
	mset := []string{"MSET"}
	for i := 0; i < 1200; i++ {
		mset = append(mset, tag+strconv.Itoa(i), "x")
	}
	_, err := a.Do(mset...)
	require.NoError(t, err)

	// Half-migrated: moved keys answer ASK on the source.
	require.NoError(t, c.BeginMigration(slot, a, b, keys[0]))
	_, err = a.Do("GET", keys[0])
	assert.ErrorContains(t, err, "ASK "+strconv.Itoa(slot)+" "+b.Addr())
	got, err := a.Do("GET", keys[1])
	require.NoError(t, err)
	assert.Equal(t, "v1", got)

	require.NoError(t, c.MoveSlot(slot, a, b))
	n, err := b.Do("CLUSTER", "COUNTKEYSINSLOT", strconv.Itoa(slot))
	require.NoError(t, err)
	assert.Equal(t, "1203", n)
	_, err = a.Do("GET", keys[1])
	assert.ErrorContains(t, err, "MOVED "+strconv.Itoa(slot)+" "+b.Addr())
	for i, key := range keys {
		got, err := b.Do("GET", key)
		require.NoError(t, err)
		assert.Equal(t, "v"+strconv.Itoa(i), got)
	}
	require.NoError(t, c.WaitHealthy(10*time.Second))
}

func TestClusterFailover(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 2, 1, redistest.Options{})
	oldMaster, replica := c.Nodes()[0], c.Nodes()[2]

	require.NoError(t, c.Failover(replica))
	assert.Contains(t, c.Masters(), replica)
	assert.Contains(t, c.Replicas(), oldMaster)
	require.NoError(t, c.WaitHealthy(20*time.Second))

	// Failing over away from a dead master forces it.
	require.NoError(t, replica.Kill())
	require.NoError(t, c.Failover(oldMaster))
	assert.Contains(t, c.Masters(), oldMaster)
	require.NoError(t, replica.Restart())
	require.NoError(t, c.WaitHealthy(20*time.Second))
	assert.Contains(t, c.Replicas(), replica)
}

func TestClusterTLS(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 2, 1, redistest.Options{TLSClientAuth: true})
	a, b := c.Nodes()[0], c.Nodes()[1]
	cfg := a.TLSConfig()
	for _, n := range c.Nodes() {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", n.TLSAddr(), cfg)
		require.NoError(t, err)
		assert.Equal(t, "+PONG", inline(t, conn, "PING"))
		conn.Close()
	}

	// Redirections name the port of the client's own kind.
	key := keyInSlot(t, 16000, "x")
	_, err := a.Do("GET", key)
	assert.ErrorContains(t, err, "MOVED 16000 "+b.Addr())
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", a.TLSAddr(), cfg)
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, "-MOVED 16000 "+b.TLSAddr(), inline(t, conn, "GET "+key))

	// Migration runs over TLS too.
	_, err = a.Do("SET", keyInSlot(t, 7, "y"), "v")
	require.NoError(t, err)
	require.NoError(t, c.MoveSlot(7, a, b))
	n, err := b.Do("CLUSTER", "COUNTKEYSINSLOT", "7")
	require.NoError(t, err)
	assert.Equal(t, "1", n)
}
