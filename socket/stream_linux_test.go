package socket

import (
	"crypto/tls"
	"testing"
)

// On Linux a TCP or unix socket is read and written with raw system calls;
// anything else through its own methods.
func TestStreamRawWhereItCan(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		client, _ := connPair(t, network)
		if NewStream(client).raw == nil {
			t.Errorf("%s: a Stream over a %T does not make its own system calls", network, client)
		}
		if s := NewStream(tls.Client(client, &tls.Config{})); s.raw != nil {
			t.Errorf("%s: a Stream over TLS would bypass TLS", network)
		}
	}
}
