package justredis_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/justredis/justredis"
)

// Over a unix socket, a caller alone on its connection reads its reply by
// trying again at once for a moment before it waits (socket.Stream's
// ReadSoon), and backs off when replies come later than that. Whether a
// reply comes within the spin (a GET) or long after it (DEBUG SLEEP, a
// 1 MiB value), single calls beside pipelines, one goroutine or many, some
// of them giving up: every caller gets its own reply, and the connection
// stays in step.
func TestUnixRepliesAroundTheSpin(t *testing.T) {
	r := newRedis(t, justredis.WithAddress(server().UnixPath()))
	ctx := testCtx(t)
	big := strings.Repeat("x", 1<<20)
	k := key(t, "big")
	_, err := r.Do(ctx, "SET", k, big)
	require.NoError(t, err)

	// check runs on goroutines of its own too, so it reports with assert
	// and stops at the first fault.
	check := func(t *testing.T, rng *rand.Rand, id int) {
		for i := range 60 {
			mine := fmt.Sprintf("%s:%d:%d", key(t, "k"), id, i)
			switch rng.IntN(6) {
			case 0: // long after any spin
				v, err := r.Do(ctx, "DEBUG", "SLEEP", "0.002")
				if !assert.NoError(t, err) || !assert.Equal(t, "OK", v) {
					return
				}
			case 1:
				v, err := r.Do(ctx, "GET", k)
				if !assert.NoError(t, err) || !assert.True(t, v == big, "the 1 MiB value came back as another") {
					return
				}
			case 2:
				vals, err := r.DoMulti(ctx, []any{"SET", mine, i}, []any{"GET", mine}, []any{"ECHO", mine})
				if !assert.NoError(t, err) || !assert.Equal(t, []any{"OK", fmt.Sprint(i), mine}, vals) {
					return
				}
			case 3: // a caller that gives up, mid-spin or later
				cctx, cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(100))*time.Microsecond)
				v, err := r.Do(cctx, "ECHO", mine)
				cancel()
				if err == nil && !assert.Equal(t, mine, v) ||
					err != nil && !assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err) {
					return
				}
			default:
				v, err := r.Do(ctx, "ECHO", mine)
				if !assert.NoError(t, err) || !assert.Equal(t, mine, v) {
					return
				}
			}
		}
	}
	t.Run("alone", func(t *testing.T) {
		check(t, rand.New(rand.NewPCG(1, 2)), 0)
	})
	t.Run("many", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				check(t, rand.New(rand.NewPCG(uint64(g), 3)), g)
			}()
		}
		wg.Wait()
	})
}
