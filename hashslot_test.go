package justredis

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHashSlotVectors(t *testing.T) {
	// The check value of CRC-16/XMODEM, and slots the Redis documentation
	// and CLUSTER KEYSLOT give.
	require.Equal(t, uint16(0x31C3), crc16("123456789"))
	require.Equal(t, 12739, hashSlot("123456789"))
	require.Equal(t, 12182, hashSlot("foo"))
	require.Equal(t, 5061, hashSlot("bar"))
	require.Equal(t, 15495, hashSlot("a"))
	require.Equal(t, 0, hashSlot(""))
	require.Equal(t, hashSlot("user1000"), hashSlot("{user1000}.following"))
	require.Equal(t, hashSlot("{user1000}.following"), hashSlot("{user1000}.followers"))
	require.Equal(t, hashSlot("foo"), hashSlot([]byte("foo")))

	// The hash tag rules of the cluster specification.
	require.Equal(t, hashSlot("bar"), hashSlot("foo{bar}{zap}"), "the first tag only")
	require.Equal(t, hashSlot("{bar"), hashSlot("foo{{bar}}zap"), "from the first { to the first } after it")
	require.Equal(t, crc16("foo{}{bar}")%numSlots, uint16(hashSlot("foo{}{bar}")), "an empty tag hashes the whole key")
	require.Equal(t, crc16("foo{bar")%numSlots, uint16(hashSlot("foo{bar")), "no closing brace")
	require.Equal(t, crc16("foo}bar{")%numSlots, uint16(hashSlot("foo}bar{")), "a } before the { does not count")
	require.Equal(t, 4015, hashSlot("foo{{bar}}zap"), "as CLUSTER KEYSLOT says")
	require.Equal(t, 8363, hashSlot("foo{}{bar}"), "as CLUSTER KEYSLOT says")
	require.Equal(t, crc16("{}")%numSlots, uint16(hashSlot("{}")))
}

func TestParseRedirect(t *testing.T) {
	slot, addr, ok := parseRedirect("MOVED 3999 127.0.0.1:6381", "10.0.0.1:7000")
	require.True(t, ok)
	require.Equal(t, 3999, slot)
	require.Equal(t, "127.0.0.1:6381", addr)

	_, addr, ok = parseRedirect("ASK 1 :6381", "10.0.0.1:7000")
	require.True(t, ok)
	require.Equal(t, "10.0.0.1:6381", addr, "a node that does not know its host")

	_, addr, ok = parseRedirect("MOVED 1 ::1:6381", "[::1]:7000")
	require.True(t, ok)
	require.Equal(t, "[::1]:6381", addr)

	for _, bad := range []string{"MOVED", "MOVED x 1.2.3.4:5", "MOVED 16384 1.2.3.4:5", "MOVED 1 nowhere"} {
		_, _, ok := parseRedirect(bad, "h:1")
		require.False(t, ok, bad)
	}
}

// TestKeyFinder checks key specifications in both shapes the server sends:
// maps under RESP3, flat lists under RESP2.
func TestKeyFinder(t *testing.T) {
	index := func(i int) map[string]any {
		return map[string]any{"type": "index", "spec": map[string]any{"index": int64(i)}}
	}
	keyword := func(w string, from int) map[string]any {
		return map[string]any{"type": "keyword", "spec": map[string]any{"keyword": w, "startfrom": int64(from)}}
	}
	rng := func(last, step, limit int) map[string]any {
		return map[string]any{"type": "range", "spec": map[string]any{"lastkey": int64(last), "keystep": int64(step), "limit": int64(limit)}}
	}
	keynum := func(idx, first, step int) map[string]any {
		return map[string]any{"type": "keynum", "spec": map[string]any{"keynumidx": int64(idx), "firstkey": int64(first), "keystep": int64(step)}}
	}
	spec := func(bs, fk map[string]any, flags ...any) any {
		return map[string]any{"flags": flags, "begin_search": bs, "find_keys": fk}
	}
	get := &command{name: "get", keySpecs: []any{spec(index(1), rng(0, 1, 0))}}
	mset := &command{name: "mset", keySpecs: []any{spec(index(1), rng(-1, 2, 0))}}
	eval := &command{name: "eval", movableKeys: true, keySpecs: []any{spec(index(2), keynum(0, 1, 1))}}
	xread := &command{name: "xread", movableKeys: true, keySpecs: []any{spec(keyword("STREAMS", 1), rng(-1, 1, 2))}}
	migrate := &command{name: "migrate", movableKeys: true, keySpecs: []any{
		spec(index(3), rng(0, 1, 0)), spec(keyword("KEYS", -2), rng(-1, 1, 0), "incomplete")}}
	legacy := &command{name: "mget", firstKey: 1, lastKey: -1, keyStep: 1}
	legacyMovable := &command{name: "eval", movableKeys: true}

	asked := 0
	ask := func(_ context.Context, args []any) ([]any, error) {
		asked++
		return []any{"{t}a", "{t}b"}, nil
	}
	slot := func(cmd *command, args ...any) (int, error) {
		t.Helper()
		f := newKeyFinder(cmd)
		var asked []any
		if f.getKeys {
			asked, _ = ask(context.Background(), args)
		}
		return f.slot(args, asked)
	}
	a, b := "{t}a", "b" // different slots

	for _, tc := range []struct {
		cmd  *command
		args []any
		want int // -1: keyless; -2: CROSSSLOT
	}{
		{get, []any{"GET", "foo"}, 12182},
		{get, []any{"GET"}, -1},
		{mset, []any{"MSET", a, 1, "{t}c", 2}, hashSlot("t")},
		{mset, []any{"MSET", a, 1, b, 2}, -2},
		{mset, []any{"MSET", a, b, "{t}c", 2}, hashSlot("t")}, // b is a value
		{eval, []any{"EVAL", "s", 2, a, "{t}x", b}, hashSlot("t")},
		{eval, []any{"EVAL", "s", 2, a, b}, -2},
		{eval, []any{"EVAL", "s", "0", a}, -1},
		{eval, []any{"EVAL", "s", 9, a}, -1}, // more keys than arguments: the server says so
		{xread, []any{"XREAD", "COUNT", 1, "streams", a, "{t}y", "0", "0"}, hashSlot("t")},
		{xread, []any{"XREAD", "STREAMS", a, b, "0", "0"}, -2},
		{xread, []any{"XREAD", "COUNT", 1}, -1},
		{legacy, []any{"MGET", a, "{t}z"}, hashSlot("t")},
		{legacy, []any{"MGET", a, b}, -2},
		{nil, []any{"NOSUCH", a}, -1},
		{&command{name: "ping"}, []any{"PING"}, -1},
		{get, []any{"GET", 42}, hashSlot("42")},
	} {
		got, err := slot(tc.cmd, tc.args...)
		if tc.want == -2 {
			require.ErrorIs(t, err, ErrInvalidArgument, "%v", tc.args)
			require.True(t, strings.HasPrefix(err.Error(), "CROSSSLOT"), err.Error())
			continue
		}
		require.NoError(t, err, "%v", tc.args)
		require.Equal(t, tc.want, got, "%v", tc.args)
	}
	require.Zero(t, asked, "complete key specs need no COMMAND GETKEYS")

	for _, cmd := range []*command{migrate, legacyMovable} {
		got, err := slot(cmd, "X", "h", 1, "", 0, 10, "KEYS", a, b)
		require.NoError(t, err)
		require.Equal(t, hashSlot("t"), got)
	}
	require.Equal(t, 2, asked, "incomplete specs, and movable keys before Redis 7, ask the server")

	require.True(t, newKeyFinder(migrate).getKeys, "MIGRATE's keys come from the server")

	// RESP2 sends the same as flat lists.
	flat := []any{"flags", []any{"RW"},
		"begin_search", []any{"type", "index", "spec", []any{"index", int64(2)}},
		"find_keys", []any{"type", "keynum", "spec", []any{"keynumidx", int64(0), "firstkey", int64(1), "keystep", int64(1)}}}
	got, err := slot(&command{name: "eval", movableKeys: true, keySpecs: []any{flat}}, "EVAL", "s", 1, "foo")
	require.NoError(t, err)
	require.Equal(t, 12182, got)
}
