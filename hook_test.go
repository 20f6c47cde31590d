package justredis_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// recorder is a Hook that keeps what it is told, in order.
type recorder struct {
	name string
	mu   sync.Mutex
	log  []string // "start Do GET", "end Do GET", "event dial", ...
	ends []justredis.Call
	evs  []recordedEvent
}

type recordedEvent struct {
	justredis.Event
	fromCall bool // the event's context came from this hook's CallStart
}

type ctxKey struct{ name string }

func (h *recorder) CallStart(ctx context.Context, call *justredis.Call) context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log = append(h.log, "start "+call.Op+" "+strings.Join(call.Names, ","))
	return context.WithValue(ctx, ctxKey{h.name}, call)
}

func (h *recorder) CallEnd(ctx context.Context, call *justredis.Call) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ctx.Value(ctxKey{h.name}) != call {
		h.log = append(h.log, "end with a context not its own")
	}
	h.log = append(h.log, "end "+call.Op+" "+strings.Join(call.Names, ","))
	h.ends = append(h.ends, *call)
}

func (h *recorder) Event(ctx context.Context, ev *justredis.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log = append(h.log, "event "+ev.Kind.String())
	h.evs = append(h.evs, recordedEvent{*ev, ctx.Value(ctxKey{h.name}) != nil})
}

func (h *recorder) events(kind justredis.EventKind) []recordedEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []recordedEvent
	for _, ev := range h.evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (h *recorder) lastEnd() justredis.Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ends[len(h.ends)-1]
}

func (h *recorder) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log, h.ends, h.evs = nil, nil, nil
}

func TestHookSeesCallsAndEvents(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	first, second := &recorder{name: "first"}, &recorder{name: "second"}
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithHook(first), justredis.WithHook(second))
	require.NoError(t, err)
	ctx := testCtx(t)

	_, err = r.Do(ctx, "SET", "hook:k", "v")
	require.NoError(t, err)
	// Hooks run in order around the call, each given back its own
	// context, and the dial the call caused is seen inside it.
	require.Equal(t, []string{"start Do SET", "event dial", "end Do SET"}, first.log)
	require.Equal(t, []string{"start Do SET", "event dial", "end Do SET"}, second.log)
	dial := first.events(justredis.EventDial)[0]
	require.True(t, dial.fromCall, "the dial's context is the call's")
	require.Equal(t, s.Addr(), dial.Addr)
	require.Positive(t, dial.Duration)
	require.NoError(t, dial.Err)

	end := first.lastEnd()
	require.Equal(t, s.Addr(), end.Addr)
	require.Equal(t, 0, end.DB)
	require.Positive(t, end.Duration)
	require.False(t, end.Retried || end.Redirected || end.CacheHit)
	require.Nil(t, end.Args, "no argument values unless a hook asks")

	first.reset()
	_, err = r.Modify(justredis.WithDatabase(3)).DoMulti(ctx, []any{"SET", "hook:k", "v"}, []any{"INCR", "hook:k"})
	require.NoError(t, err, "a failed command inside a batch is no error of the call")
	end = first.lastEnd()
	require.Equal(t, "DoMulti", end.Op)
	require.Equal(t, []string{"SET", "INCR"}, end.Names)
	require.Equal(t, 3, end.DB)
	require.NoError(t, end.Err)

	_, err = r.Do(ctx, "INCR", "hook:k")
	require.Error(t, err)
	require.Equal(t, err, first.lastEnd().Err)

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	_, err = c.Do(ctx, "PING")
	require.NoError(t, err)
	require.Equal(t, "Connection.Do", first.lastEnd().Op)
	require.Equal(t, s.Addr(), first.lastEnd().Addr)
	require.NoError(t, c.Close())

	// A connection the server closed while idle: the call is retried on a
	// fresh one, and says so.
	_, err = s.Do("CLIENT", "KILL", "TYPE", "normal")
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	first.reset()
	_, err = r.Do(ctx, "GET", "hook:k")
	require.NoError(t, err)
	require.True(t, first.lastEnd().Retried)
	require.NotEmpty(t, first.events(justredis.EventClose), "the broken connection's close")
	require.NotNil(t, first.events(justredis.EventClose)[0].Err, "it broke")

	first.reset()
	require.NoError(t, r.Close())
	for _, ev := range first.events(justredis.EventClose) {
		require.NoError(t, ev.Err, "closed on purpose")
	}
	require.NotEmpty(t, first.events(justredis.EventClose))
}

// argsRecorder asks for argument values.
type argsRecorder struct{ recorder }

func (*argsRecorder) WantArgs() bool { return true }

func TestHookArgsOnlyWhenAsked(t *testing.T) {
	h := &argsRecorder{recorder{name: "args"}}
	r := newRedis(t, justredis.WithHook(h))
	ctx := testCtx(t)
	_, err := r.Do(ctx, "RPUSH", key(t, "k"), []byte("value"), 42)
	require.NoError(t, err)
	require.Equal(t, [][]string{{"RPUSH", key(t, "k"), "value", "42"}}, h.lastEnd().Args)
}

func TestHookPoolWaitAndPush(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	h := &recorder{name: "h"}
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithHook(h),
		justredis.WithMaxConnections(2), justredis.WithWaitTimeout(100*time.Millisecond))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)

	c, err := r.Connection(ctx) // the one place for connections of their own
	require.NoError(t, err)
	_, err = r.Connection(ctx)
	require.ErrorIs(t, err, justredis.ErrPoolTimeout)
	waits := h.events(justredis.EventPoolWait)
	require.Len(t, waits, 1)
	require.ErrorIs(t, waits[0].Err, justredis.ErrPoolTimeout)
	require.GreaterOrEqual(t, waits[0].Duration, 100*time.Millisecond)
	st := r.Stats()
	require.EqualValues(t, 1, st.Servers[0].Waits)
	require.EqualValues(t, 1, st.Servers[0].WaitTimeouts)
	require.NoError(t, c.Close())

	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, p.Do(ctx, "SUBSCRIBE", "hook:news"))
	msg, err := p.NextMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, "subscribe", msg.Kind)
	_, err = s.Do("CLIENT", "KILL", "TYPE", "pubsub")
	require.NoError(t, err)
	msg, err = p.NextMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, "subscribe", msg.Kind, "subscribed again")
	require.Len(t, h.events(justredis.EventResubscribe), 1)
	require.Equal(t, s.Addr(), h.events(justredis.EventResubscribe)[0].Addr)
}

func TestHookClusterRedirect(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	h := &recorder{name: "h"}
	r, err := justredis.New(justredis.WithAddress(c.Nodes()[0].Addr()), justredis.WithHook(h))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	const k = "hook:{moving}"
	_, err = r.Do(ctx, "SET", k, "v")
	require.NoError(t, err)
	slotText, err := c.Nodes()[0].Do("CLUSTER", "KEYSLOT", k)
	require.NoError(t, err)
	slot, err := strconv.Atoi(slotText)
	require.NoError(t, err)
	var owner, other *redistest.Server
	for _, m := range c.Masters() {
		if _, err := m.Do("GET", k); err == nil {
			owner = m
		} else if other == nil {
			other = m
		}
	}
	require.NotNil(t, owner)
	require.Equal(t, owner.Addr(), h.lastEnd().Addr)
	require.NoError(t, c.MoveSlot(slot, owner, other))

	h.reset()
	v, err := r.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, "v", v)
	end := h.lastEnd()
	require.True(t, end.Redirected, "MOVED")
	require.Equal(t, "", end.Addr, "two nodes served the call")
	require.Eventually(t, func() bool { return len(h.events(justredis.EventRefresh)) > 0 },
		10*time.Second, 10*time.Millisecond, "the slot map was fetched again")

	h.reset()
	_, err = r.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, other.Addr(), h.lastEnd().Addr)
	require.False(t, h.lastEnd().Redirected)
}

// The logger tells of a restart (a connection broke, then connected again)
// and never shows the password.
func TestLoggerOnRestart(t *testing.T) {
	const password = "s3cret-pa55word"
	s := redistest.Start(t, redistest.Options{Password: password})
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("", password), justredis.WithLogger(logger))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	_, err = r.Do(ctx, "SET", "log:k", "v")
	require.NoError(t, err)
	require.NoError(t, s.Restart())
	time.Sleep(50 * time.Millisecond)
	_, err = r.Do(ctx, "GET", "log:k")
	require.NoError(t, err)

	wrong, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("", password+"x"),
		justredis.WithLogger(logger), justredis.WithConnectRetry(0))
	require.NoError(t, err)
	defer wrong.Close()
	_, err = wrong.Do(ctx, "PING")
	require.Error(t, err)

	out := buf.String()
	require.Contains(t, out, "justredis: connected")
	require.Contains(t, out, "justredis: connection broke")
	require.Contains(t, out, "justredis: connect failed")
	require.Contains(t, out, "addr="+s.Addr())
	require.NotContains(t, out, password)
	require.NotContains(t, out, "log:k", "no argument values")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Stats counts connections as the server's CLIENT LIST does, and is safe
// before the first call and after Close.
func TestStatsAgreeWithClientList(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithClientName("stats"))
	require.NoError(t, err)
	require.Empty(t, r.Stats().Servers, "before the first call")
	ctx := testCtx(t)

	_, err = r.Do(ctx, "PING")
	require.NoError(t, err)
	_, err = r.Modify(justredis.WithDatabase(1)).Do(ctx, "PING")
	require.NoError(t, err)
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	rested, err := r.Connection(ctx)
	require.NoError(t, err)
	require.NoError(t, rested.Close())

	blpop := make(chan error, 1)
	go func() {
		_, err := r.Do(ctx, "BLPOP", "stats:never", 2)
		blpop <- err
	}()
	require.Eventually(t, func() bool { return r.Stats().Servers[0].Blocking == 1 }, 5*time.Second, time.Millisecond)

	clients, err := s.Do("CLIENT", "LIST")
	require.NoError(t, err)
	open := strings.Count(clients, "name=stats ")
	st := r.Stats().Servers[0]
	require.Equal(t, s.Addr(), st.Addr)
	require.Equal(t, open, st.Shared+st.Dedicated, "CLIENT LIST:\n%s", clients)
	require.Equal(t, 2, st.Shared, "databases 0 and 1")
	require.Equal(t, 3, st.Dedicated, "a Connection, a push connection, a BLPOP")
	require.Equal(t, 1, st.Push)
	require.Equal(t, 0, st.Idle, "the one that rested serves the BLPOP")
	require.EqualValues(t, 5, st.Dials)
	require.Zero(t, st.DialFailures)

	require.NoError(t, <-blpop)
	require.NoError(t, c.Close())
	require.NoError(t, p.Close())
	st = r.Stats().Servers[0]
	require.Equal(t, 0, st.Blocking)
	require.Equal(t, 0, st.Push)
	require.Equal(t, 2, st.Idle)
	require.NoError(t, r.Close())
	st = r.Stats().Servers[0]
	require.Equal(t, 0, st.Shared+st.Dedicated, "after Close")
}

func TestStatsCountsDialFailures(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithConnectRetry(0))
	require.NoError(t, err)
	defer r.Close()
	require.NoError(t, s.Kill())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = r.Do(ctx, "PING")
	require.Error(t, err)
	require.Contains(t, err.Error(), s.Addr(), "the error names the server")
	st := r.Stats().Servers[0]
	require.EqualValues(t, 1, st.DialFailures, fmt.Sprint(st))
}

// nopHook does nothing, to measure what calling hooks costs.
type nopHook struct{}

func (nopHook) CallStart(ctx context.Context, _ *justredis.Call) context.Context { return ctx }
func (nopHook) CallEnd(context.Context, *justredis.Call)                         {}
func (nopHook) Event(context.Context, *justredis.Event)                          {}

// The hot path allocates nothing for SET and two things for GET (the
// string and its interface box) when there are no hooks: hooks cost only
// those who install them.
func TestDoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	ctx := context.Background() // a context that can end costs the wake-up it needs
	k := key(t, "k")
	for _, tc := range []struct {
		name     string
		opts     []justredis.Option
		set, get float64
	}{
		{"no hook", nil, 0, 2},
		{"no-op hook", []justredis.Option{justredis.WithHook(nopHook{})}, 5, 7},
	} {
		r := newRedis(t, tc.opts...)
		_, err := r.Do(ctx, "SET", k, "value")
		require.NoError(t, err)
		set := testing.AllocsPerRun(200, func() { r.Do(ctx, "SET", k, "value") })
		get := testing.AllocsPerRun(200, func() { r.Do(ctx, "GET", k) })
		t.Logf("%s: SET %.0f allocs, GET %.0f allocs", tc.name, set, get)
		require.LessOrEqual(t, set, tc.set, "%s: SET", tc.name)
		require.LessOrEqual(t, get, tc.get, "%s: GET", tc.name)
	}
}

func BenchmarkHooks(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts []justredis.Option
	}{
		{"none", nil},
		{"nop", []justredis.Option{justredis.WithHook(nopHook{})}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := newRedis(b, tc.opts...)
			k := key(b, "k")
			r.Do(ctx, "SET", k, "value")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := r.Do(ctx, "GET", k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// nilCtxHook returns a nil context from CallStart, and checks that CallEnd
// gets the context CallStart was given instead.
type nilCtxHook struct {
	mu     sync.Mutex
	starts map[*justredis.Call]context.Context
	ends   []string // the Op of each call whose CallEnd got its CallStart's context
	bad    []string // what went wrong
}

func (h *nilCtxHook) CallStart(ctx context.Context, call *justredis.Call) context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.starts == nil {
		h.starts = map[*justredis.Call]context.Context{}
	}
	h.starts[call] = ctx
	return nil
}

func (h *nilCtxHook) CallEnd(ctx context.Context, call *justredis.Call) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case ctx == nil:
		h.bad = append(h.bad, call.Op+": CallEnd got a nil context")
	case ctx != h.starts[call]:
		h.bad = append(h.bad, call.Op+": CallEnd got another context than CallStart's")
	default:
		h.ends = append(h.ends, call.Op)
	}
}

func (h *nilCtxHook) Event(ctx context.Context, ev *justredis.Event) {
	if ctx == nil {
		h.mu.Lock()
		h.bad = append(h.bad, "Event got a nil context")
		h.mu.Unlock()
	}
}

// TestHookNilContext: a hook whose CallStart returns nil leaves the call
// the context it was given, through every API that runs hooks, and the
// hooks after it see that context too.
func TestHookNilContext(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	nilHook, after := &nilCtxHook{}, &recorder{name: "after"}
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithHook(nilHook), justredis.WithHook(after))
	require.NoError(t, err)
	defer r.Close()
	type mark struct{}
	ctx := context.WithValue(testCtx(t), mark{}, "caller's")
	k := key(t, "n")

	_, err = r.Do(ctx, "SET", k, "1") // dials inside the call: an event
	require.NoError(t, err)
	_, err = r.Modify(justredis.WithDatabase(2)).DoMulti(ctx, []any{"INCR", k}, []any{"GET", k})
	require.NoError(t, err)
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	_, err = c.Do(ctx, "PING")
	require.NoError(t, err)
	_, err = c.DoMulti(ctx, []any{"PING"}, []any{"PING"})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	_, err = r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		return [][]any{{"INCR", k}}, nil
	}, k)
	require.NoError(t, err)

	// The call still ends with the caller's context.
	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = r.Do(done, "GET", k)
	require.ErrorIs(t, err, context.Canceled)

	nilHook.mu.Lock()
	defer nilHook.mu.Unlock()
	require.Empty(t, nilHook.bad)
	require.Subset(t, nilHook.ends, []string{"Do", "DoMulti", "Connection.Do", "Connection.DoMulti"})
	require.Len(t, nilHook.ends, len(nilHook.starts), "every call ended with its context")
	after.mu.Lock()
	defer after.mu.Unlock()
	require.NotContains(t, after.log, "end with a context not its own")
	require.Contains(t, after.log, "event dial")
	require.True(t, after.evs[0].fromCall, "the dial's context is the call's, through the nil")
}
