package justredis

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// A ttl or a key's expiry too far off to add to the clock is no expiry:
// the entry is kept, not taken for one that expired long ago (the sum
// overflowed, and every call missed and counted an expiration).
func TestClientCacheFarExpiry(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := srv.Do("SET", "forever", "v")
	require.NoError(t, err)
	// 10^13 ms, some 300 years: within what Redis takes, past what
	// nanoseconds hold.
	_, err = srv.Do("SET", "far", "v", "PX", "10000000000000")
	require.NoError(t, err)
	for _, tc := range []struct {
		key string
		ttl time.Duration
	}{
		{"forever", time.Duration(math.MaxInt64)},
		{"far", time.Hour},
	} {
		t.Run(tc.key, func(t *testing.T) {
			r, err := New(WithAddress(srv.Addr()), WithClientCache(1<<20))
			require.NoError(t, err)
			defer r.Close()
			_, err = r.Do(ctx, "PING") // connected, and the COMMAND table known
			require.NoError(t, err)
			cached := r.Modify(WithCache(tc.ttl))
			for i := 0; i < 3; i++ {
				v, err := cached.Do(ctx, "GET", tc.key)
				require.NoError(t, err)
				require.Equal(t, "v", v)
			}
			st := r.Stats()
			require.EqualValues(t, 1, st.CacheMisses, "one fill, then hits")
			require.EqualValues(t, 2, st.CacheHits)
			require.Zero(t, st.CacheExpirations)
		})
	}
}
