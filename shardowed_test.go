package justredis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestShardUnsubscribeAcrossFailover: a PushConnection with two shard
// channels loses its master. One SUNSUBSCRIBE given while it is down must
// be confirmed by the new master, which must serve the other shard channel
// alone.
func TestShardUnsubscribeAcrossFailover(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 1, redistest.Options{})
	ctx := testCtx(t)
	m := c.Masters()[0]
	keep := keyOn(t, c, m, "sh-keep")
	gone := keyInSlot(t, c, keySlot(t, c, keep), "sh-gone")
	var replica *redistest.Server
	for _, s := range c.Replicas() {
		if infoField(t, s, "master_port") == m.Addr()[strings.LastIndex(m.Addr(), ":")+1:] {
			replica = s
		}
	}
	require.NotNil(t, replica)

	r := clusterClient(t, c.Nodes()[0].Addr(), justredis.WithSocketTimeout(time.Second))
	p, err := r.PushConnection(ctx, keep)
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, p.Do(ctx, "SSUBSCRIBE", keep, gone))
	awaitSubscribed(t, ctx, p, keep)
	awaitSubscribed(t, ctx, p, gone)

	require.NoError(t, m.Kill())
	down := false
	for i := 0; i < 300 && !down; i++ {
		down = p.Do(ctx, "PING") != nil
		if !down {
			time.Sleep(10 * time.Millisecond)
		}
	}
	require.True(t, down, "the connection never went down")
	require.NoError(t, p.Do(ctx, "SUNSUBSCRIBE", gone))
	require.NoError(t, c.Failover(replica))

	unsubscribed, subscribed := false, false
	for !unsubscribed || !subscribed {
		msg, err := p.NextMessage(ctx)
		require.NoError(t, ctx.Err())
		if err != nil {
			t.Logf("%v", err)
			continue
		}
		switch {
		case msg.Kind == "sunsubscribe" && msg.Channel == gone:
			unsubscribed = true
		case msg.Kind == "ssubscribe" && msg.Channel == keep:
			subscribed = true
		default:
			t.Logf("%+v", msg)
		}
	}
	for _, ch := range []string{gone, keep} {
		_, err := r.Do(ctx, "SPUBLISH", ch, "x")
		require.NoError(t, err)
	}
	require.NoError(t, p.Do(ctx, "PING", "end"))
	var got []string
	for {
		msg, err := p.NextMessage(ctx)
		require.NoError(t, err)
		if msg.Kind == "pong" {
			break
		}
		got = append(got, msg.Kind+" "+msg.Channel)
	}
	require.Equal(t, []string{"smessage " + keep}, got)
}
