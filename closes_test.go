package justredis

import "testing"

// TestClosesConnection: the commands after whose reply the server may
// close the connection they came on, told by name in any case, and known
// as such from a COMMAND table of Redis 7 (with subcommands) and of Redis
// 6 (without), or none.
func TestClosesConnection(t *testing.T) {
	redis6, err := parseCommandTable([]any{
		[]any{"client", int64(-2), []any{"admin"}, int64(0), int64(0), int64(0), []any{"@admin", "@connection"}},
		[]any{"acl", int64(-2), []any{"admin"}, int64(0), int64(0), int64(0), []any{"@admin"}},
		[]any{"get", int64(2), []any{"readonly"}, int64(1), int64(1), int64(1), []any{"@read"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []any
		closes bool
	}{
		{[]any{"CLIENT", "KILL", "127.0.0.1:6379"}, true}, // the old form may name the caller
		{[]any{"client", "kill", "ID", int64(7), "SKIPME", "no"}, true},
		{[]any{"cLiEnT", "KiLl", "USER", "u", "skipme", "NO"}, true},
		{[]any{"CLIENT", "KILL", "ID", int64(7)}, false}, // SKIPME yes is the default
		{[]any{"CLIENT", "KILL", "ID", int64(7), "SKIPME", "yes"}, false},
		{[]any{"ACL", "DELUSER", "u"}, true},
		{[]any{"acl", "load"}, true},
		{[]any{"ACL", "SETUSER", "u", "on"}, false},
		{[]any{"CLIENT", "ID"}, false},
		{[]any{"GET", "client"}, false},
		{[]any{"KILL"}, false},
	} {
		if got := closesConnection(tc.args); got != tc.closes {
			t.Errorf("closesConnection(%v) = %v", tc.args, got)
		}
		if got := mayClose(redis6.lookup(tc.args), tc.args); got != tc.closes {
			t.Errorf("with a Redis 6 table, mayClose(%v) = %v", tc.args, got)
		}
		if got := mayClose(nil, tc.args); got != tc.closes {
			t.Errorf("without a table, mayClose(%v) = %v", tc.args, got)
		}
	}
}

// TestClosesConnectionNoAllocs: without a COMMAND table every command is
// asked about by name; that costs no allocation.
func TestClosesConnectionNoAllocs(t *testing.T) {
	for _, args := range [][]any{{"GET", "k"}, {"CLIENT", "KILL", "ID", "5"}, {[]byte("set"), "k", "v"}, {"client", "kill", "addr", "x", "skipme", "no"}} {
		if n := testing.AllocsPerRun(100, func() { _ = mayClose(nil, args) }); n != 0 {
			t.Errorf("%v: %v allocations", args, n)
		}
	}
}
