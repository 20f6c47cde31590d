package justredisotel

import (
	"context"

	"github.com/justredis/justredis"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Event records a connection event in the metrics, and as a span event on
// the span in ctx when one is recording (the call that needed the dial,
// say). Events are rare next to calls, so this builds its attributes each
// time.
func (h *Hook) Event(ctx context.Context, ev *justredis.Event) {
	errType := ""
	if ev.Err != nil {
		errType, _ = errorType(ev.Err)
	}
	h.recordEvent(ctx, ev, errType)

	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = appendServer(attrs, ev.Addr)
	if ev.Duration > 0 {
		attrs = append(attrs, attribute.Float64("justredis.event.duration", ev.Duration.Seconds()))
	}
	if ev.Count > 0 {
		attrs = append(attrs, attribute.Int("justredis.event.count", ev.Count))
	}
	if ev.Err != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType), semconv.ErrorMessageKey.String(ev.Err.Error()))
	}
	span.AddEvent("justredis."+ev.Kind.String(), trace.WithAttributes(attrs...))
}

func (h *Hook) recordEvent(ctx context.Context, ev *justredis.Event, errType string) {
	// The connection-pool metrics name the pool; justredis keeps one per
	// server, so the server's address names it.
	pool := h.withAttrs(semconv.DBClientConnectionPoolNameKey.String(ev.Addr))
	var errAttr []attribute.KeyValue
	if errType != "" {
		errAttr = []attribute.KeyValue{semconv.ErrorTypeKey.String(errType)}
	}
	poolErr := pool
	if errAttr != nil {
		poolErr = h.withAttrs(append(errAttr, semconv.DBClientConnectionPoolNameKey.String(ev.Addr))...)
	}

	switch ev.Kind {
	case justredis.EventDial:
		h.createTime.Record(ctx, ev.Duration.Seconds(), poolErr)
		if ev.Err == nil {
			h.connCount.Add(ctx, 1, pool)
		}
	case justredis.EventClose:
		h.connCount.Add(ctx, -1, pool)
	case justredis.EventPoolWait:
		h.waitTime.Record(ctx, ev.Duration.Seconds(), poolErr)
		if ev.Err != nil {
			h.timeouts.Add(ctx, 1, pool)
		}
	case justredis.EventDropped:
		if ev.Count > 0 {
			h.dropped.Add(ctx, int64(ev.Count), h.withAttrs(appendServer(nil, ev.Addr)...))
		}
	}

	attrs := append(errAttr, attribute.String("justredis.event", ev.Kind.String()))
	attrs = appendServer(attrs, ev.Addr)
	h.events.Add(ctx, 1, h.withAttrs(attrs...))
}

// withAttrs is metric.WithAttributes with the Hook's own attributes added.
func (h *Hook) withAttrs(attrs ...attribute.KeyValue) metric.MeasurementOption {
	if len(h.attrs) > 0 {
		attrs = append(attrs[:len(attrs):len(attrs)], h.attrs...)
	}
	return metric.WithAttributes(attrs...)
}
