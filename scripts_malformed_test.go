package justredis_test

import (
	"strings"
	"testing"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// An EVAL or EVAL_RO without its count of keys is one the server refuses.
// When the client knew the script it used to send it as EVALSHA anyway, so
// the server's error named a command the caller never wrote ("wrong number
// of arguments for 'evalsha' command"). It goes as written, so the error
// names EVAL, through Do, DoMulti and a Connection alike.
func TestEvalWithoutNumKeysNamesEval(t *testing.T) {
	ctx := testCtx(t)
	r := newRedis(t)
	const script = "return 'ran'"
	for _, name := range []string{"EVAL", "EVAL_RO"} {
		// Teach the client that the server has the script.
		for i := 0; i < 2; i++ {
			v, err := r.Do(ctx, name, script, 0)
			require.NoError(t, err)
			require.Equal(t, "ran", v)
		}
		want := "'" + strings.ToLower(name) + "'"

		_, err := r.Do(ctx, name, script)
		var e *justredis.Error
		require.ErrorAs(t, err, &e, name)
		require.Contains(t, e.Error(), want, name+" through Do")

		vs, err := r.DoMulti(ctx, []any{name, script}, []any{name, script, 0})
		require.NoError(t, err)
		require.ErrorAs(t, vs[0].(error), &e, name)
		require.Contains(t, e.Error(), want, name+" through DoMulti")
		require.Equal(t, "ran", vs[1])

		c, err := r.Connection(ctx)
		require.NoError(t, err)
		_, err = c.Do(ctx, name, script)
		require.ErrorAs(t, err, &e, name)
		require.Contains(t, e.Error(), want, name+" through a Connection")
		require.NoError(t, c.Close())
	}
}

// An EVAL with no script at all, on a Connection, in a Transaction and
// through Do, is the server's to refuse, and leaves the connection usable.
// On a Connection it used to panic.
func TestEvalWithoutScriptRefusedByServer(t *testing.T) {
	ctx := testCtx(t)
	r := newRedis(t)
	for _, name := range []string{"EVAL", "eval_ro"} {
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		var e *justredis.Error
		_, err = c.Do(ctx, name)
		require.ErrorAs(t, err, &e, name)
		vs, err := c.DoMulti(ctx, []any{name}, []any{"PING"})
		require.NoError(t, err)
		require.ErrorAs(t, vs[0].(error), &e, name)
		require.Equal(t, "PONG", vs[1])
		v, err := c.Do(ctx, "PING")
		require.NoError(t, err)
		require.Equal(t, "PONG", v)
		require.NoError(t, c.Close())

		_, err = r.Do(ctx, name)
		require.ErrorAs(t, err, &e, name)

		_, err = r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			_, err := c.Do(ctx, name)
			require.ErrorAs(t, err, &e, name)
			return [][]any{{name}}, nil
		})
		require.ErrorAs(t, err, &e, name)
	}
}
