package justredis_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestKillPushConnections: push connections killed by the server again and
// again while their users subscribe and PING on them, with a socket timeout
// short enough for keep-alive PINGs. No call may wait until its context
// ends, every message must come on the channel it names, and once the
// kills stop every subscription made is back.
func TestKillPushConnections(t *testing.T) {
	s := redistest.Start(t, redistest.Options{UnixSocket: true, TLS: true})
	for _, c := range []struct {
		network string
		resp    int
	}{{"tcp", 2}, {"tcp", 3}, {"unix", 3}, {"tls", 2}} {
		network, resp := c.network, c.resp
		t.Run(fmt.Sprintf("%s/resp%d", network, resp), func(t *testing.T) {
			r := clientOver(t, s, network, justredis.WithRESP(resp), justredis.WithSocketTimeout(200*time.Millisecond))
			load := newKillLoad(t, r, 60*time.Second)
			ctx := load.ctx
			const conns, rounds = 16, 40
			prefix := key(t, "push")
			var readers sync.WaitGroup
			pcs := make([]*justredis.PushConnection, conns)
			got := make([]sync.Map, conns) // channel → received
			for i := range pcs {
				pc, err := r.PushConnection(ctx)
				require.NoError(t, err)
				defer pc.Close()
				pcs[i] = pc
				readers.Add(1)
				go func() {
					defer readers.Done()
					for ctx.Err() == nil {
						msg, err := pc.NextMessage(ctx)
						if err != nil {
							if errors.Is(err, justredis.ErrClosed) || ctx.Err() != nil {
								return
							}
							continue
						}
						if msg.Kind != "message" {
							continue
						}
						data, _ := msg.Data.(string)
						if !strings.HasPrefix(data, msg.Channel+"|") {
							t.Errorf("a message %q came on channel %q", data, msg.Channel)
						}
						if !strings.HasPrefix(msg.Channel, fmt.Sprintf("%s:%d:", prefix, i)) {
							t.Errorf("connection %d got a message on %q, not subscribed to", i, msg.Channel)
						}
						got[i].Store(msg.Channel, true)
					}
				}()
				load.work(rounds, func(j int, _ *ownConn) bool {
					ch := fmt.Sprintf("%s:%d:%d", prefix, i, j)
					err := pc.Do(ctx, "SUBSCRIBE", ch)
					if load.ended() {
						return false
					}
					if err != nil {
						t.Errorf("SUBSCRIBE %s: %v; it should be sent again on the next connection", ch, err)
						return false
					}
					pc.Do(ctx, "PING")
					if load.ended() {
						return false
					}
					r.Do(ctx, "PUBLISH", ch, ch+"|early")
					time.Sleep(time.Millisecond)
					return true
				})
			}
			stop := startKiller(t, 300, 1, 7, func(i int) {
				kind := "pubsub"
				if i%3 == 0 {
					kind = "normal"
				}
				s.Do("CLIENT", "KILL", "TYPE", kind)
			})
			load.wait(stop)
			// Every subscription is back: a message published on each
			// channel arrives, in time.
			for i := range pcs {
				for j := 0; j < rounds; j++ {
					ch := fmt.Sprintf("%s:%d:%d", prefix, i, j)
					got[i].Delete(ch)
					for {
						_, err := r.Do(ctx, "PUBLISH", ch, ch+"|late")
						require.NoError(t, err)
						time.Sleep(2 * time.Millisecond)
						if _, ok := got[i].Load(ch); ok {
							break
						}
						require.NoError(t, ctx.Err(), "connection %d never got its subscription to %s back", i, ch)
					}
				}
			}
			for _, pc := range pcs {
				pc.Close()
			}
			readers.Wait()
		})
	}
}
