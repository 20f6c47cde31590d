package justredis_test

import (
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// As the docs say, the second cacheable read of a new client is answered
// locally, and the first counts as a miss: the first call used to go out
// before the client knew the COMMAND table, uncached and uncounted, so
// only the third call was a hit. Through Do and DoMulti, RESP2 and RESP3.
func TestCacheSecondCallAnsweredLocally(t *testing.T) {
	forEachRESP(t, func(t *testing.T, resp int) {
		ctx := testCtx(t)
		k := key(t, "k")
		_, err := newRedis(t).Do(ctx, "SET", k, "v")
		require.NoError(t, err)

		r := newRedis(t, justredis.WithRESP(resp), justredis.WithClientCache(1<<20))
		cached := r.Modify(justredis.WithCache(time.Minute))
		for i := 0; i < 2; i++ {
			v, err := cached.Do(ctx, "GET", k)
			require.NoError(t, err)
			require.Equal(t, "v", v)
		}
		st := r.Stats()
		require.Equal(t, uint64(1), st.CacheMisses, "Do: the first call is a miss")
		require.Equal(t, uint64(1), st.CacheHits, "Do: the second call is a hit")

		r = newRedis(t, justredis.WithRESP(resp), justredis.WithClientCache(1<<20))
		cached = r.Modify(justredis.WithCache(time.Minute))
		for i := 0; i < 2; i++ {
			vs, err := cached.DoMulti(ctx, []any{"GET", k}, []any{"STRLEN", k})
			require.NoError(t, err)
			require.Equal(t, []any{"v", int64(1)}, vs)
		}
		st = r.Stats()
		require.Equal(t, uint64(2), st.CacheMisses, "DoMulti: the first call's reads are misses")
		require.Equal(t, uint64(2), st.CacheHits, "DoMulti: the second call's reads are hits")
	})
}
