package justredis

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The cache's bookkeeping on its own; what it does with a real server's
// tracking is tested in the client-side caching suite.

func TestCacheFillHitAndInvalidate(t *testing.T) {
	c := newClientCache(1 << 20)
	owner := &conn{}
	now := time.Now()
	id := cacheID{cmd: "GET a"}

	frame, mine, wait := c.get(id, []string{"a"}, now)
	require.Nil(t, frame)
	require.Nil(t, wait)
	require.NotNil(t, mine)
	_, again, waitFor := c.get(id, []string{"a"}, now)
	require.Nil(t, again, "a second miss while the first is filling must wait, not read")
	require.Same(t, mine, waitFor)

	c.store(mine, []byte("$1\r\nx\r\n"), owner, now.Add(time.Minute))
	<-waitFor.done
	frame, _, _ = c.get(id, []string{"a"}, now)
	require.Equal(t, "$1\r\nx\r\n", string(frame))
	require.EqualValues(t, 1, c.hits.Load())
	require.EqualValues(t, 1, c.misses.Load())

	c.invalidate([]string{"a"})
	frame, mine, _ = c.get(id, []string{"a"}, now)
	require.Nil(t, frame)
	require.NotNil(t, mine)
	c.abandon(mine)
	entries, used := c.stats()
	require.Zero(t, entries)
	require.Zero(t, used)
}

// A fill that an invalidation of its key overtook carries a value that may
// predate the change: it is not stored.
func TestCacheInvalidationOvertakesFill(t *testing.T) {
	c := newClientCache(1 << 20)
	now := time.Now()
	id := cacheID{cmd: "MGET a b"}
	_, mine, _ := c.get(id, []string{"a", "b"}, now)
	c.invalidate([]string{"b"})
	c.store(mine, []byte("*0\r\n"), &conn{}, now.Add(time.Minute))
	frame, mine, _ := c.get(id, []string{"a", "b"}, now)
	require.Nil(t, frame)
	c.abandon(mine)

	_, mine, _ = c.get(id, []string{"a", "b"}, now)
	c.flush()
	c.store(mine, []byte("*0\r\n"), &conn{}, now.Add(time.Minute))
	frame, mine, _ = c.get(id, []string{"a", "b"}, now)
	require.Nil(t, frame, "a flush spoils fills under way too")
	c.abandon(mine)
}

func TestCacheExpiryAndOwner(t *testing.T) {
	c := newClientCache(1 << 20)
	now := time.Now()
	a, b := &conn{}, &conn{}
	fill := func(cmd string, owner *conn, expires time.Time) {
		_, mine, _ := c.get(cacheID{cmd: cmd}, []string{cmd}, now)
		c.store(mine, []byte("+v\r\n"), owner, expires)
	}
	fill("x", a, now.Add(time.Second))
	fill("y", a, now.Add(time.Minute))
	fill("z", b, now.Add(time.Minute))

	frame, mine, _ := c.get(cacheID{cmd: "x"}, []string{"x"}, now.Add(2*time.Second))
	require.Nil(t, frame, "expired")
	c.abandon(mine)

	c.dropOwner(a)
	frame, mine, _ = c.get(cacheID{cmd: "y"}, []string{"y"}, now)
	require.Nil(t, frame, "its connection broke")
	c.abandon(mine)
	frame, _, _ = c.get(cacheID{cmd: "z"}, []string{"z"}, now)
	require.NotNil(t, frame, "another connection's entry stays")

	dead := &conn{}
	dead.dead.Store(true)
	fill("w", dead, now.Add(time.Minute))
	frame, mine, _ = c.get(cacheID{cmd: "w"}, []string{"w"}, now)
	require.Nil(t, frame, "a reply read on a connection that broke is not kept")
	c.abandon(mine)
}

// The byte bound holds however many distinct keys come, least recently
// used out first.
func TestCacheBound(t *testing.T) {
	const max = 256 << 10
	c := newClientCache(max)
	owner := &conn{}
	now := time.Now()
	value := []byte("$32\r\n01234567890123456789012345678901\r\n")
	for i := 0; i < 100_000; i++ {
		k := fmt.Sprintf("key:%d", i)
		_, mine, _ := c.get(cacheID{cmd: "GET " + k}, []string{k}, now)
		c.store(mine, value, owner, now.Add(time.Minute))
		_, used := c.stats()
		require.LessOrEqual(t, used, max)
	}
	entries, used := c.stats()
	require.Greater(t, entries, 100)
	require.Greater(t, used, max*9/10)
	require.EqualValues(t, 100_000-entries, c.evictions.Load())
	frame, _, _ := c.get(cacheID{cmd: "GET key:99999"}, nil, now)
	require.NotNil(t, frame, "the newest stays")
	require.Len(t, c.byKey, entries, "the key index shrinks with evictions")
}
