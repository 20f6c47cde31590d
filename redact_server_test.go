package justredis_test

import (
	"testing"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// helloRenamed starts a Redis 7 that, like Redis 5, knows no HELLO: it
// answers it "ERR unknown command 'HELLO', with args beginning with:"
// and quotes the client's arguments, password included.
func helloRenamed(t *testing.T) *redistest.Server {
	return redistest.Start(t, redistest.Options{Args: []string{"--rename-command", "HELLO", "HELLO_RENAMED"}})
}

func addUser(t *testing.T, s *redistest.Server, name, pw string) {
	t.Helper()
	_, err := s.Do("ACL", "SETUSER", name, "on", ">"+pw, "~*", "&*", "+@all")
	require.NoError(t, err)
}

// TestPasswordWithNewlineHidden: Redis turns CR and LF in an error text
// into spaces, so a password with a newline comes back quoted as something
// that is no longer its bytes; it is hidden as Redis shows it.
func TestPasswordWithNewlineHidden(t *testing.T) {
	s := helloRenamed(t)
	for _, pw := range []string{"hunter2\nsecret-tail", "hunter2\r\nsecret-tail"} {
		addUser(t, s, "nl", pw)
		r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("nl", pw),
			justredis.WithRESP(3), justredis.WithClientName("app"))
		require.NoError(t, err)
		_, err = r.Do(testCtx(t), "PING")
		r.Close()
		require.Error(t, err)
		t.Logf("password %q -> error: %v", pw, err)
		require.NotContains(t, err.Error(), "secret-tail", "the password shows in the error")
	}
}

// TestPasswordWithNULHidden: Redis quotes arguments with %.*s, which stops
// at a NUL byte, so a password with one is quoted cut short, and may be
// followed by other arguments (SETNAME): its start is hidden too.
func TestPasswordWithNULHidden(t *testing.T) {
	s := helloRenamed(t)
	pw := "secretstart\x00rest"
	addUser(t, s, "nul", pw)
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("nul", pw),
		justredis.WithRESP(3), justredis.WithClientName("app"))
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Do(testCtx(t), "PING")
	require.Error(t, err)
	t.Logf("error: %v", err)
	require.NotContains(t, err.Error(), "secretstart", "the start of the password shows in the error")
}

// TestPasswordOfReadWordsKeepsFallback: a password that is a word of the
// server's text the client reads ("unknown command") is not hidden there,
// so against a server without HELLO (as Redis 5) the client still sees
// "unknown command" and falls back to RESP2.
func TestPasswordOfReadWordsKeepsFallback(t *testing.T) {
	s := helloRenamed(t)
	for _, pw := range []string{"hunter2", "command", "unknown"} {
		t.Run(pw, func(t *testing.T) {
			addUser(t, s, "fb-"+pw, pw)
			r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("fb-"+pw, pw))
			require.NoError(t, err)
			defer r.Close()
			v, err := r.Do(testCtx(t), "PING")
			require.NoError(t, err, "password %q: no fallback to RESP2", pw)
			require.Equal(t, "PONG", v)
		})
	}
}

// TestPasswordAsLeadingWordHidden: only the codes the client acts on are
// left alone at the start of an error, so an all-upper-case password that a
// script (or a proxy) puts first in an error, followed by text, is hidden.
func TestPasswordAsLeadingWordHidden(t *testing.T) {
	const pw = "TOPSECRET"
	s := redistest.Start(t, redistest.Options{Password: pw})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("", pw))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	for _, text := range []string{"bad TOPSECRET here", "TOPSECRET is the password"} {
		_, err = r.Do(ctx, "EVAL", "return redis.error_reply(ARGV[1])", 0, text)
		require.Error(t, err)
		t.Logf("%q -> %v", text, err)
	}
	require.NotContains(t, err.Error(), pw)
}
