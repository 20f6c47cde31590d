package justredisotel_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/justredisotel"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// sharedServer is one Redis server (with a unix socket) for the tests and
// examples of this package, started at first use.
var (
	sharedOnce   sync.Once
	sharedServer *redistest.Server
)

func server() *redistest.Server {
	sharedOnce.Do(func() {
		s, err := redistest.StartServer(redistest.Options{UnixSocket: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "cannot start a Redis server for the tests:", err)
			os.Exit(1)
		}
		sharedServer = s
	})
	return sharedServer
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedServer != nil {
		sharedServer.Close()
	}
	os.Exit(code)
}

// telemetry is an OpenTelemetry SDK that keeps what it gets in memory, and a
// Hook that feeds it.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	hook   *justredisotel.Hook
}

func newTelemetry(t testing.TB, opts ...justredisotel.Option) *telemetry {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	opts = append([]justredisotel.Option{
		justredisotel.WithTracerProvider(tp),
		justredisotel.WithMeterProvider(mp),
	}, opts...)
	return &telemetry{spans: spans, reader: reader, tp: tp, hook: justredisotel.New(opts...)}
}

// client returns a client of the shared server (or of addr) that reports to
// tel, closed when t ends.
func (tel *telemetry) client(t testing.TB, opts ...justredis.Option) *justredis.Redis {
	t.Helper()
	opts = append([]justredis.Option{
		justredis.WithAddress(server().Addr()),
		justredis.WithHook(tel.hook),
	}, opts...)
	r, err := justredis.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// ended returns the spans ended so far, and forgets them.
func (tel *telemetry) ended() []sdktrace.ReadOnlySpan {
	s := tel.spans.Ended()
	tel.spans.Reset()
	return s
}

// onlySpan returns the one span ended since the last look.
func (tel *telemetry) onlySpan(t testing.TB) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := tel.ended()
	require.Len(t, spans, 1, "spans: %v", spanNames(spans))
	return spans[0]
}

func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name()
	}
	return names
}

// metric collects the metrics and returns the one named name.
func (tel *telemetry) metric(t testing.TB, name string) metricdata.Metrics {
	t.Helper()
	m, ok := tel.find(t, name)
	require.True(t, ok, "no metric %s", name)
	return m
}

// find collects the metrics and returns the one named name, if anything
// was recorded in it.
func (tel *telemetry) find(t testing.TB, name string) (metricdata.Metrics, bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				require.Equal(t, justredisotel.ScopeName, sm.Scope.Name)
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// histogramPoint returns the point of the histogram name whose attributes
// include want.
func (tel *telemetry) histogramPoint(t testing.TB, name string, want ...attribute.KeyValue) metricdata.HistogramDataPoint[float64] {
	t.Helper()
	h, ok := tel.metric(t, name).Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s is not a float64 histogram", name)
	for _, p := range h.DataPoints {
		if hasAll(p.Attributes, want) {
			return p
		}
	}
	t.Fatalf("%s has no point with %v; has %v", name, want, histogramAttrs(h))
	return metricdata.HistogramDataPoint[float64]{}
}

func histogramAttrs(h metricdata.Histogram[float64]) []string {
	var s []string
	for _, p := range h.DataPoints {
		s = append(s, p.Attributes.Encoded(attribute.DefaultEncoder()))
	}
	return s
}

// sum returns the total of the int64 sum name over the points whose
// attributes include want: 0 if it has none, or nothing was recorded.
func (tel *telemetry) sum(t testing.TB, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := tel.find(t, name)
	if !ok {
		return 0
	}
	s, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is not an int64 sum", name)
	var total int64
	for _, p := range s.DataPoints {
		if hasAll(p.Attributes, want) {
			total += p.Value
		}
	}
	return total
}

func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// attrs returns a span's attributes by key, the last value winning as it
// does when the SDK exports them.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// key returns a key unique to the test and run.
func key(t testing.TB, name string) string {
	return fmt.Sprintf("%s:%d:%s", t.Name(), runID.Add(1), name)
}

var runID atomic.Int64
