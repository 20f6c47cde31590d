package justredis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestSentinelReadOnlyFromOldMaster sends a pipeline to a master that
// has just become a replica, before the client knows: its writes are
// answered READONLY, its reads are answered there. Sending the writes
// again to the new master, alone, would run them after the reads that
// followed them in the pipeline, whose replies then miss them. Then a
// Transaction, whose commands the old master refuses as they are queued.
func TestSentinelReadOnlyFromOldMaster(t *testing.T) {
	t.Parallel()
	// One sentinel that would take a minute to act: the test moves the
	// master itself, then tells it.
	d := redistest.StartSentinel(t, redistest.SentinelOptions{Sentinels: 1, DownAfter: time.Minute})
	m, rep := d.Master(), d.Replicas()[0]
	r := sentinelClient(t, d)
	ctx := testCtx(t)
	_, err := r.Do(ctx, "SET", "order", "before")
	require.NoError(t, err)
	_, err = r.Do(ctx, "WAIT", 1, 5000)
	require.NoError(t, err)

	// switch makes to a replica of from, unknown to the client, and
	// tells the sentinel.
	switchMaster := func(from, to *redistest.Server) {
		t.Helper()
		host, port, _ := strings.Cut(to.Addr(), ":")
		_, err := to.Do("REPLICAOF", "NO", "ONE")
		require.NoError(t, err)
		_, err = from.Do("REPLICAOF", host, port)
		require.NoError(t, err)
		sn := d.Sentinels()[0]
		_, err = sn.Do("SENTINEL", "REMOVE", d.MasterName())
		require.NoError(t, err)
		_, err = sn.Do("SENTINEL", "MONITOR", d.MasterName(), host, port, "1")
		require.NoError(t, err)
	}

	switchMaster(m, rep)
	vals, err := r.DoMulti(ctx, []any{"SET", "order", "after"}, []any{"GET", "order"}, []any{"INCR", "order:n"}, []any{"GET", "order:n"})
	require.NoError(t, err)
	require.Equal(t, []any{"OK", "after", int64(1), "1"}, vals, "the replies of the commands run in order")

	// A command that may not run twice (PUBLISH runs on a replica too)
	// after the write: nothing goes again, and the READONLY stays.
	_, err = r.Do(ctx, "WAIT", 1, 5000)
	require.NoError(t, err)
	switchMaster(rep, m)
	vals, err = r.DoMulti(ctx, []any{"SET", "order", "again"}, []any{"PUBLISH", "order:news", "x"}, []any{"GET", "order"})
	require.NoError(t, err)
	require.ErrorContains(t, vals[0].(error), "READONLY")
	require.Equal(t, []any{int64(0), "after"}, vals[1:])
	v, err := r.Do(ctx, "GET", "order")
	require.NoError(t, err)
	require.Equal(t, "after", v)

	// A transaction queued on the old master is refused there with
	// READONLY, so nothing ran: it starts again on the new master.
	_, err = r.Do(ctx, "WAIT", 1, 5000)
	require.NoError(t, err)
	switchMaster(m, rep)
	calls := 0
	tx, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		calls++
		return [][]any{{"SET", "order", "tx"}}, nil
	}, "order")
	require.NoError(t, err)
	require.Equal(t, []any{"OK"}, tx)
	require.Equal(t, 2, calls)
	got, err := rep.Do("GET", "order")
	require.NoError(t, err)
	require.Equal(t, "tx", got)
}

// TestSentinelScriptReadOnlyErrorRunsOnce runs scripts whose own error
// reply reads READONLY, on a master that is one: the text is the script's,
// not a replica's refusal, and the script, which ran and wrote, must not
// be sent again, alone or in a pipeline, nor the master given up.
func TestSentinelScriptReadOnlyErrorRunsOnce(t *testing.T) {
	t.Parallel()
	d := redistest.StartSentinel(t, redistest.SentinelOptions{Sentinels: 1, DownAfter: time.Minute})
	r := sentinelClient(t, d)
	ctx := testCtx(t)
	const script = "redis.call('INCR', KEYS[1]) return redis.error_reply('READONLY not a replica, a script')"
	_, err := r.Do(ctx, "EVAL", script, 1, "ro:runs")
	require.ErrorContains(t, err, "READONLY not a replica")
	vals, err := r.DoMulti(ctx, []any{"EVAL", script, 1, "ro:runs"}, []any{"GET", "ro:runs"})
	require.NoError(t, err)
	require.ErrorContains(t, vals[0].(error), "READONLY not a replica")
	require.Equal(t, "2", vals[1])
	n, err := justredis.Int64(r.Do(ctx, "GET", "ro:runs"))
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "each script ran once")
}
