package justredis

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The pieces of transparent EVALSHA on their own; what a real server makes
// of them is tested in scripts_server_test.go.

func TestScriptSHAs(t *testing.T) {
	var shas scriptSHAs
	const want = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db" // SCRIPT LOAD "return 1"
	for _, script := range []any{"return 1", []byte("return 1")} {
		sha, ok := shas.of(script)
		require.True(t, ok)
		require.Equal(t, want, sha)
	}
	require.Len(t, shas.shas, 1, "one entry per text, whatever its type")
	_, ok := shas.of(nil)
	require.False(t, ok, "not sendable")

	for i := 0; i < maxScriptSHAs+10; i++ {
		shas.of(i)
	}
	require.LessOrEqual(t, len(shas.shas), maxScriptSHAs, "bounded")
}

func TestScriptEncodeAndLearn(t *testing.T) {
	p := &pool{}
	sv := &server{}
	table := commandTable{
		"eval":    {name: "eval", evalsha: scriptEval},
		"eval_ro": {name: "eval_ro", evalsha: scriptEval},
		"get":     {name: "get"},
		"script":  {name: "script", subcommands: map[string]*command{"flush": {name: "flush", evalsha: scriptFlush}}},
	}
	script := "return 1"
	const sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
	cmds := [][]any{{"GET", "a"}, {"eval", script, 1, "k", "arg"}, {"EVAL_RO", []byte(script), 0}}
	require.Nil(t, p.planScripts(sv, &table, cmds[:1]), "no script: nothing to plan")
	require.Nil(t, p.planScripts(sv, nil, cmds), "no COMMAND table: nothing known")

	known := func() bool { loaded, _ := sv.scripts.has(sha); return loaded }
	b := p.planScripts(sv, &table, cmds)
	enc, err := b.encode(cmds, false)
	require.NoError(t, err)
	plain := encodeAll(t, cmds...)
	require.Equal(t, plain, string(enc), "not known loaded: sent as EVAL")

	require.False(t, b.learn([]any{"v", &Error{msg: "ERR Error compiling script"}, int64(1)}))
	require.True(t, known(), "EVAL_RO ran: loaded")

	enc, err = b.encode(cmds, false)
	require.NoError(t, err)
	require.Equal(t, encodeAll(t, cmds[0], []any{"EVALSHA", sha, 1, "k", "arg"}, []any{"EVALSHA_RO", sha, 0}), string(enc))
	require.Equal(t, []any{"eval", script, 1, "k", "arg"}, cmds[1], "the caller's slice is untouched")
	enc, err = b.encode(cmds, true)
	require.NoError(t, err)
	require.Equal(t, plain, string(enc), "evalOnly")

	b.encode(cmds, false)
	require.False(t, b.learn([]any{"v", &Error{msg: noScriptText}, int64(1)}),
		"in a pipeline, NOSCRIPT stays at its index")
	require.True(t, known(), "the EVALSHA_RO after it ran")

	one := cmds[1:2]
	b = p.planScripts(sv, &table, one)
	b.encode(one, false)
	require.True(t, b.learn([]any{&Error{msg: noScriptText}}), "a single call goes again")
	require.False(t, known(), "NOSCRIPT forgets")
	sv.scripts.add(sha, sv.scripts.epoch)
	b.encode(one, false)
	require.False(t, b.learn([]any{&Error{msg: "NOSCRIPT the script's own"}}), "a script's own error: it ran")
	require.False(t, known(), "but it is not known to be loaded")

	sv.scripts.add(sha, sv.scripts.epoch)
	flush := [][]any{{"SCRIPT", "FLUSH"}}
	b = p.planScripts(sv, &table, flush)
	b.learn([]any{"OK"})
	require.False(t, known(), "SCRIPT FLUSH forgets everything")

	// A SCRIPT FLUSH is forgotten at once when encoded: a script call
	// after it in the same pipeline goes as EVAL, and one before it is
	// not learnt from, since it may have run before the flush.
	sv.scripts.add(sha, sv.scripts.epoch)
	around := [][]any{cmds[1], {"script", "flush"}, cmds[1]}
	b = p.planScripts(sv, &table, around)
	enc, err = b.encode(around, false)
	require.NoError(t, err)
	require.Equal(t, encodeAll(t, []any{"EVALSHA", sha, 1, "k", "arg"}, around[1], around[2]), string(enc))
	require.False(t, known(), "forgotten once the flush is encoded")
	require.False(t, b.learn([]any{int64(1), "OK", int64(1)}))
	require.False(t, known(), "each EVAL was encoded before a flush answered after it")
	before := sv.scripts.epoch
	sv.scripts.clear()
	sv.scripts.add(sha, before)
	require.False(t, known(), "what a call encoded before a flush teaches is not learnt")

	sv.scripts.add(sha, sv.scripts.epoch)
	_, err = p.planScripts(sv, &table, [][]any{{"EVAL", script, 1, nil}}).encode([][]any{{"EVAL", script, 1, nil}}, false)
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func encodeAll(t *testing.T, cmds ...[]any) string {
	var b []byte
	for _, c := range cmds {
		var err error
		b, err = appendCommand(b, c)
		require.NoError(t, err)
	}
	return string(b)
}
