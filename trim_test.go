package justredis

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// A dedicated connection handed back to the pool gives back the buffers a
// large reply or command grew, before it rests there: four Connections
// that each read 64 MiB used to keep 514 MiB until Redis.Close.
func TestPooledConnectionsGiveBackGrownBuffers(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, err := New(WithAddress(s.Addr()))
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	big := bytes.Repeat([]byte("x"), 8<<20)
	_, err = r.Do(ctx, "SET", "big", big)
	require.NoError(t, err)

	var conns []*Connection
	for i := 0; i < 4; i++ {
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		v, err := c.Modify(WithDecoder(BytesDecoder)).Do(ctx, "GET", "big")
		require.NoError(t, err)
		require.Equal(t, len(big), len(v.([]byte)))
		_, err = c.Do(ctx, "SET", "big2", big) // grows the write buffer too
		require.NoError(t, err)
		conns = append(conns, c)
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
	sv := r.p.server(s.Addr())
	sv.mu.Lock()
	defer sv.mu.Unlock()
	require.Len(t, sv.idle, 4)
	for _, cn := range sv.idle {
		require.LessOrEqual(t, len(cn.rbuf), readBufSize, "read buffer kept at rest")
		require.LessOrEqual(t, cap(cn.wbuf)+cap(cn.spare), 2*readBufSize, "write buffers kept at rest")
	}
}

// The replies read with the last bytes of a large aggregate go to a
// buffer of their own (conn.nextFrame); a connection handed back to the
// pool gives that up too, not only buffers lent to large replies.
func TestPooledConnectionsGiveBackRepliesBuffer(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, ctx := largeClient(t, s.Addr())
	push := []any{"RPUSH", "list"}
	for i := range 20000 {
		push = append(push, i)
	}
	_, err := r.Do(ctx, push...)
	require.NoError(t, err)
	_, err = r.Do(ctx, "SET", "k", bytes.Repeat([]byte("v"), 40))
	require.NoError(t, err)
	cmds := [][]any{{"LRANGE", "list", 0, -1}}
	for range 2000 {
		cmds = append(cmds, []any{"GET", "k"})
	}
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	vals, err := c.DoMulti(ctx, cmds...)
	require.NoError(t, err)
	require.Len(t, vals, len(cmds))
	require.NoError(t, c.Close())
	sv := r.p.server(s.Addr())
	sv.mu.Lock()
	defer sv.mu.Unlock()
	require.Len(t, sv.idle, 1)
	require.LessOrEqual(t, len(sv.idle[0].rbuf), readBufSize, "read buffer kept at rest")
}

// The shared connection gives back the buffer lent to a large reply, and
// the one of the replies that followed a large aggregate, as soon as its
// reader leaves with nothing owed: it used to hold them until the next
// call, which may never come.
func TestSharedConnectionGivesBackRepliesBuffer(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, ctx := largeClient(t, s.Addr())
	big := bytes.Repeat([]byte("x"), 8<<20)
	_, err := r.Do(ctx, "SET", "big", big)
	require.NoError(t, err)
	push := []any{"RPUSH", "list"}
	for i := range 20000 {
		push = append(push, i)
	}
	_, err = r.Do(ctx, push...)
	require.NoError(t, err)

	sharedBuffers := func() int {
		rbuf, _ := sharedHeld(t, r, s.Addr())()
		return rbuf
	}
	v, err := r.Modify(WithDecoder(BytesDecoder)).Do(ctx, "GET", "big")
	require.NoError(t, err)
	require.Len(t, v, len(big))
	require.LessOrEqual(t, sharedBuffers(), readBufSize, "buffer lent to a large reply kept")

	cmds := [][]any{{"LRANGE", "list", 0, -1}}
	for range 2000 {
		cmds = append(cmds, []any{"GET", "k"})
	}
	vals, err := r.DoMulti(ctx, cmds...)
	require.NoError(t, err)
	require.Len(t, vals, len(cmds))
	require.LessOrEqual(t, sharedBuffers(), readBufSize, "buffer of the replies after an aggregate kept")
	require.Equal(t, big, v, "the reply keeps its bytes")
}
