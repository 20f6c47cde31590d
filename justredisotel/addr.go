package justredisotel

import (
	"net"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// appendServer appends server.address and server.port for addr, a
// "host:port" or a unix socket path, which is the address with no port. An
// empty addr (no server reached) appends nothing.
func appendServer(attrs []attribute.KeyValue, addr string) []attribute.KeyValue {
	if addr == "" {
		return attrs
	}
	host, port, ok := splitAddr(addr)
	attrs = append(attrs, semconv.ServerAddressKey.String(host))
	if ok {
		attrs = append(attrs, semconv.ServerPortKey.Int(port))
	}
	return attrs
}

// splitAddr splits "host:port" and "[v6]:port"; anything else, such as a
// socket path, is all host.
func splitAddr(addr string) (host string, port int, ok bool) {
	if addr == "" || addr[0] == '/' || addr[0] == '@' {
		return addr, 0, false
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return addr, 0, false
	}
	return h, n, true
}
