package justredisotel_test

// These tests drive the Hook directly, with the values a client would give
// it: no server needed.

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/justredisotel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// errReset is how a connection reset by the server looks.
var errReset = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

// TestCallFlagsAndLateAddress shows a call as the client reports it: its
// server known only as it ends, and here retried, redirected and answered
// from the cache. The address and flags are set as the span ends, and go
// in the metric too.
func TestCallFlagsAndLateAddress(t *testing.T) {
	tel := newTelemetry(t)
	call := &justredis.Call{Op: "DoMulti", DB: 0, Start: time.Now()}
	ctx := tel.hook.CallStart(context.Background(), call)
	call.Addr = "10.1.2.3:7001"
	call.Duration = 3 * time.Millisecond
	call.Retried, call.Redirected, call.CacheHit = true, true, true
	tel.hook.CallEnd(ctx, call)

	span := tel.onlySpan(t)
	// A call with no command: an empty batch, as the conventions have it.
	assert.Equal(t, "PIPELINE", span.Name())
	a := attrs(span)
	assert.Equal(t, int64(0), a["db.operation.batch.size"].AsInt64())
	assert.Equal(t, "10.1.2.3", a["server.address"].AsString())
	assert.Equal(t, int64(7001), a["server.port"].AsInt64())
	for _, flag := range []attribute.Key{"justredis.retried", "justredis.redirected", "justredis.cache_hit"} {
		assert.True(t, a[flag].AsBool(), flag)
	}

	p := tel.histogramPoint(t, "db.client.operation.duration", attribute.String("server.address", "10.1.2.3"),
		attribute.Int("server.port", 7001), attribute.Bool("justredis.retried", true),
		attribute.Bool("justredis.redirected", true), attribute.Bool("justredis.cache_hit", true))
	assert.Equal(t, uint64(1), p.Count)
	assert.InDelta(t, 0.003, p.Sum, 1e-9, "the call's own duration")
}

// TestCallNoAddress shows a call no one server answered (in a cluster,
// several did): neither its span nor its measurement names a server.
func TestCallNoAddress(t *testing.T) {
	tel := newTelemetry(t)
	call := &justredis.Call{Op: "DoMulti", Names: []string{"GET", "GET"}, Start: time.Now()}
	ctx := tel.hook.CallStart(context.Background(), call)
	tel.hook.CallEnd(ctx, call)

	a := attrs(tel.onlySpan(t))
	assert.NotContains(t, a, attribute.Key("server.address"))
	assert.NotContains(t, a, attribute.Key("server.port"))
	p := tel.histogramPoint(t, "db.client.operation.duration", attribute.String("db.operation.name", "PIPELINE GET"))
	_, ok := p.Attributes.Value("server.address")
	assert.False(t, ok)
}

// TestWantArgs shows that the Hook asks the client for argument values
// only when it records them.
func TestWantArgs(t *testing.T) {
	assert.False(t, justredisotel.New().WantArgs())
	assert.False(t, justredisotel.New(justredisotel.WithQueryText(false)).WantArgs())
	assert.True(t, justredisotel.New(justredisotel.WithQueryText(true)).WantArgs())
}

// TestHookNoSDK shows the Hook working with the global providers, no-ops
// until an SDK is installed: nothing recorded, nothing broken.
func TestHookNoSDK(t *testing.T) {
	h := justredisotel.New()
	call := &justredis.Call{Op: "Do", Start: time.Now()}
	ctx := h.CallStart(context.Background(), call)
	call.Err = fmt.Errorf("x: %w", justredis.ErrClosed)
	h.CallEnd(ctx, call)
	h.Event(ctx, &justredis.Event{Kind: justredis.EventDial, Addr: "a:1"})
}

func eventNames(s sdktrace.ReadOnlySpan) []string {
	var names []string
	for _, ev := range s.Events() {
		names = append(names, ev.Name)
	}
	return names
}

// TestEvents shows each kind of connection event as a span event on the
// span in its context and in the metrics.
func TestEvents(t *testing.T) {
	tel := newTelemetry(t, justredisotel.WithAttributes(attribute.String("app.pool", "sessions")))
	ctx, span := tel.tp.Tracer("test").Start(context.Background(), "call")
	h := tel.hook
	const addr = "10.0.0.1:7000"
	pool := attribute.String("db.client.connection.pool.name", addr)
	broken := fmt.Errorf("justredis: %s: %w", addr, errReset)

	h.Event(ctx, &justredis.Event{Kind: justredis.EventDial, Addr: addr, Duration: 2 * time.Millisecond})
	h.Event(ctx, &justredis.Event{Kind: justredis.EventDial, Addr: addr, Duration: 4 * time.Millisecond})
	h.Event(ctx, &justredis.Event{Kind: justredis.EventClose, Addr: addr, Err: broken})
	h.Event(ctx, &justredis.Event{Kind: justredis.EventPoolWait, Addr: addr, Duration: time.Millisecond})
	h.Event(ctx, &justredis.Event{Kind: justredis.EventPoolWait, Addr: addr, Duration: 50 * time.Millisecond,
		Err: fmt.Errorf("%w: all busy", justredis.ErrPoolTimeout)})
	h.Event(ctx, &justredis.Event{Kind: justredis.EventRefresh, Addr: addr})
	h.Event(ctx, &justredis.Event{Kind: justredis.EventFailover, Addr: "10.0.0.2:6379"})
	h.Event(ctx, &justredis.Event{Kind: justredis.EventResubscribe, Addr: addr})
	h.Event(ctx, &justredis.Event{Kind: justredis.EventDropped, Addr: addr, Count: 7})
	// An event outside any call goes to the metrics only.
	h.Event(context.Background(), &justredis.Event{Kind: justredis.EventClose, Addr: addr})
	span.End()

	s := tel.onlySpan(t)
	assert.Equal(t, []string{"justredis.dial", "justredis.dial", "justredis.close", "justredis.pool-wait",
		"justredis.pool-wait", "justredis.refresh", "justredis.failover", "justredis.resubscribe",
		"justredis.dropped"}, eventNames(s))
	closeAttrs := map[attribute.Key]string{}
	for _, kv := range s.Events()[2].Attributes {
		closeAttrs[kv.Key] = kv.Value.Emit()
	}
	assert.Equal(t, "ECONNRESET", closeAttrs["error.type"])
	assert.Equal(t, broken.Error(), closeAttrs["error.message"])
	assert.Equal(t, "10.0.0.1", closeAttrs["server.address"])
	var dropped int64
	for _, kv := range s.Events()[8].Attributes {
		if kv.Key == "justredis.event.count" {
			dropped = kv.Value.AsInt64()
		}
	}
	assert.Equal(t, int64(7), dropped)

	assert.Equal(t, int64(0), tel.sum(t, "db.client.connection.count", pool), "two dials, two closes")
	assert.Equal(t, uint64(2), tel.histogramPoint(t, "db.client.connection.create_time", pool).Count)
	assert.Equal(t, uint64(1), tel.histogramPoint(t, "db.client.connection.wait_time", pool,
		attribute.String("error.type", "justredis.ErrPoolTimeout")).Count)
	assert.Equal(t, int64(1), tel.sum(t, "db.client.connection.timeouts", pool))
	assert.Equal(t, int64(7), tel.sum(t, "justredis.client.push.dropped", attribute.String("server.address", "10.0.0.1")))
	for kind, n := range map[string]int64{"dial": 2, "close": 2, "pool-wait": 2, "refresh": 1, "failover": 1, "resubscribe": 1, "dropped": 1} {
		assert.Equal(t, n, tel.sum(t, "justredis.client.events", attribute.String("justredis.event", kind)), kind)
	}
	assert.Equal(t, int64(1), tel.sum(t, "justredis.client.events", attribute.String("justredis.event", "close"),
		attribute.String("error.type", "ECONNRESET")))
	assert.Equal(t, int64(1), tel.sum(t, "justredis.client.events", attribute.String("justredis.event", "failover"),
		attribute.String("server.address", "10.0.0.2")))
	// WithAttributes reach the event metrics too.
	assert.Equal(t, int64(10), tel.sum(t, "justredis.client.events", attribute.String("app.pool", "sessions")))
}

// TestCallStatusOnError shows a failure that is not an error reply: its
// text is the span status's description.
func TestCallStatusOnError(t *testing.T) {
	tel := newTelemetry(t)
	call := &justredis.Call{Op: "Do", Addr: "10.0.0.1:7000", Start: time.Now()}
	ctx := tel.hook.CallStart(context.Background(), call)
	call.Err = fmt.Errorf("justredis: 10.0.0.1:7000: %w", errReset)
	tel.hook.CallEnd(ctx, call)
	s := tel.onlySpan(t)
	require.Equal(t, codes.Error, s.Status().Code)
	assert.Equal(t, call.Err.Error(), s.Status().Description)
	assert.Equal(t, "ECONNRESET", attrs(s)["error.type"].AsString())
}
