package justredisotel

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/semconv/v1.37.0/dbconv"
)

// durationBuckets are the bucket boundaries, in seconds, that the
// conventions give for db.client.operation.duration.
var durationBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}

// instruments are the metrics a Hook records. When the meter refuses one
// (it should not), the error goes to otel.Handle and a no-op stands in.
type instruments struct {
	duration   metric.Float64Histogram
	connCount  metric.Int64UpDownCounter
	createTime metric.Float64Histogram
	waitTime   metric.Float64Histogram
	timeouts   metric.Int64Counter
	events     metric.Int64Counter
	dropped    metric.Int64Counter
}

func newInstruments(mp metric.MeterProvider) instruments {
	m := mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	var ins instruments
	duration, err := dbconv.NewClientOperationDuration(m, metric.WithExplicitBucketBoundaries(durationBuckets...))
	handle(err)
	ins.duration = duration.Inst()
	count, err := dbconv.NewClientConnectionCount(m)
	handle(err)
	ins.connCount = count.Inst()
	create, err := dbconv.NewClientConnectionCreateTime(m, metric.WithExplicitBucketBoundaries(durationBuckets...))
	handle(err)
	ins.createTime = create.Inst()
	wait, err := dbconv.NewClientConnectionWaitTime(m, metric.WithExplicitBucketBoundaries(durationBuckets...))
	handle(err)
	ins.waitTime = wait.Inst()
	timeouts, err := dbconv.NewClientConnectionTimeouts(m)
	handle(err)
	ins.timeouts = timeouts.Inst()
	ins.events = counter(m, "justredis.client.events", "{event}",
		"Connection events of a justredis client: dials, closes, slot-map refreshes, failovers, resubscribes, pool waits, dropped push messages.")
	ins.dropped = counter(m, "justredis.client.push.dropped", "{message}",
		"Push messages a justredis PushConnection dropped because its buffer was full.")
	return ins
}

func counter(m metric.Meter, name, unit, desc string) metric.Int64Counter {
	c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	handle(err)
	if c == nil {
		return noop.Int64Counter{}
	}
	return c
}

func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}
