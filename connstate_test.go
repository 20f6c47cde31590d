package justredis_test

import (
	"testing"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// TestConnectionCloseLeavesNoState: after a command whose effect on the
// server connection lasts, Close drops that connection, so the next
// Connection never inherits a name, tracking or the like; a Connection
// that changed nothing lasting is reused.
func TestConnectionCloseLeavesNoState(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	clientID := func(c *justredis.Connection) int64 {
		id, err := c.Do(ctx, "CLIENT", "ID")
		require.NoError(t, err)
		return id.(int64)
	}
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	id := clientID(c)
	_, err = c.Do(ctx, "GET", key(t, "k"))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	c, err = r.Connection(ctx)
	require.NoError(t, err)
	require.Equal(t, id, clientID(c), "a clean connection goes back to the pool")
	require.NoError(t, c.Close())

	for _, cmds := range [][][]any{
		{{"CLIENT", "SETNAME", "leak"}},
		{{"client", "tracking", "on"}},
		{{"CLIENT", "TRACKING", "ON", "OPTIN"}, {"CLIENT", "CACHING", "YES"}},
		{{"CLIENT", "NO-EVICT", "ON"}},
		{{"CLIENT", "SETNAME", "failed name"}}, // refused by the server: dropped all the same
		{{"MULTI"}, {"CLIENT", "SETNAME", "queued"}, {"EXEC"}},
	} {
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		id := clientID(c)
		c.DoMulti(ctx, cmds...)
		require.NoError(t, c.Close())

		c, err = r.Connection(ctx)
		require.NoError(t, err)
		require.NotEqual(t, id, clientID(c), "%v: the connection was handed on", cmds)
		name, err := c.Do(ctx, "CLIENT", "GETNAME")
		require.NoError(t, err)
		require.Nil(t, name, "%v", cmds)
		info, err := c.Do(ctx, "CLIENT", "TRACKINGINFO")
		require.NoError(t, err)
		require.Equal(t, []any{"off"}, trackingFlags(t, info), "%v", cmds)
		require.NoError(t, c.Close())
	}
}

// trackingFlags picks the flags out of CLIENT TRACKINGINFO, a RESP3 map or
// a RESP2 flat array.
func trackingFlags(t *testing.T, info any) any {
	switch v := info.(type) {
	case map[string]any:
		return v["flags"]
	case []any:
		for i := 0; i+1 < len(v); i += 2 {
			if v[i] == "flags" {
				return v[i+1]
			}
		}
	}
	t.Fatalf("CLIENT TRACKINGINFO gave %v", info)
	return nil
}

// TestRefusedStateCommands: on the shared Redis, commands that would
// change every caller's connection are refused before sending, naming the
// API to use.
func TestRefusedStateCommands(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	for _, c := range []struct {
		args []any
		use  string
	}{
		{[]any{"CLIENT", "SETNAME", "x"}, "WithClientName"},
		{[]any{"client", "setinfo", "lib-name", "x"}, "Connection"},
		{[]any{"CLIENT", "TRACKING", "ON"}, "Connection"},
		{[]any{"CLIENT", "CACHING", "YES"}, "Connection"},
		{[]any{"CLIENT", "NO-EVICT", "ON"}, "Connection"},
		{[]any{"CLIENT", "NO-TOUCH", "ON"}, "Connection"},
		{[]any{"READONLY"}, "WithReplicaReads"},
		{[]any{"READWRITE"}, "WithReplicaReads"},
		{[]any{"ASKING"}, "ASK"},
	} {
		before := commandsProcessed(t)
		_, err := r.Do(ctx, c.args...)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%v", c.args)
		require.Contains(t, err.Error(), c.use)
		_, err = r.DoMulti(ctx, []any{"PING"}, c.args)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%v", c.args)
		// After an allowed command of the same name, which a batch does
		// not check again.
		_, err = r.DoMulti(ctx, []any{c.args[0], "GETNAME"}, c.args)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%v", c.args)
		require.Equal(t, int64(1), commandsProcessed(t)-before, "%v was sent", c.args)
	}
	// Reading a connection's state is no change.
	_, err := r.Do(ctx, "CLIENT", "GETNAME")
	require.NoError(t, err)
}
