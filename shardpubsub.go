package justredis

import (
	"bytes"
	"context"
	"errors"
)

// Sharded pub/sub in a cluster: a PushConnection is one server connection,
// so it lives on the node that owns the slot of its shard channels, and
// follows that slot when it moves.

// errShardMoved ends a push connection whose shard channels' slot moved;
// it connects again to the new owner and subscribes there.
var errShardMoved = errors.New("the slot of its shard channels moved to another node")

// routeKeys are the keys that choose a push connection's node in a
// cluster: a shard channel when there are any (the first in order, so the
// choice is stable), else the keys given to PushConnection. Shard channels
// in other slots can be served only if the same node owns them.
func (ps *pushState) routeKeys() []string {
	ps.wmu.Lock()
	defer ps.wmu.Unlock()
	if len(ps.subs[subShards]) == 0 {
		return ps.keys
	}
	return sortedKeys(ps.subs[subShards])[:1]
}

// shardMoved reports whether a frame the push connection received says
// that the slot it was routed by now lives elsewhere: a MOVED refusal of
// SSUBSCRIBE, or an SUNSUBSCRIBE the server sent of its own accord, as a
// node does for the shard channels of a slot it gives away. The slot map is
// brought up to date first, so that connecting again finds the new owner.
// A MOVED it follows is not the user's news: the reader drops it, and the
// user sees the SSUBSCRIBE confirmed by the new owner instead.
func (ps *pushState) shardMoved(frame []byte) bool {
	cl, ok := ps.p.router().(*cluster)
	if !ok {
		return false // shard channels move with slots in a cluster only
	}
	if frame[0] != byte(KindError) && !bytes.Contains(frame, []byte("sunsubscribe")) {
		return false // the common case, told without decoding
	}
	route := ps.routeSlot
	// The slot a new connection would be routed by: it differs from route
	// when the connection was made before any shard channel (the first
	// SSUBSCRIBE may have gone to the wrong node), or for keys of another
	// slot than the channels'.
	next := -1
	if keys := ps.routeKeys(); len(keys) > 0 {
		next = hashSlot(keys[0])
	}
	if route < 0 {
		route = next
	}
	if route < 0 {
		return false
	}
	msg, _ := decodeMessage(frame, StringDecoder)
	switch msg.Kind {
	case "error":
		class, e := classify(msg.Data)
		if class != replyMoved {
			return false
		}
		// Only SSUBSCRIBE is answered MOVED on a push connection: it is
		// the cluster's word, and the map learns from it either way.
		slot, addr, ok := parseRedirect(e.msg, ps.addrText())
		if !ok {
			return false
		}
		cl.moved(slot, addr)
		return slot == route || slot == next
	case "sunsubscribe":
		if hashSlot(msg.Channel) != route {
			return false
		}
		ps.wmu.Lock()
		_, wanted := ps.subs[subShards][msg.Channel]
		ps.wmu.Unlock()
		if !wanted {
			return false // the user's own SUNSUBSCRIBE
		}
		ctx, cancel := context.WithTimeout(ps.ctx, refreshTimeout)
		defer cancel()
		cl.refresh(ctx) // on failure the map may still be right
		return true
	}
	return false
}
