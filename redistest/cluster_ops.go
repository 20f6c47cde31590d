package redistest

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// opTimeout bounds how long a cluster operation waits for the cluster to
// converge afterwards.
const opTimeout = 20 * time.Second

// Failover promotes replica to master and waits until every running node
// agrees, the old master, if running, has become a replica, and the cluster
// is healthy again (see WaitHealthy). When the old master is killed or
// paused the replica takes over without it (and without a vote, which a
// small cluster missing a master could not win).
func (c *Cluster) Failover(replica *Server) error {
	me, err := replica.self()
	if err != nil {
		return err
	}
	if !me.flags["slave"] {
		return fmt.Errorf("redistest: Failover: %s is not a replica", replica.Addr())
	}
	old := c.byID(me.master)
	cmd := []string{"CLUSTER", "FAILOVER"}
	if old == nil || !old.up() {
		cmd = append(cmd, "TAKEOVER")
	}
	if _, err := replica.Do(cmd...); err != nil {
		return err
	}
	return c.waitFor(opTimeout, func() string {
		for _, s := range c.nodes {
			if !s.up() {
				continue
			}
			v, err := s.view()
			if err != nil {
				return err.Error()
			}
			if n, ok := findNode(v, me.id); !ok || !n.flags["master"] {
				return s.Addr() + " does not see the new master yet"
			}
			if s == old {
				if self, ok := myself(v); !ok || !self.flags["slave"] {
					return "the old master has not become a replica yet"
				}
			}
		}
		return c.healthProblem()
	})
}

// MoveSlot migrates slot from one master to another the way resharding
// does: IMPORTING and MIGRATING, MIGRATE every key, then SETSLOT NODE on
// the target, the source and every other master. It returns once every
// running node sees the new owner and the cluster is healthy. It also
// completes a migration left half-done by BeginMigration.
func (c *Cluster) MoveSlot(slot int, from, to *Server) error {
	if err := c.BeginMigration(slot, from, to); err != nil {
		return err
	}
	last := ""
	for {
		rep, err := from.command("CLUSTER", "GETKEYSINSLOT", strconv.Itoa(slot), "500")
		if err != nil {
			return err
		}
		keys := rep.strings()
		if len(keys) == 0 {
			break
		}
		if keys[0] == last {
			return fmt.Errorf("redistest: MoveSlot: key %q does not leave %s", last, from.Addr())
		}
		last = keys[0]
		if err := c.migrate(from, to, keys); err != nil {
			return err
		}
	}
	toID, _ := to.nodeID()
	// The target first, so the slot is never without an owner that accepts
	// it; then the source, so it stops answering with ASK.
	targets := []*Server{to, from}
	for _, m := range c.Masters() {
		if m != to && m != from {
			targets = append(targets, m)
		}
	}
	for _, s := range targets {
		if _, err := s.Do("CLUSTER", "SETSLOT", strconv.Itoa(slot), "NODE", toID); err != nil {
			return err
		}
	}
	return c.waitFor(opTimeout, func() string {
		for _, s := range c.nodes {
			if !s.up() {
				continue
			}
			v, err := s.view()
			if err != nil {
				return err.Error()
			}
			if slotOwner(v, slot) != toID {
				return fmt.Sprintf("%s does not see slot %d on %s yet", s.Addr(), slot, to.Addr())
			}
		}
		return c.healthProblem()
	})
}

// BeginMigration starts moving slot from one master to another and stops
// halfway: the target is IMPORTING, the source MIGRATING, and only the
// given keys (which must hash to slot) have moved. Clients then see ASK
// redirections for the moved keys. Finish with MoveSlot.
func (c *Cluster) BeginMigration(slot int, from, to *Server, keys ...string) error {
	if slot < 0 || slot >= numSlots {
		return fmt.Errorf("redistest: slot %d out of range", slot)
	}
	if from == to {
		return errors.New("redistest: source and target are the same node")
	}
	fromID, err := from.nodeID()
	if err != nil {
		return err
	}
	toID, err := to.nodeID()
	if err != nil {
		return err
	}
	if _, err := to.Do("CLUSTER", "SETSLOT", strconv.Itoa(slot), "IMPORTING", fromID); err != nil {
		return err
	}
	if _, err := from.Do("CLUSTER", "SETSLOT", strconv.Itoa(slot), "MIGRATING", toID); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	return c.migrate(from, to, keys)
}

// migrate moves keys with one MIGRATE; REPLACE makes retries harmless.
func (c *Cluster) migrate(from, to *Server, keys []string) error {
	port := to.l.port
	if to.l.tlsPort != 0 {
		port = to.l.tlsPort // tls-cluster makes MIGRATE speak TLS
	}
	args := []string{"MIGRATE", "127.0.0.1", strconv.Itoa(port), "", "0", "10000", "REPLACE"}
	if c.opts.Password != "" {
		args = append(args, "AUTH", c.opts.Password)
	}
	args = append(args, "KEYS")
	_, err := from.Do(append(args, keys...)...)
	return err
}
