package justredis_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestKillClusterConnections: CLIENT KILL of every normal client on every
// node of a cluster, again and again, while many goroutines pipeline
// INCRs on keys of their own, spread over the slots, alone and in batches
// across nodes. No call hangs, no reply is another's, and nothing said not
// to have run did.
func TestKillClusterConnections(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(c.Addrs()[0]))
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const workers, rounds = 48, 400
	stamp := time.Now().UnixNano()
	ledgers := make([]*incrLedger, 2*workers)
	for i := range ledgers {
		ledgers[i] = &incrLedger{key: fmt.Sprintf("killcluster:%d:%d", i, stamp)}
	}
	var wg sync.WaitGroup
	var hung atomic.Int64
	var stop atomic.Bool
	for i := 0; i < workers; i++ {
		a, b := ledgers[2*i], ledgers[2*i+1]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < rounds && !t.Failed(); j++ {
				if j%2 == 0 {
					v, err := r.Do(ctx, "INCR", a.key)
					if ctx.Err() != nil {
						hung.Add(1)
						return
					}
					a.record(t, v, err)
					continue
				}
				// Two keys, most likely on two nodes.
				vals, err := r.DoMulti(ctx, []any{"INCR", a.key}, []any{"INCR", b.key})
				if ctx.Err() != nil {
					hung.Add(1)
					return
				}
				if err != nil {
					a.record(t, nil, err)
					b.record(t, nil, err)
					continue
				}
				for k, l := range []*incrLedger{a, b} {
					if e, ok := vals[k].(error); ok {
						l.record(t, nil, e)
					} else {
						l.record(t, vals[k], nil)
					}
				}
			}
		}()
	}
	killer := make(chan struct{})
	go func() {
		defer close(killer)
		for i := 0; i < 600 && !stop.Load(); i++ {
			node := c.Nodes()[i%3]
			node.Do("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
			time.Sleep(time.Duration(1+i%4) * time.Millisecond)
		}
	}()
	wg.Wait()
	stop.Store(true)
	<-killer
	require.Zero(t, hung.Load(), "calls that waited until their context ended")
	check, err := justredis.New(justredis.WithAddress(c.Addrs()[0]))
	require.NoError(t, err)
	defer check.Close()
	var ok, unknown int64
	for _, l := range ledgers {
		v, err := check.Do(ctx, "GET", l.key)
		require.NoError(t, err)
		n := int64(0)
		if v != nil {
			s, _ := v.(string)
			n, err = strconv.ParseInt(s, 10, 64)
			require.NoError(t, err, "%v", v)
		}
		if n < l.ok || n > l.ok+l.unknown {
			t.Errorf("%s is %d after %d INCRs that succeeded and %d that may have run", l.key, n, l.ok, l.unknown)
		}
		ok += l.ok
		unknown += l.unknown
	}
	t.Logf("%d INCRs succeeded, %d may have run", ok, unknown)
}
