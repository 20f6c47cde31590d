package justredis_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// panickingDecoder is a Decoder of the user's with a bug.
type panickingDecoder struct{}

func (panickingDecoder) Decode(*justredis.Reader) (any, error) { panic("bug in a decoder") }

// A Decoder that panics fails the call it decodes for, with an error that
// says so, and nothing else: not the goroutine that happened to read the
// reply (another caller's, or the client's own), and not the calls after
// it. It used to panic wherever the reply was read, and a caller that
// recovered left the connection hanging every call after it.
func TestDecoderPanicIsTheCallsError(t *testing.T) {
	ctx := testCtx(t)
	r := newRedis(t, justredis.WithClientCache(1<<20))
	bad := r.Modify(justredis.WithDecoder(panickingDecoder{}))
	k := key(t, "k")
	_, err := r.Do(ctx, "SET", k, "v")
	require.NoError(t, err)

	check := func(where string, err error) {
		t.Helper()
		require.Error(t, err, where)
		require.Contains(t, err.Error(), "panicked: bug in a decoder", where)
	}
	_, err = bad.Do(ctx, "GET", k)
	check("Do", err)
	v, err := r.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, "v", v)

	vs, err := bad.DoMulti(ctx, []any{"GET", k}, []any{"PING"})
	require.NoError(t, err)
	check("DoMulti", vs[0].(error))
	check("DoMulti", vs[1].(error))

	cached := bad.Modify(justredis.WithCache(time.Minute))
	for i := 0; i < 3; i++ { // a miss, then hits
		_, err = cached.Do(ctx, "GET", k)
		check("cached Do", err)
	}

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	_, err = c.Modify(justredis.WithDecoder(panickingDecoder{})).Do(ctx, "GET", k)
	check("Connection", err)
	v, err = c.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, "v", v)
	require.NoError(t, c.Close())

	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, p.Do(ctx, "PING", "one"))
	require.NoError(t, p.Do(ctx, "PING", "two"))
	_, err = p.Modify(justredis.WithDecoder(panickingDecoder{})).NextMessage(ctx)
	check("PushConnection", err)
	m, err := p.NextMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, "two", m.Data)

	// Pipelined beside good calls: a panic must reach no other caller.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if (g+i)%2 == 0 {
					_, err := bad.Do(ctx, "ECHO", "x")
					if err == nil {
						t.Error("a panicking decoder's call succeeded")
						return
					}
					continue
				}
				want := fmt.Sprint(g, ":", i)
				v, err := r.Do(ctx, "ECHO", want)
				if err != nil || v != want {
					t.Errorf("ECHO %s beside a panicking decoder: %v %v", want, v, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

// greedyDecoder reads one token more than the reply has.
type greedyDecoder struct{}

func (greedyDecoder) Decode(r *justredis.Reader) (any, error) {
	if err := r.Skip(); err != nil {
		return nil, err
	}
	if _, err := r.Next(); err != nil {
		return nil, err
	}
	return "read two", nil
}

// A Decoder that reads past the end of its reply gets an error saying so,
// for its call alone. It used to get ErrProtocol's "reply ended early",
// blaming the server, and the connection was closed: a Connection's next
// call then failed too.
func TestDecoderReadingPastTheReply(t *testing.T) {
	ctx := testCtx(t)
	r := newRedis(t)
	check := func(where string, err error) {
		t.Helper()
		require.Error(t, err, where)
		require.NotErrorIs(t, err, justredis.ErrProtocol, where)
		require.Contains(t, err.Error(), "Decoder read past the end of the reply", where)
	}
	_, err := r.Modify(justredis.WithDecoder(greedyDecoder{})).Do(ctx, "ECHO", "x")
	check("Do", err)

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Modify(justredis.WithDecoder(greedyDecoder{})).Do(ctx, "ECHO", "x")
	check("Connection", err)
	v, err := c.Do(ctx, "ECHO", "next")
	require.NoError(t, err, "the Connection stays usable")
	require.Equal(t, "next", v)
}
