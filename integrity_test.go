package justredis_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// serverStat reads one integer field of INFO from s.
func serverStat(t testing.TB, s *redistest.Server, section, field string) int64 {
	t.Helper()
	info, err := s.Do("INFO", section)
	require.NoError(t, err)
	for _, line := range splitLines(info) {
		var n int64
		if _, err := fmt.Sscanf(line, field+":%d", &n); err == nil {
			return n
		}
	}
	t.Fatalf("no %s in INFO %s", field, section)
	return 0
}

// A buffer handed to a write must never be appended to until that write
// returns. After one large command the client used to hand out, as the next
// write buffer, the array still being written: callers then encoded into
// bytes the kernel was reading, and the server ran garbled commands. A
// paused server makes writes partial, which is when that shows.
func TestWriteBufferNeverSharedWithAWrite(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(s.Addr()))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	big := bytes.Repeat([]byte("B"), 3<<20/2)
	_, err = r.Do(ctx, "SET", "big", big)
	require.NoError(t, err)
	// Counted after the first call, whose handshake asks CLUSTER SLOTS.
	errorsBefore := serverStat(t, s, "stats", "total_error_replies")

	stop := make(chan struct{})
	var pauses sync.WaitGroup
	pauses.Add(1)
	go func() {
		defer pauses.Done()
		for i := 0; i < 3; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			s.Pause()
			time.Sleep(50 * time.Millisecond)
			s.Resume()
		}
	}()

	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; i < 100; i++ {
				k := fmt.Sprintf("k:%d:%d", g, i)
				v := strings.Repeat(string(rune('a'+g)), rnd.IntN(64<<10))
				if i%10 == 0 {
					v = string(big) // more large writes among the small
				}
				_, err := r.Do(ctx, "SET", k, v)
				if err != nil {
					t.Errorf("SET %s: %v", k, err)
					return
				}
				got, err := justredis.String(r.Do(ctx, "GET", k))
				if err != nil || got != v {
					t.Errorf("GET %s: %d bytes, %v; want %d bytes", k, len(got), err, len(v))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	pauses.Wait()
	requireNoErrorReplies(t, s, errorsBefore)
}

// requireNoErrorReplies fails t when s answered an error since its
// total_error_replies was before: a garbled command makes one.
func requireNoErrorReplies(t testing.TB, s *redistest.Server, before int64) {
	t.Helper()
	if n := serverStat(t, s, "stats", "total_error_replies"); n != before {
		stats, _ := s.Do("INFO", "errorstats")
		t.Fatalf("the server answered %d error replies:\n%s", n-before, stats)
	}
}

// Bad input at any public entry point is an error matching
// ErrInvalidArgument that says what was wrong: never a panic, and nothing
// sent.
func TestBadInputAtEveryEntryPoint(t *testing.T) {
	s := redistest.Start(t, redistest.Options{}) // its own, to count commands
	r, err := justredis.New(justredis.WithAddress(s.Addr()))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	defer p.Close()

	bad := map[string][]any{
		"no arguments":  nil,
		"empty":         {},
		"nil name":      {nil},
		"empty name":    {""},
		"nil argument":  {"GET", nil},
		"struct":        {"SET", "k", struct{}{}},
		"duration":      {"EXPIRE", "k", time.Second},
		"slice of args": {"SET", "k", []string{"a"}},
	}
	for name, args := range bad {
		t.Run(name, func(t *testing.T) {
			check := func(where string, err error) {
				t.Helper()
				require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%s(%v)", where, args)
				require.NotEmpty(t, err.Error())
			}
			_, err := r.Do(ctx, args...)
			check("Redis.Do", err)
			_, err = r.DoMulti(ctx, []any{"ECHO", "sent"}, args)
			check("Redis.DoMulti", err)
			_, err = c.Do(ctx, args...)
			check("Connection.Do", err)
			_, err = c.DoMulti(ctx, []any{"ECHO", "sent"}, args)
			check("Connection.DoMulti", err)
			check("PushConnection.Do", p.Do(ctx, args...))
		})
	}
	_, err = r.DoMulti(ctx, nil)
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	// The good command beside a bad one in a pipeline was not sent either.
	stats, err := s.Do("INFO", "commandstats")
	require.NoError(t, err)
	require.NotContains(t, stats, "cmdstat_echo:")
}

// An argument larger than a Redis string may be is refused at once, at
// every entry point, before anything is encoded or sent; the server would
// read it all, for many seconds, only to refuse it.
func TestArgumentOverMaxBulkLength(t *testing.T) {
	s := redistest.Start(t, redistest.Options{}) // its own, to count commands
	r, err := justredis.New(justredis.WithAddress(s.Addr()))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	huge := make([]byte, 512<<20+1) // never touched, so never really allocated
	hugeString := unsafe.String(&huge[0], len(huge))

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	defer p.Close()
	for _, arg := range []any{huge, hugeString} {
		_, err = r.Do(ctx, "SET", "k", arg)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		require.Contains(t, err.Error(), "argument 2")
		require.Contains(t, err.Error(), "512 MiB")
		_, err = r.DoMulti(ctx, []any{"ECHO", "sent"}, []any{"SET", "k", arg})
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		_, err = c.Do(ctx, "SET", "k", arg)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		require.ErrorIs(t, p.Do(ctx, "SUBSCRIBE", arg), justredis.ErrInvalidArgument)
	}
	stats, err := s.Do("INFO", "commandstats")
	require.NoError(t, err)
	require.NotContains(t, stats, "cmdstat_set:")
	require.NotContains(t, stats, "cmdstat_echo:")
	require.NotContains(t, stats, "cmdstat_subscribe:")
	v, err := r.Do(ctx, "SET", "k", huge[:1<<20]) // the client still works
	require.NoError(t, err)
	require.Equal(t, "OK", v)
}

// WithEndpoint means nothing on a connection bound to its server: it is
// refused rather than silently ignored.
func TestModifyBoundConnectionRefusesEndpoint(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Modify(justredis.WithEndpoint("127.0.0.1:1")).Do(ctx, "PING")
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	require.Contains(t, err.Error(), "Redis.Modify")
	_, err = c.Modify(justredis.WithEndpoint(justredis.Masters)).Do(ctx, "PING")
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	v, err := c.Modify(justredis.WithDatabase(1)).Do(ctx, "PING")
	require.NoError(t, err, "other settings still apply")
	require.Equal(t, "PONG", v)

	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	defer p.Close()
	require.ErrorIs(t, p.Modify(justredis.WithEndpoint("127.0.0.1:1")).Do(ctx, "PING"), justredis.ErrInvalidArgument)
}
