package justredisotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/justredisotel"
	"github.com/stretchr/testify/require"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// nopHook is the cheapest hook there is: the cost of having hooks at all.
type nopHook struct{}

func (nopHook) CallStart(ctx context.Context, _ *justredis.Call) context.Context { return ctx }
func (nopHook) CallEnd(context.Context, *justredis.Call)                         {}
func (nopHook) Event(context.Context, *justredis.Event)                          {}

// benchHooks are the hooks the benchmarks compare. The SDK ones record
// spans and metrics but export nothing, to measure the Hook and the SDK,
// not an exporter.
func benchHooks(b *testing.B) []struct {
	name string
	hook justredis.Hook
} {
	sdk := func(sampler sdktrace.Sampler, opts ...justredisotel.Option) justredis.Hook {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() {
			_ = tp.Shutdown(context.Background())
			_ = mp.Shutdown(context.Background())
		})
		return justredisotel.New(append(opts, justredisotel.WithTracerProvider(tp), justredisotel.WithMeterProvider(mp))...)
	}
	return []struct {
		name string
		hook justredis.Hook
	}{
		{"no hook", nil},
		{"no-op hook", nopHook{}},
		{"otel no-op providers", justredisotel.New(
			justredisotel.WithTracerProvider(tracenoop.NewTracerProvider()),
			justredisotel.WithMeterProvider(metricnoop.NewMeterProvider()))},
		{"otel SDK not sampled", sdk(sdktrace.NeverSample())},
		{"otel SDK sampled", sdk(sdktrace.AlwaysSample())},
		{"otel SDK sampled, query text", sdk(sdktrace.AlwaysSample(), justredisotel.WithQueryText(true))},
	}
}

// BenchmarkDo measures a GET through a client to a real server, with each
// hook: the difference from "no hook" is what the hook costs per call.
func BenchmarkDo(b *testing.B) {
	for _, bc := range benchHooks(b) {
		b.Run(bc.name, func(b *testing.B) {
			opts := []justredis.Option{justredis.WithAddress(server().Addr())}
			if bc.hook != nil {
				opts = append(opts, justredis.WithHook(bc.hook))
			}
			r, err := justredis.New(opts...)
			require.NoError(b, err)
			defer r.Close()
			ctx := context.Background()
			k := key(b, "k")
			_, err = r.Do(ctx, "SET", k, "v") // dial before timing
			require.NoError(b, err)
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

// BenchmarkHook measures the hooks alone, without a server: CallStart and
// CallEnd of one GET, as the client reports it.
func BenchmarkHook(b *testing.B) {
	for _, bc := range benchHooks(b) {
		if bc.hook == nil {
			continue
		}
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			call := &justredis.Call{Op: "Do", Names: []string{"GET"}, Args: [][]string{{"GET", "k"}}, Start: time.Now()}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				call.Addr, call.Duration = "", 0
				ctx := bc.hook.CallStart(ctx, call)
				call.Addr, call.Duration = "127.0.0.1:6379", time.Millisecond
				bc.hook.CallEnd(ctx, call)
			}
		})
	}
}
