package justredis_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
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

// These tests break the server while a bounded load runs, and then check
// the books: every acknowledged write is on the server, nothing was applied
// more often than it was attempted, the client serves again by itself and
// its goroutines are gone after Close.

const (
	faultWorkers = 32
	faultIncrs   = 20000 // one INCR per counter, so each counter is 0 or 1
)

// loadReport is what a load run saw.
type loadReport struct {
	attempted, acknowledged, failed atomic.Int64
	notRetried                      atomic.Int64 // failures that may have run
	acked                           []atomic.Bool
	firstFailure, lastFailure       atomic.Int64 // unix nanoseconds
	recovered                       atomic.Int64 // first success after the fault
}

func (l *loadReport) String() string {
	down := time.Duration(0)
	if f, r := l.firstFailure.Load(), l.recovered.Load(); f != 0 && r > f {
		down = time.Duration(r - f)
	}
	return fmt.Sprintf("attempted %d, acknowledged %d, failed %d (%d may have run), time to recover %v",
		l.attempted.Load(), l.acknowledged.Load(), l.failed.Load(), l.notRetried.Load(), down.Round(time.Millisecond))
}

// runIncrLoad sends faultIncrs INCRs from faultWorkers goroutines, and
// starts fault beside them once a quarter are acknowledged.
func runIncrLoad(t *testing.T, r *justredis.Redis, prefix string, fault func() error) *loadReport {
	t.Helper()
	rep := &loadReport{acked: make([]atomic.Bool, faultIncrs)}
	var next atomic.Int64
	var faulted atomic.Bool
	faultAt := int64(faultIncrs / 4)
	faultErr := make(chan error, 1)
	var wg sync.WaitGroup
	for w := 0; w < faultWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= faultIncrs {
					return
				}
				if rep.acknowledged.Load() >= faultAt && faulted.CompareAndSwap(false, true) {
					go func() { faultErr <- fault() }()
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := r.Do(ctx, "INCR", prefix+strconv.FormatInt(i, 10))
				cancel()
				rep.attempted.Add(1)
				now := time.Now().UnixNano()
				if err != nil {
					rep.failed.Add(1)
					if errors.Is(err, justredis.ErrNotRetried) {
						rep.notRetried.Add(1)
					}
					rep.firstFailure.CompareAndSwap(0, now)
					rep.lastFailure.Store(now)
					continue
				}
				rep.acked[i].Store(true)
				rep.acknowledged.Add(1)
				if f := rep.firstFailure.Load(); f != 0 && now > f {
					rep.recovered.CompareAndSwap(0, now)
				}
			}
		}()
	}
	wg.Wait()
	require.True(t, faulted.Load())
	require.NoError(t, <-faultErr)
	return rep
}

// checkBooks reads every counter back and checks it against the report:
// as many as rep.acked has room for, a multiple of 1000.
func checkBooks(t *testing.T, r *justredis.Redis, prefix string, rep *loadReport) {
	t.Helper()
	ctx := testCtx(t)
	const batch = 1000
	for start := 0; start < len(rep.acked); start += batch {
		args := []any{"MGET"}
		for i := start; i < start+batch; i++ {
			args = append(args, prefix+strconv.Itoa(i))
		}
		vals, err := justredis.Values(r.Do(ctx, args...))
		require.NoError(t, err)
		for j, v := range vals {
			i := start + j
			n := int64(0)
			if v != nil {
				n, err = justredis.Int64(v, nil)
				require.NoError(t, err)
			}
			require.LessOrEqual(t, n, int64(1), "counter %d applied more often than attempted", i)
			if rep.acked[i].Load() {
				require.Equal(t, int64(1), n, "acknowledged INCR %d is lost", i)
			}
		}
	}
}

// goroutineMark labels the calling test's goroutine so that the
// goroutines it starts, directly or not, inherit the label, and settle
// counts only those: tests running in parallel start and end goroutines of
// their own meanwhile, which a count of all would take for leaks.
type goroutineMark struct {
	label string
	base  int
}

var goroutineMarks atomic.Int64

func markGoroutines(t *testing.T) goroutineMark {
	m := goroutineMark{label: fmt.Sprintf("%s#%d", t.Name(), goroutineMarks.Add(1))}
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("settle", m.label)))
	t.Cleanup(func() { pprof.SetGoroutineLabels(context.Background()) })
	m.base = m.count()
	return m
}

// count returns how many goroutines running the library's code carry the
// label (the test's own, and redistest's, are no leak of the client's). It
// reads the goroutine profile's text form: groups of identical stacks,
// each a line "N @ ...", its labels, its frames, and an empty line.
func (m goroutineMark) count() int {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	want := fmt.Sprintf("%q:%q", "settle", m.label)
	n := 0
	for _, group := range strings.Split(b.String(), "\n\n") {
		c, rest, ok := strings.Cut(group, " @ ")
		if !ok || !strings.Contains(rest, want) || !strings.Contains(rest, "\tgithub.com/justredis/justredis.") {
			continue
		}
		k, _ := strconv.Atoi(c[strings.LastIndexByte(c, '\n')+1:])
		n += k
	}
	return n
}

// settle waits until the library's goroutines that the test started are
// back to what they were at the mark.
func settle(t *testing.T, m goroutineMark) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for m.count() > m.base && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := m.count(); n > m.base {
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Fatalf("%d goroutines of this test left, %d before (the goroutine profile follows; theirs are labelled %q):\n%s", n, m.base, m.label, b.String())
	}
}

func TestFaultsSingleServer(t *testing.T) {
	for _, c := range []struct {
		name    string
		durable bool // acknowledged writes must survive the fault
		fault   func(s *redistest.Server) error
	}{
		{"SIGKILL and restart", true, func(s *redistest.Server) error {
			if err := s.Kill(); err != nil {
				return err
			}
			time.Sleep(200 * time.Millisecond)
			return s.Restart()
		}},
		{"SIGSTOP beyond the socket timeout", false, func(s *redistest.Server) error {
			if err := s.Pause(); err != nil {
				return err
			}
			time.Sleep(1500 * time.Millisecond)
			return s.Resume()
		}},
		{"CLIENT KILL TYPE normal", false, func(s *redistest.Server) error {
			_, err := s.Do("CLIENT", "KILL", "TYPE", "normal")
			return err
		}},
		{"DEBUG SLEEP", false, func(s *redistest.Server) error {
			_, err := s.Do("DEBUG", "SLEEP", "1.5")
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var opts redistest.Options
			if c.durable {
				// An acknowledged INCR survives SIGKILL only when the
				// server had written it to disk.
				opts.Args = []string{"--appendonly", "yes", "--appendfsync", "always"}
			}
			s := redistest.Start(t, opts)
			base := markGoroutines(t)
			r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithSocketTimeout(time.Second))
			require.NoError(t, err)
			prefix := "fault:"
			rep := runIncrLoad(t, r, prefix, func() error { return c.fault(s) })
			t.Logf("%s: %v", c.name, rep)

			v, err := r.Do(testCtx(t), "PING")
			require.NoError(t, err, "the same client serves again")
			require.Equal(t, "PONG", v)
			checkBooks(t, r, prefix, rep)
			require.NoError(t, r.Close())
			settle(t, base)
		})
	}
}

// TestFaultPoolLimit: more concurrent blocking commands than the pool
// allows end in ErrPoolTimeout, and the pool is whole afterwards.
func TestFaultPoolLimit(t *testing.T) {
	r := newRedis(t, justredis.WithMaxConnections(4), justredis.WithWaitTimeout(200*time.Millisecond))
	ctx := testCtx(t)
	list := key(t, "list")
	_, err := r.Do(ctx, "PING") // the shared connection takes one of the 4
	require.NoError(t, err)
	var timeouts, served atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Do(ctx, "BLPOP", list, 1)
			switch {
			case errors.Is(err, justredis.ErrPoolTimeout):
				timeouts.Add(1)
			case err == nil:
				served.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	t.Logf("10 BLPOPs with 3 free connections: %d waited 1s and returned nil, %d timed out waiting for a connection", served.Load(), timeouts.Load())
	require.Positive(t, timeouts.Load())
	require.Positive(t, served.Load())
	for i := 0; i < 3; i++ {
		c, err := r.Connection(ctx)
		require.NoError(t, err, "every connection came back")
		defer c.Close()
	}
}
