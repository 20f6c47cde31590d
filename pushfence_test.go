package justredis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// Each command a PushConnection sends is followed by the client's own PING
// (the fence), whose reply ends the command's replies. These tests show
// that an error answering the fence, or a keep-alive PING, is not taken for
// the command's, and that a re-setup after a reconnect loses only what the
// server refuses.

// fenceOpen opens a PushConnection to s, closed with the test.
func fenceOpen(t *testing.T, s *redistest.Server, opts ...justredis.Option) *justredis.PushConnection {
	t.Helper()
	r, err := justredis.New(append(opts, justredis.WithAddress(s.Addr()))...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	p, err := r.PushConnection(testCtx(t))
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// fenceDrain sends PING want and returns what came before its pong.
func fenceDrain(t *testing.T, p *justredis.PushConnection, want string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.Do(ctx, "PING", want))
	var got []string
	for {
		m, err := p.NextMessage(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no pong %q; got %q", want, got)
		}
		if m.Kind == "pong" && m.Data == want {
			return got
		}
		line := m.Kind + " " + m.Channel
		if err != nil {
			line += ": " + err.Error()
		}
		got = append(got, line)
	}
}

// fenceNextError waits for an error through NextMessage, returning what
// came before it.
func fenceNextError(t *testing.T, p *justredis.PushConnection) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for {
		m, err := p.NextMessage(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no error; got %q", got)
		}
		if err != nil {
			return got, err
		}
		got = append(got, m.Kind+" "+m.Channel)
	}
}

// fenceClientLine polls CLIENT LIST until a client named name has all of
// parts in its line.
func fenceClientLine(t *testing.T, s *redistest.Server, name string, parts ...string) {
	t.Helper()
	var list string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		list, _ = s.Do("CLIENT", "LIST")
		for _, line := range splitLines(list) {
			ok := strings.Contains(line, "name="+name+" ")
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return
			}
		}
	}
	t.Fatalf("no client %s with %q:\n%s", name, parts, list)
}

// Redis accepts SUBSCRIBE while it loads its data set, but answers the
// fence with LOADING: that error is not the SUBSCRIBE's, neither on a
// live connection nor in the re-setup after a reconnect, and what follows
// is still matched to the right command.
func TestPushFenceDuringLoading(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	slowLoading(t, s)
	forEachRESP(t, func(t *testing.T, resp int) {
		name := fmt.Sprintf("fenceload%d", resp)
		ctx := testCtx(t)
		p := fenceOpen(t, s, justredis.WithRESP(resp), justredis.WithClientName(name))
		require.NoError(t, p.Do(ctx, "SUBSCRIBE", "load:a"))
		require.Empty(t, fenceDrain(t, p, "0")[1:])

		done := reloading(t, s)
		require.NoError(t, p.Do(ctx, "SUBSCRIBE", "load:b")) // on the live connection
		fenceClientLine(t, s, name, "sub=2")
		_, err := s.Do("CLIENT", "KILL", "TYPE", "pubsub")
		require.NoError(t, err)
		fenceClientLine(t, s, name, "sub=2") // set up again while loading
		require.NoError(t, p.Do(ctx, "SUBSCRIBE", "load:c"))
		require.NoError(t, p.Do(ctx, "UNSUBSCRIBE", "load:nothing"))
		fenceClientLine(t, s, name, "sub=3")
		reloaded(t, done)

		got := fenceDrain(t, p, "1")
		for _, g := range got {
			require.NotContains(t, g, "LOADING", "an error for the client's own PING: %q", got)
		}
		require.Equal(t, []string{
			"subscribe load:b",
			"subscribe load:a", "subscribe load:b", // the re-setup
			"subscribe load:c", "unsubscribe load:nothing",
		}, got)

		// What was set up while loading is still wanted.
		_, err = s.Do("CLIENT", "KILL", "TYPE", "pubsub")
		require.NoError(t, err)
		fenceClientLine(t, s, name, "sub=3")
		fenceDrain(t, p, "2")
		chs, err := s.Do("PUBSUB", "CHANNELS", "load:*")
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"load:a", "load:b", "load:c"}, splitLines(chs))
	})
}

// Commands given while the connection is down are set up on the next one:
// the server refusing one channel costs that channel only, not those it
// had accepted.
func TestPushFenceKillThenRefused(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	_, err := s.Do("ACL", "SETUSER", "lim", "on", ">pw", "resetchannels", "&ok:*", "+@all")
	require.NoError(t, err)
	forEachRESP(t, func(t *testing.T, resp int) {
		ctx := testCtx(t)
		p := fenceOpen(t, s, justredis.WithRESP(resp), justredis.WithAuth("lim", "pw"))
		require.NoError(t, p.Do(ctx, "SUBSCRIBE", "ok:1", "ok:3"))
		fenceDrain(t, p, "0")
		_, err = s.Do("CLIENT", "KILL", "USER", "lim")
		require.NoError(t, err)
		require.NoError(t, p.Do(ctx, "UNSUBSCRIBE", "ok:1"))
		require.NoError(t, p.Do(ctx, "SUBSCRIBE", "ok:5", "no:1"))
		got, err := fenceNextError(t, p)
		var e *justredis.Error
		require.True(t, errors.As(err, &e), "%v", err)
		require.Equal(t, "NOPERM", e.Prefix())
		got = append(got, fenceDrain(t, p, "1")...)
		t.Log(got)
		chs, err := s.Do("PUBSUB", "CHANNELS")
		require.NoError(t, err)
		// ok:5 is there if the command went out after the reconnect
		// (refused whole), or not if it was set up on it.
		require.Contains(t, splitLines(chs), "ok:3", "the channel the server had accepted")
		require.NotContains(t, splitLines(chs), "ok:1")
		require.NotContains(t, splitLines(chs), "no:1")
	})
}

// An operator revokes one of two channels, and Redis disconnects the
// client: the reconnect keeps the one still allowed.
func TestPushFenceACLRevokedOne(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	forEachRESP(t, func(t *testing.T, resp int) {
		// A pattern is allowed by its exact text.
		_, err := s.Do("ACL", "SETUSER", "lim", "on", ">pw", "resetchannels", "&ok:*", "&ok:p*", "+@all")
		require.NoError(t, err)
		ctx := testCtx(t)
		p := fenceOpen(t, s, justredis.WithRESP(resp), justredis.WithAuth("lim", "pw"))
		require.NoError(t, p.Do(ctx, "SUBSCRIBE", "ok:1"))
		require.NoError(t, p.Do(ctx, "SUBSCRIBE", "ok:3"))
		require.NoError(t, p.Do(ctx, "PSUBSCRIBE", "ok:p*"))
		require.Equal(t, []string{"subscribe ok:1", "subscribe ok:3", "psubscribe ok:p*"}, fenceDrain(t, p, "0"))
		_, err = s.Do("ACL", "SETUSER", "lim", "resetchannels", "&ok:1", "&ok:p*")
		require.NoError(t, err)
		got, err := fenceNextError(t, p)
		var e *justredis.Error
		require.True(t, errors.As(err, &e), "%v", err)
		require.Equal(t, "NOPERM", e.Prefix())
		got = append(got, fenceDrain(t, p, "1")...)
		require.ElementsMatch(t, []string{"subscribe ok:1", "psubscribe ok:p*"}, got)
		chs, err := s.Do("PUBSUB", "CHANNELS")
		require.NoError(t, err)
		require.Equal(t, "ok:1", chs, "the channel still allowed")
		n, err := s.Do("PUBSUB", "NUMPAT")
		require.NoError(t, err)
		require.Equal(t, "1", n)
	})
}

// The keep-alive PING's replies are not delivered, errors included: here
// a user without PING permission.
func TestPushFenceKeepAliveRefused(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	_, err := s.Do("ACL", "SETUSER", "noping", "on", ">pw", "resetchannels", "&ok:*", "+@all", "-ping")
	require.NoError(t, err)
	forEachRESP(t, func(t *testing.T, resp int) {
		ctx := testCtx(t)
		p := fenceOpen(t, s, justredis.WithRESP(resp), justredis.WithAuth("noping", "pw"), justredis.WithSocketTimeout(100*time.Millisecond))
		require.NoError(t, p.Do(ctx, "SUBSCRIBE", "ok:1"))
		m, err := p.NextMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, "subscribe ok:1", m.Kind+" "+m.Channel)

		// Wait for the server to refuse a few keep-alives (the fence was
		// one refusal).
		refused := func() int {
			info, err := s.Do("INFO", "commandstats")
			require.NoError(t, err)
			for _, line := range splitLines(info) {
				if rest, ok := strings.CutPrefix(line, "cmdstat_ping:"); ok {
					_, after, _ := strings.Cut(rest, "rejected_calls=")
					var n int
					fmt.Sscanf(after, "%d", &n)
					return n
				}
			}
			return 0
		}
		start := refused()
		for deadline := time.Now().Add(10 * time.Second); refused() < start+3; time.Sleep(20 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "no keep-alive refused")
		}
		// Whatever they caused comes before this confirmation.
		require.NoError(t, p.Do(ctx, "SUBSCRIBE", "ok:2"))
		m, err = p.NextMessage(ctx)
		require.NoError(t, err, "a keep-alive's error was delivered")
		require.Equal(t, "subscribe ok:2", m.Kind+" "+m.Channel)
	})
}

// A PING of the user's with the keep-alive's argument is the user's: its
// pong is delivered, not taken for the reply to the client's own PING.
func TestPushFenceUserPingLikeKeepAlive(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	forEachRESP(t, func(t *testing.T, resp int) {
		p := fenceOpen(t, s, justredis.WithRESP(resp))
		require.Empty(t, fenceDrain(t, p, "justredis-keepalive"))
		require.NoError(t, p.Do(testCtx(t), "SUBSCRIBE", "ka"))
		require.Equal(t, []string{"subscribe ka"}, fenceDrain(t, p, "justredis-keepalive"))
		require.Empty(t, fenceDrain(t, p, "after"))
	})
}
