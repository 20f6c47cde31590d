package justredis

import (
	"context"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// A pipeline that the cache gives up on goes to the server whole: its
// commands that were hits were not answered from the cache, and are not
// counted as hits.
func TestClientCacheDoMultiFallbackHits(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := New(WithAddress(srv.Addr()), WithClientCache(1<<20), WithSocketTimeout(200*time.Millisecond))
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Do(ctx, "MSET", "a", "1", "b", "2")
	require.NoError(t, err)
	cached := r.Modify(WithCache(time.Minute))
	v, err := cached.Do(ctx, "GET", "a")
	require.NoError(t, err)
	require.Equal(t, "1", v)
	before := r.Stats()

	// The fill of b times out on the frozen server: the pipeline goes the
	// usual way, and fails there too.
	require.NoError(t, srv.Pause())
	_, err = cached.DoMulti(context.Background(), []any{"GET", "a"}, []any{"GET", "b"})
	require.NoError(t, srv.Resume())
	require.Error(t, err)
	st := r.Stats()
	require.Equal(t, before.CacheHits, st.CacheHits, "a hit in a pipeline that went to the server")

	// A pipeline the cache answers counts its hits (a went with the
	// tracked connection the timeout broke: read it again first).
	v, err = cached.Do(ctx, "GET", "a")
	require.NoError(t, err)
	require.Equal(t, "1", v)
	st = r.Stats()
	vals, err := cached.DoMulti(ctx, []any{"GET", "a"}, []any{"GET", "b"}, []any{"GET", "a"})
	require.NoError(t, err)
	require.Equal(t, []any{"1", "2", "1"}, vals)
	require.Equal(t, st.CacheHits+2, r.Stats().CacheHits, "a twice")
	require.Equal(t, st.CacheMisses+1, r.Stats().CacheMisses, "b")
}
