package justredis_test

import (
	"testing"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestClientCacheSlotMoves caches reads of a key that does not exist, and
// of one that does, then moves their slot to another master and lets
// another client write them there. The first node tracked the reads; the
// new owner never did, and the first sends no invalidation for a key that
// was never there to migrate. The other client's writes must still be
// seen.
func TestClientCacheSlotMoves(t *testing.T) {
	t.Skip("design: nothing tells the client that a slot moved while its reads hit the cache, " +
		"and the old node sends no invalidation for an absent key; the read is served until its ttl")
	t.Parallel()
	c := redistest.StartCluster(t, 2, 0, redistest.Options{})
	ctx := testCtx(t)
	seed := c.Nodes()[0].Addr()
	r, cached := cachedClient(t, seed, 1<<20)
	writer := newRedisOf(t, seed)
	from, to := c.Masters()[0], c.Masters()[1]
	absent := keyOn(t, c, from, "cachemove")
	present := keyInSlot(t, c, keySlot(t, c, absent), "cachemove", absent)
	_, err := r.Do(ctx, "SET", present, "v1")
	require.NoError(t, err)
	for i := 0; i < 2; i++ { // a miss, then a hit
		v, err := cached.Do(ctx, "GET", absent)
		require.NoError(t, err)
		require.Nil(t, v)
		v, err = cached.Do(ctx, "GET", present)
		require.NoError(t, err)
		require.Equal(t, "v1", v)
	}

	require.NoError(t, c.MoveSlot(keySlot(t, c, absent), from, to))
	for _, k := range []string{absent, present} {
		_, err = writer.Do(ctx, "SET", k, "v2")
		require.NoError(t, err)
	}
	eventually(t, func() bool {
		a, err := cached.Do(ctx, "GET", absent)
		require.NoError(t, err)
		p, err := cached.Do(ctx, "GET", present)
		require.NoError(t, err)
		return a == "v2" && p == "v2"
	}, "the other client's writes on the key's new node were never seen")
}
