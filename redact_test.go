package justredis

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echoingError is the error Redis gives a command it does not know: the
// name, then at most 128 bytes of quoted arguments, the last cut short.
func echoingError(args []string) string {
	var quoted string
	for _, a := range args[1:] {
		if len(quoted) >= 128 {
			break
		}
		quoted += fmt.Sprintf("'%.*s' ", 128-len(quoted), a)
	}
	return fmt.Sprintf("-ERR unknown command '%s', with args beginning with: %s\r\n", args[0], quoted)
}

// startEchoServer starts a fake server that knows no HELLO, as Redis 5 and
// some proxies do, and quotes its arguments back. With authOK it accepts
// AUTH, and quotes the arguments of every other command back the same
// way; without, it quotes AUTH's too.
func startEchoServer(t *testing.T, authOK bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(20 * time.Second))
				br := bufio.NewReader(nc)
				for {
					args, err := hostileReadCommand(br)
					if err != nil {
						return
					}
					reply := echoingError(args)
					switch strings.ToUpper(args[0]) {
					case "AUTH":
						if authOK {
							reply = "+OK\r\n"
						}
					case "COMMAND":
						reply = "*0\r\n"
					case "PING", "SELECT":
						reply = "+OK\r\n"
					}
					if _, err := nc.Write([]byte(reply)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestRedact: the password is hidden whole, and where a server cut it
// short among the arguments it quoted.
func TestRedact(t *testing.T) {
	long := strings.Repeat("s3cr3t-", 30)
	for _, tc := range []struct{ msg, secret, want string }{
		{"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'default' 'pw1234' ", "pw1234",
			"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'default' '" + hidden + "' "},
		{echoingError([]string{"HELLO", "3", "AUTH", "default", long})[1:], long,
			"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'default' '" + hidden + "'"},
		{"WRONGPASS invalid username-password pair or user is disabled.", "pw", "WRONGPASS invalid username-password pair or user is disabled."},
		{"ERR says pw1234 twice: pw1234", "pw1234", "ERR says " + hidden + " twice: " + hidden},
		{"ERR nothing", "", "ERR nothing"},
		// Inside a longer word it is the server's text, not the password.
		{"WRONGPASS invalid username-password pair or user is disabled.", "PASS", "WRONGPASS invalid username-password pair or user is disabled."},
		{"PASS", "PASS", hidden},
		{"ERR PASS1 1PASS PASS", "PASS", "ERR PASS1 1PASS " + hidden},
		{"ERR aaa aa", "aa", "ERR aaa " + hidden},
		{"ERR éPASS PASSé", "PASS", "ERR éPASS PASSé"},
		// Ends that are not letters or digits join no word.
		{"ERR x-ab!y", "-ab!", "ERR x" + hidden + "y"},
		{"ERR user:pw@host", "pw", "ERR user:" + hidden + "@host"},
		// Only the last quoted argument may be cut short: '3' is no start
		// of the password "3abc" but an argument of its own.
		{"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'default' '3a' ", "3abc",
			"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'default' '" + hidden + "'"},
		// Redis 5 quotes with backquotes, each argument followed by ", ",
		// and cuts the last one short after 128 bytes.
		{"ERR unknown command `HELLO`, with args beginning with: `3`, `AUTH`, `default`, `pw1234`, ", "pw1234",
			"ERR unknown command `HELLO`, with args beginning with: `3`, `AUTH`, `default`, `" + hidden + "`, "},
		{"ERR unknown command `HELLO`, with args beginning with: `3`, `AUTH`, `default`, `" + long[:110] + "`, ", long,
			"ERR unknown command `HELLO`, with args beginning with: `3`, `AUTH`, `default`, `" + hidden + "`,"},
		{"ERR unknown command `HELLO`, with args beginning with: `3`, `AUTH`, `default`, `3a`, ", "3abc",
			"ERR unknown command `HELLO`, with args beginning with: `3`, `AUTH`, `default`, `" + hidden + "`,"},
		// A password equal to a word of the server's own text leaves the
		// error's code and a redirection alone: the client reads them.
		{"MOVED 3999 127.0.0.1:6379", "6379", "MOVED 3999 127.0.0.1:6379"},
		{"MOVED 3999 10.0.0.1:7000", "0", "MOVED 3999 10.0.0.1:7000"},
		{"ASK 3999 127.0.0.1:7001", "127", "ASK 3999 127.0.0.1:7001"},
		{"NOSCRIPT No matching script. Please use EVAL.", "NOSCRIPT", "NOSCRIPT No matching script. Please use EVAL."},
		{"LOADING Redis is loading the dataset in memory", "LOADING", "LOADING Redis is loading the dataset in memory"},
		{"pw1234 says pw1234", "pw1234", hidden + " says " + hidden},
		// Any other leading word is text, as a script's may be.
		{"TOPSECRET is the password", "TOPSECRET", hidden + " is the password"},
		// Redis shows CR and LF as spaces, and quotes up to a NUL.
		{"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'u' 'hunter2 secret-tail' 'SETNAME' 'app' ", "hunter2\nsecret-tail",
			"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'u' '" + hidden + "' 'SETNAME' 'app' "},
		{"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'u' 'secretstart' 'SETNAME' 'app' ", "secretstart\x00rest",
			"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'u' '" + hidden + "' 'SETNAME' 'app' "},
		// Both at once.
		{"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'default' 'hunter  42' 'SETNAME' 'app' ", "hunter\r\n42\x00tail",
			"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'default' '" + hidden + "' 'SETNAME' 'app' "},
		// A passphrase that starts with a code the client reads spares
		// nothing of itself; the code alone is spared.
		{"LOADING open sesame", "LOADING open sesame", hidden},
		{"LOADING open sesame, said the script", "LOADING open sesame", hidden + ", said the script"},
		{"LOADING Redis is loading the dataset in memory", "LOADING", "LOADING Redis is loading the dataset in memory"},
		{"EXECABORT Transaction discarded because of previous errors.", "EXECABORT", "EXECABORT Transaction discarded because of previous errors."},
		// Only a well-formed redirection is spared whole.
		{"MOVED 1 is what pw1234 says", "pw1234", "MOVED 1 is what " + hidden + " says"},
		// A password made only of words the client reads in Redis's own
		// text is not hidden: the HELLO fallback goes by "unknown command".
		{"ERR unknown command 'HELLO', with args beginning with: '3' ", "unknown command",
			"ERR unknown command 'HELLO', with args beginning with: '3' "},
		{"ERR This instance has cluster support disabled", "cluster support", "ERR This instance has cluster support disabled"},
		{"ERR unknown command 'PING' ", "'ping'", "ERR unknown command 'PING' "},
		// A password that is a word the client reads in Redis's own text
		// is not hidden: the HELLO fallback goes by "unknown command".
		{"ERR unknown command 'HELLO', with args beginning with: '3' ", "command",
			"ERR unknown command 'HELLO', with args beginning with: '3' "},
	} {
		require.Equal(t, tc.want, redact(tc.msg, tc.secret))
	}
}

// TestPasswordNeverEchoed: a server that quotes the password back, in the
// handshake or later, never makes an error show it, whatever its length.
func TestPasswordNeverEchoed(t *testing.T) {
	for _, pw := range []string{"hunter2-secret", strings.Repeat("long-secret-", 20)} {
		echoAuth := startEchoServer(t, false)
		for _, resp := range []int{0, 2, 3} {
			for _, user := range []string{"", "app"} {
				r, err := New(WithAddress(echoAuth), WithAuth(user, pw), WithRESP(resp), WithConnectRetry(0))
				require.NoError(t, err)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err = r.Do(ctx, "PING")
				cancel()
				r.Close()
				require.Error(t, err, "RESP %d, user %q", resp, user)
				require.NotContains(t, err.Error(), pw[:8], "RESP %d, user %q", resp, user)
				require.Contains(t, err.Error(), hidden)
			}
		}

		// Logged in, a command that quotes its arguments back.
		r, err := New(WithAddress(startEchoServer(t, true)), WithAuth("", pw), WithRESP(0))
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = r.Do(ctx, "FOO", "x", pw)
		require.Error(t, err)
		require.NotContains(t, err.Error(), pw[:8])
		vals, err := r.DoMulti(ctx, []any{"FOO", pw})
		require.NoError(t, err)
		require.NotContains(t, vals[0].(error).Error(), pw[:8])
		cancel()
		r.Close()
	}
}

// TestPasswordHiddenOnPushConnection: an error reply on a push connection
// that quotes the password hides it, in the error and in the Message, with
// RawDecoder too.
func TestPasswordHiddenOnPushConnection(t *testing.T) {
	const pw = "push-s3cret"
	r, err := New(WithAddress(startEchoServer(t, true)), WithAuth("", pw), WithRESP(0))
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, d := range []Decoder{StringDecoder, RawDecoder} {
		p, err := r.Modify(WithDecoder(d)).PushConnection(ctx)
		require.NoError(t, err)
		require.NoError(t, p.Do(ctx, "SUBSCRIBE", pw))
		msg, err := p.NextMessage(ctx)
		p.Close()
		require.Error(t, err)
		require.NotContains(t, err.Error(), pw)
		require.Contains(t, err.Error(), hidden)
		require.NotContains(t, fmt.Sprint(msg.Data), pw)
	}
}
