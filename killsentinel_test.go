package justredis_test

import (
	"fmt"
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
	load := newKillLoad(t, r, 90*time.Second)
	const workers, rounds = 32, 300
	ledgers := newLedgers(t, workers)
	for _, l := range ledgers {
		load.work(rounds, func(int, *ownConn) bool { return load.call(l, r.Do) })
	}
	targets := append([]*redistest.Server{d.Master()}, d.Sentinels()...)
	stop := startKiller(t, 600, 1, 4, func(i int) {
		kind := "normal"
		if i%2 == 1 {
			kind = "pubsub"
		}
		targets[i%len(targets)].Do("CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes")
	})
	load.wait(stop)
	master := d.Master()
	checkLedgers(t, ledgers, master.Do)

	ctx := load.ctx
	require.NoError(t, d.Failover(ctx))
	next := d.Master()
	require.NotEqual(t, master.Addr(), next.Addr())
	after, stamp := key(t, "after"), fmt.Sprint(time.Now().UnixNano())
	for {
		_, err := r.Do(ctx, "SET", after, stamp)
		if err == nil {
			if got, _ := next.Do("GET", after); got == stamp {
				break
			}
		}
		require.NoError(t, ctx.Err(), "the client never followed the failover: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
}
