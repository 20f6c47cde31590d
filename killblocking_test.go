package justredis_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestKillBlockingPops: producers LPUSH distinct values and consumers BLPOP
// them, on connections the server keeps killing. Each value is popped at
// most once; every value pushed is popped or still there, but for as many
// as the pops and pushes that may have run; no call hangs.
func TestKillBlockingPops(t *testing.T) {
	s := redistest.Start(t, redistest.Options{UnixSocket: true})
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			r := clientOver(t, s, network)
			load := newKillLoad(t, r, 60*time.Second)
			ctx := load.ctx
			list := key(t, "list")
			const producers, consumers, perProducer = 8, 16, 300
			var pushed, popped sync.Map // value → true
			var pushUnknown, popUnknown atomic.Int64
			for p := 0; p < producers; p++ {
				load.work(perProducer, func(i int, _ *ownConn) bool {
					v := fmt.Sprintf("%d:%d", p, i)
					_, err := r.Do(ctx, "LPUSH", list, v)
					if load.ended() {
						return false
					}
					switch {
					case err == nil:
						pushed.Store(v, true)
					case errors.Is(err, justredis.ErrNotRetried):
						pushUnknown.Add(1)
						pushed.Store(v, false) // may be there
					}
					return true
				})
			}
			var consuming sync.WaitGroup
			var done atomic.Bool
			for c := 0; c < consumers; c++ {
				consuming.Add(1)
				go func() {
					defer consuming.Done()
					for !done.Load() {
						v, err := r.Do(ctx, "BLPOP", list, "0.2")
						if load.ended() {
							return
						}
						if err != nil {
							if errors.Is(err, justredis.ErrNotRetried) {
								popUnknown.Add(1)
							}
							continue
						}
						if v == nil {
							continue
						}
						kv, ok := v.([]any)
						if !ok || len(kv) != 2 || kv[0] != list {
							t.Errorf("BLPOP %s replied %#v", list, v)
							continue
						}
						val := kv[1].(string)
						if _, dup := popped.LoadOrStore(val, true); dup {
							t.Errorf("%s popped twice", val)
						}
					}
				}()
			}
			stop := startKiller(t, 1000, 2, 5, func(int) {
				s.Do("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
			})
			load.wait(stop) // the producers
			// Let the consumers drain what is left.
			for {
				n, err := s.Do("LLEN", list)
				require.NoError(t, err)
				if n == "0" {
					break
				}
				require.NoError(t, ctx.Err(), "the consumers never drained the list")
				time.Sleep(10 * time.Millisecond)
			}
			done.Store(true)
			consuming.Wait()
			load.wait() // the consumers' calls too
			var lost, stray int64
			pushed.Range(func(k, sure any) bool {
				if _, ok := popped.Load(k); !ok && sure.(bool) {
					lost++
				}
				return true
			})
			popped.Range(func(k, _ any) bool {
				if _, ok := pushed.Load(k); !ok {
					stray++ // pushed by a call that failed as not run
				}
				return true
			})
			require.Zero(t, stray, "values popped that a push said it had not pushed")
			require.LessOrEqual(t, lost, popUnknown.Load(), "values pushed and never popped, beyond the pops that may have run")
			t.Logf("%d pushes and %d pops may have run; %d values lost to them", pushUnknown.Load(), popUnknown.Load(), lost)
		})
	}
}
