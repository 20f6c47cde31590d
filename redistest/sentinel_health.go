package redistest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WaitReady waits until the deployment is settled: every running sentinel
// names the same master and sees it up, lists every running replica with
// its link to that master up and every other running sentinel, and is not
// in TILT mode; the master says it is a master, and every other running
// node says it is a replica of the master and has acknowledged all the
// master had received, so whatever was written to the master before is on
// every replica too. Nodes and sentinels that were killed or paused
// through redistest are left out. It returns what was still wrong when ctx
// ends, or after 30 seconds if ctx has no deadline.
//
// After killing the master, WaitReady returns once the sentinels have
// replaced it, which takes DownAfter and an election.
func (s *Sentinel) WaitReady(ctx context.Context) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	s.retune()
	return s.waitSettled(ctx, nil)
}

// waitSettled waits until the deployment is settled around a master other
// than not, then until the replicas have caught up with it.
func (s *Sentinel) waitSettled(ctx context.Context, not *Server) error {
	var master *Server
	err := s.waitFor(ctx, func() (problem string) {
		master, problem = s.settled()
		if problem == "" && master == not {
			return "the sentinels still name the old master " + not.Addr()
		}
		return problem
	})
	if err != nil {
		return err
	}
	return s.syncReplicas(ctx, master)
}

// Failover makes a replica the master with SENTINEL FAILOVER, which one
// sentinel carries out without asking the others, and returns once every
// running sentinel names the new master and the deployment is settled as
// WaitReady describes, the old master (if running) included: it has become
// a replica of the new one. It works whether the old master is running,
// killed or paused. It gives up when ctx ends, or after 30 seconds if ctx
// has no deadline.
//
// Replication is asynchronous, so before asking for the failover it waits
// until every running replica has acknowledged all that the running old
// master had received: writes acknowledged before Failover was called are
// not lost. Writes made during the call may be: until the sentinels turn
// the old master into a replica, about a second after the switch, it still
// accepts writes that will then be discarded. Tests that must not lose
// acknowledged writes under load block them on the old master first, for
// instance with CONFIG SET min-replicas-to-write. To watch that window,
// send SENTINEL FAILOVER with a sentinel's Do instead.
func (s *Sentinel) Failover(ctx context.Context) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	s.retune()
	var old *Server
	err := s.waitFor(ctx, func() (problem string) {
		old, problem = s.agreedMaster()
		return problem
	})
	if err != nil {
		return err
	}
	if err := s.syncReplicas(ctx, old); err != nil {
		return err
	}
	if err := s.requestFailover(ctx, old); err != nil {
		return err
	}
	return s.waitSettled(ctx, old)
}

// syncReplicas waits until every running node but master has acknowledged
// all that master has received so far. A replica that has just finished
// its initial sync only receives the stream after its first
// acknowledgement, up to a second later, so this is not instant even in a
// settled deployment.
func (s *Sentinel) syncReplicas(ctx context.Context, master *Server) error {
	want := 0
	for _, n := range s.nodes {
		if n != master && n.up() {
			want++
		}
	}
	if want == 0 || !master.up() {
		return nil
	}
	timeout := sentinelTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline)
	}
	c, err := master.dial(timeout)
	if err != nil {
		return fmt.Errorf("redistest: waiting for the replicas of %s: %w", master.Addr(), err)
	}
	defer c.Close()
	// WAIT counts acknowledgements of the connection's own last write; a
	// PUBLISH reaches the replicas without touching any key.
	if _, err := c.do("PUBLISH", "__redistest__:sync", ""); err != nil {
		return fmt.Errorf("redistest: waiting for the replicas of %s: %w", master.Addr(), err)
	}
	for {
		rep, err := c.do("WAIT", strconv.Itoa(want), "100")
		if err != nil {
			return fmt.Errorf("redistest: waiting for the replicas of %s: %w", master.Addr(), err)
		}
		got, _ := strconv.Atoi(rep.str)
		if got >= want {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("redistest: only %d of %d replicas of %s caught up: %w", got, want, master.Addr(), ctx.Err())
		}
	}
}

// requestFailover asks the first running sentinel that answers to fail
// over. A sentinel refuses while no replica looks fit to promote, which is
// often a matter of its next INFO, so that is tried again.
func (s *Sentinel) requestFailover(ctx context.Context, old *Server) error {
	candidate := false
	for _, n := range s.nodes {
		candidate = candidate || (n != old && n.up())
	}
	if !candidate {
		return errors.New("redistest: Failover: no running replica to promote")
	}
	for {
		var err error
		for _, sn := range s.sentinels {
			if !sn.up() {
				continue
			}
			_, err = sn.Do("SENTINEL", "FAILOVER", s.opts.MasterName)
			var se serverError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &se) && strings.HasPrefix(string(se), "INPROG"):
				return nil // a failover already under way will do
			case errors.As(err, &se) && strings.HasPrefix(string(se), "NOGOODSLAVE"):
			case errors.As(err, &se):
				return fmt.Errorf("redistest: Failover: %w", err)
			}
		}
		if err == nil {
			return errors.New("redistest: Failover: no sentinel is running")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: Failover: %w (last answer: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// retune reapplies the short timers, which a restarted sentinel lost.
func (s *Sentinel) retune() {
	for _, sn := range s.sentinels {
		if sn.up() {
			_ = tune(sn) // one that does not answer shows up as a problem
		}
	}
}

// waitFor polls check, which describes what is wrong or returns "".
func (s *Sentinel) waitFor(ctx context.Context, check func() string) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	for {
		problem := check()
		if problem == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: sentinel deployment %q not ready: %s: %w", s.opts.MasterName, problem, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, sentinelTimeout)
}

// agreedMaster is the master every running sentinel names, or what keeps
// them from agreeing.
func (s *Sentinel) agreedMaster() (*Server, string) {
	addr := ""
	for _, sn := range s.sentinels {
		if !sn.up() {
			continue
		}
		a, err := s.masterAddr(sn)
		if err != nil {
			return nil, err.Error()
		}
		if addr != "" && a != addr {
			return nil, fmt.Sprintf("sentinels disagree on the master: %s and %s", addr, a)
		}
		addr = a
	}
	if addr == "" {
		return nil, "no sentinel is running"
	}
	m := s.nodeAt(addr)
	if m == nil {
		return nil, "the sentinels name " + addr + ", which is no node of this deployment"
	}
	return m, ""
}

// settled returns the master and "" once the deployment is settled (see
// WaitReady; catching up is left to syncReplicas), or describes the first
// thing found that keeps it from being so.
func (s *Sentinel) settled() (*Server, string) {
	master, problem := s.agreedMaster()
	if problem == "" {
		problem = s.problemAround(master)
	}
	return master, problem
}

// problemAround checks the nodes and every sentinel against master.
func (s *Sentinel) problemAround(master *Server) string {
	if !master.up() {
		return "the sentinels name " + master.Addr() + ", which is down"
	}
	if r, err := master.role(); err != nil {
		return err.Error()
	} else if r.role != "master" {
		return master.Addr() + " is named master but says it is a " + r.role
	}
	var replicas []*Server
	for _, n := range s.nodes {
		if n == master || !n.up() {
			continue
		}
		replicas = append(replicas, n)
		r, err := n.role()
		if err != nil {
			return err.Error()
		}
		if r.role != "slave" || r.masterPort != master.l.port || r.state != "connected" {
			return fmt.Sprintf("%s is not yet an in-sync replica of %s (role %s, master port %d, state %s)",
				n.Addr(), master.Addr(), r.role, r.masterPort, r.state)
		}
	}
	for _, sn := range s.sentinels {
		if sn.up() {
			if problem := s.sentinelProblem(sn, master, replicas); problem != "" {
				return problem
			}
		}
	}
	return ""
}

// sentinelProblem checks one sentinel's view of the deployment.
func (s *Sentinel) sentinelProblem(sn *Server, master *Server, replicas []*Server) string {
	name := s.opts.MasterName
	rep, err := sn.command("SENTINEL", "MASTER", name)
	if err != nil {
		return err.Error()
	}
	if f := rep.fields(); !healthy(f["flags"], "master") {
		return fmt.Sprintf("sentinel %s flags the master %s", sn.Addr(), f["flags"])
	}
	rep, err = sn.command("SENTINEL", "REPLICAS", name)
	if err != nil {
		return err.Error()
	}
	listed := map[string]map[string]string{}
	for _, e := range rep.elems {
		f := e.fields()
		listed[f["port"]] = f
	}
	for _, n := range replicas {
		f := listed[strconv.Itoa(n.l.port)]
		switch {
		case f == nil:
			return fmt.Sprintf("sentinel %s does not list replica %s yet", sn.Addr(), n.Addr())
		case !healthy(f["flags"], "slave") || f["master-link-status"] != "ok" || f["master-port"] != strconv.Itoa(master.l.port):
			return fmt.Sprintf("sentinel %s sees replica %s with flags %s, master port %s, link %s",
				sn.Addr(), n.Addr(), f["flags"], f["master-port"], f["master-link-status"])
		}
	}
	rep, err = sn.command("SENTINEL", "SENTINELS", name)
	if err != nil {
		return err.Error()
	}
	listed = map[string]map[string]string{}
	for _, e := range rep.elems {
		f := e.fields()
		listed[f["port"]] = f
	}
	for _, other := range s.sentinels {
		if other == sn || !other.up() {
			continue
		}
		if f := listed[strconv.Itoa(other.l.port)]; f == nil || !healthy(f["flags"], "sentinel") {
			return fmt.Sprintf("sentinel %s does not see sentinel %s up yet", sn.Addr(), other.Addr())
		}
	}
	info, err := sn.Do("INFO", "sentinel")
	if err != nil {
		return err.Error()
	}
	if !strings.Contains(info, "sentinel_tilt:0") {
		return "sentinel " + sn.Addr() + " is in TILT mode"
	}
	return ""
}

// healthy reports whether a sentinel's flags for an instance say it is a
// kind (master, slave or sentinel) that is up and not in the middle of a
// failover. Other flags, such as master_down (what another sentinel said
// in the last vote, remembered for a few seconds), do not matter.
func healthy(flags, kind string) bool {
	ok := false
	for _, f := range strings.Split(flags, ",") {
		switch f {
		case kind:
			ok = true
		case "s_down", "o_down", "disconnected", "failover_in_progress", "promoted",
			"reconf_sent", "reconf_inprog", "reconf_done":
			return false
		}
	}
	return ok
}

// roleReply is the part of ROLE's reply the checks need.
type roleReply struct {
	role       string // "master", "slave" or "sentinel"
	masterPort int    // replicas only
	state      string // replicas only: "connected" once in sync
}

func (s *Server) role() (roleReply, error) {
	rep, err := s.command("ROLE")
	if err != nil {
		return roleReply{}, err
	}
	if len(rep.elems) == 0 {
		return roleReply{}, fmt.Errorf("redistest: %s: empty ROLE reply", s.Addr())
	}
	r := roleReply{role: rep.elems[0].str}
	if r.role == "slave" && len(rep.elems) >= 4 {
		r.masterPort, _ = strconv.Atoi(rep.elems[2].str)
		r.state = rep.elems[3].str
	}
	return r, nil
}

// fields reads a flat array of names and values, as SENTINEL MASTER
// answers, into a map.
func (r reply) fields() map[string]string {
	f := make(map[string]string, len(r.elems)/2)
	for i := 0; i+1 < len(r.elems); i += 2 {
		f[r.elems[i].str] = r.elems[i+1].str
	}
	return f
}
