package justredisotel

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// An Option configures New.
type Option func(*config)

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	attrs          []attribute.KeyValue
	queryText      bool
}

func newConfig(opts []Option) config {
	c := config{
		tracerProvider: otel.GetTracerProvider(),
		meterProvider:  otel.GetMeterProvider(),
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WithTracerProvider sets where spans go. The default is the global
// provider, otel.GetTracerProvider(), as it is when spans are made: one set
// after New is used too. A nil provider keeps the default.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) {
		if tp != nil {
			c.tracerProvider = tp
		}
	}
}

// WithMeterProvider sets where metrics go. The default is the global
// provider, otel.GetMeterProvider(). A nil provider keeps the default.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	}
}

// WithAttributes adds attrs to every span and every measurement, to tell
// clients apart ("app.cache"="sessions", say). Keep them few and constant:
// each distinct set makes new metric series.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return func(c *config) {
		c.attrs = append(c.attrs, attrs...)
	}
}

// WithQueryText, when on, records each call's commands with their argument
// values in the span attribute db.query.text, in redis-cli syntax
// (`SET key "a value"`), the commands of a batch separated by "; ", cut at
// 1 KiB. It is off by default, because values are often personal data or
// secrets: turn it on only where spans may hold them.
//
// Even when on, the arguments of commands that carry credentials (AUTH,
// HELLO, MIGRATE, ACL, CONFIG, SENTINEL) are each written "?", keeping only
// the subcommand of ACL, CONFIG and SENTINEL ("ACL SETUSER ? ?").
func WithQueryText(on bool) Option {
	return func(c *config) {
		c.queryText = on
	}
}
