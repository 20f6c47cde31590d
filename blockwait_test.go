package justredis

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCommandWait: each blocking command's timeout is read where it
// stands, in its unit; 0, and what cannot be read, wait for ever.
func TestCommandWait(t *testing.T) {
	forever := blockWait{forever: true}
	for _, tc := range []struct {
		args []any
		want blockWait
	}{
		{[]any{"BLPOP", "a", "b", 2}, blockWait{wait: 2*time.Second + serverLate}},
		{[]any{"brpop", "a", "1.5"}, blockWait{wait: 1500*time.Millisecond + serverLate}},
		{[]any{"BZPOPMIN", "z", 0.25}, blockWait{wait: 250*time.Millisecond + serverLate}},
		{[]any{"BLMOVE", "a", "b", "LEFT", "RIGHT", []byte("3")}, blockWait{wait: 3*time.Second + serverLate}},
		{[]any{"BRPOPLPUSH", "a", "b", 0}, forever},
		{[]any{"BLPOP", "a", "soon"}, forever},
		{[]any{"BLPOP", "a", -1}, blockWait{}},
		{[]any{"BLPOP", "a", "1e300"}, forever},
		// The server's lateness counts even for a wait too short for
		// nanoseconds, and a sum past math.MaxInt64 is no bound.
		{[]any{"BLPOP", "a", "1e-300"}, blockWait{wait: serverLate}},
		{[]any{"BLPOP", "a", "9223372036"}, forever},
		{[]any{"BLMPOP", 0.5, 1, "a", "LEFT"}, blockWait{wait: 500*time.Millisecond + serverLate}},
		{[]any{"BZMPOP", "0", 1, "z", "MIN"}, forever},
		{[]any{"XREAD", "COUNT", 1, "BLOCK", 1500, "STREAMS", "s", "$"}, blockWait{wait: 1500*time.Millisecond + serverLate}},
		{[]any{"xreadgroup", "GROUP", "g", "c", "block", "0", "STREAMS", "s", ">"}, forever},
		{[]any{"XREAD", "STREAMS", "BLOCK", "0"}, blockWait{}}, // a stream named BLOCK
		{[]any{"XREAD", "COUNT", 1, "STREAMS", "s", "0"}, blockWait{}},
		{[]any{"WAIT", 1, 250}, blockWait{wait: 250*time.Millisecond + serverLate}},
		{[]any{"WAITAOF", 1, 0, 0}, forever},
		{[]any{"MODULE.BLOCK", "x", 1}, forever},
	} {
		require.Equal(t, tc.want, commandWait(tc.args), "%v", tc.args)
	}
	sum := blockWait{wait: time.Second}.add(blockWait{wait: 2 * time.Second})
	require.Equal(t, blockWait{wait: 3 * time.Second}, sum)
	require.True(t, sum.add(forever).forever)
	// Waits near math.MaxInt64 add up to no bound, not to a wrapped sum.
	require.True(t, blockWait{wait: math.MaxInt64 - 1}.add(blockWait{wait: 2}).forever)
}
