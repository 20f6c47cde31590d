package justredisotel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpName(t *testing.T) {
	h := New()
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"GET"}, "GET"},
		{[]string{"HGETALL"}, "HGETALL"},
		// A Call made elsewhere than in justredis may spell a name in
		// lower case.
		{[]string{"get"}, "GET"},
		{[]string{""}, ""},
		{[]string{"", ""}, "PIPELINE"},
		{[]string{strings.Repeat("X", maxNameLen+1)}, ""},
		{[]string{"GET", "GET", "get"}, "PIPELINE GET"},
		{[]string{"GET", "SET"}, "PIPELINE"},
		{[]string{"GET", "GETSET"}, "PIPELINE"},
		{[]string{"GET", ""}, "PIPELINE"},
		{[]string{}, "PIPELINE"},
		{nil, "PIPELINE"},
		{[]string{"INCR", "INCR"}, "PIPELINE INCR"},
		// What a Transaction sends: MULTI, its commands, EXEC.
		{[]string{"MULTI", "INCR", "EXEC"}, "MULTI INCR"},
		{[]string{"MULTI", "INCR", "INCR", "EXEC"}, "MULTI INCR"},
		{[]string{"MULTI", "INCR", "DEL", "EXEC"}, "MULTI"},
		{[]string{"MULTI", "EXEC"}, "MULTI"},
		{[]string{"MULTI"}, "MULTI"},
		// A Transaction's first round trip checks MULTI and WATCHes.
		{[]string{"MULTI", "DISCARD", "WATCH"}, "PIPELINE"},
	} {
		assert.Equal(t, tc.want, h.opName(tc.names), "%q", tc.names)
	}
}

// TestOpNameAllocs shows that naming a call allocates nothing once its
// name has been seen.
func TestOpNameAllocs(t *testing.T) {
	h := New()
	for _, names := range [][]string{
		{"GET"},
		{"get"},
		{"GET", "GET"},
		{"MULTI", "INCR", "INCR", "EXEC"},
	} {
		h.opName(names)
		allocs := testing.AllocsPerRun(100, func() { h.opName(names) })
		assert.Zero(t, allocs, "%q", names)
	}
}

// TestInternBounded shows that names the application makes up cannot grow
// the table without bound: past its limit they are still named, only not
// kept.
func TestInternBounded(t *testing.T) {
	h := New()
	for i := 0; i < 2*h.names.limit; i++ {
		name := fmt.Sprintf("cmd%d", i)
		require.Equal(t, "PIPELINE "+strings.ToUpper(name), h.opName([]string{name, name}))
	}
	assert.Len(t, *h.names.m.Load(), h.names.limit)
}

func TestSplitAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		host string
		port int
		ok   bool
	}{
		{"127.0.0.1:6379", "127.0.0.1", 6379, true},
		{"redis.example.com:7000", "redis.example.com", 7000, true},
		{"[::1]:6380", "::1", 6380, true},
		{"/run/redis/redis.sock", "/run/redis/redis.sock", 0, false},
		{"@abstract", "@abstract", 0, false},
		{"localhost", "localhost", 0, false},
		{"host:notaport", "host:notaport", 0, false},
		{"host:99999", "host:99999", 0, false},
	} {
		host, port, ok := splitAddr(tc.addr)
		assert.Equal(t, tc.host, host, tc.addr)
		assert.Equal(t, tc.port, port, tc.addr)
		assert.Equal(t, tc.ok, ok, tc.addr)
	}
}

// timeoutError is a net.Error that timed out, as a socket deadline's is.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestErrorType(t *testing.T) {
	for _, tc := range []struct {
		err   error
		want  string
		reply bool
	}{
		{context.DeadlineExceeded, "timeout", false},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), "timeout", false},
		{os.ErrDeadlineExceeded, "timeout", false},
		{&net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}}, "timeout", false},
		{context.Canceled, "canceled", false},
		{fmt.Errorf("%w: all busy: %w", justredis.ErrPoolTimeout, context.DeadlineExceeded), "justredis.ErrPoolTimeout", false},
		{fmt.Errorf("x: %w", justredis.ErrClosed), "justredis.ErrClosed", false},
		{fmt.Errorf("x: %w", justredis.ErrInvalidArgument), "justredis.ErrInvalidArgument", false},
		{fmt.Errorf("x: %w", justredis.ErrProtocol), "justredis.ErrProtocol", false},
		{justredis.ErrTxAborted, "justredis.ErrTxAborted", false},
		{io.EOF, "io.EOF", false},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), "io.ErrUnexpectedEOF", false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "ECONNREFUSED", false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "nohost"}}, "*net.DNSError", false},
		{errors.New("plain"), "*errors.errorString", false},
		{fmt.Errorf("wrapped: %w", &net.AddrError{Err: "bad", Addr: "x"}), "*net.AddrError", false},
	} {
		typ, reply := errorType(tc.err)
		assert.Equal(t, tc.want, typ, "%v", tc.err)
		assert.Equal(t, tc.reply, reply, "%v", tc.err)
	}
}

func TestQueryText(t *testing.T) {
	for _, tc := range []struct {
		cmds [][]string
		want string
	}{
		{[][]string{{"SET", "k", "v"}}, "SET k v"},
		{[][]string{{"SET", "k", "a value"}}, `SET k "a value"`},
		{[][]string{{"SET", "k", ""}}, `SET k ""`},
		{[][]string{{"SET", "k", "a\x00b"}}, `SET k "a\x00b"`},
		{[][]string{{"SET", "k", `say "hi"`}}, `SET k "say \"hi\""`},
		{[][]string{{"INCRBY", "k", "42"}, {"INCRBYFLOAT", "k", "1.5"}}, "INCRBY k 42; INCRBYFLOAT k 1.5"},
		// Credentials never show, whatever the case of the command.
		{[][]string{{"AUTH", "user", "hunter2"}}, "AUTH ? ?"},
		{[][]string{{"auth", "hunter2"}}, "auth ?"},
		{[][]string{{"HELLO", "3", "AUTH", "user", "hunter2"}}, "HELLO ? ? ? ?"},
		{[][]string{{"MIGRATE", "h", "6379", "", "0", "5000", "AUTH", "hunter2", "KEYS", "a"}}, "MIGRATE ? ? ? ? ? ? ? ? ?"},
		{[][]string{{"ACL", "SETUSER", "alice", ">hunter2"}}, "ACL SETUSER ? ?"},
		{[][]string{{"acl", "setuser", "alice", "on", ">hunter2"}}, "acl setuser ? ? ?"},
		{[][]string{{"CONFIG", "SET", "requirepass", "hunter2"}}, "CONFIG SET ? ?"},
		{[][]string{{"SENTINEL", "SET", "mymaster", "auth-pass", "hunter2"}}, "SENTINEL SET ? ? ?"},
		// A subcommand that does not look like one is hidden too.
		{[][]string{{"ACL", "hunter 2"}}, "ACL ?"},
		{[][]string{{"GET", "a"}, {"AUTH", "hunter2"}}, "GET a; AUTH ?"},
		{[][]string{{}}, ""},
		{nil, ""},
	} {
		assert.Equal(t, tc.want, queryText(tc.cmds))
	}
}

// TestQueryTextBounded shows that a large value is cut, at a character
// boundary, after reading no more of it than the limit.
func TestQueryTextBounded(t *testing.T) {
	big := strings.Repeat("é", 1<<20)
	text := queryText([][]string{{"SET", "k", big}, {"GET", "k"}})
	assert.LessOrEqual(t, len(text), maxQueryText+len("..."))
	assert.True(t, strings.HasPrefix(text, `SET k "é`), text[:20])
	assert.True(t, strings.HasSuffix(text, "..."))
	assert.True(t, utf8.ValidString(text))

	many := make([][]string, 10000)
	for i := range many {
		many[i] = []string{"GET", "key"}
	}
	assert.LessOrEqual(t, len(queryText(many)), maxQueryText+len("..."))
}

// TestReplyPrefix shows that only an upper-case word is taken as an error
// reply's prefix: a script's error text may hold anything.
func TestReplyPrefix(t *testing.T) {
	for prefix, want := range map[string]string{
		"WRONGTYPE":             "WRONGTYPE",
		"ERR":                   "ERR",
		"NOAUTH":                "NOAUTH",
		"BUSYGROUP":             "BUSYGROUP",
		"":                      "_OTHER",
		"my":                    "_OTHER",
		"secret=abc":            "_OTHER",
		strings.Repeat("A", 33): "_OTHER",
	} {
		assert.Equal(t, want, replyPrefix(prefix), prefix)
	}
}
