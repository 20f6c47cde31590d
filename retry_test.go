package justredis

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		reply any
		want  replyClass
	}{
		{"OK", replyFinal},
		{nil, replyFinal},
		{&Error{msg: "ERR unknown command"}, replyFinal},
		{&Error{msg: "MOVED 3999 127.0.0.1:6381"}, replyMoved},
		{&Error{msg: "ASK 3999 127.0.0.1:6381"}, replyAsk},
		{&Error{msg: "TRYAGAIN Multiple keys request during rehashing of slot"}, replyTryAgain},
		{&Error{msg: "CLUSTERDOWN The cluster is down"}, replyClusterDown},
		{&Error{msg: "LOADING Redis is loading the dataset in memory"}, replyLoading},
		{&Error{msg: "READONLY You can't write against a read only replica."}, replyFinal},
		{&Error{msg: "MOVEDX 1 h:1"}, replyFinal},
	} {
		got, e := classify(c.reply)
		require.Equal(t, c.want, got, "%v", c.reply)
		if _, isErr := c.reply.(*Error); isErr {
			require.Same(t, c.reply, e)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n, max := range []time.Duration{10, 20, 40, 80, 160, 320, 640, 1000, 1000} {
		max *= time.Millisecond
		for range 50 {
			d := backoff(n)
			require.GreaterOrEqual(t, d, max/2, "retry %d", n)
			require.LessOrEqual(t, d, max, "retry %d", n)
		}
	}
	require.LessOrEqual(t, backoff(1<<20), time.Second, "no overflow")
}

// TestLoadingRetry: a call answered LOADING goes again until its context
// ends, or, without a deadline, for loadingPatience; a pipeline only when
// every reply is LOADING.
func TestLoadingRetry(t *testing.T) {
	loading := &Error{msg: "LOADING Redis is loading the dataset in memory"}
	var l loadingRetry
	again, err := l.again(context.Background(), "addr", nil)
	require.False(t, again, "not LOADING: the reply is final")
	require.NoError(t, err)
	again, err = l.again(context.Background(), "addr", loading)
	require.True(t, again)
	require.NoError(t, err)
	require.False(t, l.until.IsZero(), "without a deadline, patience runs")
	l.until = time.Now().Add(-time.Millisecond) // as after loadingPatience
	again, err = l.again(context.Background(), "addr", loading)
	require.False(t, again, "out of patience: the reply is handed back")
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	require.True(t, l.patient(ctx), "with a deadline, patience is the deadline's")
	cancel()
	again, err = l.again(ctx, "addr", loading)
	require.False(t, again)
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, ErrNotRetried)
	require.ErrorContains(t, err, "LOADING")

	ok := "OK"
	require.Nil(t, allLoading(nil))
	require.Nil(t, allLoading([]any{loading, ok}))
	require.Nil(t, allLoading([]any{ok, loading}))
	require.Same(t, loading, allLoading([]any{loading, &Error{msg: "LOADING too"}}))
}
