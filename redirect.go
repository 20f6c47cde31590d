package justredis

import (
	"context"
	"strconv"
	"strings"
)

// A reply that reads like a redirection is not always one: a script (or a
// function) may return any error text, "MOVED 3999 10.0.0.2:6379"
// included, after it ran. Following it would run the script again. So a
// redirection is followed only when it fits what the client knows: MOVED
// and ASK must name a valid address and, when the command's keys are
// known, their slot. For a script, the topology must confirm it too: the
// node that said MOVED no longer serves the slot by its own account, the
// node ASK names is importing the slot; and TRYAGAIN and CLUSTERDOWN,
// which the client cannot confirm, are returned as they are.

// followable reports whether c may follow the redirection e (MOVED or ASK,
// from the node from), and where to.
func (cl *cluster) followable(ctx context.Context, c *clusterCmd, class replyClass, e *Error, from *server) (slot int, addr string, ok bool) {
	slot, addr, ok = parseRedirect(e.msg, from.addr)
	if !ok || c.slot >= 0 && slot != c.slot {
		return 0, "", false
	}
	if !c.script {
		return slot, addr, true
	}
	// A script without keys runs wherever it is sent: nothing redirects
	// it.
	if c.slot < 0 || addr == from.addr {
		return 0, "", false
	}
	if class == replyAsk {
		return slot, addr, cl.importing(ctx, cl.p.server(addr), slot)
	}
	return slot, addr, cl.movedAway(ctx, from, slot)
}

// movedAway reports whether from, asked afresh, says it serves slot no
// more, as a node that answered MOVED must. The map it gives is the
// freshest there is: it replaces the client's.
func (cl *cluster) movedAway(ctx context.Context, from *server, slot int) bool {
	m, err := cl.fetch(ctx, from)
	if err != nil {
		return false
	}
	cl.mu.Lock()
	cl.slots.Store(m)
	cl.mu.Unlock()
	return !m.serves(slot, from.addr)
}

// serves reports whether addr is the master or a replica of slot's shard.
func (m *slotMap) serves(slot int, addr string) bool {
	i := m.owner[slot]
	if i == 0 {
		return false
	}
	sh := &m.shards[i-1]
	if sh.master.addr == addr {
		return true
	}
	return sh.hasReplica(addr)
}

// importing reports whether sv says it is importing slot, as the node an
// ASK names must be.
func (cl *cluster) importing(ctx context.Context, sv *server, slot int) bool {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	cn, err := sv.sharedConn(ctx, 0)
	if err != nil {
		return false
	}
	v, err := cn.roundTrip(ctx, [][]any{{"CLUSTER", "NODES"}}, StringDecoder, nil)
	cn.done()
	text, ok := v.(string)
	if err != nil || !ok {
		return false
	}
	// The node's own line lists "[<slot>-<-<source id>]" for each slot it
	// imports.
	mark := "[" + strconv.Itoa(slot) + "-<-"
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.Contains(f[2], "myself") {
			continue
		}
		for _, s := range f[min(8, len(f)):] {
			if strings.HasPrefix(s, mark) {
				return true
			}
		}
		return false
	}
	return false
}

// heard takes in what a reply v to args, from the node from, seen outside
// run (on a Connection, which never follows it), says of the slot map: a
// MOVED updates it, so that the next connection for the slot goes to its
// new owner. A MOVED answer to a script may be the script's own text: it
// only asks for a refresh, whose map is the cluster's own account.
func (cl *cluster) heard(from *server, args []any, v any) {
	class, e := classify(v)
	if class != replyMoved {
		return
	}
	var cmd *command
	if t := cl.p.cmds.Load(); t != nil {
		cmd = t.lookup(args)
	}
	if runsScript(cmd, args) {
		cl.refreshSoon()
		return
	}
	slot, addr, ok := parseRedirect(e.msg, from.addr)
	if !ok {
		return
	}
	if f := finder(cmd); !f.getKeys {
		// The keys, when the client can tell them, must be in the slot
		// named.
		if s, err := f.slot(args, nil); err != nil || s >= 0 && s != slot {
			return
		}
	}
	cl.moved(slot, addr)
}
