package justredisotel_test

// These tests make calls through a real client and server, and look at
// the spans and metrics the Hook made of them.

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/justredis/justredis/justredisotel"
)

func serverHostPort(t testing.TB) (string, int64) {
	return hostPort(t, server().Addr())
}

// hostPort is what server.address and server.port should say of addr.
func hostPort(t testing.TB, addr string) (string, int64) {
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	return host, int64(p)
}

// TestCallSpan shows a call's span: a client span named after the command,
// a child of the caller's span, with the database conventions' attributes.
func TestCallSpan(t *testing.T) {
	tel := newTelemetry(t)
	r := tel.client(t)
	ctx, parent := tel.tp.Tracer("test").Start(testCtx(t), "parent")
	_, err := r.Do(ctx, "SET", key(t, "k"), "v")
	require.NoError(t, err)
	parent.End()

	spans := tel.ended()
	require.Len(t, spans, 2, "the call's and the parent")
	span := spans[0]
	assert.Equal(t, "SET", span.Name())
	assert.Equal(t, trace.SpanKindClient, span.SpanKind())
	assert.Equal(t, parent.SpanContext().SpanID(), span.Parent().SpanID())
	assert.Equal(t, codes.Unset, span.Status().Code)
	assert.Equal(t, justredisotel.ScopeName, span.InstrumentationScope().Name)

	host, port := serverHostPort(t)
	a := attrs(span)
	assert.Equal(t, "redis", a["db.system.name"].AsString())
	assert.Equal(t, "SET", a["db.operation.name"].AsString())
	assert.Equal(t, "0", a["db.namespace"].AsString())
	assert.Equal(t, host, a["server.address"].AsString())
	assert.Equal(t, port, a["server.port"].AsInt64())
	for _, absent := range []attribute.Key{"db.operation.batch.size", "db.query.text", "error.type",
		"justredis.retried", "justredis.redirected", "justredis.cache_hit"} {
		assert.NotContains(t, a, absent)
	}
}

// TestCallSpanNames shows the names of calls and batches, as the Redis
// conventions have them.
func TestCallSpanNames(t *testing.T) {
	tel := newTelemetry(t)
	r := tel.client(t)
	ctx := testCtx(t)
	k := key(t, "k")

	_, err := r.Do(ctx, "get", k)
	require.NoError(t, err)
	span := tel.onlySpan(t)
	assert.Equal(t, "GET", span.Name())
	assert.Equal(t, "GET", attrs(span)["db.operation.name"].AsString())

	for _, tc := range []struct {
		cmds [][]any
		name string
	}{
		{[][]any{{"GET", k}}, "GET"},
		{[][]any{{"GET", k}, {"get", k}, {[]byte("Get"), k}}, "PIPELINE GET"},
		{[][]any{{"SET", k, "v"}, {"GET", k}}, "PIPELINE"},
	} {
		_, err := r.DoMulti(ctx, tc.cmds...)
		require.NoError(t, err)
		span := tel.onlySpan(t)
		a := attrs(span)
		assert.Equal(t, tc.name, span.Name())
		assert.Equal(t, tc.name, a["db.operation.name"].AsString())
		if len(tc.cmds) == 1 {
			assert.NotContains(t, a, attribute.Key("db.operation.batch.size"), "a batch of one is a single operation")
		} else {
			assert.Equal(t, int64(len(tc.cmds)), a["db.operation.batch.size"].AsInt64())
		}
	}
}

// TestTransactionSpans shows a Transaction's round trips: the WATCH, the
// read fn makes, and MULTI ... EXEC, which is named after the commands
// between, as a transaction.
func TestTransactionSpans(t *testing.T) {
	tel := newTelemetry(t)
	r := tel.client(t)
	ctx := testCtx(t)
	k := key(t, "k")
	_, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		if _, err := c.Do(ctx, "GET", k); err != nil {
			return nil, err
		}
		return [][]any{{"INCR", k}, {"INCR", k}}, nil
	}, k)
	require.NoError(t, err)

	var names []string
	for _, span := range tel.ended() {
		names = append(names, span.Name())
		if span.Name() == "MULTI INCR" {
			a := attrs(span)
			assert.Equal(t, int64(4), a["db.operation.batch.size"].AsInt64(), "MULTI, two INCRs, EXEC")
			host, _ := serverHostPort(t)
			assert.Equal(t, host, a["server.address"].AsString())
		}
	}
	assert.Contains(t, names, "GET")
	assert.Contains(t, names, "MULTI INCR")
}

// TestCallSpanDatabase shows db.namespace following the database.
func TestCallSpanDatabase(t *testing.T) {
	tel := newTelemetry(t)
	r := tel.client(t, justredis.WithDatabase(3))
	_, err := r.Do(testCtx(t), "GET", key(t, "k"))
	require.NoError(t, err)
	assert.Equal(t, "3", attrs(tel.onlySpan(t))["db.namespace"].AsString())
	assert.Equal(t, uint64(1), tel.histogramPoint(t, "db.client.operation.duration", attribute.String("db.namespace", "3")).Count)
}

// TestCallSpanUnixSocket shows a socket path as server.address, with no
// port.
func TestCallSpanUnixSocket(t *testing.T) {
	tel := newTelemetry(t)
	r := tel.client(t, justredis.WithAddress(server().UnixPath()))
	_, err := r.Do(testCtx(t), "PING")
	require.NoError(t, err)
	a := attrs(tel.onlySpan(t))
	assert.Equal(t, server().UnixPath(), a["server.address"].AsString())
	assert.NotContains(t, a, attribute.Key("server.port"))
}

// TestCallErrorReply shows an error reply: the span's status is Error,
// error.type and db.response.status_code are the reply's prefix, and no
// part of the reply's text, which may echo argument values, is kept.
func TestCallErrorReply(t *testing.T) {
	tel := newTelemetry(t)
	r := tel.client(t)
	ctx := testCtx(t)
	k := key(t, "k")
	_, err := r.Do(ctx, "SET", k, "v")
	require.NoError(t, err)
	tel.ended()

	_, err = r.Do(ctx, "LPUSH", k, "x")
	var re *justredis.Error
	require.ErrorAs(t, err, &re)
	require.Equal(t, "WRONGTYPE", re.Prefix())
	span := tel.onlySpan(t)
	assert.Equal(t, codes.Error, span.Status().Code)
	a := attrs(span)
	assert.Equal(t, "WRONGTYPE", a["error.type"].AsString())
	assert.Equal(t, "WRONGTYPE", a["db.response.status_code"].AsString())

	// The server echoes the arguments of an unknown command.
	_, err = r.Do(ctx, "NOSUCHCOMMAND", "secret-value")
	require.ErrorAs(t, err, &re)
	require.Contains(t, re.Error(), "secret-value")
	span = tel.onlySpan(t)
	assert.Equal(t, "ERR", attrs(span)["error.type"].AsString())
	assertNowhere(t, span, "secret-value")

	p := tel.histogramPoint(t, "db.client.operation.duration",
		attribute.String("db.operation.name", "LPUSH"), attribute.String("error.type", "WRONGTYPE"))
	assert.Equal(t, uint64(1), p.Count)
	v, ok := p.Attributes.Value("db.response.status_code")
	assert.True(t, ok)
	assert.Equal(t, "WRONGTYPE", v.AsString())
}

// assertNowhere checks that text is in no attribute, event or status of
// span.
func assertNowhere(t *testing.T, span sdktrace.ReadOnlySpan, text string) {
	t.Helper()
	for _, kv := range span.Attributes() {
		assert.NotContains(t, kv.Value.Emit(), text, kv.Key)
	}
	for _, ev := range span.Events() {
		for _, kv := range ev.Attributes {
			assert.NotContains(t, kv.Value.Emit(), text, kv.Key)
		}
	}
	assert.NotContains(t, span.Status().Description, text)
}

// TestCallContextErrors shows error.type for a call whose context ended.
func TestCallContextErrors(t *testing.T) {
	tel := newTelemetry(t)
	r := tel.client(t)

	ctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
	defer cancel()
	_, err := r.Do(ctx, "BLPOP", key(t, "empty"), 0)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	span := tel.onlySpan(t)
	assert.Equal(t, codes.Error, span.Status().Code)
	assert.Equal(t, "timeout", attrs(span)["error.type"].AsString())
	assert.Equal(t, err.Error(), span.Status().Description)
	assert.NotContains(t, attrs(span), attribute.Key("db.response.status_code"))

	ctx, cancel = context.WithCancel(testCtx(t))
	cancel()
	_, err = r.Do(ctx, "GET", key(t, "k"))
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, "canceled", attrs(tel.onlySpan(t))["error.type"].AsString())

	assert.Equal(t, uint64(1), tel.histogramPoint(t, "db.client.operation.duration",
		attribute.String("db.operation.name", "BLPOP"), attribute.String("error.type", "timeout")).Count)
}

// TestCallInvalidArgument shows a call the client refuses before sending.
func TestCallInvalidArgument(t *testing.T) {
	tel := newTelemetry(t)
	r := tel.client(t)
	_, err := r.Do(testCtx(t), "SET", key(t, "k"), struct{}{})
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	assert.Equal(t, "justredis.ErrInvalidArgument", attrs(tel.onlySpan(t))["error.type"].AsString())
}

// TestQueryText shows db.query.text: absent by default; with
// WithQueryText, the commands with their values, but never credentials.
func TestQueryText(t *testing.T) {
	k := key(t, "k")

	tel := newTelemetry(t)
	r := tel.client(t)
	_, err := r.Do(testCtx(t), "SET", k, "a value")
	require.NoError(t, err)
	span := tel.onlySpan(t)
	assert.NotContains(t, attrs(span), attribute.Key("db.query.text"))
	assertNowhere(t, span, "a value")

	tel = newTelemetry(t, justredisotel.WithQueryText(true))
	r = tel.client(t)
	ctx := testCtx(t)
	_, err = r.DoMulti(ctx, []any{"SET", k, "a value"}, []any{"GET", k})
	require.NoError(t, err)
	assert.Equal(t, `SET `+k+` "a value"; GET `+k, attrs(tel.onlySpan(t))["db.query.text"].AsString())

	user := strings.ReplaceAll(key(t, "user"), ":", "-")
	_, err = r.Do(ctx, "ACL", "SETUSER", user, "on", ">hunter2-secret")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = server().Do("ACL", "DELUSER", user) })
	span = tel.onlySpan(t)
	assert.Equal(t, "ACL SETUSER ? ? ?", attrs(span)["db.query.text"].AsString())
	assertNowhere(t, span, "hunter2")
}

// TestCallMetrics shows db.client.operation.duration: unit, buckets, one
// measurement per call, and the attributes of its series.
func TestCallMetrics(t *testing.T) {
	tel := newTelemetry(t, justredisotel.WithAttributes(attribute.String("app.pool", "sessions")))
	r := tel.client(t)
	ctx := testCtx(t)
	k := key(t, "k")
	for i := 0; i < 3; i++ {
		_, err := r.Do(ctx, "SET", k, i)
		require.NoError(t, err)
	}
	_, err := r.DoMulti(ctx, []any{"GET", k}, []any{"GET", k})
	require.NoError(t, err)

	m := tel.metric(t, "db.client.operation.duration")
	assert.Equal(t, "s", m.Unit)
	host, port := serverHostPort(t)
	p := tel.histogramPoint(t, m.Name, attribute.String("db.operation.name", "SET"))
	assert.Equal(t, uint64(3), p.Count)
	assert.Equal(t, []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}, p.Bounds)
	assert.Greater(t, p.Sum, 0.0)
	want := attribute.NewSet(
		attribute.String("db.system.name", "redis"),
		attribute.String("db.operation.name", "SET"),
		attribute.String("db.namespace", "0"),
		attribute.String("server.address", host),
		attribute.Int64("server.port", port),
		attribute.String("app.pool", "sessions"),
	)
	assert.True(t, want.Equals(&p.Attributes), "got %s", p.Attributes.Encoded(attribute.DefaultEncoder()))

	p = tel.histogramPoint(t, m.Name, attribute.String("db.operation.name", "PIPELINE GET"))
	assert.Equal(t, uint64(1), p.Count, "a batch is one operation")
	_, ok := p.Attributes.Value("db.operation.batch.size")
	assert.False(t, ok, "the batch size is no metric attribute")

	for _, span := range tel.ended() {
		assert.Equal(t, "sessions", attrs(span)["app.pool"].AsString())
	}
}

// TestConnectionMetrics shows the connection metrics and span events of a
// client's life: its first call dials, inside the call's span; closing it
// closes the connection.
func TestConnectionMetrics(t *testing.T) {
	tel := newTelemetry(t)
	r := tel.client(t)
	_, err := r.Do(testCtx(t), "PING")
	require.NoError(t, err)

	addr := server().Addr()
	pool := attribute.String("db.client.connection.pool.name", addr)
	assert.Equal(t, int64(1), tel.sum(t, "db.client.connection.count", pool))
	assert.Equal(t, uint64(1), tel.histogramPoint(t, "db.client.connection.create_time", pool).Count)
	assert.Equal(t, int64(1), tel.sum(t, "justredis.client.events", attribute.String("justredis.event", "dial")))

	span := tel.onlySpan(t)
	require.NotEmpty(t, span.Events())
	dial := span.Events()[0]
	assert.Equal(t, "justredis.dial", dial.Name)
	evAttrs := map[attribute.Key]attribute.Value{}
	for _, kv := range dial.Attributes {
		evAttrs[kv.Key] = kv.Value
	}
	host, port := serverHostPort(t)
	assert.Equal(t, host, evAttrs["server.address"].AsString())
	assert.Equal(t, port, evAttrs["server.port"].AsInt64())
	assert.Greater(t, evAttrs["justredis.event.duration"].AsFloat64(), 0.0)

	require.NoError(t, r.Close())
	assert.Equal(t, int64(0), tel.sum(t, "db.client.connection.count", pool))
	assert.Equal(t, int64(1), tel.sum(t, "justredis.client.events", attribute.String("justredis.event", "close")))
}

// TestDialFailure shows a dial that fails: the call fails with the
// network's error, and the dial is measured with its error.type.
func TestDialFailure(t *testing.T) {
	// A port nobody listens on: a server started and closed.
	dead := redistest.Start(t, redistest.Options{})
	addr := dead.Addr()
	require.NoError(t, dead.Close())

	tel := newTelemetry(t)
	r := tel.client(t, justredis.WithAddress(addr), justredis.WithConnectRetry(0))
	_, err := r.Do(testCtx(t), "PING")
	require.Error(t, err)

	span := tel.onlySpan(t)
	assert.Equal(t, codes.Error, span.Status().Code)
	errType := attrs(span)["error.type"].AsString()
	assert.Equal(t, "ECONNREFUSED", errType)
	pool := attribute.String("db.client.connection.pool.name", addr)
	assert.Equal(t, uint64(1), tel.histogramPoint(t, "db.client.connection.create_time", pool,
		attribute.String("error.type", errType)).Count)
	assert.Equal(t, int64(0), tel.sum(t, "db.client.connection.count", pool))
}

// TestPoolTimeout shows a call that waited for a connection in vain: the
// wait is measured, counted as a time-out, and the call fails with
// justredis.ErrPoolTimeout.
func TestPoolTimeout(t *testing.T) {
	tel := newTelemetry(t)
	// Of two connections, one is kept for the shared ones: a Connection
	// holds the other.
	r := tel.client(t, justredis.WithMaxConnections(2), justredis.WithWaitTimeout(50*time.Millisecond))
	ctx := testCtx(t)
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	tel.ended()

	_, err = r.Do(ctx, "BLPOP", key(t, "empty"), 1) // wants a dedicated one
	require.ErrorIs(t, err, justredis.ErrPoolTimeout)
	span := tel.onlySpan(t)
	assert.Equal(t, "justredis.ErrPoolTimeout", attrs(span)["error.type"].AsString())

	pool := attribute.String("db.client.connection.pool.name", server().Addr())
	assert.Equal(t, int64(1), tel.sum(t, "db.client.connection.timeouts", pool))
	assert.Equal(t, uint64(1), tel.histogramPoint(t, "db.client.connection.wait_time", pool,
		attribute.String("error.type", "justredis.ErrPoolTimeout")).Count)
	var names []string
	for _, ev := range span.Events() {
		names = append(names, ev.Name)
	}
	assert.Contains(t, names, "justredis.pool-wait")
}
