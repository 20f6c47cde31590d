package justredis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sentinelConfig is what WithSentinel and WithSentinelAuth set.
type sentinelConfig struct {
	master   string   // the name the sentinels know the master by; "" without WithSentinel
	addrs    []string // the sentinels given
	username string   // credentials for the sentinels themselves
	password string
	auth     bool // WithSentinelAuth was given
}

// WithSentinel makes the client find its server through Redis Sentinel: it
// asks the sentinels at sentinelAddrs ("host:port", usually port 26379)
// where the master named masterName is, and follows it when it fails over.
// The data nodes take the other options as usual (WithAuth, WithTLS,
// WithDatabase, ...); the sentinels take WithSentinelAuth, and WithTLS and
// WithClientName too. WithAddress and WithAddresses are not used, and
// WithMode(ModeCluster) is refused. The package documentation says how
// the master is found and followed.
func WithSentinel(masterName string, sentinelAddrs ...string) Option {
	return poolOption(func(s *settings) error {
		if masterName == "" {
			return invalidArg("WithSentinel: empty master name")
		}
		for _, c := range masterName {
			if c <= ' ' || c == 0x7f {
				return invalidArg(fmt.Sprintf("WithSentinel: master name %q: sentinels know no name with spaces or control characters", masterName))
			}
		}
		if len(sentinelAddrs) == 0 {
			return invalidArg("WithSentinel: no sentinel address given")
		}
		for _, a := range sentinelAddrs {
			if a == "" {
				return invalidArg("WithSentinel: empty sentinel address")
			}
		}
		s.sentinel.master = masterName
		s.sentinel.addrs = append([]string(nil), sentinelAddrs...)
		return nil
	})
}

// WithSentinelAuth sets the credentials sent to the sentinels themselves
// (their requirepass, or an ACL user of theirs); the data nodes take
// WithAuth's. An empty username means the default user. Without it,
// nothing is sent to the sentinels to authenticate.
func WithSentinelAuth(username, password string) Option {
	return poolOption(func(s *settings) error {
		s.sentinel.username, s.sentinel.password, s.sentinel.auth = username, password, true
		return nil
	})
}

// check refuses what cannot go with WithSentinel; New calls it once every
// option is applied.
func (c *sentinelConfig) check(mode Mode) error {
	switch {
	case c.master == "" && c.auth:
		return invalidArg("WithSentinelAuth without WithSentinel")
	case c.master != "" && mode == ModeCluster:
		return invalidArg("WithSentinel with WithMode(ModeCluster): a Sentinel deployment is not a Redis Cluster")
	}
	return nil
}

// sentinel routes calls in a Sentinel deployment: to the master the
// sentinels name, confirmed with ROLE, and, with WithReplicaReads,
// read-only commands to its replicas. It follows failovers by itself: a
// watcher subscribed to +switch-master on a sentinel (sentinel_watch.go)
// asks again when the sentinels announce a new master, and so does a call
// that is answered READONLY (the write did not run, and goes to the new
// master), or that loses its connection. Talking to the sentinels is in
// sentinel_ask.go, reads from replicas in sentinel_replicas.go.
type sentinel struct {
	p    *pool
	name string
	ss   settings // for connections to the sentinels

	cur      atomic.Pointer[server]    // the master; nil until found, and after it was lost
	finding  chan struct{}             // held while the master is looked for
	last     *server                   // the master found last; finding guards it
	replicas atomic.Pointer[[]*server] // the replicas fit to serve reads
	next     atomic.Uint32             // spreads reads over the replicas

	ctx        context.Context // ended by close
	cancel     context.CancelFunc
	wg         sync.WaitGroup // the watcher and background refreshes
	refreshing atomic.Bool    // a background refresh is due or under way

	mu       sync.Mutex
	addrs    []string           // the sentinels: those given first, then those learned
	slow     map[string]bool    // sentinels that failed, or were overtaken, when last asked
	servers  map[string]*server // connections to the sentinels
	watching bool
	closed   bool
}

// maxResolveRounds bounds how often the sentinels are asked again, within
// one call, while the master they name says it is a replica.
const maxResolveRounds = 10

func newSentinel(p *pool) *sentinel {
	cfg := p.s.sentinel
	ss := p.s
	ss.username, ss.password = cfg.username, cfg.password
	// Another sentinel is tried instead of the same one again, and the few
	// connections to sentinels are not the pool's to bound.
	ss.connectRetry, ss.maxConns, ss.waitTimeout = 0, 0, 0
	ss.call = callSettings{decoder: StringDecoder}
	s := &sentinel{
		p:       p,
		name:    cfg.master,
		ss:      ss,
		finding: make(chan struct{}, 1),
		addrs:   append([]string(nil), cfg.addrs...),
		slow:    make(map[string]bool),
		servers: make(map[string]*server),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// master returns the master, asking the sentinels when it is not known.
func (s *sentinel) master(ctx context.Context, db int) (*server, error) {
	if sv := s.cur.Load(); sv != nil {
		return sv, nil
	}
	return s.resolve(ctx, db, nil)
}

// resolve asks the sentinels where the master is and confirms it with
// ROLE, unless another caller has found one since stale was the master
// (nil: since it was lost). db is the database of the connection ROLE is
// sent on, which the caller will use next.
func (s *sentinel) resolve(ctx context.Context, db int, stale *server) (*server, error) {
	select {
	case s.finding <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.finding }()
	if sv := s.cur.Load(); sv != nil && sv != stale {
		return sv, nil
	}
	var wrong error // what the last round found wrong
	for round := 0; ; round++ {
		v, err := s.lookup(ctx)
		if err != nil {
			return nil, besides(err, wrong)
		}
		sv := s.p.server(v.master)
		role, err := s.role(ctx, sv, db)
		if err != nil {
			err = fmt.Errorf("justredis: master %q at %s, as sentinel %s says: %w", s.name, sv.addr, v.from, err)
			return nil, besides(err, wrong)
		}
		if role == "master" {
			s.install(ctx, sv, v)
			return sv, nil
		}
		// A failover under way: the sentinels have not caught up yet.
		wrong = fmt.Errorf("justredis: sentinel %s names %s as master %q, but it says it is a %s", v.from, sv.addr, s.name, role)
		if round+1 >= maxResolveRounds {
			return nil, wrong
		}
		if err := sleep(ctx, backoff(round)); err != nil {
			return nil, besides(err, wrong)
		}
	}
}

// besides adds to err, which ended the search for the master, what an
// earlier round of it found wrong, if anything: that is the news.
func besides(err, earlier error) error {
	if earlier == nil {
		return err
	}
	return fmt.Errorf("%w (before that: %w)", err, earlier)
}

// role asks sv what it is: "master", "slave" or "sentinel". A server that
// will not say (ROLE refused by an ACL) is taken at the sentinels' word.
func (s *sentinel) role(ctx context.Context, sv *server, db int) (string, error) {
	v, err := query(ctx, sv, db, [][]any{{"ROLE"}}, nil)
	if err != nil {
		return "", err
	}
	if r, ok := v.([]any); ok && len(r) > 0 {
		if role, ok := r[0].(string); ok {
			return role, nil
		}
	}
	return "master", nil
}

// install makes sv the master, and takes what the sentinels said of the
// replicas and of each other. finding is held.
func (s *sentinel) install(ctx context.Context, sv *server, v sentinelView) {
	old := s.last
	s.last = sv
	s.cur.Store(sv)
	s.setReplicas(v.replicas)
	s.learn(v)
	if old != nil && old != sv {
		s.p.s.emit(ctx, &Event{Kind: EventFailover, Addr: sv.addr})
	}
	s.startWatch()
}

func (s *sentinel) check(*callSettings) error { return nil }

func (s *sentinel) do(ctx context.Context, cs *callSettings, args []any) (any, error) {
	if cs.replicaReads {
		if sv := s.replica(args); sv != nil {
			// A replica still loading leaves the read to the master.
			v, err := s.p.doOn(ctx, sv, cs, args, false)
			if !s.replicaFailed(sv, err) {
				return v, err
			}
			cs.trace.retry()
		}
	}
	for attempt := 0; ; attempt++ {
		sv, err := s.master(ctx, cs.db)
		if err != nil {
			return nil, err
		}
		v, err := s.p.doOn(ctx, sv, cs, args, true)
		if isReadOnly(err) && s.runsScript(args) && s.scriptsOwn(ctx, sv, cs.db) {
			return v, err
		}
		if err == nil || !s.again(ctx, cs, sv, err, attempt) {
			return v, err
		}
	}
}

// runsScript reports whether args run a script, whose error reply may be
// any text, READONLY included.
func (s *sentinel) runsScript(args []any) bool {
	var cmd *command
	if t := s.p.cmds.Load(); t != nil {
		cmd = t.lookup(args)
	}
	return runsScript(cmd, args)
}

// scriptsOwn reports whether a READONLY error that a script answered on
// sv is the script's own text: sv still says it is a master, or will not
// say. Only a replica's refusal proves that the script wrote nothing (a
// replica refuses every write) and may go to the new master; a script
// that ran on a master is never sent again.
func (s *sentinel) scriptsOwn(ctx context.Context, sv *server, db int) bool {
	role, err := s.role(ctx, sv, db)
	return err != nil || role == "master"
}

// doMulti sends cmds to the master in one round trip. Commands answered
// READONLY (the master had become a replica) did not run: they go again,
// with the reads after them, in order, each as Do would send it, to the
// master found anew. (One at a
// time, as that happens only amid a failover: a batch of them would be a
// slice that Do's arguments escape into, see router.go.)
func (s *sentinel) doMulti(ctx context.Context, cs *callSettings, cmds [][]any) ([]any, error) {
	if cs.replicaReads {
		if sv := s.replicaForAll(cmds); sv != nil {
			vals, err := s.p.doMultiOn(ctx, sv, cs, cmds, false)
			if !s.replicaFailed(sv, err) && !unfitReplies(vals) {
				return vals, err
			}
			cs.trace.retry()
		}
	}
	var vals []any
	for attempt := 0; ; attempt++ {
		sv, err := s.master(ctx, cs.db)
		if err != nil {
			return nil, err
		}
		if vals, err = s.p.doMultiOn(ctx, sv, cs, cmds, true); err == nil {
			if slices.ContainsFunc(vals, isReadOnly) {
				if s.scriptSaidReadOnly(ctx, sv, cs.db, cmds, vals) {
					return vals, nil // from a master: no READONLY is a refusal
				}
				s.lost(sv)
				cs.trace.redirect()
			}
			break
		}
		if !s.again(ctx, cs, sv, err, attempt) {
			return nil, err
		}
	}
	first := slices.IndexFunc(vals, isReadOnly)
	if first < 0 {
		return vals, nil
	}
	// The commands after the first write answered READONLY ran on the
	// replica before that write runs on the new master: sent alone, it
	// would come after reads that followed it in the pipeline, whose
	// replies then miss it. So they go again too, in order, when running
	// them twice is harmless (reads); else the replies come back as they
	// are, each READONLY proving that its write did not run.
	t := s.p.cmds.Load()
	for i := first + 1; i < len(vals); i++ {
		if !isReadOnly(vals[i]) && (t == nil || !t.lookup(cmds[i]).repeatable()) {
			return vals, nil
		}
	}
	for i := first; i < len(vals); i++ {
		v, err := s.do(ctx, cs, cmds[i])
		if err == nil || isServerError(err) {
			vals[i] = v
			if err != nil {
				vals[i] = err
			}
			continue
		}
		// The error stands for the commands that did not run, in the
		// order given; those before them keep their replies, as in a
		// cluster.
		for k := i; k < len(vals); k++ {
			vals[k] = err
		}
		return vals, err
	}
	return vals, nil
}

// scriptSaidReadOnly reports whether a READONLY among vals, the replies
// to cmds from sv, is a script's and sv still says it is a master: then
// it is the script's own text, and none of them is a replica's refusal.
func (s *sentinel) scriptSaidReadOnly(ctx context.Context, sv *server, db int, cmds [][]any, vals []any) bool {
	for i, v := range vals {
		if isReadOnly(v) && s.runsScript(cmds[i]) {
			return s.scriptsOwn(ctx, sv, db)
		}
	}
	return false
}

// again decides, after a call to the master sv failed with err, whether it
// goes again to the master found anew; it tells the router when sv may be
// gone either way. A READONLY reply proves the write did not run, and so
// does a connection that failed before anything was sent; a write whose
// reply was lost is never sent again.
func (s *sentinel) again(ctx context.Context, cs *callSettings, sv *server, err error, attempt int) bool {
	if isReadOnly(err) {
		s.lost(sv)
		cs.trace.redirect()
		return attempt < maxRedirects
	}
	var ne *netError
	if errors.As(err, &ne) && ne.written {
		s.lost(sv) // the next call asks the sentinels
		return false
	}
	if !mayRetryElsewhere(err) {
		return false
	}
	// sv could not be reached: the sentinels may know better by now. If
	// they still name it, finding it fails with the reason.
	s.lost(sv)
	cs.trace.retry()
	return attempt < maxRedirects && sleep(ctx, backoff(attempt)) == nil
}

// isReadOnly reports whether v (a reply or an error) is the READONLY error
// of a replica asked to write.
func isReadOnly(v any) bool {
	var e *Error
	switch x := v.(type) {
	case *Error:
		e = x
	case error:
		if !errors.As(x, &e) {
			return false
		}
	default:
		return false
	}
	return e.Prefix() == "READONLY"
}

func (s *sentinel) serverFor(ctx context.Context, cs *callSettings, _ []string) (*server, error) {
	return s.master(ctx, cs.db)
}

func (s *sentinel) masters(ctx context.Context, cs *callSettings) ([]*server, error) {
	sv, err := s.master(ctx, cs.db)
	if err != nil {
		return nil, err
	}
	return []*server{sv}, nil
}

// endpoints asks the sentinels afresh, and lists the master and the
// replicas fit to serve.
func (s *sentinel) endpoints(ctx context.Context) ([]Endpoint, error) {
	sv, err := s.resolve(ctx, 0, s.cur.Load())
	if err != nil {
		return nil, err
	}
	eps := []Endpoint{{Address: sv.addr, Role: "master"}}
	if rs := s.replicas.Load(); rs != nil {
		for _, r := range *rs {
			eps = append(eps, Endpoint{Address: r.addr, Role: "replica"})
		}
	}
	return eps, nil
}

// lost forgets sv: as the master, so that the next call asks the
// sentinels; as a replica, until the sentinels are asked again, which
// happens soon.
func (s *sentinel) lost(sv *server) {
	s.cur.CompareAndSwap(sv, nil)
	for {
		old := s.replicas.Load()
		if old == nil {
			return
		}
		i := -1
		for k, r := range *old {
			if r == sv {
				i = k
			}
		}
		if i < 0 {
			return
		}
		rs := make([]*server, 0, len(*old)-1)
		rs = append(append(rs, (*old)[:i]...), (*old)[i+1:]...)
		if s.replicas.CompareAndSwap(old, &rs) {
			s.refreshSoon()
			return
		}
	}
}

// timeout bounds what the router does in the background.
func (s *sentinel) timeout() time.Duration {
	if d := s.p.s.connectTimeout; d > 0 {
		return d
	}
	return 10 * time.Second
}

// close stops the watcher and closes the connections to the sentinels.
func (s *sentinel) close() {
	s.mu.Lock()
	s.closed = true
	servers := make([]*server, 0, len(s.servers))
	for _, sv := range s.servers {
		servers = append(servers, sv)
	}
	s.mu.Unlock()
	s.cancel()
	for _, sv := range servers {
		sv.close()
	}
	s.wg.Wait()
}

// describe names the master and the sentinels, for Redis.String.
func (c *sentinelConfig) describe() string {
	return fmt.Sprintf("sentinel %s at %s", c.master, strings.Join(c.addrs, ","))
}
