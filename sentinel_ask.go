package justredis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// Asking the sentinels: which of them to ask first, how long to wait for
// one before asking the next beside it, and what their answers say.

// sentinelView is what one sentinel says of the deployment.
type sentinelView struct {
	from      string   // the sentinel that said it
	master    string   // the master's address
	replicas  []string // the replicas it sees up and linked
	listed    []string // every replica it lists, whatever its state
	sentinels []string // the other sentinels it sees up
}

// unknownMaster is a sentinel's answer when it monitors no master by the
// name asked for.
type unknownMaster struct{ sentinel string }

func (e *unknownMaster) Error() string {
	return "sentinel " + e.sentinel + " knows no such master"
}

// maxShare bounds how long one sentinel is waited for before the next is
// asked beside it. A sentinel that answers at all answers in far less.
const maxShare = time.Second

// lookup asks the sentinels, in order of preference, where the master and
// its replicas are, and returns the first answer. Each sentinel gets a
// share of the time ctx has left (at most maxShare): if it has not
// answered by then, the next is asked too, without giving up on it, so a
// sentinel that hangs cannot take the whole deadline, and one that fails
// makes way at once. Those that failed or were overtaken go last next
// time.
func (s *sentinel) lookup(ctx context.Context) (sentinelView, error) {
	order := s.order()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // those still asking give up
	type answer struct {
		i   int
		v   sentinelView
		err error
	}
	answers := make(chan answer, len(order))
	errs := make([]error, len(order))
	answered := make([]bool, len(order))
	started := 0
	start := func() {
		i := started
		started++
		go func() {
			v, err := s.ask(ctx, order[i])
			answers <- answer{i, v, err}
		}()
	}
	share := func() time.Duration {
		d := maxShare
		if dl, ok := ctx.Deadline(); ok {
			d = min(d, time.Until(dl)/time.Duration(len(order)-started+1))
		}
		return max(d, time.Millisecond)
	}
	start()
	timer := time.NewTimer(share())
	defer timer.Stop()
	for pending := 1; pending > 0; {
		select {
		case a := <-answers:
			pending--
			answered[a.i] = true
			if a.err == nil {
				s.rank(order[:started], answered, errs, a.i)
				return a.v, nil
			}
			errs[a.i] = a.err
			if started < len(order) && ctx.Err() == nil {
				start()
				pending++
				timer.Reset(share())
			}
		case <-timer.C:
			if started < len(order) {
				start()
				pending++
				timer.Reset(share())
			}
		}
	}
	s.rank(order, answered, errs, -1)
	return sentinelView{}, s.noAnswer(order, errs)
}

// noAnswer is lookup's error when no sentinel said where the master is.
func (s *sentinel) noAnswer(order []string, errs []error) error {
	unknown := 0
	for _, err := range errs {
		var u *unknownMaster
		if errors.As(err, &u) {
			unknown++
		}
	}
	if unknown == len(errs) {
		return fmt.Errorf("justredis: no sentinel knows a master named %q (asked %s)", s.name, strings.Join(order, ", "))
	}
	return fmt.Errorf("justredis: no sentinel said where master %q is: %w", s.name, errors.Join(errs...))
}

// ask asks one sentinel, in one round trip, for the master's address, the
// replicas and the other sentinels.
func (s *sentinel) ask(ctx context.Context, addr string) (sentinelView, error) {
	vals := make([]any, 3)
	_, err := query(ctx, s.sentinelServer(addr), 0, [][]any{
		{"SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.name},
		{"SENTINEL", "REPLICAS", s.name},
		{"SENTINEL", "SENTINELS", s.name},
	}, vals)
	if err != nil {
		return sentinelView{}, err
	}
	v := sentinelView{from: addr}
	switch m := vals[0].(type) {
	case nil:
		return v, &unknownMaster{sentinel: addr}
	case *Error:
		return v, fmt.Errorf("justredis: sentinel %s: %w", addr, m)
	case []any:
		if len(m) == 2 {
			host, _ := m[0].(string)
			port, _ := m[1].(string)
			if host != "" && port != "" {
				v.master = net.JoinHostPort(host, port)
			}
		}
	}
	if v.master == "" {
		return v, fmt.Errorf("justredis: sentinel %s: %w", addr, &protocolError{"GET-MASTER-ADDR-BY-NAME answered no address"})
	}
	// Sentinels that refuse the lists (an ACL) still told the master.
	v.replicas = instances(vals[1], "slave")
	v.listed = listed(vals[1])
	v.sentinels = instances(vals[2], "sentinel")
	return v, nil
}

// query sends cmds, which only read, on sv's shared connection to db, and
// once more on a new one if that one had broken: a failover, or a sentinel
// restarted, cuts the connections that waited.
func query(ctx context.Context, sv *server, db int, cmds [][]any, vals []any) (any, error) {
	for retried := false; ; retried = true {
		cn, err := sv.sharedConn(ctx, db)
		if err != nil {
			return nil, err
		}
		v, err := cn.roundTrip(ctx, cmds, StringDecoder, vals)
		cn.done()
		if err != nil && !retried && mayRetryAll(err, true) {
			continue
		}
		return v, err
	}
}

// instances reads the addresses of the instances of one kind that a
// sentinel lists (SENTINEL REPLICAS, SENTINEL SENTINELS), leaving out those
// it sees down or cut off.
func instances(v any, kind string) []string {
	list, _ := v.([]any)
	var addrs []string
	for _, e := range list {
		f := fields(e)
		if f["ip"] == "" || f["port"] == "" || !fit(f["flags"], kind) {
			continue
		}
		if kind == "slave" && f["master-link-status"] == "err" {
			continue // it has lost its master, and serves stale data or none
		}
		addrs = append(addrs, net.JoinHostPort(f["ip"], f["port"]))
	}
	return addrs
}

// listed reads the addresses of every instance a sentinel lists, down or
// cut off as well.
func listed(v any) []string {
	list, _ := v.([]any)
	var addrs []string
	for _, e := range list {
		if f := fields(e); f["ip"] != "" && f["port"] != "" {
			addrs = append(addrs, net.JoinHostPort(f["ip"], f["port"]))
		}
	}
	return addrs
}

// member reports whether addr is the master or a replica of the
// deployment as a sentinel lists them now, whatever their state: the
// master need not answer, nor a replica be fit to serve reads, for
// WithEndpoint to name it.
func (s *sentinel) member(ctx context.Context, addr string) (bool, error) {
	v, err := s.lookup(ctx)
	if err != nil {
		return false, err
	}
	return addr == v.master || slices.Contains(v.listed, addr), nil
}

// fit reports whether a sentinel's flags for an instance say it is of the
// kind expected and up.
func fit(flags, kind string) bool {
	ok := false
	for _, f := range strings.Split(flags, ",") {
		switch f {
		case kind:
			ok = true
		case "s_down", "o_down", "disconnected":
			return false
		}
	}
	return ok
}

// fields reads the name-value pairs of one instance: a map under RESP3, a
// flat array under RESP2.
func fields(v any) map[string]string {
	f := map[string]string{}
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			f[k], _ = val.(string)
		}
	case []any:
		for i := 0; i+1 < len(x); i += 2 {
			k, _ := x[i].(string)
			f[k], _ = x[i+1].(string)
		}
	}
	return f
}

// order returns the sentinels to ask, those that answered last time first,
// each group in the order they were given or learned.
func (s *sentinel) order() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.addrs))
	for _, a := range s.addrs {
		if !s.slow[a] {
			out = append(out, a)
		}
	}
	for _, a := range s.addrs {
		if s.slow[a] {
			out = append(out, a)
		}
	}
	return out
}

// rank remembers, after a lookup, which sentinels failed or had not
// answered when another did (winner, -1 for none): they are asked last
// next time. A sentinel that answered, even that it knows no such master,
// is fine.
func (s *sentinel) rank(asked []string, answered []bool, errs []error, winner int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, a := range asked {
		var u *unknownMaster
		switch {
		case i == winner, answered[i] && errors.As(errs[i], &u):
			delete(s.slow, a)
		case !answered[i] && winner < 0:
			// Still asking when every other failed: the context ended.
		default:
			s.slow[a] = true
		}
	}
}

// setSlow puts a sentinel last, after the watcher lost it.
func (s *sentinel) setSlow(addr string) {
	s.mu.Lock()
	s.slow[addr] = true
	s.mu.Unlock()
}

// learn adds the sentinels that a sentinel knows of, and itself, to those
// given: sentinels added to the deployment later are found, and one given
// that was replaced still has the others to stand in for it.
func (s *sentinel) learn(v sentinelView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	given := s.p.s.sentinel.addrs
	addrs := append([]string(nil), given...)
	seen := make(map[string]bool, len(given))
	for _, a := range given {
		seen[a] = true
	}
	for _, a := range append([]string{v.from}, v.sentinels...) {
		if !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	s.addrs = addrs
}

// sentinelServer returns the connections to the sentinel at addr.
func (s *sentinel) sentinelServer(addr string) *server {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.servers[addr]
	if sv == nil {
		sv = newServer(addr, &s.ss, nil)
		s.servers[addr] = sv
		if s.closed {
			sv.close()
		}
	}
	return sv
}
