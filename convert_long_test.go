package justredis_test

import (
	"testing"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// A converter's error about a long value shows where the value was cut,
// so that it does not show another value: Redis's 37-digit big number used
// to be quoted as a 32-digit one, and a sentence cut mid-word as if whole.
func TestConvertErrorsShowWhereCut(t *testing.T) {
	ctx := testCtx(t)
	forEachRESP(t, func(t *testing.T, resp int) {
		r := newRedis(t, justredis.WithRESP(resp))
		const big = "1234567999999999999999999999999999999" // DEBUG PROTOCOL bignum
		_, err := justredis.Int64(r.Do(ctx, "DEBUG", "PROTOCOL", "bignum"))
		require.Error(t, err)
		require.Contains(t, err.Error(), big[:32]+"...")

		_, err = justredis.Float64(r.Do(ctx, "ECHO", "Some real reply following the attribute"))
		require.Error(t, err)
		require.Contains(t, err.Error(), `"Some real reply following the at..."`)

		_, err = justredis.Int64(r.Do(ctx, "ECHO", "short"))
		require.Error(t, err)
		require.Contains(t, err.Error(), `"short"`)
	})
}
