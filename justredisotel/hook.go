package justredisotel

import (
	"context"
	"strconv"
	"sync"

	"github.com/justredis/justredis"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans and metrics a Hook
// makes: the import path of this package.
const ScopeName = "github.com/justredis/justredis/justredisotel"

// Hook is a justredis.Hook that makes OpenTelemetry spans and metrics. Make
// it with New and give it to justredis.WithHook; one Hook may serve several
// clients.
type Hook struct {
	tracer    trace.Tracer
	attrs     []attribute.KeyValue // WithAttributes
	queryText bool
	instruments

	names     internTable                          // operation names
	opMetrics cowMap[opKey, []metric.RecordOption] // db.client.operation.duration's attribute sets
	bufs      sync.Pool                            // *startBuf
}

var _ justredis.ArgsHook = (*Hook)(nil)

// New returns a Hook configured by opts.
func New(opts ...Option) *Hook {
	c := newConfig(opts)
	h := &Hook{
		tracer:      c.tracerProvider.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		attrs:       c.attrs,
		queryText:   c.queryText,
		instruments: newInstruments(c.meterProvider),
	}
	h.names.limit = 1024
	h.opMetrics.limit = 4096
	h.bufs.New = func() any {
		return &startBuf{attrs: make([]attribute.KeyValue, 0, 8+len(h.attrs))}
	}
	return h
}

var clientKind = trace.WithSpanKind(trace.SpanKindClient)

// WantArgs tells the client to fill in Call.Args, the argument values,
// only when WithQueryText is on: copying them costs each call.
func (h *Hook) WantArgs() bool { return h.queryText }

// CallStart starts the call's span, as a child of the span in ctx if any,
// and returns ctx with it. The server is not known yet: CallEnd sets it.
func (h *Hook) CallStart(ctx context.Context, call *justredis.Call) context.Context {
	name := h.opName(call.Names)
	spanName := name
	if spanName == "" {
		spanName = "redis"
	}
	// The tracer copies the attributes and options, so their slices are
	// lent from a pool.
	buf := h.bufs.Get().(*startBuf)
	attrs := append(buf.attrs[:0], semconv.DBSystemNameRedis)
	if name != "" {
		attrs = append(attrs, semconv.DBOperationNameKey.String(name))
	}
	attrs = append(attrs, namespace(call.DB))
	if n := len(call.Names); n != 1 {
		attrs = append(attrs, semconv.DBOperationBatchSizeKey.Int(n))
	}
	if h.queryText && call.Args != nil {
		attrs = append(attrs, semconv.DBQueryTextKey.String(queryText(call.Args)))
	}
	attrs = append(attrs, h.attrs...)
	buf.opts[0], buf.opts[1] = clientKind, trace.WithAttributes(attrs...)
	ctx, _ = h.tracer.Start(ctx, spanName, buf.opts[:]...)
	buf.put(h, attrs)
	return ctx
}

// startBuf is what CallStart lends from its pool.
type startBuf struct {
	attrs []attribute.KeyValue
	opts  [2]trace.SpanStartOption
}

// put gives b back to the pool, holding none of the call's strings.
func (b *startBuf) put(h *Hook, attrs []attribute.KeyValue) {
	clear(attrs)
	b.attrs = attrs[:0]
	b.opts[1] = nil
	h.bufs.Put(b)
}

// CallEnd records the call's duration and ends its span, which CallStart
// put in ctx.
func (h *Hook) CallEnd(ctx context.Context, call *justredis.Call) {
	key := opKey{
		name:  h.opName(call.Names),
		addr:  call.Addr,
		db:    call.DB,
		flags: flagsOf(call),
	}
	if call.Err != nil {
		key.errType, key.reply = errorType(call.Err)
		if key.reply {
			// A copy, so that the kept key holds no part of the message.
			key.errType = h.names.intern([]byte(key.errType))
		}
	}
	h.duration.Record(ctx, call.Duration.Seconds(), h.opOptions(key)...)

	span := trace.SpanFromContext(ctx)
	if (call.Addr != "" || key.flags != 0 || call.Err != nil) && span.IsRecording() {
		h.finishSpan(span, call, &key)
	}
	span.End()
}

// finishSpan sets what is known only once the call is over: the server
// that answered (none when no server did or, in a cluster, several), the
// flags and the error.
func (h *Hook) finishSpan(span trace.Span, call *justredis.Call, key *opKey) {
	buf := h.bufs.Get().(*startBuf)
	attrs := appendServer(buf.attrs[:0], call.Addr)
	attrs = appendFlags(attrs, key.flags)
	if call.Err != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(key.errType))
		desc := ""
		if key.reply {
			// The text of an error reply may echo argument values.
			attrs = append(attrs, semconv.DBResponseStatusCodeKey.String(key.errType))
		} else {
			desc = call.Err.Error()
		}
		span.SetStatus(codes.Error, desc)
	}
	span.SetAttributes(attrs...)
	buf.put(h, attrs)
}

// namespaces holds db.namespace for the usual databases, 0 to 15, made
// once.
var namespaces = func() (ns [16]attribute.KeyValue) {
	for i := range ns {
		ns[i] = semconv.DBNamespaceKey.String(strconv.Itoa(i))
	}
	return ns
}()

func namespace(db int) attribute.KeyValue {
	if 0 <= db && db < len(namespaces) {
		return namespaces[db]
	}
	return semconv.DBNamespaceKey.String(strconv.Itoa(db))
}

// Flags of a call, as bits.
const (
	flagRetried uint8 = 1 << iota
	flagRedirected
	flagCacheHit
)

var (
	retriedAttr    = attribute.Bool("justredis.retried", true)
	redirectedAttr = attribute.Bool("justredis.redirected", true)
	cacheHitAttr   = attribute.Bool("justredis.cache_hit", true)
)

func flagsOf(call *justredis.Call) uint8 {
	var f uint8
	if call.Retried {
		f |= flagRetried
	}
	if call.Redirected {
		f |= flagRedirected
	}
	if call.CacheHit {
		f |= flagCacheHit
	}
	return f
}

func appendFlags(attrs []attribute.KeyValue, f uint8) []attribute.KeyValue {
	if f&flagRetried != 0 {
		attrs = append(attrs, retriedAttr)
	}
	if f&flagRedirected != 0 {
		attrs = append(attrs, redirectedAttr)
	}
	if f&flagCacheHit != 0 {
		attrs = append(attrs, cacheHitAttr)
	}
	return attrs
}
