package justredis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// faultCounter is a hook that counts what a fault test measures: dials
// per address, slot-map refreshes, and calls the cluster redirected or
// asked to wait.
type faultCounter struct {
	mu         sync.Mutex
	dials      map[string]int
	refreshes  int
	redirected int
}

func (h *faultCounter) CallStart(ctx context.Context, _ *justredis.Call) context.Context { return ctx }

func (h *faultCounter) CallEnd(_ context.Context, call *justredis.Call) {
	if call.Redirected {
		h.mu.Lock()
		h.redirected++
		h.mu.Unlock()
	}
}

func (h *faultCounter) Event(_ context.Context, ev *justredis.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch ev.Kind {
	case justredis.EventDial:
		if h.dials == nil {
			h.dials = map[string]int{}
		}
		h.dials[ev.Addr]++
	case justredis.EventRefresh:
		h.refreshes++
	}
}

// counts returns the dials to addr, the refreshes and the calls
// redirected so far.
func (h *faultCounter) counts(addr string) (dials, refreshes, redirected int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dials[addr], h.refreshes, h.redirected
}

// Bounds of TestClusterMasterKilledNoReplica, in counts.
const (
	// deadCallers call the dead master's slots, liveCallers the others'
	// (and one more calls without a key), each making faultCalls calls,
	// one every faultPace.
	deadCallers, liveCallers = 4, 2
	faultCalls               = 300
	faultPace                = 5 * time.Millisecond
	// maxDeadDials bounds the dials to the dead master over the
	// deadCallers*faultCalls calls to its slots: one caller dials for all,
	// on a backoff that grows to a second.
	maxDeadDials = 25
	// maxDeadRefreshes bounds the slot-map refreshes over those calls:
	// failed calls to a node known to be down do not each ask for one.
	maxDeadRefreshes = 25
	// maxRecoveryAttempts bounds the calls, one every 10ms, that fail
	// after the master is back, before one succeeds.
	maxRecoveryAttempts = 300
)

// TestClusterMasterKilledNoReplica: a master that has no replica is killed
// while callers send commands for keys in its slots and in the other
// masters'. Calls to its slots fail, even without a deadline, with an error
// that names it and says it is down; its dials back off; the slot map is
// not reloaded on every failed call; the other masters' slots keep
// working. Once it is back on its port, with its nodes.conf, calls to its
// slots succeed again. The times and rates are logged, not asserted.
func TestClusterMasterKilledNoReplica(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 0, redistest.Options{
		// Without it the other masters refuse every slot (CLUSTERDOWN)
		// once the cluster sees the master fail.
		Args: []string{"--cluster-require-full-coverage", "no"},
	})
	masters := c.Masters()
	require.Len(t, masters, 3)
	victim, live := masters[0], masters[1:]
	require.True(t, owns(t, victim, 0), "the victim serves slot 0, where commands without keys go")
	h := &faultCounter{}
	r, err := justredis.New(justredis.WithAddresses(c.Addrs()...), justredis.WithHook(h))
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })

	var deadKeys, liveKeys []string
	for i := range deadCallers {
		deadKeys = append(deadKeys, keyOn(t, c, victim, fmt.Sprintf("dead%d", i)))
	}
	for i := range liveCallers {
		liveKeys = append(liveKeys, keyOn(t, c, live[i%len(live)], fmt.Sprintf("live%d", i)))
	}
	for _, k := range append(slices.Clone(deadKeys), liveKeys...) {
		_, err := r.Do(testCtx(t), "SET", k, "v")
		require.NoError(t, err)
	}

	// measure runs f, which makes calls without a deadline: a watchdog
	// cancels their context (which gives them none either) once no call
	// ended for hangLimit, so that a client that hangs fails the test
	// instead of hanging it, however slow the machine. f calls alive
	// after each call. measure logs how long f took, the dials to the dead
	// master and the slot-map refreshes meanwhile, and returns the last
	// two, and how long it took.
	const hangLimit = 15 * time.Second
	var alive func()
	measure := func(what string, f func(ctx context.Context)) (dials, refreshes int, took time.Duration) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		watchdog := time.AfterFunc(hangLimit, cancel)
		defer watchdog.Stop()
		alive = func() { watchdog.Reset(hangLimit) }
		dials0, refreshes0, redirected0 := h.counts(victim.Addr())
		served0 := clusterSlotsCallsOn(t, live)
		start := time.Now()
		f(ctx)
		took = time.Since(start)
		dials, refreshes, redirected := h.counts(victim.Addr())
		dials, refreshes, redirected = dials-dials0, refreshes-refreshes0, redirected-redirected0
		served := clusterSlotsCallsOn(t, live) - served0
		perSec := func(n int) float64 { return float64(n) / took.Seconds() }
		t.Logf("%s: %v; %d dials to the dead master (%.1f/s), %d slot-map refreshes (%.1f/s), "+
			"%d CLUSTER SLOTS served by the live masters (%.1f/s); %d calls redirected or told to wait",
			what, took.Round(time.Millisecond), dials, perSec(dials), refreshes, perSec(refreshes),
			served, perSec(served), redirected)
		return dials, refreshes, took
	}
	// notDown says what is wrong with the error of a call to the dead
	// slots, "" if nothing.
	notDown := func(err error) string {
		switch {
		case err == nil:
			return "no error"
		case errors.Is(err, context.Canceled):
			return "the call hung until the watchdog: " + err.Error()
		case !strings.Contains(err.Error(), victim.Addr()) || !strings.Contains(err.Error(), "down"):
			return "the error does not say the master is down: " + err.Error()
		}
		return ""
	}

	require.NoError(t, victim.Kill())

	// The first call finds its connection broken; the second finds the
	// master known to be down.
	for _, which := range []string{"first", "second"} {
		var err error
		measure("the "+which+" call to the dead slots", func(ctx context.Context) {
			_, err = r.Do(ctx, "GET", deadKeys[0])
		})
		t.Logf("its error: %v", err)
		if what := notDown(err); what != "" {
			t.Errorf("the %s call: %s", which, what)
		}
	}

	var (
		mu       sync.Mutex
		deadTook []time.Duration
		deadErrs []error
		liveErrs []error
	)
	dials, refreshes, took := measure("callers of every master", func(ctx context.Context) {
		var wg sync.WaitGroup
		caller := func(dead bool, args ...any) {
			defer wg.Done()
			for range faultCalls {
				start := time.Now()
				_, err := r.Do(ctx, args...)
				took := time.Since(start)
				alive()
				mu.Lock()
				if dead {
					deadTook = append(deadTook, took)
					deadErrs = append(deadErrs, err)
				} else {
					liveErrs = append(liveErrs, err)
				}
				mu.Unlock()
				time.Sleep(faultPace)
			}
		}
		for _, k := range deadKeys {
			wg.Add(1)
			go caller(true, "GET", k)
		}
		for _, k := range liveKeys {
			wg.Add(1)
			go caller(false, "GET", k)
		}
		// A command without keys goes to any master: the dead one serves
		// slot 0, where such commands usually go.
		wg.Add(1)
		go caller(false, "ECHO", "keyless")
		wg.Wait()
	})
	slices.Sort(deadTook)
	t.Logf("%d calls to the dead slots, %d to the others; a dead-slot call failed in %v (median), %v (max)",
		len(deadErrs), len(liveErrs), deadTook[len(deadTook)/2].Round(time.Microsecond), deadTook[len(deadTook)-1].Round(time.Millisecond))
	wrong := 0
	for _, err := range deadErrs {
		if what := notDown(err); what != "" {
			if wrong == 0 {
				t.Errorf("a call to the dead slots: %s", what)
			}
			wrong++
		}
	}
	require.Zero(t, wrong, "calls to the dead slots that did not fail as they should")
	for _, err := range liveErrs {
		require.NoError(t, err, "a call to a live master's slots")
	}
	// A machine slow enough to stretch the calls over more than the
	// backoff's second sees about one more dial, and refresh, a second.
	slow := int(took / time.Second)
	require.LessOrEqual(t, dials, maxDeadDials+slow, "dials to the dead master")
	require.LessOrEqual(t, refreshes, maxDeadRefreshes+slow, "slot-map refreshes")
	require.LessOrEqual(t, refreshes, dials+2, "about one slot-map refresh per failed dial")

	// Back on its port, with its nodes.conf: it serves its slots again.
	require.NoError(t, victim.Restart())
	attempts := 0
	var last, failed error
	measure("from the master's return to the first success", func(ctx context.Context) {
		for attempts < maxRecoveryAttempts {
			attempts++
			start := time.Now()
			_, last = r.Do(ctx, "SET", deadKeys[0], "again")
			alive()
			if last == nil {
				took = time.Since(start)
				return
			}
			failed = last
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Logf("after the restart: %d attempts, the last of which took %v; the last failure: %v",
		attempts, took.Round(time.Millisecond), failed)
	require.NoError(t, last, "calls to the slots of the master that came back")
	for _, k := range append(deadKeys, liveKeys...) {
		_, err := r.Do(testCtx(t), "GET", k)
		require.NoError(t, err)
	}
}
