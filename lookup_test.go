package justredis

import "testing"

// TestLookupNextSubcommand: in a batch, a command reuses what the one
// before it was found to be only when its second argument cannot change
// that; CLIENT LIST then CLIENT KILL are two subcommands, and the second
// must be known as one that may close its connection.
func TestLookupNextSubcommand(t *testing.T) {
	redis7, err := parseCommandTable([]any{
		[]any{"client", int64(-2), []any{}, int64(0), int64(0), int64(0), []any{"@slow"}, []any{}, []any{}, []any{
			[]any{"client|list", int64(-2), []any{"admin"}, int64(0), int64(0), int64(0), []any{"@admin"}},
			[]any{"client|kill", int64(-3), []any{"admin"}, int64(0), int64(0), int64(0), []any{"@admin"}},
		}},
		[]any{"get", int64(2), []any{"readonly"}, int64(1), int64(1), int64(1), []any{"@read"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	list := []any{"CLIENT", "LIST"}
	kill := []any{"CLIENT", "KILL", "127.0.0.1:6379"}
	first := redis7.lookup(list)
	if first == nil || first.name != "list" {
		t.Fatalf("CLIENT LIST found as %+v", first)
	}
	if got := redis7.lookupNext(kill, list, first); got == nil || got.name != "kill" || !mayClose(got, kill) {
		t.Errorf("CLIENT KILL after CLIENT LIST found as %+v", got)
	}
	get := redis7.lookup([]any{"GET", "a"})
	if got := redis7.lookupNext([]any{"GET", "b"}, []any{"GET", "a"}, get); got != get {
		t.Errorf("GET after GET found as %+v", got)
	}
}
