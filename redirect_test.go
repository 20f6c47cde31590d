package justredis

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRedirectNeedsValidAddress: a MOVED or ASK whose address is not a
// host and a port in range is no redirection the client follows.
func TestRedirectNeedsValidAddress(t *testing.T) {
	for _, bad := range []string{
		"MOVED 1 host:port", "MOVED 1 host:0", "MOVED 1 host:65536", "ASK 1 host:-1",
		"MOVED 1 a/b:6379", "MOVED 1 host:6379 extra", "MOVED 1 :",
	} {
		_, _, ok := parseRedirect(bad, "10.0.0.1:7000")
		require.False(t, ok, bad)
	}
	slot, addr, ok := parseRedirect("ASK 16383 redis-7.example:6380", "10.0.0.1:7000")
	require.True(t, ok)
	require.Equal(t, 16383, slot)
	require.Equal(t, "redis-7.example:6380", addr)
}
