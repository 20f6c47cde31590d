package justredis

import (
	"errors"
	"testing"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// A command the server refuses changes nothing: what a reconnect sets up
// again is what the server accepted. Refused here by ACL: the user may use
// the channels allowed:* only, and may not PUNSUBSCRIBE.
func TestPushRefusedChangesNothing(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	_, err := s.Do("ACL", "SETUSER", "limited", "on", ">pw", "resetchannels", "&allowed:*", "+@all", "-punsubscribe")
	require.NoError(t, err)
	forBothRESP(t, func(t *testing.T, resp int) {
		r := pushClient(t, s, WithRESP(resp), WithAuth("limited", "pw"))
		p := openPush(t, r)
		expect := func(want ...string) {
			t.Helper()
			for _, w := range want {
				msg, err := p.NextMessage(pushCtx(t))
				if w == "error" {
					var e *Error
					require.True(t, errors.As(err, &e), "%+v, %v", msg, err)
					require.Equal(t, "NOPERM", e.Prefix())
					continue
				}
				require.NoError(t, err)
				require.Equal(t, w, msg.Kind+" "+msg.Channel)
			}
		}
		do(t, p, "SUBSCRIBE", "allowed:1", "forbidden")
		expect("error")
		do(t, p, "SUBSCRIBE", "allowed:2", "allowed:3")
		do(t, p, "UNSUBSCRIBE", "allowed:3")
		expect("subscribe allowed:2", "subscribe allowed:3", "unsubscribe allowed:3")
		do(t, p, "PSUBSCRIBE", "forbidden*")
		do(t, p, "PSUBSCRIBE", "allowed:*")
		do(t, p, "PUNSUBSCRIBE", "allowed:*")
		expect("error", "psubscribe allowed:*", "error")
		do(t, p, "SSUBSCRIBE", "forbidden")
		do(t, p, "SSUBSCRIBE", "allowed:s")
		do(t, p, "SUNSUBSCRIBE", "allowed:s")
		expect("error", "ssubscribe allowed:s", "sunsubscribe allowed:s")

		killPubSub(t, s)
		// Only what the server accepted and was not taken back, and the
		// pattern it refused to drop; then the pong shows that nothing
		// else was set up.
		expect("subscribe allowed:2", "psubscribe allowed:*")
		do(t, p, "PING")
		require.Equal(t, "pong", next(t, p).Kind)
		ctx := pushCtx(t)
		_, err := r.Do(ctx, "PUBLISH", "allowed:2", "hi")
		require.NoError(t, err)
		got := map[string]Message{}
		for len(got) < 2 {
			msg := next(t, p)
			got[msg.Kind] = msg
		}
		require.Equal(t, Message{Kind: "message", Channel: "allowed:2", Data: "hi"}, got["message"])
		require.Equal(t, Message{Kind: "pmessage", Channel: "allowed:2", Pattern: "allowed:*", Data: "hi"}, got["pmessage"])
		nothingPending(t, p)
	})

	// A user without PING: the PING sent after each command is refused
	// too, and that is not the user's news.
	_, err = s.Do("ACL", "SETUSER", "noping", "on", ">pw", "resetchannels", "&allowed:*", "+@all", "-ping")
	require.NoError(t, err)
	t.Run("WithoutPING", func(t *testing.T) {
		forBothRESP(t, func(t *testing.T, resp int) {
			r := pushClient(t, s, WithRESP(resp), WithAuth("noping", "pw"))
			p := openPush(t, r)
			do(t, p, "SUBSCRIBE", "forbidden")
			_, err := p.NextMessage(pushCtx(t))
			var e *Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.Contains(t, e.Error(), "channel")
			do(t, p, "SUBSCRIBE", "allowed:n")
			require.Equal(t, Message{Kind: "subscribe", Channel: "allowed:n", Data: int64(1)}, next(t, p))
			nothingPending(t, p)
			killPubSub(t, s)
			require.Equal(t, Message{Kind: "subscribe", Channel: "allowed:n", Data: int64(1)}, next(t, p))
			publishSequence(t, r, p, "allowed:n", 3)
			nothingPending(t, p)
		})
	})
}
