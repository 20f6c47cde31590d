package justredis

import (
	"context"
	"net"
	"slices"
	"strings"
)

// This file is what CLUSTER NODES adds to the slot map: the nodes that
// CLUSTER SLOTS leaves out, because they serve no slot. A master just
// added (CLUSTER MEET, before resharding) or emptied by a resharding is a
// node of the cluster all the same: Endpoints lists it, Masters runs on
// it, and its connections are not closed as those of a node gone.

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id       string
	ip       string // "" when the node does not know its own
	port     string
	hostname string // as the node announces it, "" for none
	flags    []string
	master   string // the id of its master, for a replica
}

func (n *clusterNode) has(flag string) bool { return slices.Contains(n.flags, flag) }

// listed reports whether a node CLUSTER SLOTS leaves out belongs in the
// node list. Not a failed node ("fail"), nor one the answering node
// cannot reach ("fail?"): a client would only time out on it, and a
// master killed and replaced would otherwise stay listed as a master
// until its failure is agreed on. Not a node still in handshake, whose
// id is not final and which may never join, nor one without an address,
// which nobody can dial. (The nodes CLUSTER SLOTS lists stay, failing or
// not: they serve slots.)
func (n *clusterNode) listed() bool {
	return !n.has("fail") && !n.has("fail?") && !n.has("handshake") && !n.has("noaddr")
}

// parseClusterNodes reads the text of CLUSTER NODES, one node a line:
//
//	<id> <ip:port@cport[,hostname[,aux=value...]]> <flags> <master> ...
//
// A line it cannot read is skipped: the node list is a best effort, never
// a reason to refuse a slot map.
func parseClusterNodes(text string) []clusterNode {
	var out []clusterNode
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		hostPort, rest, _ := strings.Cut(f[1], "@")
		i := strings.LastIndexByte(hostPort, ':')
		if i < 0 {
			continue
		}
		n := clusterNode{id: f[0], ip: hostPort[:i], port: hostPort[i+1:], flags: strings.Split(f[2], ",")}
		// Since Redis 7.2, auxiliary fields (shard-id=...) follow the
		// hostname, which may then be empty.
		if _, aux, ok := strings.Cut(rest, ","); ok {
			if name, _, _ := strings.Cut(aux, ","); !strings.Contains(name, "=") {
				n.hostname = name
			}
		}
		if f[3] != "-" {
			n.master = f[3]
		}
		out = append(out, n)
	}
	return out
}

// slotNames returns, for each node a CLUSTER SLOTS reply (already read by
// parseSlotMap) lists, the host it gave, raw, and the address the slot
// map dials it by.
func slotNames(v any, fromHost string) map[string][2]string {
	out := map[string][2]string{}
	entries, _ := v.([]any)
	for _, e := range entries {
		f, _ := e.([]any)
		for _, nd := range f[min(2, len(f)):] {
			g, _ := nd.([]any)
			if len(g) < 3 {
				continue
			}
			id, _ := g[2].(string)
			host, _ := g[0].(string)
			if addr, ok := nodeAddr(nd, fromHost); ok && id != "" {
				out[id] = [2]string{host, addr}
			}
		}
	}
	return out
}

// naming is how the node that answered names the nodes in CLUSTER SLOTS:
// by IP, by announced hostname, or not at all (its
// cluster-preferred-endpoint-type). The nodes CLUSTER SLOTS leaves out
// are named the same way, so that a node has one address, whichever list
// the client learnt it from.
type naming int

const (
	byIP naming = iota
	byHostname
	byAskedHost // an unknown endpoint: the host the client asked
)

// namingOf tells how slots (from slotNames) names the nodes of nodes,
// from a node both list.
func namingOf(slots map[string][2]string, nodes []clusterNode) naming {
	for _, n := range nodes {
		name, ok := slots[n.id]
		switch {
		case !ok:
			continue
		case name[0] == "":
			return byAskedHost
		case n.hostname != "" && name[0] == n.hostname && name[0] != n.ip:
			return byHostname
		}
		return byIP
	}
	return byIP
}

// addr is n's address named as w says, false when it has none: CLUSTER
// SLOTS would say "?", and nodeAddr would skip it.
func (w naming) addr(n *clusterNode, fromHost string) (string, bool) {
	host := n.ip
	switch w {
	case byHostname:
		host = n.hostname
		if host == "" {
			return "", false
		}
	case byAskedHost:
		host = ""
	}
	if host == "" {
		host = fromHost
	}
	if n.port == "" || n.port == "0" {
		return "", false
	}
	return net.JoinHostPort(host, n.port), true
}

// idleShards lists the nodes of a CLUSTER NODES reply that the CLUSTER
// SLOTS reply, from the same node in the same round trip, leaves out: each
// master that serves no slot with its replicas, and replicas CLUSTER SLOTS
// does not show (not yet in sync) under their master. A replica whose
// master is not listed has a shard with no master.
func idleShards(p *pool, slots any, text, from string) []shard {
	fromHost, _, _ := net.SplitHostPort(from)
	named := slotNames(slots, fromHost)
	nodes := parseClusterNodes(text)
	how := namingOf(named, nodes)
	var out []shard
	byMaster := map[string]int{} // master's id to index in out
	add := func(id string, master *server) int {
		if i, ok := byMaster[id]; ok {
			return i
		}
		byMaster[id] = len(out)
		out = append(out, shard{master: master})
		return len(out) - 1
	}
	for i := range nodes {
		n := &nodes[i]
		if _, ok := named[n.id]; ok || n.master != "" || !n.listed() || !n.has("master") {
			continue
		}
		if addr, ok := how.addr(n, fromHost); ok {
			add(n.id, p.server(addr))
		}
	}
	for i := range nodes {
		n := &nodes[i]
		if _, ok := named[n.id]; ok || n.master == "" || !n.listed() {
			continue
		}
		addr, ok := how.addr(n, fromHost)
		if !ok {
			continue
		}
		var master *server
		if name, ok := named[n.master]; ok {
			master = p.server(name[1])
		}
		sh := &out[add(n.master, master)]
		sh.replicas = append(sh.replicas, p.server(addr))
	}
	// CLUSTER NODES comes in no order that lasts from one node to the
	// next: sort, so that Endpoints keeps its order between refreshes.
	for i := range out {
		slices.SortFunc(out[i].replicas, func(a, b *server) int { return strings.Compare(a.addr, b.addr) })
	}
	slices.SortFunc(out, func(a, b shard) int {
		return strings.Compare(shardKey(a), shardKey(b))
	})
	return out
}

// shardKey sorts idle shards by master, those without one last.
func shardKey(sh shard) string {
	if sh.master == nil {
		return "\xff" + sh.replicas[0].addr
	}
	return sh.master.addr
}

// member reports whether addr is a node of the cluster as a master it
// knows sees it now, CLUSTER NODES listing every node: the slot map
// misses any node that joined since the last refresh, and a failed node,
// which Endpoints leaves out, may be what a user names to look into it.
// The question goes to a node the client knows, never to addr.
func (c *slotKeeper) member(ctx context.Context, addr string) (bool, error) {
	sv := c.slots.Load().anyMaster()
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	cn, err := sv.sharedConn(ctx, 0)
	if err != nil {
		return false, err
	}
	v, err := cn.roundTrip(ctx, [][]any{{"CLUSTER", "NODES"}}, StringDecoder, nil)
	cn.done()
	if err != nil {
		return false, ownCommand(err)
	}
	text, ok := v.(string)
	if !ok {
		return false, nil // an error reply: no proof addr is a node
	}
	fromHost, _, _ := net.SplitHostPort(sv.addr)
	for _, n := range parseClusterNodes(text) {
		if n.has("handshake") || n.has("noaddr") {
			continue
		}
		host := n.ip
		if host == "" {
			host = fromHost
		}
		// By IP or by the hostname it announces, by which CLUSTER SLOTS
		// may name it instead.
		if net.JoinHostPort(host, n.port) == addr || (n.hostname != "" && net.JoinHostPort(n.hostname, n.port) == addr) {
			return true, nil
		}
	}
	return false, nil
}
