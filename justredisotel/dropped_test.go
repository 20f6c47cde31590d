package justredisotel_test

import (
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// TestPushDroppedCountsMessages: justredis.client.push.dropped is
// documented to count the push messages dropped, so after an overflow
// that NextMessage reports as n messages dropped, it must have counted n,
// not one per overflow.
func TestPushDroppedCountsMessages(t *testing.T) {
	tel := newTelemetry(t)
	r := tel.client(t, justredis.WithPushBuffer(10))
	ctx := testCtx(t)
	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	defer p.Close()
	ch := key(t, "dropped")
	require.NoError(t, p.Do(ctx, "SUBSCRIBE", ch))
	for i := 0; i < 50; i++ {
		_, err := r.Do(ctx, "PUBLISH", ch, i)
		require.NoError(t, err)
	}
	require.NoError(t, p.Do(ctx, "PING", "end"))
	var dropped int64
	for {
		msg, err := p.NextMessage(ctx)
		require.NoError(t, err)
		if msg.Kind == "dropped" {
			dropped += msg.Data.(int64)
		}
		if msg.Kind == "pong" && msg.Data == "end" {
			break
		}
	}
	require.Positive(t, dropped)
	// Events may be delivered from a goroutine of their own.
	var counted int64
	for i := 0; i < 200; i++ {
		if counted = tel.sum(t, "justredis.client.push.dropped"); counted == dropped {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.Equal(t, dropped, counted, "messages dropped, as NextMessage said, against the metric")
}
