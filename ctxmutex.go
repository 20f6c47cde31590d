package justredis

import (
	"context"
	"sync"
)

// ctxMutex is a mutex that a caller can stop waiting for when its context
// ends: one holder may be stuck for good (a BLPOP 0, a write to a server
// that does not read), and those waiting behind it must still keep their
// deadlines. The zero value is unlocked.
type ctxMutex struct {
	once sync.Once
	ch   chan struct{} // holds a token while locked
}

func (m *ctxMutex) token() chan struct{} {
	m.once.Do(func() { m.ch = make(chan struct{}, 1) })
	return m.ch
}

// LockContext locks m, or returns ctx's error if ctx ends first.
func (m *ctxMutex) LockContext(ctx context.Context) error {
	select {
	case m.token() <- struct{}{}:
		return nil
	default:
	}
	select {
	case m.token() <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Lock locks m, waiting as long as it takes.
func (m *ctxMutex) Lock() { m.token() <- struct{}{} }

// TryLock locks m if it is free, and reports whether it did.
func (m *ctxMutex) TryLock() bool {
	select {
	case m.token() <- struct{}{}:
		return true
	default:
		return false
	}
}

// Unlock unlocks m.
func (m *ctxMutex) Unlock() { <-m.token() }
