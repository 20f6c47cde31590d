package justredisotel

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// opKey is what tells the series of db.client.operation.duration apart.
type opKey struct {
	name    string
	addr    string
	db      int
	errType string
	reply   bool // errType is an error reply's prefix
	flags   uint8
}

// opOptions returns the measurement options for key. Building an attribute
// set sorts and allocates, so sets are made once per key and kept; calls
// then record without allocating.
func (h *Hook) opOptions(key opKey) []metric.RecordOption {
	if opts, ok := h.opMetrics.get(key); ok {
		return opts
	}
	attrs := make([]attribute.KeyValue, 0, 10+len(h.attrs))
	attrs = append(attrs, semconv.DBSystemNameRedis)
	if key.name != "" {
		attrs = append(attrs, semconv.DBOperationNameKey.String(key.name))
	}
	attrs = append(attrs, namespace(key.db))
	attrs = appendServer(attrs, key.addr)
	if key.errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(key.errType))
		if key.reply {
			attrs = append(attrs, semconv.DBResponseStatusCodeKey.String(key.errType))
		}
	}
	attrs = appendFlags(attrs, key.flags)
	attrs = append(attrs, h.attrs...)
	opts := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
	h.opMetrics.put(key, opts)
	return opts
}
