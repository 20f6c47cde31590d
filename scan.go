package justredis

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
)

// Scan iterates with SCAN, HSCAN, SSCAN or ZSCAN
// (https://redis.io/docs/latest/commands/scan/). args are the command and
// its arguments without the cursor, such as
//
//	r.Scan(ctx, "SCAN", "MATCH", "user:*", "COUNT", 500)
//	r.Scan(ctx, "HSCAN", "user:1")
//
// The iterator supplies the cursor, calling the command once per page, and
// yields every element of every page as a string: keys for SCAN, members for
// SSCAN, and pairs, flat, for HSCAN (field, value, field, value, ...) and
// ZSCAN (member, score, ...: the score as Redis writes it, such as "1.5").
// Redis's guarantees hold: an element present from start to end is yielded,
// perhaps more than once; the caller dedupes when that matters. When a page
// comes from another server than the one before (the key's slot moved, a
// failover), the cursor meant nothing there: the walk starts again on it.
// A cluster's SCAN may miss the keys of a slot that moves between masters
// during the walk.
//
// On a cluster, SCAN walks every master in turn, from the list Endpoints
// gives, or only the node given by WithEndpoint when r has one. HSCAN,
// SSCAN and ZSCAN go to the node of their key, as Do sends them.
//
// Each page is one call of r.Do: it honours ctx and r's settings, so
// WithDatabase picks the database and WithTimeout bounds each page; but
// not WithReplicaReads, unless WithEndpoint names the server: replicas
// take reads in turn, and each would need a cursor of its own. An
// error, such as WRONGTYPE as an *Error, a network error, or one matching
// ErrInvalidArgument for args that are not one of the four commands, is
// yielded once, with "", and ends the iteration. Breaking out of the loop
// ends it at once; the iterator starts no goroutine.
func (r *Redis) Scan(ctx context.Context, args ...any) iter.Seq2[string, error] {
	args = slices.Clone(args) // the iterator may run long after the caller's slice changed
	return func(yield func(string, error) bool) {
		r := r
		if err := r.usable(ctx); err != nil {
			yield("", err)
			return
		}
		if r.call.replicaReads && (r.call.endpoint == "" || r.call.endpoint == Masters) {
			// Replicas serve reads in turn, and a cursor means something
			// only to the server that gave it: the pages go to the master.
			r = r.Modify(WithReplicaReads(false))
		}
		name, at, err := cursorPosition(args)
		if err != nil {
			yield("", err)
			return
		}
		nodes := []*Redis{r}
		switch {
		case r.call.endpoint == Masters && at == 2:
			nodes[0] = r.Modify(WithEndpoint("")) // to the key's node
		case at == 1 && (r.call.endpoint == "" || r.call.endpoint == Masters):
			if nodes, err = r.scanNodes(ctx); err != nil {
				yield("", err)
				return
			}
		}
		for _, n := range nodes {
			if !n.scanNode(ctx, name, args, at, yield) {
				return
			}
		}
	}
}

// cursorPosition checks that args is one of the SCAN family and returns
// its name and where the cursor goes: after the command name for SCAN,
// after the key for the others.
func cursorPosition(args []any) (name string, at int, err error) {
	if len(args) == 0 {
		return "", 0, invalidArg("Scan: no command given; want SCAN, HSCAN, SSCAN or ZSCAN")
	}
	var buf [8]byte
	lower, ok := lowerName(buf[:0], args[0])
	if !ok {
		return "", 0, invalidArg(fmt.Sprintf("Scan: command name of type %T; want SCAN, HSCAN, SSCAN or ZSCAN", args[0]))
	}
	name = strings.ToUpper(string(lower))
	switch name {
	case "SCAN":
		return name, 1, nil
	case "HSCAN", "SSCAN", "ZSCAN":
		if len(args) < 2 {
			return "", 0, invalidArg(fmt.Sprintf("Scan: %s needs a key", name))
		}
		return name, 2, nil
	}
	if len(lower) > 32 {
		lower = append(lower[:29], "..."...)
	}
	return "", 0, invalidArg(fmt.Sprintf("Scan: %q is not SCAN, HSCAN, SSCAN or ZSCAN", lower))
}

// scanNodes lists the copies of r that SCAN walks: one per master in a
// cluster, r without an endpoint otherwise.
func (r *Redis) scanNodes(ctx context.Context) ([]*Redis, error) {
	ectx, cancel := r.withTimeout(ctx)
	if cancel != nil {
		defer cancel()
	}
	eps, err := r.Endpoints(ectx)
	if err != nil {
		return nil, err
	}
	if _, ok := r.p.router().(*cluster); !ok {
		// One master, found afresh by each page: through Sentinel, a
		// failover mid-scan must not leave the walk on the old master,
		// a replica now, or gone.
		return []*Redis{r.Modify(WithEndpoint(""))}, nil
	}
	var nodes []*Redis
	for _, ep := range eps {
		switch ep.Role {
		case "master":
			nodes = append(nodes, r.Modify(WithEndpoint(ep.Address)))
		case "standalone":
			nodes = append(nodes, r.Modify(WithEndpoint("")))
		}
	}
	return nodes, nil
}

// scanNode runs the scan on r's node until the cursor comes back to 0. It
// reports whether the caller may go on.
func (r *Redis) scanNode(ctx context.Context, name string, args []any, at int, yield func(string, error) bool) bool {
	cmd := make([]any, len(args)+1)
	copy(cmd, args[:at])
	copy(cmd[at+1:], args[at:])
	cursor, addr := "0", ""
	for {
		cmd[at] = cursor
		var trace callTrace // which server answered
		page := *r
		page.call.trace = &trace
		v, err := page.Do(ctx, cmd...)
		if err != nil {
			yield("", err)
			return false
		}
		next, elems, err := scanPage(v)
		if err != nil {
			yield("", fmt.Errorf("justredis: %s: %w", name, err))
			return false
		}
		// A cursor is a place in one server's table, which hashes with a
		// seed of its own: on another server (the key's slot moved, a
		// failover) it means nothing, and going on from it skips
		// elements. The page is true all the same, but the walk starts
		// again there, which may yield elements twice, as Redis may.
		// (A page no server answered, from a cache say, moves nothing.)
		moved := cursor != "0" && trace.addr != "" && trace.addr != addr
		if trace.addr != "" {
			addr = trace.addr
		}
		for _, e := range elems {
			if !yield(e, nil) {
				return false
			}
		}
		switch {
		case moved:
			cursor = "0"
		case next == "0":
			return true
		default:
			cursor = next
		}
	}
}

// scanPage reads one reply of the SCAN family, whatever the decoder: the
// next cursor and the page's elements.
func scanPage(v any) (cursor string, elems []string, err error) {
	if raw, ok := v.(RawValue); ok {
		v = rawPage(raw)
	}
	page, ok := v.([]any)
	if !ok || len(page) != 2 {
		return "", nil, fmt.Errorf("reply decoded as %T, not a cursor and a page", v)
	}
	cursor, ok = scanText(page[0])
	if !ok {
		return "", nil, fmt.Errorf("cursor decoded as %T", page[0])
	}
	items, ok := page[1].([]any)
	if !ok {
		return "", nil, fmt.Errorf("page decoded as %T, not an array", page[1])
	}
	elems = make([]string, len(items))
	for i, it := range items {
		if elems[i], ok = scanText(it); !ok {
			return "", nil, fmt.Errorf("element decoded as %T", it)
		}
	}
	return cursor, elems, nil
}

// rawPage gives a RawDecoder page the shape the other decoders give it.
func rawPage(raw RawValue) any {
	if raw.Kind != KindArray || len(raw.Elems) != 2 || raw.Elems[1].Kind != KindArray {
		return raw
	}
	items := make([]any, len(raw.Elems[1].Elems))
	for i, e := range raw.Elems[1].Elems {
		items[i] = e.Data
	}
	return []any{raw.Elems[0].Data, items}
}

// scanText reads an element as text: a bulk string under either decoder;
// a number, should the server ever send a score as one.
func scanText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case float64:
		return formatFloat(v), true
	}
	return "", false
}
