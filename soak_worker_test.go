package justredis_test

// What one goroutine of the soak test does, and how it checks each reply
// against its own request.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/justredis/justredis"
)

// soakOp is one kind of operation, picked at random by weight.
type soakOp struct {
	name   string
	weight int
	run    func(w *soakWorker)
}

var soakOps = []soakOp{
	{"set-get", 25, (*soakWorker).setGet},
	{"echo", 12, (*soakWorker).echo},
	{"incr", 10, (*soakWorker).incr},
	{"pipeline", 15, (*soakWorker).pipeline},
	{"connection", 13, (*soakWorker).connection},
	{"blpop", 10, (*soakWorker).blpop},
	{"rpush", 8, (*soakWorker).rpush},
	{"other-db", 7, (*soakWorker).otherDB},
}

// soakWorker is one goroutine of the soak. Its keys, counter and list are
// its own, so it knows what every reply must be.
type soakWorker struct {
	sr      *soakRun
	id      int
	rng     *rand.Rand
	fill    *rand.ChaCha8 // random bytes for values
	op      int           // the operation running, counted from 1
	opName  string
	opStart time.Time
	current atomic.Pointer[opAt] // for the watchdog; nil between operations
	count   *soakCount
	serial  int // of keys and values, so each is unique
	ctr     soakCounter
	list    string
	popped  map[int]int64 // pusher → number of the last item popped from it
	pushes  int64
	backoff bool // the last call failed because the server is down

	// Byte replies are checked once more after the next operation, in
	// case the client reused their memory.
	held, holding []heldReply
	big, large    int // values of 4 MiB, and of 64 KiB to 1 MiB
}

// opAt is what a worker is doing, and since when.
type opAt struct {
	op    int
	name  string
	start time.Time
}

type heldReply struct {
	step      string
	got, want []byte
}

func newSoakWorker(sr *soakRun, id int, seed uint64) *soakWorker {
	var key [32]byte
	copy(key[:], fmt.Sprintf("soak %d %d", seed, id))
	return &soakWorker{
		sr:     sr,
		id:     id,
		rng:    rand.New(rand.NewPCG(seed, uint64(id))),
		fill:   rand.NewChaCha8(key),
		ctr:    soakCounter{key: fmt.Sprintf("w%d:counter", id)},
		list:   soakList(id),
		popped: map[int]int64{},
	}
}

func soakList(id int) string { return fmt.Sprintf("w%d:list", id) }

func (w *soakWorker) run(maxOps int) {
	total := 0
	for _, o := range soakOps {
		total += o.weight
	}
	for w.op = 1; w.op <= maxOps && !w.sr.stopped(); w.op++ {
		n, i := w.rng.IntN(total), 0
		for n >= soakOps[i].weight {
			n -= soakOps[i].weight
			i++
		}
		w.opName, w.count, w.opStart = soakOps[i].name, &w.sr.counts[i], time.Now()
		w.current.Store(&opAt{w.op, w.opName, w.opStart})
		soakOps[i].run(w)
		w.current.Store(nil)
		w.count.done.Add(1)
		w.checkHeld()
		if w.backoff {
			// The server is down: don't spin.
			w.backoff = false
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// fail reports a wrong reply.
func (w *soakWorker) fail(step, format string, args ...any) {
	w.failAs(wrongReply, step, format, args...)
}

func (w *soakWorker) failAs(class failClass, step, format string, args ...any) {
	w.sr.fail(class, "worker %d, op %d (%s), %s: %s", w.id, w.op, w.opName, step, fmt.Sprintf(format, args...))
}

// opCtx is the context of one operation's calls.
type opCtx struct {
	context.Context
	armed  bool // the soak cancels it at a random moment
	cancel context.CancelFunc
}

// ctx returns an operation's context: one in ten is cancelled or times out
// within 20 ms, often in the middle of a call; the others only have a
// deadline no healthy call reaches.
func (w *soakWorker) ctx() opCtx {
	ctx, cancel := context.WithTimeout(context.Background(), soakCallTimeout)
	o := opCtx{Context: ctx, cancel: cancel}
	if w.rng.IntN(10) != 0 {
		return o
	}
	o.armed = true
	after := time.Duration(w.rng.IntN(20000)) * time.Microsecond
	if w.rng.IntN(2) == 0 {
		short, cancelShort := context.WithTimeout(ctx, after)
		o.Context, o.cancel = short, func() { cancelShort(); cancel() }
	} else {
		timer := time.AfterFunc(after, cancel)
		o.cancel = func() { timer.Stop(); cancel() }
	}
	return o
}

// ended reports whether ctx has ended: cancelled, or past its deadline,
// which the client may see by the clock a moment before the context's own
// timer fires and sets ctx.Err().
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// fresh returns a context that is not cancelled, for the check that
// follows a cancelled call.
func (w *soakWorker) fresh() opCtx {
	ctx, cancel := context.WithTimeout(context.Background(), soakCallTimeout)
	return opCtx{Context: ctx, cancel: cancel}
}

// succeeded reports whether a call succeeded. A failure is expected when
// the soak cancelled the call, closed the client, or killed the server
// (but never an error reply); any other is reported.
func (w *soakWorker) succeeded(ctx opCtx, step string, err error) bool {
	if err == nil {
		return true
	}
	var reply *justredis.Error
	switch {
	case ctx.armed && ended(ctx) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		w.count.cancelled.Add(1)
	case w.sr.closing.Load() && errors.Is(err, justredis.ErrClosed):
		w.count.failed.Add(1)
	case w.sr.v.lossy && !errors.As(err, &reply):
		w.count.failed.Add(1)
		w.backoff = true
	case errors.As(err, &reply):
		w.fail(step, "unexpected error reply: %v", err)
	default:
		w.failAs(callError, step, "unexpected error, %v into the operation: %v",
			time.Since(w.opStart).Round(time.Millisecond), err)
	}
	return false
}

// client returns the client with a decoder picked at random.
func (w *soakWorker) client() (*justredis.Redis, justredis.Decoder) {
	if w.rng.IntN(2) == 0 {
		return w.sr.asStr, justredis.StringDecoder
	}
	return w.sr.asByte, justredis.BytesDecoder
}

func (w *soakWorker) key(kind string) string {
	w.serial++
	return fmt.Sprintf("w%d:%s:%d", w.id, kind, w.serial)
}

// value returns a value of a random size: mostly small, some of 64 KiB to
// 1 MiB, a few of 4 MiB. It starts with a header naming its worker, so a
// reply that belongs to someone else says whose it is; the rest is random
// bytes, CR and LF included.
func (w *soakWorker) value() []byte {
	var size int
	switch n := w.rng.IntN(1000); {
	case n < 10:
		size = 4 << 20
		w.big++
	case n < 60:
		size = 64<<10 + w.rng.IntN(1<<20-64<<10+1)
		w.large++
	case n < 150:
		size = 100 + w.rng.IntN(16<<10)
	case n < 200:
		size = 0
	default:
		size = w.rng.IntN(100)
	}
	w.serial++
	b := make([]byte, size)
	w.fill.Read(b)
	copy(b, fmt.Sprintf("<w%d:op%d:v%d:%dB>", w.id, w.op, w.serial, size))
	return b
}

// expectSimple checks a simple-string reply such as OK or QUEUED.
func (w *soakWorker) expectSimple(step string, v any, want string) bool {
	if s, ok := v.(string); !ok || s != want {
		w.fail(step, "got %s, want %q", brief(v), want)
		return false
	}
	return true
}

func (w *soakWorker) expectNil(step string, v any) bool {
	if v != nil {
		w.fail(step, "got %s, want nil", brief(v))
		return false
	}
	return true
}

// expectBulk checks a bulk-string reply, of the type dec gives, against
// the value it must be; nil is accepted when nilOK.
func (w *soakWorker) expectBulk(step string, v any, dec justredis.Decoder, want []byte, nilOK bool) bool {
	var got []byte
	typed := false
	switch x := v.(type) {
	case nil:
		if nilOK {
			return true
		}
	case string:
		got, typed = []byte(x), dec != justredis.BytesDecoder
	case []byte:
		got, typed = x, dec == justredis.BytesDecoder
		w.holding = append(w.holding, heldReply{step, x, want})
	}
	if !typed {
		w.fail(step, "got %s, want %s", brief(v), brief(want))
		return false
	}
	if !bytes.Equal(got, want) {
		w.fail(step, "%s", mismatch(got, want))
		return false
	}
	return true
}

// checkHeld checks the byte replies of the previous operation again: the
// client must not have reused their memory.
func (w *soakWorker) checkHeld() {
	for _, h := range w.held {
		if !bytes.Equal(h.got, h.want) {
			w.fail(h.step+" (checked again one operation later)", "the reply changed after it was returned: %s", mismatch(h.got, h.want))
		}
	}
	w.held, w.holding = w.holding, nil
}

// setGet: SET a key of its own, maybe GET it, then GETDEL it; the reads
// must return exactly the value set.
func (w *soakWorker) setGet() {
	r, dec := w.client()
	k, val := w.key("kv"), w.value()
	ctx := w.ctx()
	defer ctx.cancel()
	e0 := w.sr.epoch.Load()
	set := false
	if v, err := r.Do(ctx, "SET", k, val, "PX", soakTTL); w.succeeded(ctx, "SET", err) {
		set = w.expectSimple("SET", v, "OK")
	}
	if set && w.rng.IntN(2) == 0 {
		if v, err := r.Do(ctx, "GET", k); w.succeeded(ctx, "GET", err) {
			w.expectBulk("GET", v, dec, val, w.sr.mayLose(e0))
		}
	}
	// After a cancelled call, read on: the next reply on the connection
	// must still be this call's own.
	if ctx.Err() != nil {
		ctx = w.fresh()
		defer ctx.cancel()
	}
	if v, err := r.Do(ctx, "GETDEL", k); w.succeeded(ctx, "GETDEL", err) {
		// A cancelled SET may or may not have run, but nothing else.
		w.expectBulk("GETDEL", v, dec, val, !set || w.sr.mayLose(e0))
	}
}

func (w *soakWorker) echo() {
	r, dec := w.client()
	val := w.value()
	ctx := w.ctx()
	defer ctx.cancel()
	if v, err := r.Do(ctx, "ECHO", val); w.succeeded(ctx, "ECHO", err) {
		w.expectBulk("ECHO", v, dec, val, false)
	}
}

// soakCounter follows a worker's counter. Only the worker INCRs it, so
// each INCR must return one more than the last, except that INCRs whose
// calls failed may have run unseen (each may add one), and a restarted
// server starts again from zero.
type soakCounter struct {
	key       string
	last      int64 // what the last successful INCR returned
	epoch     int64 // the server epoch then
	uncertain int64 // INCRs that failed and may have run
}

func (w *soakWorker) checkIncr(step string, v any) {
	c := &w.ctr
	n, ok := v.(int64)
	if !ok {
		w.fail(step, "got %s, want an integer", brief(v))
		c.uncertain++
		return
	}
	epoch := w.sr.epoch.Load()
	lo, hi := c.last+1, c.last+1+c.uncertain
	if epoch != c.epoch || epoch%2 == 1 {
		lo = 1 // the server may have restarted empty
	}
	switch {
	case n >= lo && n <= hi:
	case lo == hi:
		w.fail(step, "counter %s: got %d, want %d", c.key, n, lo)
	default:
		w.fail(step, "counter %s: got %d, want %d to %d", c.key, n, lo, hi)
	}
	c.last, c.epoch = n, epoch
}

func (w *soakWorker) incr() {
	ctx := w.ctx()
	defer ctx.cancel()
	if v, err := w.sr.asStr.Do(ctx, "INCR", w.ctr.key); w.succeeded(ctx, "INCR", err) {
		w.checkIncr("INCR", v)
	} else {
		w.ctr.uncertain++
	}
}

// pipeline sends a DoMulti of random commands, each reply checked at its
// own index.
func (w *soakWorker) pipeline() {
	r, dec := w.client()
	var cmds [][]any
	var checks []func(step string, v any)
	add := func(check func(step string, v any), args ...any) {
		cmds = append(cmds, args)
		checks = append(checks, check)
	}
	type kv struct {
		k   string
		val []byte
	}
	var unread []kv // set in this pipeline, not read back yet
	incrs := 0
	for n := 2 + w.rng.IntN(11); len(cmds) < n; {
		switch c := w.rng.IntN(100); {
		case c < 25:
			val := w.value()
			add(func(step string, v any) { w.expectBulk(step, v, dec, val, false) }, "ECHO", val)
		case c < 50:
			k, val := w.key("pipe"), w.value()
			unread = append(unread, kv{k, val})
			add(func(step string, v any) { w.expectSimple(step, v, "OK") }, "SET", k, val, "PX", soakTTL)
		case c < 70 && len(unread) > 0:
			i := w.rng.IntN(len(unread))
			e := unread[i]
			unread = append(unread[:i], unread[i+1:]...)
			add(func(step string, v any) { w.expectBulk(step, v, dec, e.val, false) }, "GETDEL", e.k)
		case c < 85:
			incrs++
			add(w.checkIncr, "INCR", w.ctr.key)
		case c < 97:
			add(func(step string, v any) { w.expectSimple(step, v, "PONG") }, "PING")
		default:
			// Makes the whole pipeline go on a connection of its own.
			add(w.checkPopped, "BLPOP", w.list, "0.01")
		}
	}
	for _, e := range unread {
		add(func(step string, v any) { w.expectBulk(step, v, dec, e.val, false) }, "GETDEL", e.k)
	}
	ctx := w.ctx()
	defer ctx.cancel()
	vals, err := r.DoMulti(ctx, cmds...)
	if !w.succeeded(ctx, "DoMulti", err) {
		w.ctr.uncertain += int64(incrs)
		return
	}
	if len(vals) != len(cmds) {
		w.fail("DoMulti", "%d replies for %d commands", len(vals), len(cmds))
		w.ctr.uncertain += int64(incrs)
		return
	}
	for i, v := range vals {
		checks[i](fmt.Sprintf("DoMulti[%d] %s of %d", i, cmds[i][0], len(cmds)), v)
	}
}

// connection takes a dedicated connection and runs one of the scenarios
// users run on one; some leave state behind for Close to clean up.
func (w *soakWorker) connection() {
	ctx := w.ctx()
	defer ctx.cancel()
	c, err := w.sr.r.Connection(ctx)
	if !w.succeeded(ctx, "Connection", err) {
		return
	}
	scenarios := []func(ctx opCtx, c *justredis.Connection) (after func()){
		w.connTransaction, w.connWatch, w.connWatchAborted, w.connPipeline,
		w.connBlocking, w.connDatabases, w.connLeftOpen,
	}
	after := scenarios[w.rng.IntN(len(scenarios))](ctx, c)
	if err := c.Close(); err != nil {
		w.failAs(callError, "Connection.Close", "%v", err)
	}
	if after != nil {
		after()
	}
}

// connDo runs one command on c and checks the reply against want: a
// string for a simple string, nil for a nil reply, []byte for a value, or
// anyReply for a reply the caller checks. It reports whether the scenario
// may go on.
func (w *soakWorker) connDo(ctx opCtx, c *justredis.Connection, want any, args ...any) (any, bool) {
	step := fmt.Sprint(args[0])
	v, err := c.Do(ctx, args...)
	if !w.succeeded(ctx, step, err) {
		return nil, false
	}
	switch want := want.(type) {
	case string:
		return v, w.expectSimple(step, v, want)
	case []byte:
		return v, w.expectBulk(step, v, justredis.StringDecoder, want, false)
	case anyReply:
		return v, true
	}
	return v, w.expectNil(step, v)
}

type anyReply struct{}

// connTransaction runs MULTI, SET, INCR, GETDEL, EXEC, one call at a time
// or as one pipeline; EXEC must return the three replies.
func (w *soakWorker) connTransaction(ctx opCtx, c *justredis.Connection) func() {
	dec := justredis.StringDecoder
	if w.rng.IntN(2) == 0 {
		dec = justredis.BytesDecoder
		c = c.Modify(justredis.WithDecoder(dec))
	}
	k, val := w.key("tx"), w.value()
	cmds := [][]any{{"MULTI"}, {"SET", k, val, "PX", soakTTL}, {"INCR", w.ctr.key}, {"GETDEL", k}, {"EXEC"}}
	var exec any
	if w.rng.IntN(2) == 0 {
		vals, err := c.DoMulti(ctx, cmds...)
		if !w.succeeded(ctx, "MULTI ... EXEC", err) {
			w.ctr.uncertain++
			return nil
		}
		if len(vals) != len(cmds) {
			w.fail("MULTI ... EXEC", "%d replies for %d commands", len(vals), len(cmds))
			w.ctr.uncertain++
			return nil
		}
		for i, want := range []string{"OK", "QUEUED", "QUEUED", "QUEUED"} {
			w.expectSimple(fmt.Sprintf("DoMulti[%d] %s", i, cmds[i][0]), vals[i], want)
		}
		exec = vals[4]
	} else {
		for _, want := range []string{"OK", "QUEUED", "QUEUED", "QUEUED"} {
			if _, ok := w.connDo(ctx, c, want, cmds[0]...); !ok {
				return nil // nothing runs without EXEC
			}
			cmds = cmds[1:]
		}
		var err error
		exec, err = c.Do(ctx, "EXEC")
		if !w.succeeded(ctx, "EXEC", err) {
			w.ctr.uncertain++
			return nil
		}
	}
	replies, ok := exec.([]any)
	if !ok || len(replies) != 3 {
		w.fail("EXEC", "got %s, want [OK, counter, value]", brief(exec))
		w.ctr.uncertain++
		return nil
	}
	w.expectSimple("EXEC[0] SET", replies[0], "OK")
	w.checkIncr("EXEC[1] INCR", replies[1])
	w.expectBulk("EXEC[2] GETDEL", replies[2], dec, val, false)
	return nil
}

// connWatch: a transaction on a WATCHed key nobody else touches must run;
// its write is then seen from the shared connection.
func (w *soakWorker) connWatch(ctx opCtx, c *justredis.Connection) func() {
	k, val := w.key("watch"), w.value()
	e0 := w.sr.epoch.Load()
	for _, step := range []struct {
		want any
		args []any
	}{
		{"OK", []any{"WATCH", k}},
		{nil, []any{"GET", k}},
		{"OK", []any{"MULTI"}},
		{"QUEUED", []any{"SET", k, val, "PX", soakTTL}},
	} {
		if _, ok := w.connDo(ctx, c, step.want, step.args...); !ok {
			return nil
		}
	}
	exec, err := c.Do(ctx, "EXEC")
	ran := w.succeeded(ctx, "EXEC", err)
	if ran {
		if replies, ok := exec.([]any); !ok || len(replies) != 1 || replies[0] != "OK" {
			w.fail("EXEC", "got %s, want [OK]: nobody else touched the watched key", brief(exec))
			return nil
		}
	}
	return func() {
		ctx := w.fresh()
		defer ctx.cancel()
		if v, err := w.sr.asStr.Do(ctx, "GETDEL", k); w.succeeded(ctx, "GETDEL after EXEC", err) {
			w.expectBulk("GETDEL after EXEC", v, justredis.StringDecoder, val, !ran || w.sr.mayLose(e0))
		}
	}
}

// connWatchAborted: another client changes the WATCHed key, so EXEC must
// abort and the transaction's SET never run.
func (w *soakWorker) connWatchAborted(ctx opCtx, c *justredis.Connection) func() {
	k, val := w.key("intruded"), w.value()
	intruder := fmt.Sprintf("<intruder w%d op%d>", w.id, w.op)
	if _, ok := w.connDo(ctx, c, "OK", "WATCH", k); !ok {
		return nil
	}
	// Over a connection of its own, outside the client under test.
	if _, err := w.sr.s.Do("SET", k, intruder, "PX", soakTTL); err != nil {
		if !w.sr.v.lossy {
			w.failAs(callError, "SET by another client", "%v", err)
		}
		return nil
	}
	for _, step := range []struct {
		want any
		args []any
	}{
		{"OK", []any{"MULTI"}},
		{"QUEUED", []any{"SET", k, val, "PX", soakTTL}},
		{nil, []any{"EXEC"}}, // aborted
		{[]byte(intruder), []any{"GETDEL", k}},
	} {
		if _, ok := w.connDo(ctx, c, step.want, step.args...); !ok {
			return nil
		}
	}
	return nil
}

// connPipeline sends a DoMulti on the connection.
func (w *soakWorker) connPipeline(ctx opCtx, c *justredis.Connection) func() {
	k, v1, v2 := w.key("connpipe"), w.value(), w.value()
	vals, err := c.DoMulti(ctx, []any{"ECHO", v1}, []any{"SET", k, v2, "PX", soakTTL}, []any{"GETDEL", k}, []any{"PING"})
	if !w.succeeded(ctx, "DoMulti", err) {
		return nil
	}
	if len(vals) != 4 {
		w.fail("DoMulti", "%d replies for 4 commands", len(vals))
		return nil
	}
	w.expectBulk("DoMulti[0] ECHO", vals[0], justredis.StringDecoder, v1, false)
	w.expectSimple("DoMulti[1] SET", vals[1], "OK")
	w.expectBulk("DoMulti[2] GETDEL", vals[2], justredis.StringDecoder, v2, false)
	w.expectSimple("DoMulti[3] PING", vals[3], "PONG")
	return nil
}

// connBlocking runs BLPOP on the connection.
func (w *soakWorker) connBlocking(ctx opCtx, c *justredis.Connection) func() {
	if v, ok := w.connDo(ctx, c, anyReply{}, "BLPOP", w.list, "0.02"); ok {
		w.checkPopped("BLPOP", v)
	}
	return nil
}

// connDatabases writes in another database through Modify; Close must put
// the connection back in database 0.
func (w *soakWorker) connDatabases(ctx opCtx, c *justredis.Connection) func() {
	db := 1 + w.rng.IntN(3)
	k, val := w.key("conndb"), w.value()
	other, zero := c.Modify(justredis.WithDatabase(db)), c.Modify(justredis.WithDatabase(0))
	if _, ok := w.connDo(ctx, other, "OK", "SET", k, val, "PX", soakTTL); !ok {
		return nil
	}
	if _, ok := w.connDo(ctx, zero, nil, "GET", k); !ok {
		return nil
	}
	w.connDo(ctx, other, val, "GETDEL", k)
	return nil
}

// connLeftOpen queues a SET in a transaction and closes the connection
// without EXEC: Close must discard it.
func (w *soakWorker) connLeftOpen(ctx opCtx, c *justredis.Connection) func() {
	k, val := w.key("discarded"), w.value()
	if w.rng.IntN(2) == 0 {
		if _, ok := w.connDo(ctx, c, "OK", "WATCH", k); !ok {
			return nil
		}
	}
	if _, ok := w.connDo(ctx, c, "OK", "MULTI"); ok {
		w.connDo(ctx, c, "QUEUED", "SET", k, val, "PX", soakTTL)
	}
	return func() {
		ctx := w.fresh()
		defer ctx.cancel()
		if v, err := w.sr.asStr.Do(ctx, "GET", k); w.succeeded(ctx, "GET after Close", err) {
			w.expectNil("GET after Close: the transaction left open must be discarded", v)
		}
	}
}

// blpop pops from the worker's own list, which other workers push to.
func (w *soakWorker) blpop() {
	r, _ := w.client()
	ctx := w.ctx()
	defer ctx.cancel()
	timeout := []string{"0.01", "0.02", "0.05", "0.1"}[w.rng.IntN(4)]
	if v, err := r.Do(ctx, "BLPOP", w.list, timeout); w.succeeded(ctx, "BLPOP", err) {
		w.checkPopped("BLPOP", v)
	}
}

// checkPopped checks a BLPOP reply: nil, or the worker's list and an item
// pushed to it that nobody popped before; items from one pusher come in
// the order it pushed them (some may be lost to cancelled BLPOPs).
func (w *soakWorker) checkPopped(step string, v any) {
	if v == nil {
		return
	}
	pair, ok := v.([]any)
	if !ok || len(pair) != 2 {
		w.fail(step, "got %s, want nil or [list, item]", brief(v))
		return
	}
	list, ok1 := text(pair[0])
	item, ok2 := text(pair[1])
	if !ok1 || !ok2 || list != w.list {
		w.fail(step, "got %s, want nil or [%q, item]", brief(v), w.list)
		return
	}
	var to, from int
	var n int64
	if _, err := fmt.Sscanf(item, "to=%d from=%d n=%d", &to, &from, &n); err != nil || to != w.id {
		w.fail(step, "popped %.60q, which is no item pushed to %s", item, w.list)
		return
	}
	if _, ok := w.sr.pushed.LoadAndDelete(item); !ok {
		w.fail(step, "popped %.60q, which was never pushed, or was popped before", item)
	}
	if !w.sr.v.lossy && n <= w.popped[from] {
		w.fail(step, "popped %.60q after item %d from the same pusher: out of order", item, w.popped[from])
	}
	w.popped[from] = n
}

// rpush pushes items to another worker's list.
func (w *soakWorker) rpush() {
	to := w.rng.IntN(soakWorkers - 1)
	if to >= w.id {
		to++
	}
	args := []any{"RPUSH", soakList(to)}
	for range 1 + w.rng.IntN(2) {
		w.pushes++
		item := fmt.Sprintf("to=%d from=%d n=%d %s", to, w.id, w.pushes, strings.Repeat("x", w.rng.IntN(64)))
		// Known before it is pushed, so a pop can never beat it.
		w.sr.pushed.Store(item, struct{}{})
		args = append(args, item)
	}
	ctx := w.ctx()
	defer ctx.cancel()
	if v, err := w.sr.asStr.Do(ctx, args...); w.succeeded(ctx, "RPUSH", err) {
		if n, ok := v.(int64); !ok || n < int64(len(args)-2) {
			w.fail("RPUSH", "got %s, want the list's length, at least %d", brief(v), len(args)-2)
		}
	}
}

// otherDB writes in database 1 to 3, which must not show in database 0.
func (w *soakWorker) otherDB() {
	r, dec := w.client()
	other := r.Modify(justredis.WithDatabase(1 + w.rng.IntN(3)))
	k, val := w.key("db"), w.value()
	ctx := w.ctx()
	defer ctx.cancel()
	e0 := w.sr.epoch.Load()
	set := false
	if v, err := other.Do(ctx, "SET", k, val, "PX", soakTTL); w.succeeded(ctx, "SET", err) {
		set = w.expectSimple("SET", v, "OK")
	}
	if ctx.Err() != nil {
		ctx = w.fresh()
		defer ctx.cancel()
	}
	if v, err := r.Do(ctx, "GET", k); w.succeeded(ctx, "GET in database 0", err) {
		w.expectNil("GET in database 0", v)
	}
	if v, err := other.Do(ctx, "GETDEL", k); w.succeeded(ctx, "GETDEL", err) {
		w.expectBulk("GETDEL", v, dec, val, !set || w.sr.mayLose(e0))
	}
}

// text returns a bulk string reply's text, whichever the decoder.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

// brief describes a reply in a line: its type, size and beginning.
func brief(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return fmt.Sprintf("string of %d bytes %.48q", len(x), x)
	case []byte:
		return fmt.Sprintf("[]byte of %d bytes %.48q", len(x), x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case *justredis.Error:
		return fmt.Sprintf("error reply %q", x.Error())
	case []any:
		parts := make([]string, 0, 4)
		for i, e := range x {
			if i == 3 {
				parts = append(parts, "...")
				break
			}
			parts = append(parts, brief(e))
		}
		return fmt.Sprintf("array of %d [%s]", len(x), strings.Join(parts, ", "))
	}
	return fmt.Sprintf("%T %.48v", v, v)
}

// mismatch says how got differs from want; a value's header says whose it
// is, when it belongs to another request.
func mismatch(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("got %d bytes %.40q, want %d bytes %.40q; they differ from byte %d: got %.24q, want %.24q",
		len(got), got, len(want), want, i, got[i:], want[i:])
}
