package justredis_test

import (
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
)

// TestKillClusterConnections: CLIENT KILL of every normal client on every
// node of a cluster, again and again, while many goroutines pipeline
// INCRs on keys of their own, spread over the slots, alone and in batches
// across nodes. No call hangs, no reply is another's, and nothing said not
// to have run did.
func TestKillClusterConnections(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	r := newRedisOf(t, c.Addrs()[0])
	load := newKillLoad(t, r, 90*time.Second)
	const workers, rounds = 48, 400
	ledgers := newLedgers(t, 2*workers)
	for i := 0; i < workers; i++ {
		a, b := ledgers[2*i], ledgers[2*i+1]
		load.work(rounds, func(j int, _ *ownConn) bool {
			if j%2 == 0 {
				return load.call(a, r.Do)
			}
			return load.multi(a, b) // two keys, most likely on two nodes
		})
	}
	stop := startKiller(t, 600, 1, 4, func(i int) {
		c.Nodes()[i%3].Do("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
	})
	load.wait(stop)
	check := newRedisOf(t, c.Addrs()[0])
	checkLedgers(t, ledgers, func(args ...string) (string, error) {
		v, err := check.Do(load.ctx, args[0], args[1])
		if v == nil {
			return "", err
		}
		return justredis.String(v, err)
	})
}
