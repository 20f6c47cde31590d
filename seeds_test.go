package justredis

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFirstAnswerOrder: servers that failed lately, or were passed over,
// are asked last; one still trying when another answered is passed over.
func TestFirstAnswerOrder(t *testing.T) {
	s := defaultSettings()
	a, b, c := newServer("a:1", &s, nil), newServer("b:1", &s, nil), newServer("c:1", &s, nil)
	a.health.tried(false, errors.New("refused"), errors.New("refused"))
	c.health.passOver()
	var mu sync.Mutex
	var asked []string
	v, err := firstAnswer(context.Background(), []*server{a, b, c}, func(ctx context.Context, sv *server) (string, error) {
		mu.Lock()
		asked = append(asked, sv.addr)
		mu.Unlock()
		if sv == c {
			return sv.addr, nil
		}
		return "", errors.New("no")
	})
	require.NoError(t, err)
	require.Equal(t, "c:1", v)
	require.Equal(t, []string{"b:1", "a:1", "c:1"}, asked)

	// b hangs until cancelled; d answers once asked beside it.
	d := newServer("d:1", &s, nil)
	v, err = firstAnswer(context.Background(), []*server{b, d}, func(ctx context.Context, sv *server) (string, error) {
		if sv == b {
			<-ctx.Done()
			return "", ctx.Err()
		}
		return sv.addr, nil
	})
	require.NoError(t, err)
	require.Equal(t, "d:1", v)
	require.True(t, b.health.failing(), "b was passed over")
	require.False(t, d.health.failing())

	_, err = firstAnswer(context.Background(), []*server{d}, func(ctx context.Context, sv *server) (string, error) {
		return "", errors.New("down")
	})
	require.ErrorContains(t, err, "down")
}
