package justredis

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestPushChurnUnderKills: several goroutines subscribe and unsubscribe
// their own channels and PING, several read, and the server kills the
// connection again and again. Once it is over, the connection must be
// subscribed to exactly the channels each goroutine last subscribed to:
// one message published to every channel arrives once on each of those,
// and on no other.
func TestPushChurnUnderKills(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	forBothRESP(t, func(t *testing.T, resp int) {
		ctx := pushCtx(t)
		r := pushClient(t, s, WithRESP(resp))
		p := openPush(t, r)
		const workers, chans, ops = 4, 8, 60
		prefix := fmt.Sprintf("churn%d", resp)

		readCtx, stopReading := context.WithCancel(ctx)
		var readers sync.WaitGroup
		for i := 0; i < 3; i++ {
			readers.Add(1)
			go func() {
				defer readers.Done()
				for readCtx.Err() == nil {
					msg, err := p.NextMessage(readCtx)
					// A PING's reply lost with a killed connection is
					// reported in its place.
					if err != nil && readCtx.Err() == nil && !strings.Contains(err.Error(), "before the reply to PING") {
						t.Errorf("NextMessage: %v (%+v)", err, msg)
					}
				}
			}()
		}
		stopKilling := make(chan struct{})
		killed := make(chan struct{})
		go func() {
			defer close(killed)
			for i := 0; i < 20; i++ {
				select {
				case <-stopKilling:
					return
				case <-time.After(20 * time.Millisecond):
				}
				s.Do("CLIENT", "KILL", "TYPE", "pubsub")
			}
		}()
		final := make([]map[string]bool, workers)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			final[w] = map[string]bool{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewSource(int64(w)))
				for i := 0; i < ops; i++ {
					ch := fmt.Sprintf("%s:%d:%d", prefix, w, rnd.Intn(chans))
					var err error
					switch rnd.Intn(3) {
					case 0:
						err = p.Do(ctx, "SUBSCRIBE", ch)
						final[w][ch] = true
					case 1:
						err = p.Do(ctx, "UNSUBSCRIBE", ch)
						final[w][ch] = false
					default:
						// PING may fail while the connection is down.
						p.Do(ctx, "PING")
					}
					if err != nil {
						t.Errorf("worker %d: %v", w, err)
						return
					}
					time.Sleep(time.Duration(rnd.Intn(3)) * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		close(stopKilling)
		<-killed
		stopReading()
		readers.Wait()

		// Settle: a PING of ours is answered after whatever was set up.
		settle := func(word string) []Message {
			var got []Message
			for try := 0; ; try++ {
				require.Less(t, try, 100, "the connection never came back")
				if err := p.Do(ctx, "PING", word); err != nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				break
			}
			for {
				msg, err := p.NextMessage(ctx)
				if err != nil {
					require.Contains(t, err.Error(), "before the reply to PING")
					continue
				}
				if msg.Kind == "pong" && msg.Data == word {
					return got
				}
				got = append(got, msg)
			}
		}
		settle("settled")
		for w := 0; w < workers; w++ {
			for c := 0; c < chans; c++ {
				_, err := r.Do(ctx, "PUBLISH", fmt.Sprintf("%s:%d:%d", prefix, w, c), "x")
				require.NoError(t, err)
			}
		}
		got := map[string]int{}
		for _, msg := range settle("published") {
			require.Equal(t, "message", msg.Kind, "%+v", msg)
			got[msg.Channel]++
		}
		want := map[string]int{}
		for w := range final {
			for ch, on := range final[w] {
				if on {
					want[ch] = 1
				}
			}
		}
		require.Equal(t, want, got)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatal("ran out of time")
		}
	})
}
