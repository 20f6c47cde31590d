package justredis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sharded pub/sub in a cluster. A PushConnection is one server connection,
// so all its shard channels must be served by one node, the one it is
// connected to. Connections to several nodes behind one PushConnection
// would make it a pool, with reconnects, buffers and an order of messages
// per node to define; a second PushConnection does that plainly. So:
//
//   - SSUBSCRIBE of a channel that the slot map places on another node than
//     the connection's other shard channels is refused before it is sent.
//     If the map was out of date and the server answers MOVED, it is
//     refused then, through NextMessage. Either way, nothing that works is
//     given up for it.
//   - A connection without shard channels goes where its SSUBSCRIBE is
//     served, following MOVED.
//   - When a slot moves, its node drops the subscriptions to its shard
//     channels (an SUNSUBSCRIBE the user did not send). If some of the
//     connection's shard channels stay on the node, the connection stays
//     too, and gives up those that moved, with an error through
//     NextMessage; if none stays, it follows them to their new node, and
//     any on yet another node are refused there the same way.

// errShardMoved ends a push connection that follows its shard channels; it
// connects again to their node and subscribes there.
var errShardMoved = errors.New("the slot of its shard channels moved to another node")

// clientErrorFrame begins a queued frame that is an error of the client's
// own, not the server's: the rest is its text.
const clientErrorFrame = 0

// lostFrame begins a queued frame that stands for a reply lost with its
// connection: the rest is the address, a NUL, and what happened.
const lostFrame = 1

// pushError queues an error of the client's own, for NextMessage.
func (ps *pushState) pushError(msg string) {
	ps.push(append([]byte{clientErrorFrame}, msg...))
}

// pushLost queues, for NextMessage, a network error in place of a reply
// that the connection in use took with it when it broke.
func (ps *pushState) pushLost(msg string) {
	f := append([]byte{lostFrame}, ps.addrText()...)
	ps.push(append(append(f, 0), msg...))
}

// routeKeys are the keys that choose a push connection's node in a
// cluster: a shard channel when there are any, else the keys given to
// PushConnection. It is one that the node last connected to still serves,
// if any does, so that a reconnect keeps what works; else the first by
// name, so that the choice is stable.
func (ps *pushState) routeKeys() []string {
	ps.smu.Lock()
	defer ps.smu.Unlock()
	if len(ps.want.subs[subShards]) == 0 {
		return ps.keys
	}
	chans := sortedKeys(ps.want.subs[subShards])
	if cl, ok := ps.p.router().(*cluster); ok {
		m, cur := cl.slots.Load(), ps.addrText()
		for _, ch := range chans {
			if m.masterAddr(hashSlot(ch)) == cur {
				return []string{ch}
			}
		}
	}
	return chans[:1]
}

// shardCheck refuses an SSUBSCRIBE of a channel that the slot map places
// on another node than the connection's other shard channels. wmu is held.
func (ps *pushState) shardCheck(args []string) error {
	cl, ok := ps.p.router().(*cluster)
	if !ok {
		return nil
	}
	ps.smu.Lock()
	var others []string
	for ch := range ps.want.subs[subShards] {
		if !slices.Contains(args[1:], ch) {
			others = append(others, ch)
		}
	}
	ps.smu.Unlock()
	if len(others) == 0 {
		return nil
	}
	slices.Sort(others)
	m, cur := cl.slots.Load(), ps.addrText()
	node := m.masterAddr(hashSlot(others[0]))
	for _, ch := range others {
		if m.masterAddr(hashSlot(ch)) == cur {
			node = cur
			break
		}
	}
	if node == "" {
		return nil // the server will say
	}
	for _, ch := range args[1:] {
		slot := hashSlot(ch)
		if addr := m.masterAddr(slot); addr != "" && addr != node {
			return invalidArg(fmt.Sprintf("SSUBSCRIBE %q: its slot %d is served by %s, but this PushConnection's shard channels (%s) are on %s, and a PushConnection is one connection to one node: subscribe to it on a second PushConnection", ch, slot, addr, nameList(others), node))
		}
	}
	return nil
}

// shardRedirected decides what to do about a MOVED answer to the
// SSUBSCRIBE e: follow it (connect again) when the connection has no shard
// channel that works where it is and all it wants are served where MOVED
// points; else refuse e, with the error to give the user ("" for the
// server's own). smu is held.
func (ps *pushState) shardRedirected(e *pushEntry, text string) (follow bool, why string) {
	cl, ok := ps.p.router().(*cluster)
	if !ok {
		return false, ""
	}
	cur := ps.addrText()
	slot, addr, ok := parseRedirect(text, cur)
	if !ok {
		return false, ""
	}
	cl.moved(slot, addr) // the map learns either way
	m := cl.slots.Load()
	if ps.route.endpoint == "" && len(ps.base.subs[subShards]) == 0 {
		follow = true
		for ch := range ps.want.subs[subShards] {
			if m.masterAddr(hashSlot(ch)) != addr {
				follow = false
				break
			}
		}
		if follow {
			return true, ""
		}
	}
	var others []string
	for _, set := range []map[string]struct{}{ps.base.subs[subShards], ps.want.subs[subShards]} {
		for ch := range set {
			if !slices.Contains(e.args[1:], ch) && !slices.Contains(others, ch) {
				others = append(others, ch)
			}
		}
	}
	slices.Sort(others)
	why = fmt.Sprintf("SSUBSCRIBE %s: its slot %d is served by %s (MOVED), not by %s", nameList(e.args[1:]), slot, addr, cur)
	switch {
	case ps.route.endpoint != "":
		why += ", to which this PushConnection is bound by WithEndpoint"
	case len(others) > 0:
		why += fmt.Sprintf(", where this PushConnection has its other shard channels (%s), and a PushConnection is one connection to one node: subscribe to it on a second PushConnection", nameList(others))
	}
	return false, why
}

// shardUnsubscribed takes in an SUNSUBSCRIBE that does not confirm the
// user's own, of a shard channel the connection wants: the node gave up
// the channel's slot. It reports whether to connect again, to follow the
// shard channels to their new node.
func (ps *pushState) shardUnsubscribed(frame []byte) (reconnect bool) {
	cl, ok := ps.p.router().(*cluster)
	if !ok || !bytes.Contains(frame, []byte("sunsubscribe")) {
		return false // the common case, told without decoding
	}
	msg, _ := decodeMessage(frame, StringDecoder, ps.p.s.password)
	if msg.Kind != "sunsubscribe" {
		return false
	}
	ps.smu.Lock()
	_, wanted := ps.want.subs[subShards][msg.Channel]
	ps.smu.Unlock()
	if !wanted {
		return false // an SUNSUBSCRIBE of it is in flight: it goes anyway
	}
	ctx, cancel := context.WithTimeout(ps.ctx, refreshTimeout)
	cl.refresh(ctx) // on failure the map may still be right
	cancel()
	m, cur := cl.slots.Load(), ps.addrText()
	if to := m.masterAddr(hashSlot(msg.Channel)); to == "" || to == cur {
		return true // the map lags: connect again, and the server will say
	}
	ps.smu.Lock()
	var stay, gone []string
	for ch := range ps.want.subs[subShards] {
		if m.masterAddr(hashSlot(ch)) == cur {
			stay = append(stay, ch)
		} else {
			gone = append(gone, ch)
		}
	}
	if len(stay) == 0 {
		ps.smu.Unlock()
		return true // they all moved: follow them
	}
	for _, ch := range gone {
		delete(ps.want.subs[subShards], ch)
		delete(ps.base.subs[subShards], ch)
	}
	ps.smu.Unlock()
	slices.Sort(stay)
	slices.Sort(gone)
	where := make([]string, len(gone))
	for i, ch := range gone {
		slot := hashSlot(ch)
		where[i] = fmt.Sprintf("%q (slot %d, now on %s)", ch, slot, m.masterAddr(slot))
	}
	if len(where) > 3 {
		where = append(where[:3], fmt.Sprintf("%d more", len(gone)-3))
	}
	ps.pushError(fmt.Sprintf("shard channels given up: %s: their slots moved away from %s, which serves this PushConnection's other shard channels (%s), and a PushConnection is one connection to one node: subscribe to them on a second PushConnection", strings.Join(where, ", "), cur, nameList(stay)))
	return false
}

// nameList shows a few names, quoted, for an error message.
func nameList(names []string) string {
	const shown = 3
	var b strings.Builder
	for i, n := range names {
		if i == shown {
			fmt.Fprintf(&b, " and %d more", len(names)-shown)
			break
		}
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	return b.String()
}
