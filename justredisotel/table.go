package justredisotel

import (
	"sync"
	"sync/atomic"
)

// cowMap is a map that calls read without a lock or an allocation, and
// write rarely: each write copies it. It holds at most limit entries, since
// its keys come from what the application sends (command names, error
// prefixes, addresses); past that, callers build their value each time.
type cowMap[K comparable, V any] struct {
	m     atomic.Pointer[map[K]V]
	mu    sync.Mutex
	limit int
}

func (t *cowMap[K, V]) get(k K) (V, bool) {
	if m := t.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// put adds k unless it is there already or the map is full.
func (t *cowMap[K, V]) put(k K, v V) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.m.Load()
	n := 0
	if old != nil {
		if _, ok := (*old)[k]; ok {
			return
		}
		n = len(*old)
	}
	if n >= t.limit {
		return
	}
	next := make(map[K]V, n+1)
	if old != nil {
		for kk, vv := range *old {
			next[kk] = vv
		}
	}
	next[k] = v
	t.m.Store(&next)
}

// internTable hands out one string per distinct text, so that names built
// in a buffer on every call (an upper-cased command name, "PIPELINE GET")
// cost no allocation once seen.
type internTable struct {
	cowMap[string, string]
}

// intern returns b as a string, allocating only the first time it is seen
// (or every time, once the table is full).
func (t *internTable) intern(b []byte) string {
	if m := t.m.Load(); m != nil {
		// The conversion in a map index does not allocate.
		if s, ok := (*m)[string(b)]; ok {
			return s
		}
	}
	s := string(b)
	t.put(s, s)
	return s
}
