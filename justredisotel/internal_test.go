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

// fakeCommands stands in for a *justredis.Call, whose commands only the
// justredis package can set.
type fakeCommands [][]any

func (f fakeCommands) Len() int         { return len(f) }
func (f fakeCommands) Args(i int) []any { return f[i] }

func TestOpName(t *testing.T) {
	h := New()
	for _, tc := range []struct {
		op   string
		cmds fakeCommands
		want string
	}{
		{"Do", fakeCommands{{"GET", "k"}}, "GET"},
		{"Do", fakeCommands{{"get", "k"}}, "GET"},
		{"Do", fakeCommands{{[]byte("hGetAll"), "k"}}, "HGETALL"},
		{"Do", fakeCommands{{42, "k"}}, ""},
		{"Do", fakeCommands{{}}, ""},
		{"DoMulti", fakeCommands{{}, {}}, "PIPELINE"},
		{"Do", fakeCommands{{strings.Repeat("X", maxNameLen+1)}}, ""},
		{"DoMulti", fakeCommands{{"GET", "a"}}, "GET"},
		{"DoMulti", fakeCommands{{"GET", "a"}, {"get", "b"}, {[]byte("Get"), "c"}}, "PIPELINE GET"},
		{"DoMulti", fakeCommands{{"GET", "a"}, {"SET", "b", "v"}}, "PIPELINE"},
		{"DoMulti", fakeCommands{{"GET", "a"}, {"GETSET", "b", "v"}}, "PIPELINE"},
		{"DoMulti", fakeCommands{{"GET", "a"}, {7}}, "PIPELINE"},
		{"DoMulti", fakeCommands{}, "PIPELINE"},
		{"Connection.DoMulti", fakeCommands{{"INCR", "a"}, {"INCR", "b"}}, "PIPELINE INCR"},
		{"Transaction", fakeCommands{{"INCR", "a"}}, "MULTI INCR"},
		{"Transaction", fakeCommands{{"INCR", "a"}, {"incr", "b"}}, "MULTI INCR"},
		{"Transaction", fakeCommands{{"INCR", "a"}, {"DEL", "b"}}, "MULTI"},
	} {
		assert.Equal(t, tc.want, h.opName(tc.op, tc.cmds), "%s %v", tc.op, tc.cmds)
	}
}

// TestOpNameAllocs shows that naming a call allocates nothing once its
// name has been seen, whatever the case it was written in.
func TestOpNameAllocs(t *testing.T) {
	h := New()
	for _, cmds := range []fakeCommands{
		{{"GET", "k"}},
		{{"get", "k"}},
		{{[]byte("get"), "k"}},
		{{"GET", "a"}, {"get", "b"}},
	} {
		var c commands = cmds // a *justredis.Call needs no boxing; the fake does
		h.opName("DoMulti", c)
		allocs := testing.AllocsPerRun(100, func() { h.opName("DoMulti", c) })
		assert.Zero(t, allocs, "%v", cmds)
	}
}

// TestInternBounded shows that names the application makes up cannot grow
// the table without bound: past its limit they are still named, only not
// kept.
func TestInternBounded(t *testing.T) {
	h := New()
	for i := 0; i < 2*h.names.limit; i++ {
		name := fmt.Sprintf("cmd%d", i)
		require.Equal(t, strings.ToUpper(name), h.opName("Do", fakeCommands{{name}}))
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
		cmds fakeCommands
		want string
	}{
		{fakeCommands{{"SET", "k", "v"}}, "SET k v"},
		{fakeCommands{{"SET", "k", "a value"}}, `SET k "a value"`},
		{fakeCommands{{"SET", "k", ""}}, `SET k ""`},
		{fakeCommands{{"SET", "k", []byte("a\x00b")}}, `SET k "a\x00b"`},
		{fakeCommands{{"SET", "k", `say "hi"`}}, `SET k "say \"hi\""`},
		{fakeCommands{{"INCRBY", "k", 42}, {"INCRBYFLOAT", "k", 1.5}, {"SETBIT", "k", uint8(3), true}}, "INCRBY k 42; INCRBYFLOAT k 1.5; SETBIT k 3 1"},
		{fakeCommands{{"SET", "k", struct{}{}}}, "SET k ?"},
		// Credentials never show, whatever the case of the command.
		{fakeCommands{{"AUTH", "user", "hunter2"}}, "AUTH ? ?"},
		{fakeCommands{{"auth", "hunter2"}}, "auth ?"},
		{fakeCommands{{"HELLO", 3, "AUTH", "user", "hunter2"}}, "HELLO ? ? ? ?"},
		{fakeCommands{{"MIGRATE", "h", 6379, "", 0, 5000, "AUTH", "hunter2", "KEYS", "a"}}, "MIGRATE ? ? ? ? ? ? ? ? ?"},
		{fakeCommands{{"ACL", "SETUSER", "alice", ">hunter2"}}, "ACL SETUSER ? ?"},
		{fakeCommands{{"acl", "setuser", "alice", "on", ">hunter2"}}, "acl setuser ? ? ?"},
		{fakeCommands{{"CONFIG", "SET", "requirepass", "hunter2"}}, "CONFIG SET ? ?"},
		{fakeCommands{{"SENTINEL", "SET", "mymaster", "auth-pass", "hunter2"}}, "SENTINEL SET ? ? ?"},
		// A subcommand that does not look like one is hidden too.
		{fakeCommands{{"ACL", "hunter 2"}}, "ACL ?"},
		{fakeCommands{{"GET", "a"}, {"AUTH", "hunter2"}}, "GET a; AUTH ?"},
		{fakeCommands{{}}, ""},
	} {
		assert.Equal(t, tc.want, queryText(tc.cmds))
	}
}

// TestQueryTextBounded shows that a large value is cut, at a character
// boundary, after reading no more of it than the limit.
func TestQueryTextBounded(t *testing.T) {
	big := strings.Repeat("é", 1<<20)
	text := queryText(fakeCommands{{"SET", "k", big}, {"GET", "k"}})
	assert.LessOrEqual(t, len(text), maxQueryText+len("..."))
	assert.True(t, strings.HasPrefix(text, `SET k "é`), text[:20])
	assert.True(t, strings.HasSuffix(text, "..."))
	assert.True(t, utf8.ValidString(text))

	many := make(fakeCommands, 10000)
	for i := range many {
		many[i] = []any{"GET", "key"}
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
