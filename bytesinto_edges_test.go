package justredis

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// BytesInto where one call gives several replies, which it cannot put
// in one buffer, and the large-reply buffers under hostile shapes. These
// came from a review that tried to break them; each failed before its fix.

// With DoMulti BytesInto decodes as BytesDecoder, even for one command:
// the next call through the decoder leaves the reply alone.
func TestBytesIntoDoMultiOneCommand(t *testing.T) {
	r, ctx := largeClient(t, redistest.Start(t, redistest.Options{}).Addr())
	_, err := r.Do(ctx, "MSET", "a", "aaaa", "b", "bbbb")
	require.NoError(t, err)
	var buf []byte
	into := r.Modify(WithDecoder(BytesInto(&buf)))
	v1, err := into.DoMulti(ctx, []any{"GET", "a"})
	require.NoError(t, err)
	_, err = into.DoMulti(ctx, []any{"GET", "b"})
	require.NoError(t, err)
	require.Equal(t, "aaaa", string(v1[0].([]byte)), "a DoMulti reply was overwritten by the next call")
}

// A cached DoMulti decodes each reply from its stored frame, one at a
// time: each must be its own, not all the last one in buf.
func TestBytesIntoCachedDoMulti(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, ctx := largeClient(t, s.Addr(), WithClientCache(1<<20))
	_, err := r.Do(ctx, "MSET", "ca", "aaaa", "cb", "bbbb")
	require.NoError(t, err)
	var buf []byte
	into := r.Modify(WithCache(time.Minute), WithDecoder(BytesInto(&buf)))
	for round := range 2 { // misses, then hits
		vals, err := into.DoMulti(ctx, []any{"GET", "ca"}, []any{"GET", "cb"})
		require.NoError(t, err)
		require.Equal(t, "aaaa", string(vals[0].([]byte)), "round %d", round)
		require.Equal(t, "bbbb", string(vals[1].([]byte)), "round %d", round)
	}
}

// In a cluster, DoMulti sends one batch per node, at once: batches of one
// command each must not be decoded into the one buf (a data race, and
// values sharing memory).
func TestBytesIntoClusterDoMulti(t *testing.T) {
	r, ctx := largeClient(t, redistest.StartCluster(t, 3, 0, redistest.Options{}).Addrs()[0])
	// Keys on different masters: slots of "a" (15495) and "b" (3300).
	_, err := r.Do(ctx, "SET", "a", "value-of-a")
	require.NoError(t, err)
	_, err = r.Do(ctx, "SET", "b", "value-of-b")
	require.NoError(t, err)
	var buf []byte
	into := r.Modify(WithDecoder(BytesInto(&buf)))
	for range 20 {
		vals, err := into.DoMulti(ctx, []any{"GET", "a"}, []any{"GET", "b"})
		require.NoError(t, err)
		require.Equal(t, "value-of-a", string(vals[0].([]byte)))
		require.Equal(t, "value-of-b", string(vals[1].([]byte)))
	}
}

// WithEndpoint(Masters) runs one call on every master at once: each
// master's reply is its own, not all in buf.
func TestBytesIntoMasters(t *testing.T) {
	r, ctx := largeClient(t, redistest.StartCluster(t, 3, 0, redistest.Options{}).Addrs()[0])
	var buf []byte
	m := r.Modify(WithEndpoint(Masters), WithDecoder(BytesInto(&buf)))
	v, err := m.Do(ctx, "CLUSTER", "MYID")
	require.NoError(t, err)
	ids := map[string]bool{}
	for addr, id := range v.(map[string]any) {
		b, ok := id.([]byte)
		require.True(t, ok, "%s: %T %v", addr, id, id)
		ids[string(b)] = true
	}
	require.Len(t, ids, 3, "three masters, three IDs: %v", ids)
}

// A value much larger than 1 MiB: its buffer grows at least by doubling,
// so a 32 MiB GET allocates a few times its size, not the n²/2 MiB that
// growing 1 MiB at a time cost.
func TestLargeReplyGrowsGeometrically(t *testing.T) {
	r, ctx := largeClient(t, redistest.Start(t, redistest.Options{}).Addr())
	const size = 32 << 20
	_, err := r.Do(ctx, "SET", "huge", bytes.Repeat([]byte("h"), size))
	require.NoError(t, err)
	rb := r.Modify(WithDecoder(BytesDecoder))
	_, err = rb.Do(ctx, "GET", "small") // connected, table loaded
	require.NoError(t, err)
	perCall := getAllocates(t, ctx, rb, "huge", size, 3)
	t.Logf("allocated %d MiB per GET of %d MiB", perCall>>20, size>>20)
	require.Less(t, perCall, uint64(3*size), "allocated %d MiB per GET of %d MiB", perCall>>20, size>>20)
}

// An aggregate reply's own buffer may end with room to spare (it grew by
// doubling), which the read fills with the replies pipelined after it.
// Those move once to a buffer of their size, not to a fresh one at every
// following frame.
func TestRepliesAfterAnAggregateCostTheirSize(t *testing.T) {
	r, ctx := largeClient(t, redistest.Start(t, redistest.Options{}).Addr())
	elems := make([]any, 0, 20002)
	elems = append(elems, "RPUSH", "list")
	for i := range 20000 {
		elems = append(elems, fmt.Sprintf("element-%08d", i))
	}
	_, err := r.Do(ctx, elems...)
	require.NoError(t, err)
	_, err = r.Do(ctx, "SET", "s", strings.Repeat("s", 40))
	require.NoError(t, err)
	cmds := [][]any{{"LRANGE", "list", 0, -1}}
	for range 20000 {
		cmds = append(cmds, []any{"GET", "s"})
	}
	_, err = r.DoMulti(ctx, cmds...) // warm
	require.NoError(t, err)
	// The replies: ~20000*25 bytes of LRANGE and ~20000*47 of GETs, ~1.4 MB.
	var worst uint64
	for range 3 {
		before := respTotalAlloc()
		vals, err := r.DoMulti(ctx, cmds...)
		require.NoError(t, err)
		require.Len(t, vals, len(cmds))
		worst = max(worst, respTotalAlloc()-before)
	}
	t.Logf("allocated %d KiB for a pipeline of ~1.4 MB of replies", worst>>10)
	require.Less(t, worst, uint64(32<<20), "allocated %d MiB for ~1.4 MB of replies", worst>>20)
}

// DoMulti skips the refusal check for a name repeated from the command
// before: the refused ones are still refused in every mix.
func TestDoMultiRepeatedNames(t *testing.T) {
	r, ctx := largeClient(t, redistest.Start(t, redistest.Options{}).Addr())
	refusedBatches := [][][]any{
		{{"CLIENT", "ID"}, {"CLIENT", "TRACKING", "ON"}},
		{{"CLIENT", "ID"}, {"client", "reply", "off"}},
		{{[]byte("CLIENT"), "ID"}, {"CLIENT", "SETNAME", "x"}},
		{{"CLIENT", "ID"}, {[]byte("CLIENT"), "NO-EVICT", "on"}},
		{{"CONFIG", "GET", "maxmemory"}, {"SELECT", 1}},
		{{"GET", "k"}, {"GET", "k"}, {"MULTI"}},
		{{"PING"}, {"SUBSCRIBE", "x"}},
		{{"CLIENT", "GETNAME"}, {"CLIENT", "CACHING", "yes"}},
	}
	for i, b := range refusedBatches {
		_, err := r.DoMulti(ctx, b...)
		require.ErrorIs(t, err, ErrInvalidArgument, "batch %d", i)
	}
	vals, err := r.DoMulti(ctx,
		[]any{"CONFIG", "GET", "maxmemory-policy"},
		[]any{"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"},
		[]any{"CONFIG", "GET", "maxmemory-policy"},
		[]any{[]byte("CONFIG"), "SET", "maxmemory-policy", "noeviction"},
		[]any{"CLIENT", "ID"},
		[]any{[]byte("CLIENT"), "GETNAME"},
		[]any{"CLIENT", "GETNAME"},
		[]any{"SET", "k", "v"},
		[]any{"SET", "k", "w"},
		[]any{[]byte("GET"), "k"},
		[]any{"GET", "k"},
	)
	require.NoError(t, err)
	for i, v := range vals {
		var e *Error
		if errors.As(toErr(v), &e) {
			t.Fatalf("reply %d: %v", i, e)
		}
	}
	require.Equal(t, "w", vals[10])
	// A blocking command after a non-blocking one of another name, and a
	// read-only after a write of the same name family (readonly per cmd).
	vals, err = r.DoMulti(ctx, []any{"LPUSH", "q", "x"}, []any{"BLPOP", "q", 1}, []any{"BLPOP", "q", 0.05})
	require.NoError(t, err)
	require.Equal(t, []any{"q", "x"}, vals[1])
	require.Nil(t, vals[2])
}

func toErr(v any) error {
	if e, ok := v.(error); ok {
		return e
	}
	return nil
}

var _ = runtime.GC
