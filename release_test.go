package justredis

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// Each test here reads a 32 MiB value, checks its bytes, drops it, and
// then looks at what the idle connection still refers to and at the live
// heap after a collection. A connection at rest used to keep such a reply
// reachable until its next reply, which may never come: through the
// buffer it was read into (see conn.release) and through the Reader it
// reuses for every reply (see decodeReply).

const heldSize = 32 << 20

// liveHeap is the heap the process holds after one full collection: one,
// since an object a sync.Pool keeps survives the first, and a pooled
// object must not be what keeps a reply alive either.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// largeReplyHeld stores a random value of size bytes under "big" through r, then
// calls get, which must read it back and return its bytes, and lets them
// go. It then asks held what the idle connection refers to: its read
// buffer and its Reader's buffer, which must be small, and checks that
// the reply is no longer live.
func largeReplyHeld(t *testing.T, r *Redis, ctx context.Context, size int, get func() []byte, held func() (rbuf, rd int)) {
	t.Helper()
	want := make([]byte, size)
	rand.New(rand.NewSource(7)).Read(want)
	_, err := r.Do(ctx, "SET", "big", want)
	require.NoError(t, err)
	_, err = r.Do(ctx, "PING") // the shared connection's buffers are back to small
	require.NoError(t, err)
	before := liveHeap()

	func() {
		require.True(t, bytes.Equal(want, get()), "reply bytes differ from what was stored")
	}()

	rbuf, rd := held()
	grew := int64(liveHeap()) - int64(before)
	t.Logf("idle connection: cap(rbuf)=%d cap(rd.buf)=%d; live heap grew by %d bytes", rbuf, rd, grew)
	require.Less(t, grew, int64(size/2), "the dropped reply is still reachable")
	require.LessOrEqual(t, rbuf, readBufSize, "read buffer kept at rest")
	require.LessOrEqual(t, rd, readBufSize, "the Reader still holds the reply's buffer")
	runtime.KeepAlive(want)
}

// sharedHeld is, for every shared connection of addr, the largest buffer
// its reader still refers to: the read buffer, and the frame the reply
// Reader decoded last.
func sharedHeld(t *testing.T, r *Redis, addr string) func() (rbuf, rd int) {
	return func() (rbuf, rd int) {
		t.Helper()
		m := r.p.server(addr).shared.Load()
		require.NotNil(t, m)
		for _, sc := range *m {
			sc.mu.Lock()
			require.False(t, sc.reading, "a reader stayed")
			rbuf = max(rbuf, cap(sc.rbuf))
			rd = max(rd, cap(sc.rd.buf))
			sc.mu.Unlock()
		}
		return rbuf, rd
	}
}

func TestIdleSharedConnectionHoldsNoLargeReply(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	for _, resp := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", resp), func(t *testing.T) {
			r, ctx := largeClient(t, s.Addr(), WithRESP(resp))
			largeReplyHeld(t, r, ctx, heldSize, func() []byte {
				v, err := r.Modify(WithDecoder(BytesDecoder)).Do(ctx, "GET", "big")
				require.NoError(t, err)
				return v.([]byte)
			}, sharedHeld(t, r, s.Addr()))
		})
	}
}

// Through BytesInto the reply is read straight into the caller's memory:
// once the caller drops it, the connection must not keep it alive.
func TestIdleSharedConnectionHoldsNoBytesIntoMemory(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, ctx := largeClient(t, s.Addr())
	largeReplyHeld(t, r, ctx, heldSize, func() []byte {
		buf := make([]byte, 0, heldSize+64)
		v, err := r.Modify(WithDecoder(BytesInto(&buf))).Do(ctx, "GET", "big")
		require.NoError(t, err)
		return v.([]byte)
	}, sharedHeld(t, r, s.Addr()))
}

// A dedicated connection handed back to the pool (trim) holds nothing of
// the large reply it read.
func TestPooledConnectionHoldsNoLargeReply(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, ctx := largeClient(t, s.Addr())
	largeReplyHeld(t, r, ctx, heldSize, func() []byte {
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		defer func() { require.NoError(t, c.Close()) }()
		v, err := c.Modify(WithDecoder(BytesDecoder)).Do(ctx, "GET", "big")
		require.NoError(t, err)
		return v.([]byte)
	}, func() (rbuf, rd int) {
		sv := r.p.server(s.Addr())
		sv.mu.Lock()
		defer sv.mu.Unlock()
		require.Len(t, sv.idle, 1)
		return cap(sv.idle[0].rbuf), cap(sv.idle[0].rd.buf)
	})
}

// A BytesInto caller that gives up before its reply comes leaves its call
// to the reader, which puts it back in the pool once the reply is read:
// the pooled call must not keep the caller's memory alive. (The tests
// above cover calls that got their reply.)
func TestAbandonedCallHoldsNoBytesIntoMemory(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, ctx := largeClient(t, s.Addr())
	_, err := r.Do(ctx, "SET", "small", "x")
	require.NoError(t, err)
	before := liveHeap()
	func() {
		buf := make([]byte, 0, heldSize)
		_, err := s.Do("CLIENT", "PAUSE", "300", "ALL")
		require.NoError(t, err)
		gctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err = r.Modify(WithDecoder(BytesInto(&buf))).Do(gctx, "GET", "small")
		require.Error(t, err, "the call was to be given up")
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}()
	// The reply comes once the pause ends; the reader drops it and frees
	// the call. Then the connection goes idle.
	require.Eventually(t, func() bool {
		v, err := r.Do(ctx, "GET", "small")
		return err == nil && v == "x"
	}, 10*time.Second, 20*time.Millisecond)
	held := sharedHeld(t, r, s.Addr())
	require.Eventually(t, func() bool {
		m := r.p.server(s.Addr()).shared.Load()
		for _, sc := range *m {
			sc.mu.Lock()
			reading := sc.reading
			sc.mu.Unlock()
			if reading {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)
	rbuf, rd := held()
	grew := int64(liveHeap()) - int64(before)
	t.Logf("cap(rbuf)=%d cap(rd.buf)=%d; live heap grew by %d bytes", rbuf, rd, grew)
	require.Less(t, grew, int64(heldSize/2), "the abandoned caller's memory is still reachable")
}

// A dedicated Connection still open, between its calls, holds nothing of
// the large reply it read either: its reader leaves as a shared one does.
func TestOpenConnectionHoldsNoLargeReply(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, ctx := largeClient(t, s.Addr())
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	largeReplyHeld(t, r, ctx, heldSize, func() []byte {
		v, err := c.Modify(WithDecoder(BytesDecoder)).Do(ctx, "GET", "big")
		require.NoError(t, err)
		return v.([]byte)
	}, func() (rbuf, rd int) {
		cn := c.d.cn
		cn.mu.Lock()
		defer cn.mu.Unlock()
		require.False(t, cn.reading, "a reader stayed")
		return cap(cn.rbuf), cap(cn.rd.buf)
	})
}

// A PushConnection's reader never leaves, but it drops a large message's
// buffer before it waits for the next one. Its buffers belong to that
// reader, so only the live heap is looked at. 8 MiB, since Redis cuts off
// a subscriber whose output reaches 32 MB.
func TestPushConnectionHoldsNoLargeMessage(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, ctx := largeClient(t, s.Addr())
	p := openPush(t, r)
	do(t, p, "SUBSCRIBE", "big")
	nextKind(t, p, "subscribe")
	largeReplyHeld(t, r, ctx, 8<<20, func() []byte {
		// The server publishes the stored value, so that the client's own
		// command holds no copy of it.
		_, err := r.Do(ctx, "EVAL", "return redis.call('PUBLISH', KEYS[1], redis.call('GET', KEYS[1]))", 1, "big")
		require.NoError(t, err)
		m := nextKind(t, p, "message")
		switch d := m.Data.(type) {
		case string:
			return []byte(d)
		case []byte:
			return d
		}
		t.Fatalf("message data is %T", m.Data)
		return nil
	}, func() (int, int) { return 0, 0 })
}
