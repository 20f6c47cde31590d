package justredis_test

import (
	"strconv"
	"testing"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// TestConvertersSameTextUnderRESP2AndRESP3: String, Strings and StringMap
// give the same text for a double under RESP2, where the server sends its
// own text, and RESP3, where it sends a double the client spells, whenever
// Redis itself writes the fewest digits that read back (it writes 17
// significant digits, which for a fraction such as 2.5e-05 are more).
func TestConvertersSameTextUnderRESP2AndRESP3(t *testing.T) {
	ctx := testCtx(t)
	r2 := newRedis(t, justredis.WithRESP(2))
	r3 := newRedis(t, justredis.WithRESP(3))
	raw3 := r3.Modify(justredis.WithDecoder(justredis.RawDecoder))
	k := key(t, "z")

	scores := []struct {
		member string
		score  float64
		same   bool // Redis writes the fewest digits that read back
		resp3  string
	}{
		{"ts", 1700000000, true, "1700000000"},
		{"m", 1234567, true, "1234567"},
		{"half-m", 1234567.5, true, "1234567.5"},
		{"half", 0.5, true, "0.5"},
		{"neg", -3, true, "-3"},
		{"big", 1e20, true, "1e+20"},
		{"max-int", 99999999999999984, true, "99999999999999984"},
		{"tiny", 2.5e-5, false, "2.5e-05"},
		{"tenth", 0.1, false, "0.1"},
	}
	for _, s := range scores {
		_, err := r2.Do(ctx, "ZADD", k, s.score, s.member)
		require.NoError(t, err)
	}
	for _, s := range scores {
		s2, err := justredis.String(r2.Do(ctx, "ZSCORE", k, s.member))
		require.NoError(t, err)
		s3, err := justredis.String(r3.Do(ctx, "ZSCORE", k, s.member))
		require.NoError(t, err)
		require.Equal(t, s.resp3, s3, "String(ZSCORE %s) under RESP3", s.member)
		wire, err := justredis.String(raw3.Do(ctx, "ZSCORE", k, s.member))
		require.NoError(t, err)
		require.Equal(t, s2, wire, "the server writes a double alike in both protocols")
		if s.same {
			require.Equal(t, s2, s3, "String(ZSCORE %s): RESP2 and RESP3 differ", s.member)
		} else {
			require.NotEqual(t, s2, s3, "the server's text is not the shortest: if this fails, the server changed, and the exception in String's docs may go")
			f2, err := strconv.ParseFloat(s2, 64)
			require.NoError(t, err)
			require.Equal(t, s.score, f2)
		}
		f2, err := justredis.Float64(r2.Do(ctx, "ZSCORE", k, s.member))
		require.NoError(t, err)
		f3, err := justredis.Float64(r3.Do(ctx, "ZSCORE", k, s.member))
		require.NoError(t, err)
		require.Equal(t, f2, f3)
	}

	// ZINCRBY answers with a double too; INCRBYFLOAT with the string it
	// stored, which is the same in both protocols.
	for _, c := range []struct {
		r    *justredis.Redis
		name string
	}{{r2, "RESP2"}, {r3, "RESP3"}} {
		zk, fk := key(t, "zincr"+c.name), key(t, "float"+c.name)
		s, err := justredis.String(c.r.Do(ctx, "ZINCRBY", zk, 1700000000, "m"))
		require.NoError(t, err)
		require.Equal(t, "1700000000", s, c.name)
		s, err = justredis.String(c.r.Do(ctx, "ZINCRBY", zk, 0.5, "m"))
		require.NoError(t, err)
		require.Equal(t, "1700000000.5", s, c.name)
		s, err = justredis.String(c.r.Do(ctx, "INCRBYFLOAT", fk, 1234567))
		require.NoError(t, err)
		require.Equal(t, "1234567", s, c.name)
		s, err = justredis.String(c.r.Do(ctx, "INCRBYFLOAT", fk, 0.5))
		require.NoError(t, err)
		require.Equal(t, "1234567.5", s, c.name)
	}

	// Aggregates: RESP3 sends ZRANGE ... WITHSCORES and ZPOPMIN with a
	// count as [member, score] pairs, RESP2 as one flat array.
	sameKey := key(t, "same")
	_, err := r2.Do(ctx, "ZADD", sameKey, 1700000000, "ts", 1234567, "m", 1234567.5, "half-m", 0.5, "half", -3, "neg", 1e20, "big")
	require.NoError(t, err)
	wantFlat := []string{"neg", "-3", "half", "0.5", "m", "1234567", "half-m", "1234567.5", "ts", "1700000000", "big", "1e+20"}
	wantMap := map[string]string{}
	for i := 0; i < len(wantFlat); i += 2 {
		wantMap[wantFlat[i]] = wantFlat[i+1]
	}
	for _, c := range []struct {
		r    *justredis.Redis
		name string
	}{{r2, "RESP2"}, {r3, "RESP3"}} {
		for _, d := range []struct {
			name string
			d    justredis.Decoder
		}{{"string", justredis.StringDecoder}, {"bytes", justredis.BytesDecoder}, {"raw", justredis.RawDecoder}} {
			r := c.r.Modify(justredis.WithDecoder(d.d))
			where := c.name + " " + d.name
			ss, err := justredis.Strings(r.Do(ctx, "ZRANGE", sameKey, 0, -1, "WITHSCORES"))
			require.NoError(t, err, where)
			require.Equal(t, wantFlat, ss, where)
			m, err := justredis.StringMap(r.Do(ctx, "ZRANGE", sameKey, 0, -1, "WITHSCORES"))
			require.NoError(t, err, where)
			require.Equal(t, wantMap, m, where)
			ss, err = justredis.Strings(r.Do(ctx, "ZRANGE", k+"missing", 0, -1, "WITHSCORES"))
			require.NoError(t, err, where)
			require.Empty(t, ss, where)

			popKey := key(t, "pop"+where)
			_, err = r.Do(ctx, "ZADD", popKey, 2.5, "b", 1, "a", 3, "c")
			require.NoError(t, err)
			ss, err = justredis.Strings(r.Do(ctx, "ZPOPMIN", popKey, 2))
			require.NoError(t, err, where)
			require.Equal(t, []string{"a", "1", "b", "2.5"}, ss, where)
		}
	}

	// A RESP3 map has no order to flatten: Strings says to use StringMap.
	h := key(t, "h")
	_, err = r3.Do(ctx, "HSET", h, "f", "v")
	require.NoError(t, err)
	_, err = justredis.Strings(r3.Do(ctx, "HGETALL", h))
	require.ErrorContains(t, err, "use StringMap")
	_, err = justredis.Strings(raw3.Do(ctx, "HGETALL", h))
	require.ErrorContains(t, err, "use StringMap")
	_, err = justredis.Values(r3.Do(ctx, "HGETALL", h))
	require.ErrorContains(t, err, "use StringMap")
}
