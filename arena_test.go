package justredis_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// manyValues sets up n keys, a list, a hash and counters of n values each,
// and returns the calls that read them back, with the values expected.
func manyValues(t *testing.T, r *justredis.Redis, n int) (map[string]func() (any, error), map[string]any) {
	ctx := context.Background()
	str, list, hash, ctr := key(t, "s"), key(t, "l"), key(t, "h"), key(t, "c")
	var gets, incrs [][]any
	mget := []any{"MGET"}
	_, err := r.Do(ctx, "DEL", list, hash)
	require.NoError(t, err)
	var wantGets, wantIncrs, wantList []any
	wantHash := map[string]string{}
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("%s:%d", str, i)
		v := fmt.Sprintf("value-%d", i)
		_, err = r.Do(ctx, "SET", k, v)
		require.NoError(t, err)
		_, err = r.Do(ctx, "RPUSH", list, v)
		require.NoError(t, err)
		_, err = r.Do(ctx, "HSET", hash, k, v)
		require.NoError(t, err)
		gets = append(gets, []any{"GET", k})
		mget = append(mget, k)
		incrs = append(incrs, []any{"INCRBY", fmt.Sprintf("%s:%d", ctr, i), 0})
		wantGets, wantList = append(wantGets, v), append(wantList, v)
		wantHash[k] = v
		_, err = r.Do(ctx, "SET", fmt.Sprintf("%s:%d", ctr, i), 1000+i)
		require.NoError(t, err)
		wantIncrs = append(wantIncrs, int64(1000+i))
	}
	calls := map[string]func() (any, error){
		"DoMulti GET":    func() (any, error) { v, err := r.DoMulti(ctx, gets...); return v, err },
		"DoMulti INCRBY": func() (any, error) { v, err := r.DoMulti(ctx, incrs...); return v, err },
		"MGET":           func() (any, error) { return r.Do(ctx, mget...) },
		"LRANGE":         func() (any, error) { return r.Do(ctx, "LRANGE", list, 0, -1) },
		"HGETALL":        func() (any, error) { return r.Do(ctx, "HGETALL", hash) },
	}
	want := map[string]any{"DoMulti GET": wantGets, "MGET": wantGets, "LRANGE": wantList, "HGETALL": wantHash, "DoMulti INCRBY": wantIncrs}
	return calls, want
}

// TestManyValuesAllocations: the values of a pipeline, and of an aggregate
// reply, share a few allocations (arena.go) instead of taking one or two
// each: a hundred values cost a handful, whatever the protocol.
func TestManyValuesAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, proto := range []int{2, 3} {
		r := newRedis(t, justredis.WithRESP(proto))
		calls, _ := manyValues(t, r, 100)
		for name, call := range calls {
			_, err := call()
			require.NoError(t, err)
			allocs := testing.AllocsPerRun(100, func() { call() })
			t.Logf("RESP%d %s: %.0f allocs for 100 values", proto, name, allocs)
			require.LessOrEqual(t, allocs, 10.0, "RESP%d %s", proto, name)
		}
	}
}

// asWanted gives HGETALL's reply, a flat array under RESP2 and a map
// under RESP3, one shape to compare.
func asWanted(name string, v any) any {
	if name == "HGETALL" {
		m, _ := justredis.StringMap(v, nil)
		return m
	}
	return v
}

// TestManyValuesKept: values that share an arena stay as they were while
// later calls decode theirs, and a caller changing or appending to one of
// its byte slices changes none of its neighbours.
func TestManyValuesKept(t *testing.T) {
	for _, proto := range []int{2, 3} {
		r := newRedis(t, justredis.WithRESP(proto))
		calls, want := manyValues(t, r, 100)
		kept := map[string]any{}
		for name, call := range calls {
			v, err := call()
			require.NoError(t, err)
			kept[name] = v
		}
		for round := 0; round < 20; round++ {
			for name, call := range calls {
				v, err := call()
				require.NoError(t, err)
				require.Equal(t, want[name], asWanted(name, v), "RESP%d %s, round %d", proto, name, round)
			}
		}
		for name, v := range kept {
			require.Equal(t, want[name], asWanted(name, v), "RESP%d %s: a value kept changed under later calls", proto, name)
		}

		calls, want = manyValues(t, r.Modify(justredis.WithDecoder(justredis.BytesDecoder)), 100)
		for _, name := range []string{"DoMulti GET", "MGET", "LRANGE"} {
			v, err := calls[name]()
			require.NoError(t, err)
			vals := v.([]any)
			first, second := vals[0].([]byte), vals[1].([]byte)
			first[0] = 'X'
			_ = append(first, "appended"...)
			for i, s := range want[name].([]any) {
				got := string(vals[i].([]byte))
				if i == 0 {
					require.Equal(t, "X"+s.(string)[1:], got)
					continue
				}
				require.Equal(t, s, got, "RESP%d %s: value %d changed with its neighbour", proto, name, i)
			}
			require.Equal(t, want[name].([]any)[1], string(second))
		}
	}
}

// TestManyValuesRetention: a small value kept from a reply that also
// carried a large one does not keep the large one alive: only short
// strings share an arena (arena.go).
func TestManyValuesRetention(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	big, small := key(t, "big"), key(t, "small")
	_, err := r.Do(ctx, "SET", big, strings.Repeat("b", 1<<20))
	require.NoError(t, err)
	_, err = r.Do(ctx, "SET", small, "s")
	require.NoError(t, err)
	for _, d := range []justredis.Decoder{justredis.StringDecoder, justredis.BytesDecoder} {
		rd := r.Modify(justredis.WithDecoder(d))
		const n = 32
		var kept []any
		for i := 0; i < n; i++ {
			v, err := rd.Do(ctx, "MGET", big, small)
			require.NoError(t, err)
			kept = append(kept, v.([]any)[1])
			vs, err := rd.DoMulti(ctx, []any{"GET", big}, []any{"GET", small})
			require.NoError(t, err)
			kept = append(kept, vs[1])
		}
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		// 2n MiB if every small value kept its reply's large one.
		require.Less(t, m.HeapAlloc, uint64(n/2)<<20, "%T: small values kept large ones alive", d)
		runtime.KeepAlive(kept)
	}
}
