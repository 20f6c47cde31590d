package justredis

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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
		// Its invalidation comes once tracking is back; until then,
		// nothing does.
		wait, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		for {
			msg, err := p.NextMessage(wait)
			if errors.Is(err, context.DeadlineExceeded) {
				break
			}
			require.NoError(t, err)
			require.Equal(t, "invalidate", msg.Kind, "%+v", msg)
			if msg.Data == nil {
				flushed = true
				continue
			}
			if keys, _ := msg.Data.([]any); len(keys) == 1 && keys[0] == key {
				cancel()
				require.True(t, flushed, "an invalidation came on the new connection, but nothing said that those of the gap may be lost")
				return
			}
		}
		cancel()
	}
	t.Fatal("tracking never came back")
}

// TestPushMonitorWhileDownAndSubscribedRESP2: under RESP2 the server
// refuses MONITOR on a subscribed connection, and says so through
// NextMessage. A MONITOR given while the connection is down is not sent
// for that reason, but the user must be told the same, not left waiting
// for MONITOR lines that never come.
func TestPushMonitorWhileDownAndSubscribedRESP2(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	ctx := pushCtx(t)
	r := pushClient(t, s, WithRESP(2))
	p := openPush(t, r)
	do(t, p, "SUBSCRIBE", "mon-down")
	require.Equal(t, "subscribe", next(t, p).Kind)

	require.NoError(t, s.Kill())
	down := false
	for i := 0; i < 200 && !down; i++ {
		down = p.Do(ctx, "PING") != nil // PING is not remembered: it fails while down
		if !down {
			time.Sleep(10 * time.Millisecond)
		}
	}
	require.True(t, down, "the connection never went down")
	do(t, p, "MONITOR")
	require.NoError(t, s.Restart())

	refused := false
	for i := 0; ; i++ {
		require.Less(t, i, 200, "the connection never came back")
		if p.Do(ctx, "PING", "back") == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		msg, err := p.NextMessage(ctx)
		// Without its pong, NextMessage returns ctx's error at once.
		require.NoError(t, ctx.Err(), "no pong")
		if msg.Kind == "pong" && msg.Data == "back" {
			break
		}
		if msg.Kind == "error" {
			require.Error(t, err)
			refused = true
		}
	}
	require.True(t, refused, "MONITOR was dropped without a word")
}

// TestPushPingLostWithConnection: a PING written to a server that then
// dies is never answered. The docs tell users to PING and wait for the
// pong to know the server acted on what came before; a user that waits
// must learn that the pong will not come (or get it, from a server that
// answered just before it died), before what the next connection brings.
func TestPushPingLostWithConnection(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	ctx := pushCtx(t)
	r := pushClient(t, s)
	p := openPush(t, r)
	do(t, p, "SUBSCRIBE", "ping-lost")
	require.Equal(t, "subscribe", next(t, p).Kind)

	require.NoError(t, s.Pause())
	require.NoError(t, p.Do(ctx, "PING", "unanswered"), "the PING goes out to a frozen server")
	require.NoError(t, s.Kill())
	require.NoError(t, s.Restart())

	told := false
	for {
		msg, err := p.NextMessage(ctx)
		require.NoError(t, ctx.Err())
		switch {
		case msg.Kind == "pong":
			// A server in a container may run once more before the kill
			// lands (the engine thaws it to deliver the signal), and
			// answer: the PING was answered, and so nobody waits.
			require.Equal(t, "unanswered", msg.Data)
			told = true
		case msg.Kind == "error":
			require.Error(t, err)
			require.Contains(t, err.Error(), "PING")
			told = true
		case msg.Kind == "subscribe" && msg.Channel == "ping-lost":
			require.True(t, told, "the PING's reply was lost with the connection, and nothing said so")
			return
		}
	}
}

// TestPushUnsubscribeConfirmedAfterReconnect: the confirmation of an
// UNSUBSCRIBE is the user's sign that no more messages come from the
// channel. An UNSUBSCRIBE whose connection broke before its confirmation,
// or given while the connection was down, must still be confirmed (by the
// next connection), as a SUBSCRIBE is; and it must not undo a SUBSCRIBE of
// the same channel given after it.
func TestPushUnsubscribeConfirmedAfterReconnect(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	forBothRESP(t, func(t *testing.T, resp int) {
		ctx := pushCtx(t)
		r := pushClient(t, s, WithRESP(resp))
		p := openPush(t, r)
		do(t, p, "SUBSCRIBE", "u-inflight", "u-down", "u-again", "u-stay")
		confirmations(t, p, "subscribe u-inflight", "subscribe u-down", "subscribe u-again", "subscribe u-stay")

		// In flight when the server dies.
		require.NoError(t, s.Pause())
		do(t, p, "UNSUBSCRIBE", "u-inflight")
		require.NoError(t, s.Kill())
		// Given while it is down.
		down := false
		for i := 0; i < 200 && !down; i++ {
			down = p.Do(ctx, "PING") != nil
			if !down {
				time.Sleep(10 * time.Millisecond)
			}
		}
		require.True(t, down, "the connection never went down")
		do(t, p, "UNSUBSCRIBE", "u-down")
		do(t, p, "UNSUBSCRIBE", "u-again")
		do(t, p, "SUBSCRIBE", "u-again")
		require.NoError(t, s.Restart())
		// Last, whether the reconnect sends it (in name order) or it follows.
		do(t, p, "SUBSCRIBE", "u-zmarker")

		seen := map[string]bool{}
		for {
			msg, err := p.NextMessage(ctx)
			require.NoError(t, ctx.Err())
			if err != nil {
				continue // a PING's lost reply
			}
			seen[msg.Kind+" "+msg.Channel] = true
			if msg.Kind == "subscribe" && msg.Channel == "u-zmarker" {
				break
			}
		}
		require.True(t, seen["unsubscribe u-inflight"], "UNSUBSCRIBE in flight never confirmed: %v", seen)
		require.True(t, seen["unsubscribe u-down"], "UNSUBSCRIBE while down never confirmed: %v", seen)
		for _, ch := range []string{"u-inflight", "u-down", "u-again", "u-stay"} {
			_, err := r.Do(ctx, "PUBLISH", ch, "x")
			require.NoError(t, err)
		}
		do(t, p, "PING", "end")
		var got []string
		for {
			msg := next(t, p)
			if msg.Kind == "pong" {
				break
			}
			got = append(got, msg.Kind+" "+msg.Channel)
		}
		require.Equal(t, []string{"message u-again", "message u-stay"}, got)
	})
}
