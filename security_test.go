package justredis_test

import (
	"context"
	"crypto/tls"
	"fmt"
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
