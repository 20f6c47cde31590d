package justredis_test

import (
	"context"
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
			addr := s.Addr()
			if network == "unix" {
				addr = s.UnixPath()
			}
			r, err := justredis.New(justredis.WithAddress(addr))
			require.NoError(t, err)
			defer r.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			list := fmt.Sprintf("killpop:%s:%d", network, time.Now().UnixNano())
			const producers, consumers, perProducer = 8, 16, 300
			var pushed, popped sync.Map // value → true
			var pushUnknown, popUnknown, hung atomic.Int64
			var wg sync.WaitGroup
			var producing sync.WaitGroup
			for p := 0; p < producers; p++ {
				producing.Add(1)
				go func() {
					defer producing.Done()
					for i := 0; i < perProducer; i++ {
						v := fmt.Sprintf("%d:%d", p, i)
						_, err := r.Do(ctx, "LPUSH", list, v)
						if ctx.Err() != nil {
							hung.Add(1)
							return
						}
						switch {
						case err == nil:
							pushed.Store(v, true)
						case errors.Is(err, justredis.ErrNotRetried):
							pushUnknown.Add(1)
							pushed.Store(v, false) // may be there
						}
					}
				}()
			}
			var done atomic.Bool
			for c := 0; c < consumers; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !done.Load() {
						v, err := r.Do(ctx, "BLPOP", list, "0.2")
						if ctx.Err() != nil {
							hung.Add(1)
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
			killer := make(chan struct{})
			var stop atomic.Bool
			go func() {
				defer close(killer)
				for i := 0; i < 1000 && !stop.Load(); i++ {
					s.Do("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
					time.Sleep(time.Duration(2+i%5) * time.Millisecond)
				}
			}()
			producing.Wait()
			stop.Store(true)
			<-killer
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
			wg.Wait()
			require.Zero(t, hung.Load(), "calls that waited until their context ended")
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
