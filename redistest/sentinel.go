package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Sentinel is a Redis Sentinel deployment started by redistest: a master,
// its replicas and the sentinels that monitor them, each a real
// redis-server (sentinels run it with --sentinel). Which node is the master
// changes with failovers; Master asks the sentinels.
type Sentinel struct {
	opts      SentinelOptions // with defaults filled in
	nodes     []*Server       // the first master, then the replicas
	sentinels []*Server
}

// StartSentinel starts a Sentinel deployment for the test and waits until
// it is ready (see WaitReady). It is removed when the test finishes; the
// test fails if it cannot be started.
//
//	d := redistest.StartSentinel(t, redistest.SentinelOptions{Replicas: 2})
//	// point a client at d.MasterName() and d.SentinelAddrs() ...
//	err := d.Failover(ctx) // a replica is now the master
func StartSentinel(t testing.TB, opts SentinelOptions) *Sentinel {
	t.Helper()
	s, err := StartSentinelDeployment(opts)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range s.all() {
				t.Logf("redis-server %s log tail:\n%s", n.Addr(), n.logTail(10))
			}
		}
		if err := s.Close(); err != nil {
			t.Errorf("redistest: stopping the sentinel deployment: %v", err)
		}
	})
	return s
}

// StartSentinelDeployment is StartSentinel for code without a testing.TB,
// such as examples and tours. The caller must call Close.
func StartSentinelDeployment(opts SentinelOptions) (*Sentinel, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sentinel{opts: opts}
	master, err := startNode(nodeConfig{opts: opts.Server, extra: opts.dataDirectives(0)})
	if err != nil {
		return nil, err
	}
	s.nodes = []*Server{master}
	if err := s.startRest(master.l.port); err != nil {
		s.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), sentinelTimeout)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// startRest starts the replicas and the sentinels side by side: all they
// need is the master's port.
func (s *Sentinel) startRest(masterPort int) error {
	replicas := make([]*Server, s.opts.Replicas)
	sentinels := make([]*Server, s.opts.Sentinels)
	errs := make([]error, len(replicas)+len(sentinels))
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replicas[i], errs[i] = startNode(nodeConfig{opts: s.opts.Server, extra: s.opts.dataDirectives(masterPort)})
		}()
	}
	for i := range sentinels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sn, err := startNode(nodeConfig{opts: s.opts.sentinelServer(), extra: s.opts.sentinelDirectives(masterPort), sentinel: true})
			if err == nil {
				err = tune(sn)
			}
			sentinels[i], errs[len(replicas)+i] = sn, err
		}()
	}
	wg.Wait()
	// Keep whatever started, so Close removes it.
	for _, n := range replicas {
		if n != nil {
			s.nodes = append(s.nodes, n)
		}
	}
	for _, n := range sentinels {
		if n != nil {
			s.sentinels = append(s.sentinels, n)
		}
	}
	return errors.Join(errs...)
}

// MasterName is the name the sentinels know the master by, as a client
// asks for it with SENTINEL GET-MASTER-ADDR-BY-NAME.
func (s *Sentinel) MasterName() string { return s.opts.MasterName }

// SentinelAddrs returns every sentinel's address, "127.0.0.1:port", in
// Sentinels order, including sentinels that were killed: the list a client
// is configured with.
func (s *Sentinel) SentinelAddrs() []string {
	addrs := make([]string, len(s.sentinels))
	for i, sn := range s.sentinels {
		addrs[i] = sn.Addr()
	}
	return addrs
}

// Sentinels returns the sentinels, so a test can Kill, Pause or Restart
// one, or send it commands with Do. A restarted sentinel keeps what it
// knew: sentinels save their state in their config file.
func (s *Sentinel) Sentinels() []*Server { return append([]*Server(nil), s.sentinels...) }

// Nodes returns the master and every replica in the order they were
// created, the first master first. After a failover the roles differ; ask
// Master and Replicas for the current ones.
func (s *Sentinel) Nodes() []*Server { return append([]*Server(nil), s.nodes...) }

// Master returns the node the sentinels currently name as master, asking
// the first running sentinel that answers. It is nil when none answers or
// none knows the master. Right after a failover the sentinels may name a
// master that still has to take over; Failover and WaitReady return once
// they all agree and the master has.
func (s *Sentinel) Master() *Server {
	for _, sn := range s.sentinels {
		if !sn.up() {
			continue
		}
		if addr, err := s.masterAddr(sn); err == nil {
			return s.nodeAt(addr)
		}
	}
	return nil
}

// Replicas returns the nodes that currently say they are replicas (ROLE),
// in Nodes order. Nodes that are killed, paused or not answering are left
// out.
func (s *Sentinel) Replicas() []*Server {
	var out []*Server
	for _, n := range s.nodes {
		if !n.up() {
			continue
		}
		if r, err := n.role(); err == nil && r.role == "slave" {
			out = append(out, n)
		}
	}
	return out
}

// Close stops and removes every sentinel and node; it is safe to call more
// than once.
func (s *Sentinel) Close() error {
	// Sentinels go first so they do not start failing over a master that
	// is being removed.
	return errors.Join(closeAll(s.sentinels), closeAll(s.nodes))
}

func closeAll(servers []*Server) error {
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, n := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.Close()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Sentinel) all() []*Server { return append(s.Nodes(), s.sentinels...) }

// nodeAt finds the node with the given address.
func (s *Sentinel) nodeAt(addr string) *Server {
	for _, n := range s.nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// masterAddr asks one sentinel where the master is.
func (s *Sentinel) masterAddr(sn *Server) (string, error) {
	rep, err := sn.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.opts.MasterName)
	if err != nil {
		return "", err
	}
	if rep.null || len(rep.elems) != 2 {
		return "", fmt.Errorf("redistest: sentinel %s does not know master %q", sn.Addr(), s.opts.MasterName)
	}
	return net.JoinHostPort(rep.elems[0].str, rep.elems[1].str), nil
}

// sentinelTimeout bounds start-up, and waits whose context has no
// deadline, so a broken deployment fails a test rather than hanging it.
const sentinelTimeout = 30 * time.Second
