package justredis_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestKillSentinelDeployment: the clients of the master and of every
// sentinel, the client's watcher of +switch-master among them, are killed
// again and again while many goroutines pipeline INCRs through a sentinel
// client. The ledgers hold, no call hangs, and afterwards the client still
// follows a failover.
func TestKillSentinelDeployment(t *testing.T) {
	d := redistest.StartSentinel(t, redistest.SentinelOptions{})
	r := sentinelClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const workers, rounds = 32, 300
	stamp := time.Now().UnixNano()
	ledgers := make([]*incrLedger, workers)
	var wg sync.WaitGroup
	var hung atomic.Int64
	for i := range ledgers {
		l := &incrLedger{key: fmt.Sprintf("killsentinel:%d:%d", i, stamp)}
		ledgers[i] = l
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < rounds && !t.Failed(); j++ {
				v, err := r.Do(ctx, "INCR", l.key)
				if ctx.Err() != nil {
					hung.Add(1)
					return
				}
				l.record(t, v, err)
			}
		}()
	}
	var stop atomic.Bool
	killer := make(chan struct{})
	go func() {
		defer close(killer)
		targets := append([]*redistest.Server{d.Master()}, d.Sentinels()...)
		for i := 0; i < 600 && !stop.Load(); i++ {
			s := targets[i%len(targets)]
			kind := "normal"
			if i%2 == 1 {
				kind = "pubsub"
			}
			s.Do("CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes")
			time.Sleep(time.Duration(1+i%4) * time.Millisecond)
		}
	}()
	wg.Wait()
	stop.Store(true)
	<-killer
	require.Zero(t, hung.Load(), "calls that waited until their context ended")
	master := d.Master()
	var ok, unknown int64
	for _, l := range ledgers {
		l.check(t, ctx, master)
		ok += l.ok
		unknown += l.unknown
	}
	t.Logf("%d INCRs succeeded, %d may have run", ok, unknown)

	require.NoError(t, d.Failover(ctx))
	next := d.Master()
	require.NotEqual(t, master.Addr(), next.Addr())
	for {
		_, err := r.Do(ctx, "SET", "killsentinel:after", stamp)
		if err == nil {
			if got, _ := next.Do("GET", "killsentinel:after"); got == fmt.Sprint(stamp) {
				break
			}
		}
		require.NoError(t, ctx.Err(), "the client never followed the failover: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
}
