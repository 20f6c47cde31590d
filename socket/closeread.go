package socket

import (
	"crypto/tls"
	"net"
)

// CloseRead shuts c's socket for reading where that keeps what arrived
// already: it is still read, and then the end of the stream, without
// waiting for the peer. For TLS it shuts the underlying socket, so that the
// records that arrived are still read too. It reports whether it did.
//
// Only Linux is known to keep them. BSD and macOS throw away what waits to
// be read when a socket is shut for reading, and Windows resets the
// connection; elsewhere CloseRead does nothing.
func CloseRead(c net.Conn) bool {
	if !closeReadKeeps {
		return false
	}
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	cr, ok := c.(interface{ CloseRead() error })
	return ok && cr.CloseRead() == nil
}
