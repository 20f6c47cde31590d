package justredis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestServerCrashUnderPipelinedLoad: the server is killed (SIGKILL) and
// restarted, frozen past the socket timeout, or its clients are killed
// while it holds their writes (CLIENT PAUSE), while many goroutines
// pipeline commands on keys of their own: small INCRs and APPENDs large
// enough to fill the socket's buffers, so that writes are cut short too.
// Every write is on disk before its reply (appendfsync always), so the
// ledgers hold across restarts: no call hangs, no reply is another's, and
// nothing said not to have run did.
func TestServerCrashUnderPipelinedLoad(t *testing.T) {
	s := redistest.Start(t, redistest.Options{UnixSocket: true, TLS: true,
		Args: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	// Some APPENDs are large enough, together, to fill a frozen server's
	// socket buffers, so that writes time out midway or before a byte.
	const chunk = 1 << 20
	big := strings.Repeat("x", chunk)
	for _, c := range []struct{ fault, network, kind string }{
		{"restart", "tcp", "shared"}, {"restart", "unix", "dedicated"}, {"restart", "tls", "shared"},
		{"freeze", "tcp", "dedicated"}, {"freeze", "unix", "shared"}, {"freeze", "tls", "dedicated"},
		{"pausekill", "tcp", "shared"}, {"pausekill", "tls", "dedicated"},
	} {
		fault, network, kind := c.fault, c.network, c.kind
		t.Run(fault+"/"+network+"/"+kind, func(t *testing.T) {
			r := clientOver(t, s, network, justredis.WithSocketTimeout(300*time.Millisecond))
			load := newKillLoad(t, r, 90*time.Second)
			const workers, rounds = 24, 4000
			ledgers := newLedgers(t, workers)
			for i, l := range ledgers {
				if i%3 == 0 {
					l.value = big[:chunk/16]
					if fault == "freeze" {
						l.value = big
					}
				}
				load.work(rounds, func(_ int, own *ownConn) bool {
					if kind == "shared" {
						return load.call(l, r.Do)
					}
					return load.call(l, own.Do)
				})
			}
			for i := 0; i < 4; i++ {
				time.Sleep(150 * time.Millisecond)
				switch fault {
				case "restart":
					require.NoError(t, s.Restart())
				case "pausekill":
					// Writes wait in the server, then their
					// connections are killed.
					_, err := s.Do("CLIENT", "PAUSE", "400", "WRITE")
					require.NoError(t, err)
					time.Sleep(150 * time.Millisecond)
					_, err = s.Do("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
					require.NoError(t, err)
					time.Sleep(100 * time.Millisecond)
					_, err = s.Do("CLIENT", "UNPAUSE")
					require.NoError(t, err)
				default:
					require.NoError(t, s.Pause())
					time.Sleep(500 * time.Millisecond)
					require.NoError(t, s.Resume())
				}
			}
			time.Sleep(150 * time.Millisecond)
			load.stop.Store(true)
			load.wait()
			checkLedgers(t, ledgers, s.Do)
		})
	}
}
