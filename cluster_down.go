package justredis

import (
	"context"
	"errors"
)

// This file is what a cluster client does about a master that is down and
// has no replica. A master with replicas may be replaced any moment by a
// failover, which calls wait for, retrying (cluster.go). One with none
// gets its slots back only when it returns, or when an operator gives them
// to another master, so waiting and retrying would hold its callers up for
// nothing: without a deadline, for many seconds.
//
// So while such a master is known to be down, calls for its slots fail at
// once, without a connect, and so do connections of their own for them
// (Connection, Transaction, PushConnection): all but the one that its
// health lets connect for all when the next try is due (health.go: up to
// one a second). When
// that connect fails too, its call waits for a fresh slot map and goes to
// the master the map names if that is another, and fails otherwise. The
// slot map is thus reloaded once per failed connect, not once per call,
// and the first connect after the master's return brings its slots back.

// whyAlone says why calls give up on a master that is down.
const whyAlone = "it is a master with no replica to take over its slots"

// alone reports whether sv is a master in m with no replica.
func (m *slotMap) alone(sv *server) bool {
	for i := range m.shards {
		if m.shards[i].master == sv {
			return len(m.shards[i].replicas) == 0
		}
	}
	return false
}

// shunned returns the error to fail a call to sv with, unsent, when sv is
// a master with no replica, known to be down, whose next connect is not
// due yet; nil when the call is to go ahead.
func (cl *cluster) shunned(sv *server) error {
	if !sv.health.isDown() {
		return nil // the usual case, at the cost of an atomic load
	}
	if sc := sv.leaseShared(connKey{}); sc != nil {
		// A connection of another kind failed to connect; this one holds.
		sc.done()
		return nil
	}
	if !cl.slots.Load().alone(sv) {
		return nil
	}
	return sv.health.notDue(sv, whyAlone)
}

// connectFailed decides about commands for slots (-1: no key) whose
// connect to sv failed with err. It returns the error to fail them with
// when sv is a master with no replica that still serves their slots in a
// fresh slot map, and nil when they are to go again, to where the map now
// says.
func (cl *cluster) connectFailed(ctx context.Context, sv *server, err error, slots []int) error {
	if !cl.slots.Load().alone(sv) {
		return nil
	}
	var notTried *downError
	if errors.As(err, &notTried) {
		return err // not even tried: the connect that was is what refreshed the map
	}
	// On failure the map in hand is the best guess there is.
	_ = cl.refresh(ctx)
	if !cl.slots.Load().alone(sv) {
		return nil
	}
	for _, s := range slots {
		if cl.pick(s, false) != sv {
			return nil
		}
	}
	if down := sv.health.downError(sv, whyAlone+", and the slot map still gives them to it"); down != nil {
		return down
	}
	return err
}
