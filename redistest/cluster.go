package redistest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// numSlots is the size of Redis Cluster's key space.
const numSlots = 16384

// Cluster is a Redis Cluster of servers started by redistest. It is built
// without redis-cli, so the only requirement is the same redis-server the
// single-server helpers use.
type Cluster struct {
	nodes []*Server
	opts  Options
}

// StartCluster starts a cluster with the given number of masters, each with
// replicasPerMaster replicas, and waits until it is healthy and every
// replica is in sync. The slots are split evenly across the masters. The
// cluster is removed when the test finishes; the test fails if it cannot be
// built.
//
// Every node gets opts. With TLS all nodes share one CA, so one TLSConfig
// reaches them all, and the cluster bus and replication use TLS as well:
// clients connected over TLS are redirected to TLS ports, plain clients to
// plain ports.
func StartCluster(t testing.TB, masters, replicasPerMaster int, opts Options) *Cluster {
	t.Helper()
	c, err := StartClusterServer(masters, replicasPerMaster, opts)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range c.nodes {
				t.Logf("redis-server %s log tail:\n%s", s.Addr(), s.logTail(10))
			}
		}
		if err := c.Close(); err != nil {
			t.Errorf("redistest: stopping the cluster: %v", err)
		}
	})
	return c
}

// StartClusterServer is StartCluster for code without a testing.TB. The
// caller must call Close.
func StartClusterServer(masters, replicasPerMaster int, opts Options) (*Cluster, error) {
	if masters < 1 || replicasPerMaster < 0 {
		return nil, fmt.Errorf("redistest: a cluster needs at least one master and no negative replica count, got %d and %d", masters, replicasPerMaster)
	}
	if masters > numSlots {
		return nil, fmt.Errorf("redistest: %d masters is more than there are slots", masters)
	}
	cfg := nodeConfig{opts: opts, cluster: true}
	if opts.tls() {
		ca, err := newAuthority()
		if err != nil {
			return nil, err
		}
		cfg.ca = ca
	}
	for attempt := 1; ; attempt++ {
		c := &Cluster{nodes: make([]*Server, masters*(1+replicasPerMaster)), opts: opts}
		if err := c.startNodes(cfg); err != nil {
			c.Close()
			return nil, err
		}
		err := c.build(masters, replicasPerMaster)
		if err == nil {
			return c, nil
		}
		c.Close()
		if !errors.Is(err, errStrayMeet) || attempt == 3 {
			return nil, fmt.Errorf("redistest: building the cluster: %w", err)
		}
	}
}

// errStrayMeet is why a new node knew other nodes before it was introduced
// to any: a node of another cluster (of another test binary, which picks
// its ports on its own) had a peer on this port that died, and when a node
// of that cluster hears of the peer again by gossip it greets whatever
// listens there with MEET, which makes it join. The build starts again on
// fresh ports.
var errStrayMeet = errors.New("a node was met by a node of another cluster before the build introduced it to any")

// startNodes starts all nodes at once; containers especially start much
// faster side by side.
func (c *Cluster) startNodes(cfg nodeConfig) error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.nodes[i], errs[i] = startNode(cfg)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// build does by hand what redis-cli --cluster create does: distinct config
// epochs, slots to the masters, MEET, then REPLICATE.
func (c *Cluster) build(masters, replicasPerMaster int) error {
	for i, s := range c.nodes {
		if _, err := s.nodeID(); err != nil {
			return err
		}
		// Distinct epochs spare the cluster its epoch collision dance.
		if _, err := s.Do("CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1)); err != nil {
			if strings.Contains(err.Error(), "does not know any other node") {
				return fmt.Errorf("%w: %s: %v", errStrayMeet, s.Addr(), err)
			}
			return err
		}
	}
	for i, s := range c.nodes[:masters] {
		lo, hi := i*numSlots/masters, (i+1)*numSlots/masters-1
		if _, err := s.Do("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi)); err != nil {
			return err
		}
	}
	for _, s := range c.nodes[1:] {
		if _, err := c.nodes[0].Do("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(s.l.port), strconv.Itoa(s.l.busPort)); err != nil {
			return err
		}
	}
	// A replica can only follow a master it already knows.
	if err := c.waitFor(20*time.Second, c.allKnown); err != nil {
		return err
	}
	for i, s := range c.nodes[masters:] {
		masterID, _ := c.nodes[i/replicasPerMaster].nodeID()
		if _, err := s.Do("CLUSTER", "REPLICATE", masterID); err != nil {
			return err
		}
	}
	return c.WaitHealthy(30 * time.Second)
}

// nodeID returns the node's cluster ID, asked once: it lives in nodes.conf,
// which survives restarts.
func (s *Server) nodeID() (string, error) {
	s.idOnce.Do(func() { s.id, s.idErr = s.Do("CLUSTER", "MYID") })
	return s.id, s.idErr
}

// Nodes returns every node, masters first in the order they were created,
// then their replicas. After Failover the roles may differ; ask Masters and
// Replicas for the current ones.
func (c *Cluster) Nodes() []*Server { return append([]*Server(nil), c.nodes...) }

// Addrs returns the plain TCP addresses of all nodes, in Nodes order.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		addrs[i] = s.Addr()
	}
	return addrs
}

// URL is a redis:// URL listing every node as a seed, e.g.
// "redis://127.0.0.1:7000,127.0.0.1:7001", with the password when set.
func (c *Cluster) URL() string { return redisURL(c.opts.Password, c.Addrs()...) }

// Masters returns the nodes that currently say they are masters, asking
// each node rather than trusting how the cluster was built. Nodes that are
// killed, paused or not answering are left out.
func (c *Cluster) Masters() []*Server { return c.withRole("master") }

// Replicas returns the nodes that currently say they are replicas; see
// Masters.
func (c *Cluster) Replicas() []*Server { return c.withRole("slave") }

func (c *Cluster) withRole(role string) []*Server {
	var out []*Server
	for _, s := range c.nodes {
		if !s.up() {
			continue
		}
		if me, err := s.self(); err == nil && me.flags[role] {
			out = append(out, s)
		}
	}
	return out
}

// view is the node's CLUSTER NODES output, parsed.
func (s *Server) view() ([]clusterNode, error) {
	text, err := s.Do("CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	return parseClusterNodes(text)
}

func (s *Server) self() (clusterNode, error) {
	v, err := s.view()
	if err != nil {
		return clusterNode{}, err
	}
	if me, ok := myself(v); ok {
		return me, nil
	}
	return clusterNode{}, fmt.Errorf("%s: no myself line in CLUSTER NODES", s.Addr())
}

// byID finds the node with the given cluster ID.
func (c *Cluster) byID(id string) *Server {
	for _, s := range c.nodes {
		if sid, err := s.nodeID(); err == nil && sid == id {
			return s
		}
	}
	return nil
}

// Close stops and removes every node; it is safe to call more than once.
func (c *Cluster) Close() error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, s := range c.nodes {
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Close()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
