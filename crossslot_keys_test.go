package justredis_test

import (
	"testing"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// Keys in different slots given to Connection, Transaction or
// PushConnection are refused naming them as the keys given, by position.
// The error used to read "KEYS argument 1 (slot ...)", as if the caller
// had sent a KEYS command.
func TestCrossSlotKeysNamedAsKeys(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	r, err := justredis.New(justredis.WithAddresses(c.Addrs()...))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)

	check := func(where string, err error) {
		t.Helper()
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, where)
		require.Regexp(t, `^CROSSSLOT .*: key 1 \(slot \d+\) and key 2 \(slot \d+\); nothing was sent`, err.Error(), where)
		require.NotContains(t, err.Error(), "KEYS", where)
	}
	_, err = r.Connection(ctx, "a", "b")
	check("Connection", err)
	_, err = r.PushConnection(ctx, "a", "b")
	check("PushConnection", err)
	_, err = r.Transaction(ctx, func(*justredis.Connection) ([][]any, error) { return nil, nil }, "a", "b")
	check("Transaction", err)

	// A command's own keys are still named by the command.
	_, err = r.Do(ctx, "MGET", "a", "b")
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	require.Contains(t, err.Error(), "MGET argument 1 (slot")
}
