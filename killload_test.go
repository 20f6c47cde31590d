package justredis_test

// What the tests that break connections under load share: a ledger of the
// commands sent to each key, the goroutines that send them within a
// generous deadline, the goroutine that kills connections meanwhile, and
// clients of a server over each network.

import (
	"context"
	"errors"
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

// incrLedger is one goroutine's account of the INCRs (or APPENDs of value)
// on its own key: how many succeeded, how many failed as may-have-run
// (ErrNotRetried), and the count the last reply gave. A reply must be above
// the last one, at least the number of successes, and at most that plus
// every ambiguous failure so far: not only those since the last reply,
// since a command that may have run may also run late. Its bytes can wait
// in a frozen server's socket, or in the proxy before a container, while
// the worker's next command goes on a new connection and is answered
// first. At the end the server's count must lie between the successes and
// the successes plus every ambiguous failure.
type incrLedger struct {
	key         string
	value       string // if set, the key is APPENDed this, not INCRed
	ok, unknown int64
	clean       int64 // failures that did not run
	last        int64 // the count of the last reply
}

// newLedgers returns n ledgers of keys of t's own.
func newLedgers(t *testing.T, n int) []*incrLedger {
	ledgers := make([]*incrLedger, n)
	for i := range ledgers {
		ledgers[i] = &incrLedger{key: key(t, fmt.Sprint(i))}
	}
	return ledgers
}

// cmd is the command that adds one to l's count.
func (l *incrLedger) cmd() []any {
	if l.value != "" {
		return []any{"APPEND", l.key, l.value}
	}
	return []any{"INCR", l.key}
}

// size is what one command adds to the key's value or length.
func (l *incrLedger) size() int64 { return max(int64(len(l.value)), 1) }

// record adds a call's reply, or its error, to l.
func (l *incrLedger) record(t *testing.T, v any, err error) {
	t.Helper()
	if err != nil {
		if errors.Is(err, justredis.ErrNotRetried) {
			l.unknown++
		} else {
			l.clean++
		}
		return
	}
	n, ok := v.(int64)
	if !ok || n%l.size() != 0 {
		t.Errorf("%s: %s replied %T %v", l.key, l.cmd()[0], v, v)
		return
	}
	n /= l.size()
	if n <= l.last || n < l.ok+1 || n > l.ok+1+l.unknown {
		t.Errorf("%s: %s replied count %d after %d, with %d successes and %d ambiguous failures before it: another caller's reply, or a command that ran twice", l.key, l.cmd()[0], n, l.last, l.ok, l.unknown)
	}
	l.ok++
	l.last = n
}

// checkLedgers reads each ledger's key through do (a server's Do, say),
// checks it against the ledger and logs the totals.
func checkLedgers(t *testing.T, ledgers []*incrLedger, do func(args ...string) (string, error)) {
	t.Helper()
	var ok, unknown, clean int64
	for _, l := range ledgers {
		read := "GET"
		if l.value != "" {
			read = "STRLEN"
		}
		got, err := do(read, l.key)
		require.NoError(t, err)
		n := int64(0)
		if got != "" {
			n, err = strconv.ParseInt(got, 10, 64)
			require.NoError(t, err)
		}
		if n%l.size() != 0 || n/l.size() < l.ok || n/l.size() > l.ok+l.unknown {
			t.Errorf("%s: %s gives %d after %d %ss that succeeded and %d that may have run: a command said not to have run did, or one ran twice", l.key, read, n, l.ok, l.cmd()[0], l.unknown)
		}
		ok, unknown, clean = ok+l.ok, unknown+l.unknown, clean+l.clean
	}
	t.Logf("%d calls succeeded, %d may have run, %d failed without running", ok, unknown, clean)
}

// killLoad is goroutines that call r while its connections are broken,
// within a deadline so generous that a call reaching it hung.
type killLoad struct {
	t    *testing.T
	r    *justredis.Redis
	ctx  context.Context
	wg   sync.WaitGroup
	stop atomic.Bool // ends the workers before their rounds
	hung atomic.Int64
}

func newKillLoad(t *testing.T, r *justredis.Redis, deadline time.Duration) *killLoad {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	k := &killLoad{t: t, r: r, ctx: ctx}
	// A test that ends early ends its calls, then waits for its workers.
	t.Cleanup(func() { k.stop.Store(true); k.wg.Wait() })
	t.Cleanup(cancel)
	return k
}

// work starts a worker that runs step up to rounds times, while the test
// has not failed and stop is not set. A step makes its calls and records
// them; it returns false if one hung (see ended), which ends the worker.
// own is the worker's dedicated connection, for the steps that want one.
func (k *killLoad) work(rounds int, step func(j int, own *ownConn) bool) {
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		own := &ownConn{r: k.r}
		defer own.close()
		for j := 0; j < rounds && !k.t.Failed() && !k.stop.Load(); j++ {
			if !step(j, own) {
				return
			}
		}
	}()
}

// ended reports whether the deadline passed, and counts a hung call if so.
func (k *killLoad) ended() bool {
	if k.ctx.Err() != nil {
		k.hung.Add(1)
		return true
	}
	return false
}

// record records a call's reply in l, unless the call hung; it returns
// whether the worker goes on.
func (k *killLoad) record(l *incrLedger, v any, err error) bool {
	if k.ended() {
		return false
	}
	l.record(k.t, v, err)
	return true
}

// call sends l's command through do (the client's Do, or a connection's)
// and records the reply.
func (k *killLoad) call(l *incrLedger, do func(context.Context, ...any) (any, error)) bool {
	v, err := do(k.ctx, l.cmd()...)
	return k.record(l, v, err)
}

// multi sends the command of each ledger in one DoMulti and records each
// reply in its ledger.
func (k *killLoad) multi(ledgers ...*incrLedger) bool {
	cmds := make([][]any, len(ledgers))
	for i, l := range ledgers {
		cmds[i] = l.cmd()
	}
	vals, err := k.r.DoMulti(k.ctx, cmds...)
	if k.ended() {
		return false
	}
	for i, l := range ledgers {
		v, e := any(nil), err
		if err == nil {
			v = vals[i]
			if re, ok := v.(error); ok {
				v, e = nil, re
			}
		}
		l.record(k.t, v, e)
	}
	return true
}

// wait waits for the workers to end, then runs each of then (a killer's
// stop, say), and requires that no call hung.
func (k *killLoad) wait(then ...func()) {
	k.wg.Wait()
	for _, f := range then {
		f()
	}
	require.Zero(k.t, k.hung.Load(), "calls that waited until their context ended")
}

// ownConn is a worker's dedicated connection: taken at its first call, and
// let go after a failed one, so that the next call takes another.
type ownConn struct {
	r *justredis.Redis
	c *justredis.Connection
}

func (o *ownConn) Do(ctx context.Context, args ...any) (any, error) {
	if o.c == nil {
		c, err := o.r.Connection(ctx)
		if err != nil {
			return nil, err
		}
		o.c = c
	}
	v, err := o.c.Do(ctx, args...)
	if err != nil {
		o.close()
	}
	return v, err
}

func (o *ownConn) close() {
	if o.c != nil {
		o.c.Close()
		o.c = nil
	}
}

// startKiller calls kill(i) for i up to n in a goroutine, pausing base
// plus i%spread milliseconds after each. The stop it returns ends the
// goroutine and waits for it; it runs when t ends too.
func startKiller(t *testing.T, n, base, spread int, kill func(i int)) (stop func()) {
	var halt atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n && !halt.Load(); i++ {
			kill(i)
			time.Sleep(time.Duration(base+i%spread) * time.Millisecond)
		}
	}()
	stop = func() { halt.Store(true); <-done }
	t.Cleanup(stop)
	return stop
}

// clientOver returns a client of s over network, "tcp", "unix" or "tls",
// closed when t ends.
func clientOver(t *testing.T, s *redistest.Server, network string, opts ...justredis.Option) *justredis.Redis {
	switch network {
	case "unix":
		return newRedisOf(t, s.UnixPath(), opts...)
	case "tls":
		return newRedisOf(t, s.TLSAddr(), append([]justredis.Option{justredis.WithTLS(s.TLSConfig())}, opts...)...)
	}
	return newRedisOf(t, s.Addr(), opts...)
}
