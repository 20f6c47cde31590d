package justredis

import (
	"fmt"
	"testing"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestPushTrackingReconnectInvalidatesAll: a PushConnection with CLIENT
// TRACKING and no subscriptions loses its server connection. The server's
// tracking went with it, and invalidations sent meanwhile are lost, so
// before any invalidation from the new connection the user must be told
// to drop everything (an "invalidate" with nil Data, as for a flush):
// there is no subscription confirmation to tell it otherwise.
func TestPushTrackingReconnectInvalidatesAll(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	ctx := pushCtx(t)
	r := pushClient(t, s, WithRESP(3))
	p := openPush(t, r)
	do(t, p, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "gap:")
	do(t, p, "PING")
	require.Equal(t, "pong", next(t, p).Kind)

	n, err := s.Do("CLIENT", "KILL", "TYPE", "normal")
	require.NoError(t, err)
	require.NotEqual(t, "0", n, "no connection killed")
	// Written while the connection is down or coming back: its
	// invalidation may be lost, which the user must be told.
	_, err = r.Do(ctx, "SET", "gap:lost", 1)
	require.NoError(t, err)

	flushed := false
	for i := 0; i < 200; i++ {
		key := fmt.Sprintf("gap:after:%d", i)
		_, err = r.Do(ctx, "SET", key, 1)
		require.NoError(t, err)
		do(t, p, "PING")
		for {
			msg := next(t, p)
			if msg.Kind == "pong" {
				break
			}
			require.Equal(t, "invalidate", msg.Kind, "%+v", msg)
			if msg.Data == nil {
				flushed = true
				continue
			}
			if keys, _ := msg.Data.([]any); len(keys) == 1 && keys[0] == key {
				require.True(t, flushed, "an invalidation came on the new connection, but nothing said that those of the gap may be lost")
				return
			}
		}
	}
	t.Fatal("tracking never came back")
}
