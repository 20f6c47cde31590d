package justredisotel_test

import (
	"context"
	"fmt"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/justredisotel"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The examples run against the test server that TestMain starts; in your
// code, the address is your server's. They keep spans and metrics in
// memory, to print them; a service would export them, with an OTLP
// exporter say.

func ExampleNew() {
	ctx := context.Background()

	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(ctx)
	metrics := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(metrics))
	defer mp.Shutdown(ctx)

	r, err := justredis.New(
		justredis.WithAddress(server().Addr()),
		justredis.WithHook(justredisotel.New(
			justredisotel.WithTracerProvider(tp),
			justredisotel.WithMeterProvider(mp),
		)),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	// The calls' spans are children of the span in their context.
	ctx, span := tp.Tracer("example").Start(ctx, "GET /greeting")
	r.Do(ctx, "SET", "example:greeting", "hello")
	r.DoMulti(ctx, []any{"GET", "example:greeting"}, []any{"GET", "example:missing"})
	span.End()

	for _, s := range spans.GetSpans() {
		fmt.Println(s.Name, s.SpanKind)
	}
	var rm metricdata.ResourceMetrics
	metrics.Collect(ctx, &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == "db.client.operation.duration" {
			for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				name, _ := p.Attributes.Value("db.operation.name")
				fmt.Println(m.Name, name.AsString(), p.Count)
			}
		}
	}
	// Unordered output:
	// SET client
	// PIPELINE GET client
	// GET /greeting internal
	// db.client.operation.duration SET 1
	// db.client.operation.duration PIPELINE GET 1
}

// With no provider given, the Hook uses the global ones, set before or
// after it is made.
func ExampleNew_globalProviders() {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	otel.SetTracerProvider(tp)
	mp := sdkmetric.NewMeterProvider()
	defer mp.Shutdown(context.Background())
	otel.SetMeterProvider(mp)

	r, err := justredis.New(
		justredis.WithAddress(server().Addr()),
		justredis.WithHook(justredisotel.New(
			// Tell this client's telemetry from others'.
			justredisotel.WithAttributes(attribute.String("app.store", "sessions")),
		)),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	fmt.Println(r.Do(context.Background(), "PING"))
	// Output: PONG <nil>
}
