package justredis_test

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// collect runs a Scan to its end and returns what it yielded; it fails the
// test on an error.
func collect(t *testing.T, r *justredis.Redis, ctx context.Context, args ...any) []string {
	t.Helper()
	var got []string
	for s, err := range r.Scan(ctx, args...) {
		require.NoError(t, err)
		got = append(got, s)
	}
	return got
}

// distinct returns list's elements once each, sorted.
func distinct(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// pairs reads a flat field, value, ... list into a map, failing on a field
// given twice with different values.
func pairs(t *testing.T, flat []string) map[string]string {
	t.Helper()
	require.Zero(t, len(flat)%2, "pairs come whole")
	m := map[string]string{}
	for i := 0; i < len(flat); i += 2 {
		if v, ok := m[flat[i]]; ok {
			require.Equal(t, v, flat[i+1], "field %s", flat[i])
		}
		m[flat[i]] = flat[i+1]
	}
	return m
}

// TestScanMatchCount scans a single server with MATCH and a small COUNT,
// so that the keys come in many pages.
func TestScanMatchCount(t *testing.T) {
	forEachRESP(t, func(t *testing.T, resp int) {
		r := newRedis(t, justredis.WithRESP(resp))
		ctx := testCtx(t)
		prefix := key(t, "k")
		var want []string
		cmds := [][]any{{"SET", key(t, "other"), 1}}
		for i := 0; i < 300; i++ {
			k := fmt.Sprintf("%s:%d", prefix, i)
			want = append(want, k)
			cmds = append(cmds, []any{"SET", k, i})
		}
		_, err := r.DoMulti(ctx, cmds...)
		require.NoError(t, err)
		sort.Strings(want)
		got := collect(t, r, ctx, "scan", "MATCH", prefix+":*", "COUNT", 10)
		require.Equal(t, want, distinct(got))

		got = collect(t, r, ctx, "SCAN", "MATCH", prefix+":*", "TYPE", "hash")
		require.Empty(t, got, "the arguments reach the server")
	})
}

// TestScanHashAgreesWithHGETALL compares HSCAN's pairs with HGETALL, for
// a small hash (one page) and a large one (many pages).
func TestScanHashAgreesWithHGETALL(t *testing.T) {
	forEachRESP(t, func(t *testing.T, resp int) {
		r := newRedis(t, justredis.WithRESP(resp))
		ctx := testCtx(t)
		for _, n := range []int{3, 1000} {
			h := key(t, fmt.Sprint("h", n))
			args := []any{"HSET", h}
			for i := 0; i < n; i++ {
				args = append(args, fmt.Sprint("field", i), fmt.Sprint("value", i))
			}
			_, err := r.Do(ctx, args...)
			require.NoError(t, err)
			all, err := justredis.StringMap(r.Do(ctx, "HGETALL", h))
			require.NoError(t, err)
			require.Len(t, all, n)
			require.Equal(t, all, pairs(t, collect(t, r, ctx, "HSCAN", h, "COUNT", 50)))
		}
	})
}

// TestScanSetsAndSortedSets checks SSCAN's members and ZSCAN's member,
// score pairs, scores as text.
func TestScanSetsAndSortedSets(t *testing.T) {
	forEachRESP(t, func(t *testing.T, resp int) {
		r := newRedis(t, justredis.WithRESP(resp))
		ctx := testCtx(t)
		s, z := key(t, "s"), key(t, "z")
		_, err := r.Do(ctx, "SADD", s, "a", "b", "c")
		require.NoError(t, err)
		require.Equal(t, []string{"a", "b", "c"}, distinct(collect(t, r, ctx, "SSCAN", s)))

		_, err = r.Do(ctx, "ZADD", z, 1.5, "a", 2, "b", -3, "c")
		require.NoError(t, err)
		require.Equal(t, map[string]string{"a": "1.5", "b": "2", "c": "-3"}, pairs(t, collect(t, r, ctx, "ZSCAN", z)))
	})
}

// TestScanDecoders shows the same strings whatever the copy's decoder.
func TestScanDecoders(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	h := key(t, "h")
	_, err := r.Do(ctx, "HSET", h, "f1", "v1", "f2", []byte{0, 0xff})
	require.NoError(t, err)
	want := map[string]string{"f1": "v1", "f2": "\x00\xff"}
	for _, dec := range []justredis.Decoder{justredis.StringDecoder, justredis.BytesDecoder, justredis.RawDecoder} {
		got := collect(t, r.Modify(justredis.WithDecoder(dec)), ctx, "HSCAN", h)
		require.Equal(t, want, pairs(t, got), "%T", dec)
	}
}

// TestScanDatabase shows that WithDatabase picks the database scanned.
func TestScanDatabase(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	k := key(t, "k")
	db7 := r.Modify(justredis.WithDatabase(7))
	_, err := db7.Do(ctx, "SET", k, 1)
	require.NoError(t, err)
	require.Equal(t, []string{k}, collect(t, db7, ctx, "SCAN", "MATCH", k))
	require.Empty(t, collect(t, r, ctx, "SCAN", "MATCH", k))
}

// TestScanErrors shows an error yielded once, with "", after which the
// iteration ends.
func TestScanErrors(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	str := key(t, "str")
	_, err := r.Do(ctx, "SET", str, "x")
	require.NoError(t, err)

	yields := func(r *justredis.Redis, ctx context.Context, args ...any) (int, error) {
		var n int
		var last error
		for s, err := range r.Scan(ctx, args...) {
			n++
			require.Empty(t, s)
			last = err
		}
		return n, last
	}

	n, err := yields(r, ctx, "HSCAN", str)
	require.Equal(t, 1, n)
	var e *justredis.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "WRONGTYPE", e.Prefix())

	for _, bad := range [][]any{nil, {"GET", "k"}, {"HSCAN"}, {42}, {"SCAN", nil}, {strings.Repeat("X", 100)}} {
		n, err := yields(r, ctx, bad...)
		require.Equal(t, 1, n, "%v", bad)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%v", bad)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	n, err = yields(r, cancelled, "SCAN")
	require.Equal(t, 1, n)
	require.ErrorIs(t, err, context.Canceled)
}

// TestScanBreak breaks out of a scan mid-page and mid-walk: nothing keeps
// running, and the client goes on working.
func TestScanBreak(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	prefix := key(t, "k")
	for i := 0; i < 50; i++ {
		_, err := r.Do(ctx, "SET", fmt.Sprintf("%s:%d", prefix, i), i)
		require.NoError(t, err)
	}
	_, err := r.Do(ctx, "PING") // connections made before counting
	require.NoError(t, err)
	before := runtime.NumGoroutine()
	for _, stop := range []int{1, 5, 30} {
		var n int
		for _, err := range r.Scan(ctx, "SCAN", "MATCH", prefix+":*", "COUNT", 10) {
			require.NoError(t, err)
			n++
			if n == stop {
				break
			}
		}
		require.Equal(t, stop, n)
	}
	// Goroutines of other tests may come and go; settle for a while.
	for i := 0; i < 100 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before, "no goroutine left behind")
	require.Len(t, distinct(collect(t, r, ctx, "SCAN", "MATCH", prefix+":*")), 50)
}

// TestScanCluster walks every master of a cluster with SCAN, one node with
// WithEndpoint, and a hash with HSCAN on its key's node.
func TestScanCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3, 1, redistest.Options{})
	r := clusterClient(t, c.Nodes()[0].Addr())
	ctx := testCtx(t)

	const n = 1000
	want := make([]string, n)
	cmds := make([][]any, n)
	for i := range want {
		want[i] = fmt.Sprintf("scan:%d", i)
		cmds[i] = []any{"SET", want[i], i}
	}
	replies, err := r.DoMulti(ctx, cmds...)
	require.NoError(t, err)
	for _, v := range replies {
		require.Equal(t, "OK", v)
	}
	sort.Strings(want)
	for _, m := range c.Masters() {
		keys, err := m.Do("DBSIZE")
		require.NoError(t, err)
		require.NotEqual(t, "0", keys, "keys on every master")
	}

	got := collect(t, r, ctx, "SCAN", "MATCH", "scan:*", "COUNT", 100)
	require.Equal(t, want, distinct(got), "every key of every master")
	// SCAN may yield a key twice (a table resized during the scan), but a
	// replica walked too would give each of its keys again.
	require.Less(t, len(got), n+n/3)

	require.Equal(t, want, distinct(collect(t, r.Modify(justredis.WithEndpoint(justredis.Masters)), ctx, "SCAN", "MATCH", "scan:*")))

	m := c.Masters()[1]
	onNode := distinct(collect(t, r.Modify(justredis.WithEndpoint(m.Addr())), ctx, "SCAN", "MATCH", "scan:*"))
	local, err := m.Do("KEYS", "scan:*")
	require.NoError(t, err)
	require.Equal(t, distinct(strings.Split(local, "\n")), onNode, "WithEndpoint: that node only")

	h := keyOn(t, c, c.Masters()[2], "scan:hash")
	args := []any{"HSET", h}
	for i := 0; i < 300; i++ {
		args = append(args, fmt.Sprint("f", i), i)
	}
	_, err = r.Do(ctx, args...)
	require.NoError(t, err)
	all, err := justredis.StringMap(r.Do(ctx, "HGETALL", h))
	require.NoError(t, err)
	resetStats(t, c)
	require.Equal(t, all, pairs(t, collect(t, r, ctx, "HSCAN", h)))
	require.Zero(t, errorStat(t, c.Masters()[2], "MOVED"), "to the key's node")
	require.Positive(t, cmdStat(t, c.Masters()[2], "hscan"))
}
