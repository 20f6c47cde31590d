package justredis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// BytesInto puts bulk string replies in the caller's memory: correct for
// every size, reused from call to call, and once it has grown, a GET of
// 1 MiB allocates next to nothing, since it is read from the socket
// straight into that memory.
func TestBytesInto(t *testing.T) {
	r, ctx := largeClient(t, redistest.Start(t, redistest.Options{}).Addr())

	sizes := []int{0, 1, 100, readBufSize + 1, 100 << 10, 1 << 20, 3 << 20, 5}
	want := map[string][]byte{}
	rng := rand.New(rand.NewSource(1))
	for i, n := range sizes {
		k := fmt.Sprintf("into:%d", i)
		want[k] = make([]byte, n)
		rng.Read(want[k])
		_, err := r.Do(ctx, "SET", k, want[k])
		require.NoError(t, err)
	}
	_, err := r.Do(ctx, "SET", "n", 7)
	require.NoError(t, err)

	var buf []byte
	into := r.Modify(WithDecoder(BytesInto(&buf)))
	for round := range 2 {
		for i := range sizes {
			k := fmt.Sprintf("into:%d", i)
			v, err := into.Do(ctx, "GET", k)
			require.NoError(t, err)
			require.True(t, bytes.Equal(want[k], v.([]byte)), "round %d, %s", round, k)
		}
	}
	// Other replies decode as BytesDecoder's.
	v, err := into.Do(ctx, "GET", "missing")
	require.NoError(t, err)
	require.Nil(t, v)
	v, err = into.Do(ctx, "INCR", "n")
	require.NoError(t, err)
	require.Equal(t, int64(8), v)
	v, err = into.Do(ctx, "MGET", "into:2", "into:7")
	require.NoError(t, err)
	require.Equal(t, []any{want["into:2"], want["into:7"]}, v)
	// DoMulti's replies each get memory of their own.
	vals, err := into.DoMulti(ctx, []any{"GET", "into:5"}, []any{"GET", "into:3"}, []any{"GET", "into:2"})
	require.NoError(t, err)
	require.True(t, bytes.Equal(want["into:5"], vals[0].([]byte)))
	require.True(t, bytes.Equal(want["into:3"], vals[1].([]byte)))
	require.True(t, bytes.Equal(want["into:2"], vals[2].([]byte)))

	// Grown to the largest, buf takes a 1 MiB reply without allocating it.
	perCall := getAllocates(t, ctx, into, "into:5", 1<<20, 20)
	require.Less(t, perCall, uint64(64<<10), "allocated %d bytes per 1 MiB GET into a grown buffer", perCall)
}

// Callers with BytesInto beside others on the shared connection, some
// giving up at random and reusing their memory at once: each gets its own
// value, and nobody writes into a caller's memory once it has left (the
// race detector watches).
func TestBytesIntoConcurrentCallersLeaving(t *testing.T) {
	r, ctx := largeClient(t, redistest.Start(t, redistest.Options{}).Addr())
	sizes := []int{0, 10, readBufSize + 1, 200 << 10, 1 << 20}
	want := make([][]byte, len(sizes))
	for i, n := range sizes {
		want[i] = bytes.Repeat([]byte{byte('a' + i)}, n)
		_, err := r.Do(ctx, "SET", fmt.Sprintf("into:%d", i), want[i])
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			var buf []byte
			into := r.Modify(WithDecoder(BytesInto(&buf)))
			for range 60 {
				i := rng.Intn(len(sizes))
				cctx, ccancel := context.WithTimeout(ctx, time.Duration(rng.Intn(3000))*time.Microsecond)
				v, err := into.Do(cctx, "GET", fmt.Sprintf("into:%d", i))
				ccancel()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						errs <- err
						return
					}
					for j := range buf[:cap(buf)] { // the memory is ours again
						buf[:cap(buf)][j] = 'X'
					}
					continue
				}
				if !bytes.Equal(want[i], v.([]byte)) {
					errs <- fmt.Errorf("GET into:%d gave %d bytes, not its own", i, len(v.([]byte)))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	v, err := r.Do(ctx, "GET", "into:1")
	require.NoError(t, err)
	require.Equal(t, string(want[1]), v)
}
