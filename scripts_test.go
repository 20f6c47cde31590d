package justredis

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEvalScriptRewrite(t *testing.T) {
	var shas scriptSHAs
	var loaded loadedScripts
	script := "return 1"
	const want = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db" // SCRIPT LOAD "return 1"

	for _, args := range [][]any{
		{"GET", "k"}, {"EVAL"}, {"EVALSHA", want, 0}, {"EVAL", nil, 0},
	} {
		_, _, ok := evalScript(args, &shas, &loaded)
		require.False(t, ok, "%v is no EVAL with a script", args)
	}

	args := []any{"eval", script, 1, "k", "arg"}
	sha, asSHA, ok := evalScript(args, &shas, &loaded)
	require.True(t, ok)
	require.Equal(t, want, sha)
	require.Nil(t, asSHA, "not known to be loaded yet: sent as EVAL")

	learnScript(&loaded, sha, &Error{msg: "ERR Error compiling script"})
	_, asSHA, _ = evalScript(args, &shas, &loaded)
	require.Nil(t, asSHA, "an error reply proves nothing loaded")

	learnScript(&loaded, sha, int64(1))
	_, asSHA, _ = evalScript(args, &shas, &loaded)
	require.Equal(t, []any{"EVALSHA", want, 1, "k", "arg"}, asSHA)
	require.Equal(t, []any{"eval", script, 1, "k", "arg"}, args, "the caller's slice is untouched")

	_, asSHA, _ = evalScript([]any{"EVAL_RO", []byte(script), 0}, &shas, &loaded)
	require.Equal(t, []any{"EVALSHA_RO", want, 0}, asSHA)

	learnScript(&loaded, sha, &Error{msg: "NOSCRIPT No matching script."})
	_, asSHA, _ = evalScript(args, &shas, &loaded)
	require.Nil(t, asSHA, "NOSCRIPT forgets")
}
