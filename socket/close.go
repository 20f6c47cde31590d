package socket

import (
	"crypto/tls"
	"net"
	"time"
)

// closeNotifyWait is how long Close lets a TLS connection's close_notify
// alert take. The alert is a few dozen bytes that the kernel takes at once
// while the socket's send buffer has room, as on every healthy connection;
// it waits only on a peer that stopped reading with the buffer full, and
// then nothing is lost by giving up on it.
const closeNotifyWait = 100 * time.Millisecond

// Close closes c without waiting long on a peer that does not read.
//
// Closing a *tls.Conn first writes its close_notify alert, so that the peer
// can tell the end of the stream from a cut; when the send buffer is full
// (a server paused or stopped after the client wrote a lot) that write
// blocks for the 5s crypto/tls allows it, which also overrides any write
// deadline set before Close, so a short deadline cannot bound it. Instead
// the underlying connection is closed after closeNotifyWait if the TLS close
// has not returned by then, which fails the alert's write at once. A healthy
// connection still ends with a clean close_notify.
func Close(c net.Conn) error {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return c.Close()
	}
	t := time.AfterFunc(closeNotifyWait, func() { tc.NetConn().Close() })
	err := tc.Close()
	t.Stop()
	return err
}
