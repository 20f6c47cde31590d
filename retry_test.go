package justredis

import (
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
		{&Error{msg: "LOADING Redis is loading the dataset in memory"}, replyFinal},
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
