package justredis_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// soakFor makes every TestSoak variant run longer than its default second
// or two, for a real soak:
//
//	go test -race -run TestSoak -soak=2m .
//
// (Only this package knows the flag: give the package, not ./...)
var soakFor = flag.Duration("soak", 0, "how long each TestSoak variant runs; 0 means its default of a second or two")

const (
	soakWorkers = 32
	// soakCallTimeout is the deadline of calls the soak does not cancel
	// itself: one that takes this long is stuck.
	soakCallTimeout = 20 * time.Second
	// soakOpsPerSecond bounds each worker's operations, so that a fast
	// machine does not turn the default run into a load test.
	soakOpsPerSecond = 1000
	soakTTL          = "60000" // ms: keys left behind by cancelled calls expire
)

// soakVariant is one way of running the soak.
type soakVariant struct {
	name   string
	length time.Duration // of the default run
	opts   []justredis.Option
	// fault runs beside the workers until the run ends.
	fault func(sr *soakRun)
	// lossy variants kill the server: calls may fail with network errors
	// and data may be gone, but a reply must still belong to its request.
	lossy bool
	// closeBusy ends the run by closing the client while calls are in
	// flight: every one of them must return.
	closeBusy bool
}

// TestSoak runs a mixed workload from many goroutines (single calls,
// pipelines, dedicated connections with transactions, blocking commands),
// with values from 0 bytes to 4 MiB and calls cancelled at random moments,
// against a server of its own, and checks every reply against its own
// request. It guards two kinds of fault. The kind that garbles the wire or
// hands a reply to the wrong caller (a buffer reused too early, a cancelled
// call that leaves its reply behind) shows as a wrong reply, or as an error
// reply or an unknown command counted by the server. The kind that leaves
// callers stuck (the pool's bound, Close) shows as a call that fails its
// deadline, or a run that outlives its budget.
func TestSoak(t *testing.T) {
	for _, v := range []soakVariant{
		{name: "RESP2", length: time.Second, opts: []justredis.Option{justredis.WithRESP(2)}},
		{name: "RESP3", length: time.Second, opts: []justredis.Option{justredis.WithRESP(3)}},
		{
			// Few connections for many callers and four databases: callers
			// wait for slots, and idle connections must be reclaimed.
			name: "MaxConnections4", length: time.Second, closeBusy: true,
			opts: []justredis.Option{justredis.WithMaxConnections(4), justredis.WithWaitTimeout(10 * time.Second)},
		},
		// A paused server makes writes partial: the client must not touch
		// what it is still writing.
		{name: "ServerPaused", length: 1500 * time.Millisecond, fault: pauseServer},
		{name: "ServerRestarted", length: 1500 * time.Millisecond, fault: restartServer, lossy: true},
	} {
		t.Run(v.name, func(t *testing.T) { runSoak(t, v) })
	}
}

// pauseServer freezes the server for 200 ms at a time, so that large
// writes stop half way.
func pauseServer(sr *soakRun) {
	for sr.sleep(time.Duration(150+sr.faultRand.IntN(250)) * time.Millisecond) {
		if err := sr.s.Pause(); err != nil {
			sr.fail(callError, "pausing the server: %v", err)
			return
		}
		time.Sleep(200 * time.Millisecond)
		if err := sr.s.Resume(); err != nil {
			sr.fail(callError, "resuming the server: %v", err)
			return
		}
		sr.faults.Add(1)
	}
}

// restartServer kills the server and starts it again, without its data.
// The epoch is odd while it is down, so workers know what may be lost.
func restartServer(sr *soakRun) {
	for sr.sleep(time.Duration(300+sr.faultRand.IntN(400)) * time.Millisecond) {
		sr.epoch.Add(1)
		err := sr.s.Kill()
		if err == nil {
			time.Sleep(100 * time.Millisecond)
			err = sr.s.Restart()
		}
		if err != nil {
			sr.fail(callError, "restarting the server: %v", err)
			return
		}
		// A new server counts from zero.
		sr.mu.Lock()
		sr.baseline = serverStats{commands: map[string]commandStat{}, errors: map[string]string{}}
		sr.mu.Unlock()
		sr.epoch.Add(1)
		sr.faults.Add(1)
	}
}

// soakRun is one run of one variant.
type soakRun struct {
	t      *testing.T
	v      soakVariant
	s      *redistest.Server
	r      *justredis.Redis
	asStr  *justredis.Redis // r with StringDecoder
	asByte *justredis.Redis // r with BytesDecoder
	end    time.Time

	stop    atomic.Bool  // too many failures, or the client is closing
	closing atomic.Bool  // r.Close was called under load
	epoch   atomic.Int64 // odd while the server is down; +2 per restart
	faults  atomic.Int64 // pauses or restarts done

	faultRand *rand.Rand // the fault goroutine's own
	pushed    sync.Map   // items RPUSHed and not popped yet
	counts    []soakCount

	mu       sync.Mutex
	failures [3]int      // per failClass
	over     bool        // the test has returned: report nothing more
	baseline serverStats // what the server counted before the run
}

// soakCount is what happened to one kind of operation.
type soakCount struct {
	done, cancelled, failed atomic.Int64
}

func runSoak(t *testing.T, v soakVariant) {
	length := v.length
	if *soakFor > 0 {
		length = *soakFor
	}
	s := redistest.Start(t, redistest.Options{})
	base := markGoroutines(t)
	r, err := justredis.New(append([]justredis.Option{justredis.WithAddress(s.Addr())}, v.opts...)...)
	require.NoError(t, err)
	defer r.Close()
	sr := &soakRun{
		t: t, v: v, s: s, r: r,
		asStr:     r.Modify(justredis.WithDecoder(justredis.StringDecoder)),
		asByte:    r.Modify(justredis.WithDecoder(justredis.BytesDecoder)),
		faultRand: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0)),
		counts:    make([]soakCount, len(soakOps)),
	}
	defer func() {
		sr.mu.Lock()
		sr.over = true
		sr.mu.Unlock()
	}()

	// The first call's handshake and probe are not the soak's business.
	_, err = r.Do(testCtx(t), "PING")
	require.NoError(t, err)
	sr.baseline, err = readServerStats(s)
	require.NoError(t, err)

	workers := sr.run(length)
	sr.report(length, workers)
	sr.checkCounters(workers)
	sr.checkServerStats()
	if t.Failed() {
		return // settle's goroutine dump would hide the first failure
	}
	require.NoError(t, r.Close())
	settle(t, base)
}

// run starts the workers and the fault, waits for them under a watchdog,
// and returns the workers for the final checks.
func (sr *soakRun) run(length time.Duration) []*soakWorker {
	seed := uint64(time.Now().UnixNano())
	sr.t.Logf("seed %d", seed)
	sr.end = time.Now().Add(length)
	maxOps := int(length.Seconds()*soakOpsPerSecond) + 1
	workers := make([]*soakWorker, soakWorkers)
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = newSoakWorker(sr, i, seed)
		wg.Add(1)
		go func() {
			defer wg.Done()
			workers[i].run(maxOps)
		}()
	}
	if sr.v.fault != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sr.v.fault(sr)
		}()
	}
	if sr.v.closeBusy {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sr.sleep(10 * time.Millisecond) {
			}
			sr.closing.Store(true)
			sr.stop.Store(true)
			sr.r.Close()
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	// Every call has a deadline, so the run ends soon after length unless
	// something ignores deadlines.
	budget := length + 2*soakCallTimeout + 10*time.Second
	select {
	case <-done:
	case <-time.After(budget):
		var stuck []string
		for _, w := range workers {
			if at := w.current.Load(); at != nil {
				stuck = append(stuck, fmt.Sprintf("worker %d in op %d (%s) for %v",
					w.id, at.op, at.name, time.Since(at.start).Round(time.Second)))
			}
		}
		sr.t.Fatalf("the soak is still running %v after its %v: calls are stuck: %s\n%s",
			budget-length, length, strings.Join(stuck, "; "), allStacks())
	}
	return workers
}

// sleep waits d, or less if the run ends; it reports whether the run goes
// on.
func (sr *soakRun) sleep(d time.Duration) bool {
	if left := time.Until(sr.end); d > left {
		d = left
	}
	if d > 0 {
		time.Sleep(d)
	}
	return !sr.stopped()
}

func (sr *soakRun) stopped() bool { return sr.stop.Load() || !time.Now().Before(sr.end) }

// failClass sorts failures, so that a flood of one kind cannot hide
// another: a garbled command breaks the connection it came on, and the
// wrong replies that tell what happened come along with many network
// errors.
type failClass int

const (
	wrongReply failClass = iota // a reply that is not the request's
	callError                   // a call failed where none should
	afterClose                  // anything wrong once Close was called under load
)

// Per class: failures shown in full, and failures that stop the run.
var (
	failShown = [...]int{wrongReply: 10, callError: 3, afterClose: 5}
	failStop  = [...]int{wrongReply: 10, callError: 20, afterClose: 1 << 30}
	failName  = [...]string{wrongReply: "", callError: "", afterClose: "reported after Close was called: "}
)

// fail reports a failure, the first few of each class in full; after a
// few more the run stops, since one corruption tends to cause a flood.
func (sr *soakRun) fail(class failClass, format string, args ...any) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.closing.Load() {
		class = afterClose
	}
	sr.failures[class]++
	n := sr.failures[class]
	if sr.over {
		return
	}
	if n <= failShown[class] {
		sr.t.Errorf(failName[class]+format, args...)
	}
	if n >= failStop[class] {
		sr.stop.Store(true)
	}
}

// mayLose reports whether data written since epoch e0 may be gone.
func (sr *soakRun) mayLose(e0 int64) bool {
	return sr.v.lossy && (e0%2 == 1 || sr.epoch.Load() != e0)
}

func (sr *soakRun) report(length time.Duration, workers []*soakWorker) {
	var b strings.Builder
	var total int64
	for i, op := range soakOps {
		c := &sr.counts[i]
		total += c.done.Load()
		fmt.Fprintf(&b, " %s %d (%d cancelled, %d failed);", op.name, c.done.Load(), c.cancelled.Load(), c.failed.Load())
	}
	var big, large int
	for _, w := range workers {
		big += w.big
		large += w.large
	}
	sr.mu.Lock()
	failures := sr.failures
	sr.mu.Unlock()
	sr.t.Logf("%v, %d workers: %d operations:%s values of 64 KiB-1 MiB: %d, of 4 MiB: %d; faults: %d; failures: %d wrong replies, %d call errors, %d after Close",
		length, soakWorkers, total, b.String(), large, big, sr.faults.Load(), failures[wrongReply], failures[callError], failures[afterClose])
}

// checkCounters reads every worker's counter on the server and checks it
// against what the worker's INCRs saw.
func (sr *soakRun) checkCounters(workers []*soakWorker) {
	var wrong []string
	for _, w := range workers {
		c := &w.ctr
		if sr.v.lossy && (c.epoch%2 == 1 || sr.epoch.Load() != c.epoch) {
			continue
		}
		text, err := sr.s.Do("GET", c.key)
		if err != nil {
			sr.t.Errorf("reading counter %s: %v", c.key, err)
			return
		}
		n := int64(0)
		if text != "" {
			n, err = strconv.ParseInt(text, 10, 64)
		}
		if err != nil || n < c.last || n > c.last+c.uncertain {
			wrong = append(wrong, fmt.Sprintf("%s is %.40q, its last INCR returned %d and %d more may have run unseen",
				c.key, text, c.last, c.uncertain))
		}
	}
	if len(wrong) > 0 {
		sr.t.Errorf("%d counters are wrong at the end; %s", len(wrong), strings.Join(wrong[:min(len(wrong), 5)], "; "))
	}
}

// checkServerStats fails the test if the server sent error replies during
// the run (a garbled command gets one), or ran commands the soak never
// sends (a value taken for a command name).
func (sr *soakRun) checkServerStats() {
	t := sr.t
	after, err := readServerStats(sr.s)
	if err != nil {
		t.Errorf("reading the server's stats: %v", err)
		return
	}
	sr.mu.Lock()
	before := sr.baseline
	sr.mu.Unlock()
	// A client's first connection asks CLUSTER SLOTS to find out whether
	// it talks to a cluster; a standalone server answers with an error.
	// That is the client's probe, not a garbled command.
	probes := after.commands["cluster|slots"].failed - before.commands["cluster|slots"].failed
	if n := after.errorReplies - before.errorReplies - probes; n != 0 {
		t.Errorf("the server sent %d error replies during the soak: %s", n, errorsDiff(before.errors, after.errors))
	}
	for name, st := range after.commands {
		was, known := before.commands[name]
		if !known && !soakCommands[name] {
			t.Errorf("the server ran %q, a command the soak never sends (%+v)", name, st)
		}
		if name == "cluster|slots" {
			continue
		}
		if st.failed > was.failed || st.rejected > was.rejected {
			t.Errorf("%s: failed calls %d→%d, rejected calls %d→%d", name, was.failed, st.failed, was.rejected, st.rejected)
		}
	}
}

// soakCommands are the commands the soak and the client's own handshakes
// and cleanups send.
var soakCommands = map[string]bool{
	"set": true, "get": true, "getdel": true, "incr": true, "echo": true, "ping": true,
	"rpush": true, "blpop": true, "multi": true, "exec": true, "watch": true,
	"unwatch": true, "discard": true, "select": true, "hello": true, "command": true,
	"cluster|slots": true, "info": true,
}

// serverStats is what INFO says about errors and commands.
type serverStats struct {
	errorReplies int64
	errors       map[string]string // errorstat_* lines
	commands     map[string]commandStat
}

type commandStat struct{ calls, failed, rejected int64 }

func readServerStats(s *redistest.Server) (serverStats, error) {
	st := serverStats{errors: map[string]string{}, commands: map[string]commandStat{}}
	for _, section := range []string{"stats", "errorstats", "commandstats"} {
		info, err := s.Do("INFO", section)
		if err != nil {
			return st, err
		}
		for _, line := range splitLines(info) {
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch {
			case name == "total_error_replies":
				st.errorReplies, _ = strconv.ParseInt(value, 10, 64)
			case strings.HasPrefix(name, "errorstat_"):
				st.errors[name] = value
			case strings.HasPrefix(name, "cmdstat_"):
				var c commandStat
				for _, field := range strings.Split(value, ",") {
					k, v, _ := strings.Cut(field, "=")
					n, _ := strconv.ParseInt(v, 10, 64)
					switch k {
					case "calls":
						c.calls = n
					case "failed_calls":
						c.failed = n
					case "rejected_calls":
						c.rejected = n
					}
				}
				st.commands[strings.TrimPrefix(name, "cmdstat_")] = c
			}
		}
	}
	return st, nil
}

// errorsDiff lists the errorstat lines that changed.
func errorsDiff(before, after map[string]string) string {
	var changed []string
	for name, v := range after {
		if before[name] != v {
			changed = append(changed, fmt.Sprintf("%s %q→%q", name, before[name], v))
		}
	}
	sort.Strings(changed)
	return strings.Join(changed, ", ")
}

func allStacks() []byte {
	buf := make([]byte, 4<<20)
	return buf[:runtime.Stack(buf, true)]
}
