package justredis

import (
	"context"
	"errors"
	"time"
)

// Replicas in a Sentinel deployment: which the sentinels list as fit,
// which one serves a read (WithReplicaReads), and when a read is left to
// the master instead.

// setReplicas keeps the replicas fit to serve reads.
func (s *sentinel) setReplicas(addrs []string) {
	rs := make([]*server, len(addrs))
	for i, a := range addrs {
		rs[i] = s.p.server(a)
	}
	s.replicas.Store(&rs)
}

// replica picks a replica, in turn, for a command that only reads; nil
// when args writes or blocks, or no replica is known.
func (s *sentinel) replica(args []any) *server {
	t := s.p.cmds.Load()
	if t == nil {
		return nil
	}
	cmd := t.lookup(args)
	if cmd == nil || !cmd.readonly || cmd.blocking {
		return nil
	}
	return s.anyReplica()
}

// replicaForAll is replica for commands sent together: all must read.
func (s *sentinel) replicaForAll(cmds [][]any) *server {
	t := s.p.cmds.Load()
	if t == nil {
		return nil
	}
	for _, args := range cmds {
		cmd := t.lookup(args)
		if cmd == nil || !cmd.readonly || cmd.blocking {
			return nil
		}
	}
	return s.anyReplica()
}

// anyReplica takes the replicas in turn; nil when none is known.
func (s *sentinel) anyReplica() *server {
	rs := s.replicas.Load()
	if rs == nil || len(*rs) == 0 {
		return nil
	}
	return (*rs)[int(s.next.Add(1)%uint32(len(*rs)))]
}

// replicaFailed reports whether a read from the replica sv failed in a
// way that leaves it to the master: the replica could not be reached, or
// is loading or cut off from its master. Reads are safe to send again.
func (s *sentinel) replicaFailed(sv *server, err error) bool {
	if err == nil {
		return false
	}
	if isServerError(err) {
		return unfit(err)
	}
	if !mayRetryElsewhere(err) {
		return false // the context ended, the client was closed, the command was bad
	}
	s.lost(sv)
	return true
}

// unfit reports whether err is a replica's reply that it cannot serve
// reads now.
func unfit(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Prefix() {
	case "LOADING", "MASTERDOWN":
		return true
	}
	return false
}

func unfitReplies(vals []any) bool {
	for _, v := range vals {
		if e, ok := v.(*Error); ok && unfit(e) {
			return true
		}
	}
	return false
}

// refreshSoon asks the sentinels again in the background, a second from
// now, for the replicas (and whether the master is still the one in use):
// a replica that was lost comes back when they list it as fit again.
func (s *sentinel) refreshSoon() {
	if !s.refreshing.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.refreshing.Store(false)
		if sleep(s.ctx, time.Second) != nil {
			return
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.timeout())
		defer cancel()
		v, err := s.lookup(ctx)
		if err != nil {
			return
		}
		s.setReplicas(v.replicas)
		s.learn(v)
		if cur := s.cur.Load(); cur != nil && cur.addr != v.master {
			s.cur.CompareAndSwap(cur, nil)
		}
	}()
}
