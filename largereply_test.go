package justredis

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// A reply that outgrows the read buffer is read into a buffer of its own,
// which its values then share instead of copying (conn.makeRoom). The fault
// this guards against is the kind every shared buffer invites: memory handed
// to a caller and then written again by a later read. Every value is kept
// while others of every size are read, over single calls, pipelines,
// aggregates and concurrent callers, and checked at the end.
func TestLargeRepliesKeepTheirBytes(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	sizes := []int{0, 1, 100, readBufSize - 20, readBufSize, readBufSize + 1, 100 << 10, 1 << 20, 1<<20 + 1, 3 << 20}
	keys := make([]any, len(sizes))
	want := map[string][]byte{}
	rng := rand.New(rand.NewSource(1))
	for i, n := range sizes {
		k := fmt.Sprintf("large:%d", i)
		keys[i] = k
		want[k] = make([]byte, n)
		rng.Read(want[k])
	}
	for _, resp := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", resp), func(t *testing.T) {
			r, ctx := largeClient(t, s.Addr(), WithRESP(resp))
			for _, k := range keys {
				_, err := r.Do(ctx, "SET", k, want[k.(string)])
				require.NoError(t, err)
			}

			type kept struct {
				key string
				v   any
			}
			var mu sync.Mutex
			var all []kept
			keep := func(key string, v any) {
				mu.Lock()
				all = append(all, kept{key, v})
				mu.Unlock()
			}
			round := func(seed int64) error {
				rng := rand.New(rand.NewSource(seed))
				for _, d := range []Decoder{StringDecoder, BytesDecoder, RawDecoder} {
					rd := r.Modify(WithDecoder(d))
					for _, i := range rng.Perm(len(keys)) {
						v, err := rd.Do(ctx, "GET", keys[i])
						if err != nil {
							return err
						}
						keep(keys[i].(string), v)
					}
					cmds := make([][]any, len(keys))
					order := rng.Perm(len(keys))
					for j, i := range order {
						cmds[j] = []any{"GET", keys[i]}
					}
					vals, err := rd.DoMulti(ctx, cmds...)
					if err != nil {
						return err
					}
					for j, i := range order {
						keep(keys[i].(string), vals[j])
					}
					v, err := rd.Do(ctx, append([]any{"MGET"}, keys...)...)
					if err != nil {
						return err
					}
					elems := largeElems(v)
					if len(elems) != len(keys) {
						return fmt.Errorf("MGET gave %d values for %d keys", len(elems), len(keys))
					}
					for i, e := range elems {
						keep(keys[i].(string), e)
					}
				}
				return nil
			}
			require.NoError(t, round(0))
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- round(int64(g + 1))
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			for _, k := range all {
				require.True(t, bytes.Equal(want[k.key], largeBytes(k.v)), "%s: %d bytes kept changed", k.key, len(want[k.key]))
			}
		})
	}
}

// A large reply's buffer grows to the length its prefix announces, not by
// doubling: a GET of a value just over 1 MiB allocates about 1 MiB, not 2.
// And a shared connection does not keep a large buffer once it is over.
func TestLargeReplyAllocatesItsSize(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, ctx := largeClient(t, s.Addr())
	const size = 1<<20 + 1
	_, err := r.Do(ctx, "SET", "big", bytes.Repeat([]byte("x"), size))
	require.NoError(t, err)
	rb := r.Modify(WithDecoder(BytesDecoder))
	_, err = rb.Do(ctx, "GET", "big") // connected, command table loaded
	require.NoError(t, err)
	perCall := getAllocates(t, ctx, rb, "big", size, 20)
	require.Less(t, perCall, uint64(size+size/4), "allocated %d bytes per GET of %d", perCall, size)

	_, err = r.Do(ctx, "GET", "small")
	require.NoError(t, err)
	sv := r.p.server(s.Addr())
	m := *sv.shared.Load()
	require.NotEmpty(t, m)
	for _, sc := range m {
		require.LessOrEqual(t, len(sc.rbuf), readBufSize, "read buffer kept after a large reply")
	}
}

// largeClient is a client of the server (or cluster) at addr for the
// large-reply tests, and a context that bounds them.
func largeClient(t *testing.T, addr string, opts ...Option) (*Redis, context.Context) {
	t.Helper()
	r, err := New(append([]Option{WithAddress(addr)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return r, ctx
}

// getAllocates GETs key, whose value has size bytes, n times through r,
// and returns the bytes the process allocated per call.
func getAllocates(t *testing.T, ctx context.Context, r *Redis, key string, size, n int) uint64 {
	t.Helper()
	before := respTotalAlloc()
	for range n {
		v, err := r.Do(ctx, "GET", key)
		require.NoError(t, err)
		require.Len(t, v, size)
	}
	return (respTotalAlloc() - before) / uint64(n)
}

// largeElems is an array reply's elements, whatever the decoder.
func largeElems(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case RawValue:
		out := make([]any, len(v.Elems))
		for i := range v.Elems {
			out[i] = v.Elems[i]
		}
		return out
	}
	return nil
}

// largeBytes is a bulk string reply's bytes, whatever the decoder.
func largeBytes(v any) []byte {
	switch v := v.(type) {
	case string:
		return []byte(v)
	case []byte:
		return v
	case RawValue:
		return v.Data
	}
	return nil
}
