package redistest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// clusterNode is one line of CLUSTER NODES: one node's view of another.
type clusterNode struct {
	id     string
	port   int
	flags  map[string]bool // myself, master, slave, fail?, fail, handshake, noaddr, ...
	master string          // the master's ID for replicas, "-" otherwise
	slots  [][2]int        // owned slot ranges; migration markers are skipped
}

// parseClusterNodes parses lines like
//
//	<id> 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 [42->-<id>]
func parseClusterNodes(text string) ([]clusterNode, error) {
	var nodes []clusterNode
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("malformed CLUSTER NODES line %q", line)
		}
		n := clusterNode{id: f[0], flags: map[string]bool{}, master: f[3]}
		addr := f[1]
		if i := strings.IndexAny(addr, "@,"); i >= 0 {
			addr = addr[:i]
		}
		if i := strings.LastIndexByte(addr, ':'); i >= 0 {
			n.port, _ = strconv.Atoi(addr[i+1:])
		}
		for _, flag := range strings.Split(f[2], ",") {
			n.flags[flag] = true
		}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				continue
			}
			lo, hi, found := strings.Cut(r, "-")
			if !found {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("malformed slot range %q", r)
			}
			n.slots = append(n.slots, [2]int{a, b})
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

func myself(view []clusterNode) (clusterNode, bool) {
	for _, n := range view {
		if n.flags["myself"] {
			return n, true
		}
	}
	return clusterNode{}, false
}

func findNode(view []clusterNode, id string) (clusterNode, bool) {
	for _, n := range view {
		if n.id == id {
			return n, true
		}
	}
	return clusterNode{}, false
}

// topology renders who owns which slots and which node replicates which, in
// a canonical form, so two nodes' views can be compared as strings. Only
// nodes in include count: a killed node's entry goes stale differently in
// different views.
func topology(view []clusterNode, include map[int]bool) string {
	var parts []string
	for _, n := range view {
		if !include[n.port] {
			continue
		}
		for _, r := range n.slots {
			parts = append(parts, fmt.Sprintf("slots %05d-%05d=%s", r[0], r[1], n.id))
		}
		if n.flags["slave"] {
			parts = append(parts, fmt.Sprintf("replica %s->%s", n.id, n.master))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}

func slotOwner(view []clusterNode, slot int) string {
	for _, n := range view {
		for _, r := range n.slots {
			if r[0] <= slot && slot <= r[1] {
				return n.id
			}
		}
	}
	return ""
}
