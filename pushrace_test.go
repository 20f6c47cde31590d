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

		settlePush(t, ctx, p, "settled", nil)
		for w := 0; w < workers; w++ {
			for c := 0; c < chans; c++ {
				_, err := r.Do(ctx, "PUBLISH", fmt.Sprintf("%s:%d:%d", prefix, w, c), "x")
				require.NoError(t, err)
			}
		}
		got := map[string]int{}
		for _, msg := range settlePush(t, ctx, p, "published", nil) {
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

// settlePush sends PING word on p and returns the messages that came
// before its pong: once it is in, the server has acted on everything p
// sent before, the setup of a new connection included. pinged, if not nil,
// is called after each PING is written.
//
// A connection may break after taking the PING, before answering it: one
// the server has closed, but whose end the reader has not read yet (on a
// loaded machine it may not run for a while), still takes a write. Its
// pong then never comes; NextMessage reports it lost instead, and waiting
// on for it would wait until ctx ends. So each such report is answered
// with a new PING, which the next connection answers. A report may be for
// an earlier PING (one a reader that has left did not take), which cannot
// be told from this one's: a new PING then costs nothing, as the pong of
// any PING of this settle ends it. Each PING has a word of its own, so
// that a pong of an earlier settle is not taken for this one's.
func settlePush(t testing.TB, ctx context.Context, p *PushConnection, word string, pinged func()) []Message {
	t.Helper()
	sent := map[string]bool{}
	ping := func() {
		w := fmt.Sprintf("%s#%d", word, len(sent))
		for {
			err := p.Do(ctx, "PING", w)
			if err == nil {
				sent[w] = true
				break
			}
			// PING fails while the connection is down.
			require.NoError(t, ctx.Err(), "the connection never came back: %v", err)
			time.Sleep(20 * time.Millisecond)
		}
		if pinged != nil {
			pinged()
		}
	}
	ping()
	var got []Message
	for {
		msg, err := p.NextMessage(ctx)
		require.NoError(t, ctx.Err(), "no pong to %q; got %+v", word, got)
		if err != nil {
			require.Contains(t, err.Error(), "before the reply to PING")
			ping()
			continue
		}
		if msg.Kind == "pong" {
			if data, _ := msg.Data.(string); sent[data] {
				return got
			}
			continue // an earlier settle's
		}
		got = append(got, msg)
	}
}

// TestPushSettleAfterLostPing: the PING that settlePush waits on is lost
// with its connection. It must be told so, PING again on the next
// connection, and return once that one is set up again, instead of
// waiting for a pong that never comes, as TestPushChurnUnderKills once
// did on a loaded machine, where the last kill can land on a connection
// before its reader has seen it end.
func TestPushSettleAfterLostPing(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	ctx := pushCtx(t)
	r := pushClient(t, s)
	p := openPush(t, r)
	do(t, p, "SUBSCRIBE", "settle-lost")
	require.Equal(t, "subscribe", next(t, p).Kind)

	// Frozen, the server takes the first PING into its socket and never
	// answers it; killed then, it loses it with the connection.
	require.NoError(t, s.Pause())
	pings := 0
	got := settlePush(t, ctx, p, "lost", func() {
		pings++
		if pings == 1 {
			require.NoError(t, s.Kill())
			require.NoError(t, s.Restart())
		}
	})
	if s.Backend() == "process" {
		// A frozen process dies without running again.
		require.Greater(t, pings, 1, "the first PING was answered")
	}
	var kinds []string
	for _, msg := range got {
		kinds = append(kinds, msg.Kind+" "+msg.Channel)
	}
	// Unless a server in a container ran once more and answered the first
	// PING before the kill landed, the second one came after the
	// resubscription.
	if pings > 1 {
		require.Contains(t, kinds, "subscribe settle-lost")
	}
}
