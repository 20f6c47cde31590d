package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WaitHealthy waits until every node that should be up (not killed, paused
// or closed through redistest) reports cluster_state:ok, all of them agree
// on the slot map and on who replicates whom, none flags another as failing,
// and every replica's link to its master is up. It returns what was still
// wrong when timeout expires.
func (c *Cluster) WaitHealthy(timeout time.Duration) error {
	return c.waitFor(timeout, c.healthProblem)
}

// waitFor polls check, which describes what is wrong or returns "".
func (c *Cluster) waitFor(timeout time.Duration, check func() string) error {
	deadline := time.Now().Add(timeout)
	for {
		problem := check()
		if problem == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: cluster not ready after %v: %s", timeout, problem)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// allKnown reports whether every node has completed the handshake with
// every other node.
func (c *Cluster) allKnown() string {
	for _, s := range c.nodes {
		v, err := s.view()
		if err != nil {
			return err.Error()
		}
		if len(v) != len(c.nodes) {
			return fmt.Sprintf("%s knows %d of %d nodes", s.Addr(), len(v), len(c.nodes))
		}
		for _, n := range v {
			if n.flags["handshake"] || n.flags["noaddr"] {
				return fmt.Sprintf("%s is still in handshake with port %d", s.Addr(), n.port)
			}
		}
	}
	return ""
}

func (c *Cluster) healthProblem() string {
	up := map[int]bool{}
	for _, s := range c.nodes {
		if s.up() {
			up[s.l.port] = true
		}
	}
	first := ""
	for _, s := range c.nodes {
		if !up[s.l.port] {
			continue
		}
		info, err := s.Do("CLUSTER", "INFO")
		if err != nil {
			return err.Error()
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return s.Addr() + " reports cluster_state other than ok"
		}
		v, err := s.view()
		if err != nil {
			return err.Error()
		}
		m := topology(v, up)
		if first == "" {
			first = m
		} else if m != first {
			return s.Addr() + " disagrees about slots or replicas"
		}
		for _, n := range v {
			if up[n.port] && (n.flags["fail"] || n.flags["fail?"] || n.flags["handshake"] || n.flags["noaddr"]) {
				return fmt.Sprintf("%s still flags port %d as failing", s.Addr(), n.port)
			}
		}
		if problem := s.slotsProblem(v, up); problem != "" {
			return problem
		}
		if me, ok := myself(v); ok && me.flags["slave"] {
			repl, err := s.Do("INFO", "replication")
			if err != nil {
				return err.Error()
			}
			if !strings.Contains(repl, "master_link_status:up") {
				return s.Addr() + " has no replication link to its master yet"
			}
		}
	}
	return ""
}

// slotsProblem checks that the node's CLUSTER SLOTS, which is what cluster
// clients route by, lists every running replica of a master that serves
// slots. Redis 7 leaves a replica out until the node has heard, by gossip,
// of the replica's replication offset, which lags behind CLUSTER NODES.
func (s *Server) slotsProblem(view []clusterNode, up map[int]bool) string {
	want := map[int]bool{}
	for _, n := range view {
		if !n.flags["slave"] || !up[n.port] {
			continue
		}
		if m, ok := findNode(view, n.master); ok && len(m.slots) > 0 && up[m.port] {
			want[n.port] = true
		}
	}
	rep, err := s.command("CLUSTER", "SLOTS")
	if err != nil {
		return err.Error()
	}
	listed := map[int]bool{}
	for _, r := range rep.elems {
		for _, node := range r.elems[min(3, len(r.elems)):] {
			if len(node.elems) > 1 {
				port, _ := strconv.Atoi(node.elems[1].str)
				listed[port] = true
			}
		}
	}
	for port := range want {
		if !listed[port] {
			return fmt.Sprintf("%s does not list replica port %d in CLUSTER SLOTS yet", s.Addr(), port)
		}
	}
	return ""
}
