package justredis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// seedStagger is how long one server may take to answer before the next
// is tried beside it.
const seedStagger = 250 * time.Millisecond

// seedsWaitEnded is the error of a caller whose context ended (err) while
// another tried the seeds for it: it names them, and the last failure of
// each that failed.
func (p *pool) seedsWaitEnded(err error) error {
	errs := []error{fmt.Errorf("justredis: %w while another call tried the seeds %s", err, strings.Join(p.s.addrs, ", "))}
	for _, sv := range p.seeds() {
		sv.health.mu.Lock()
		if last := sv.health.lastErr; last != nil {
			errs = append(errs, last)
		}
		sv.health.mu.Unlock()
	}
	return errors.Join(errs...)
}

// firstAnswer asks servers, one after the other, until one answers try: the
// seeds when the client looks for its deployment, or the nodes it asks for
// a cluster's slot map. The next is asked as soon as the one before fails,
// or has not answered within seedStagger, so that one that swallows
// connects (a host that is down, a firewall dropping packets) cannot take
// the caller's whole time. Servers whose last connect failed, or that were
// passed over last time, are asked last.
//
// It returns the first answer. The tries still under way are cancelled,
// and their servers passed over, so that the next search asks them last.
// When none answers, the error joins all of theirs.
func firstAnswer[T any](ctx context.Context, servers []*server, try func(context.Context, *server) (T, error)) (T, error) {
	ordered := slices.Clone(servers)
	slices.SortStableFunc(ordered, func(a, b *server) int {
		return b2i(a.health.failing()) - b2i(b.health.failing())
	})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		i   int
		v   T
		err error
	}
	answers := make(chan answer, len(ordered)) // tries never wait to hand theirs in
	done := make([]bool, len(ordered))
	next := 0
	startNext := func() {
		i := next
		next++
		go func() {
			v, err := try(ctx, ordered[i])
			answers <- answer{i, v, err}
		}()
	}
	timer := time.NewTimer(seedStagger)
	defer timer.Stop()
	startNext()
	var errs []error
	for running := 1; running > 0; {
		select {
		case a := <-answers:
			running--
			done[a.i] = true
			if a.err == nil {
				for i := range next {
					if !done[i] {
						ordered[i].health.passOver()
					}
				}
				return a.v, nil
			}
			errs = append(errs, a.err)
			if next < len(ordered) && ctx.Err() == nil {
				startNext()
				running++
				timer.Reset(seedStagger)
			}
		case <-timer.C:
			if next < len(ordered) && ctx.Err() == nil {
				startNext()
				running++
				timer.Reset(seedStagger)
			}
		}
	}
	var zero T
	return zero, errors.Join(errs...)
}
