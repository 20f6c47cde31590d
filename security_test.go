package justredis_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

func TestTLSVerifiesHostname(t *testing.T) {
	s := redistest.Start(t, redistest.Options{TLS: true})
	cfg := s.TLSConfig().Clone()
	cfg.ServerName = "not-the-server.example"
	r, err := justredis.New(justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(cfg), justredis.WithConnectRetry(0))
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Do(testCtx(t), "PING")
	require.Error(t, err)
	require.Contains(t, err.Error(), "not-the-server.example", "the certificate is checked against the name")

	// The CA alone, with no ServerName, is verified against the dialled
	// host, 127.0.0.1, which the certificate names.
	cfg = &tls.Config{RootCAs: s.TLSConfig().RootCAs}
	r2, err := justredis.New(justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(cfg))
	require.NoError(t, err)
	defer r2.Close()
	_, err = r2.Do(testCtx(t), "PING")
	require.NoError(t, err)
}

// TestNoPasswordInClearWhenTLSFails dials, with TLS and a password, a
// listener that speaks plain TCP, and checks that nothing readable, least
// of all the password, was sent to it.
func TestNoPasswordInClearWhenTLSFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				n, _ := c.Read(buf)
				c.Write([]byte("-ERR not TLS\r\n")) // what a plain server would say
				got <- string(buf[:n])
			}()
		}
	}()
	r, err := justredis.New(
		justredis.WithAddress(ln.Addr().String()),
		justredis.WithTLS(&tls.Config{InsecureSkipVerify: true}),
		justredis.WithAuth("", "hunter2-secret"),
		justredis.WithConnectRetry(0),
	)
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = r.Do(ctx, "PING")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2-secret")
	sent := <-got
	require.NotContains(t, sent, "hunter2-secret", "the password went out in the clear")
	require.False(t, strings.HasPrefix(sent, "*"), "a RESP command went out in the clear: %q", sent)
}

func TestPasswordsNeverShown(t *testing.T) {
	const pw = "pa55-word-never-shown"
	s := redistest.Start(t, redistest.Options{Password: pw})
	ctx := testCtx(t)
	r, err := justredis.FromURL("redis://:" + pw + "@" + s.Addr())
	require.NoError(t, err)
	defer r.Close()
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	for _, v := range []any{r, c, r.Modify(justredis.WithDatabase(1))} {
		for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
			require.NotContains(t, fmt.Sprintf(format, v), pw, format)
		}
	}

	bad, err := justredis.FromURL("redis://:wrong-" + pw + "@" + s.Addr())
	require.NoError(t, err)
	defer bad.Close()
	_, err = bad.Do(ctx, "PING")
	require.Error(t, err)
	for _, format := range []string{"%v", "%+v", "%#v"} {
		require.NotContains(t, fmt.Sprintf(format, err), pw, format)
	}

	_, err = justredis.FromURL("redis://:" + pw + "@" + s.Addr() + "?bogus=1")
	require.Error(t, err)
	require.NotContains(t, err.Error(), pw)
}

// TestRedactionKeepsServerWords: the password is hidden where it stands as
// a word of its own, never inside one of the server's words: with the
// password "PASS", a WRONGPASS reply stays WRONGPASS, in the error, its
// Prefix and the log.
func TestRedactionKeepsServerWords(t *testing.T) {
	const pw = "PASS"
	s := redistest.Start(t, redistest.Options{Password: pw})
	ctx := testCtx(t)
	forEachRESP(t, func(t *testing.T, resp int) {
		var log syncBuffer
		bad, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("nosuchuser", pw),
			justredis.WithRESP(resp), justredis.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
		require.NoError(t, err)
		defer bad.Close()
		_, err = bad.Do(ctx, "PING")
		var e *justredis.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, "WRONGPASS", e.Prefix())
		require.Contains(t, err.Error(), "WRONGPASS invalid username-password pair")
		require.Contains(t, log.String(), "WRONGPASS invalid username-password pair")
		require.NotContains(t, log.String(), "password hidden")
	})

	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("", pw))
	require.NoError(t, err)
	defer r.Close()
	const script = "return redis.error_reply(ARGV[1])"
	for _, c := range []struct{ reply, want string }{
		{"ERR said PASS", "ERR said (password hidden)"},
		{"ERR 'PASS' at :PASS@host, PASS.", "ERR '(password hidden)' at :(password hidden)@host, (password hidden)."},
		{"ERR PASSWORD PASSES 1PASS PASS1 éPASS", "ERR PASSWORD PASSES 1PASS PASS1 éPASS"},
		{"PASSFAIL the code stays", "PASSFAIL the code stays"},
	} {
		_, err := r.Do(ctx, "EVAL", script, 0, c.reply)
		require.EqualError(t, err, c.want)
		vals, err := r.DoMulti(ctx, []any{"EVAL", script, 0, c.reply}, []any{"PING"})
		require.NoError(t, err)
		require.EqualError(t, vals[0].(error), c.want)
	}
	_, err = r.Do(ctx, "EVAL", script, 0, "PASSFAIL x")
	var e *justredis.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "PASSFAIL", e.Prefix())
}
