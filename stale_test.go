package justredis_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// Connections die while idle every day: the server's idle timeout, a
// restart, CLIENT KILL, a load balancer or proxy dropping quiet
// connections. A command written on such a connection never reaches the
// server, so the client must notice before writing and use a fresh
// connection: none of these may fail a call, writes included.

const staleClients = 100

// staleCycles breaks every idle connection to s in each way in turn.
var staleCycles = []struct {
	name   string
	break_ func(t *testing.T, s *redistest.Server)
}{
	{"idle timeout", func(t *testing.T, s *redistest.Server) {
		_, err := s.Do("CONFIG", "SET", "timeout", "1")
		require.NoError(t, err)
		time.Sleep(2500 * time.Millisecond) // the server checks idle clients about once a second
		_, err = s.Do("CONFIG", "SET", "timeout", "0")
		require.NoError(t, err)
	}},
	{"restart", func(t *testing.T, s *redistest.Server) {
		require.NoError(t, s.Restart())
	}},
	{"client kill", func(t *testing.T, s *redistest.Server) {
		_, err := s.Do("CLIENT", "KILL", "TYPE", "normal")
		require.NoError(t, err)
		time.Sleep(50 * time.Millisecond) // for the closes to reach the clients
	}},
}

// TestStaleSharedConnections: many idle clients, their connections broken
// in each way, several times; then every INCR succeeds and counts once.
func TestStaleSharedConnections(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	ctx := testCtx(t)
	clients := make([]*justredis.Redis, staleClients)
	for i := range clients {
		r, err := justredis.New(justredis.WithAddress(s.Addr()))
		require.NoError(t, err)
		defer r.Close()
		clients[i] = r
	}
	incrAll := func() (failed int, firstErr error) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i, r := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := r.Do(ctx, "INCR", fmt.Sprintf("stale:%d", i))
				if err != nil {
					mu.Lock()
					failed++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return failed, firstErr
	}
	failed, err := incrAll()
	require.Zero(t, failed, "before anything broke: %v", err)
	want := int64(1)
	for round := 0; round < 2; round++ {
		for _, cycle := range staleCycles {
			cycle.break_(t, s)
			if cycle.name == "restart" {
				want = 0 // the data went with the server
			}
			failed, err := incrAll()
			require.Zero(t, failed, "%s: %d of %d calls failed spuriously; first: %v", cycle.name, failed, staleClients, err)
			want++
			for i := 0; i < staleClients; i += 17 {
				v, err := s.Do("GET", fmt.Sprintf("stale:%d", i))
				require.NoError(t, err)
				require.Equal(t, fmt.Sprint(want), v, "%s: counted once", cycle.name)
			}
		}
	}
}

// TestStaleDedicatedConnections: a Connection taken from the pool after
// its server connection broke at rest is a working one, and a BLPOP on it
// pops what is there instead of failing with the element still listed.
func TestStaleDedicatedConnections(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(s.Addr()))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	rest := func() {
		// Put a few connections at rest in the pool.
		var conns []*justredis.Connection
		for i := 0; i < 3; i++ {
			c, err := r.Connection(ctx)
			require.NoError(t, err)
			conns = append(conns, c)
		}
		for _, c := range conns {
			require.NoError(t, c.Close())
		}
		_, err := r.Do(ctx, "BLPOP", "stale:warm", 0.01) // and a blocking one
		require.NoError(t, err)
	}
	for round := 0; round < 2; round++ {
		for _, cycle := range staleCycles {
			rest()
			cycle.break_(t, s)
			c, err := r.Connection(ctx)
			require.NoError(t, err)
			v, err := c.Do(ctx, "INCR", "stale:dedicated")
			require.NoError(t, err, "%s: a pooled Connection was handed out dead", cycle.name)
			require.NotNil(t, v)
			require.NoError(t, c.Close())

			rest()
			cycle.break_(t, s)
			_, err = s.Do("RPUSH", "stale:list", "x")
			require.NoError(t, err)
			v, err = r.Do(ctx, "BLPOP", "stale:list", 1)
			require.NoError(t, err, "%s: BLPOP on a stale pooled connection", cycle.name)
			require.Equal(t, []any{"stale:list", "x"}, v)
		}
	}
}

// TestStaleWithSocketTimeout checks the same for a client that
// sat idle past the server's timeout with a socket timeout of its own, the
// usual production set-up.
func TestStaleWithSocketTimeout(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Args: []string{"--timeout", "1"}})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithSocketTimeout(time.Second))
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ {
		_, err := r.Do(ctx, "INCR", "stale:timeout")
		require.NoError(t, err, "after idling past the server's timeout, round %d", i)
		time.Sleep(2500 * time.Millisecond)
	}
}

// TestStaleTLS: over TLS the idle check sees through records that carry no
// data (session tickets) and still notices a closed connection, and a
// RESP3 push waiting on an idle connection is no stray reply.
func TestStaleTLS(t *testing.T) {
	s := redistest.Start(t, redistest.Options{TLS: true})
	r, err := justredis.New(justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(s.TLSConfig()))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	for i := 0; i < 3; i++ {
		v, err := r.Do(ctx, "INCR", "stale:tls")
		require.NoError(t, err, "round %d", i)
		require.Equal(t, int64(i+1), v)
		_, err = s.Do("CLIENT", "KILL", "TYPE", "normal")
		require.NoError(t, err)
		time.Sleep(50 * time.Millisecond) // for the close to reach the client
	}

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Do(ctx, "CLIENT", "TRACKING", "ON")
	require.NoError(t, err)
	_, err = c.Do(ctx, "GET", "stale:tls")
	require.NoError(t, err)
	_, err = r.Do(ctx, "INCR", "stale:tls") // an invalidation push to c
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	v, err := c.Do(ctx, "GET", "stale:tls")
	require.NoError(t, err, "a push waiting on an idle connection is no stray reply")
	require.Equal(t, "4", v)
}

// TestStaleRightAfterReply: a connection killed by CLIENT KILL from
// elsewhere, as soon after its last reply as the kill's own round trip
// allows, is still found closed before the next command is written, so
// that command goes to a new connection instead of failing. The client
// skips its look at the socket for a connection that rested only
// microseconds (freshFor); this is the nearest a kill can come to that.
func TestStaleRightAfterReply(t *testing.T) {
	s := redistest.Start(t, redistest.Options{UnixSocket: true})
	for _, addr := range []string{s.Addr(), s.UnixPath()} {
		t.Run(map[bool]string{true: "unix", false: "tcp"}[addr == s.UnixPath()], func(t *testing.T) {
			ctx := testCtx(t)
			r, err := justredis.New(justredis.WithAddress(addr))
			require.NoError(t, err)
			defer r.Close()
			key := "stale:after-reply:" + addr
			const kills = 200
			for i := 0; i < kills; i++ {
				id, err := justredis.Int64(r.Do(ctx, "CLIENT", "ID"))
				require.NoError(t, err)
				n, err := s.Do("CLIENT", "KILL", "ID", fmt.Sprint(id))
				require.NoError(t, err)
				require.Equal(t, "1", n, "kill %d: CLIENT KILL found no client %d", i, id)
				_, err = r.Do(ctx, "INCR", key)
				require.NoError(t, err, "kill %d: the command after the kill failed", i)
			}
			v, err := justredis.Int64(r.Do(ctx, "GET", key))
			require.NoError(t, err)
			require.EqualValues(t, kills, v, "each INCR ran once")
		})
	}
}

// TestStaleAfterOwnKill: a command after whose reply the server closes
// the connection it came on (CLIENT KILL of the caller itself here; ACL
// DELUSER and ACL LOAD of its user likewise) makes the client replace that
// connection before writing on it again, so the next command never races
// the close: every INCR succeeds, and runs once.
func TestStaleAfterOwnKill(t *testing.T) {
	r := newRedis(t)
	for _, via := range []string{"Do", "DoMulti", "DoMulti after CLIENT ID"} {
		t.Run(via, func(t *testing.T) {
			ctx := testCtx(t)
			k := key(t, "n")
			const kills = 200
			for i := 0; i < kills; i++ {
				killSelf(t, ctx, r, via)
				_, err := r.Do(ctx, "INCR", k)
				require.NoError(t, err, "kill %d: the command after the kill failed", i)
			}
			v, err := justredis.Int64(r.Do(ctx, "GET", k))
			require.NoError(t, err)
			require.EqualValues(t, kills, v, "each INCR ran once")
		})
	}
	t.Run("under load", func(t *testing.T) {
		ctx := testCtx(t)
		// Other goroutines keep the shared connection busy, so it is never
		// idle: the kill's own caller still sends its next command on a new
		// one.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		defer func() { // also when a require below ends the test
			close(stop)
			wg.Wait()
		}()
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						r.Do(ctx, "GET", "stale:none") // a read: retried if the kill cuts it
					}
				}
			}()
		}
		k := key(t, "n")
		for i := 0; i < 100; i++ {
			killSelf(t, ctx, r, "Do")
			_, err := r.Do(ctx, "INCR", k)
			require.NoError(t, err, "kill %d: the command after the kill failed", i)
		}
		v, err := justredis.Int64(r.Do(ctx, "GET", k))
		require.NoError(t, err)
		require.EqualValues(t, 100, v, "each INCR ran once")
	})
	t.Run("another client", func(t *testing.T) {
		// CLIENT KILL of another client, SKIPME yes by default, keeps the
		// caller's connection.
		ctx := testCtx(t)
		other := newRedis(t)
		for i := 0; i < 5; i++ {
			id, err := justredis.Int64(other.Do(ctx, "CLIENT", "ID"))
			require.NoError(t, err)
			own, err := justredis.Int64(r.Do(ctx, "CLIENT", "ID"))
			require.NoError(t, err)
			_, err = r.Do(ctx, "CLIENT", "KILL", "ID", id)
			require.NoError(t, err)
			after, err := justredis.Int64(r.Do(ctx, "CLIENT", "ID"))
			require.NoError(t, err)
			require.Equal(t, own, after, "a kill of another client replaced the caller's connection")
		}
	})
	t.Run("Connection", func(t *testing.T) {
		// A Connection that killed itself is not handed to the next user.
		ctx := testCtx(t)
		k := key(t, "n")
		for i := 0; i < 50; i++ {
			c, err := r.Connection(ctx)
			require.NoError(t, err)
			id, err := justredis.Int64(c.Do(ctx, "CLIENT", "ID"))
			require.NoError(t, err)
			_, err = c.Do(ctx, "CLIENT", "KILL", "ID", id, "SKIPME", "no")
			require.NoError(t, err)
			c.Close()
			c, err = r.Connection(ctx)
			require.NoError(t, err)
			_, err = c.Do(ctx, "INCR", k)
			c.Close()
			require.NoError(t, err, "kill %d: the next Connection's first command failed", i)
		}
	})
}

// TestStaleAfterOwnKillNoCommandTable: a user that may not run COMMAND
// leaves the client without a table, so every command goes on a
// connection of its own (it might block); CLIENT KILL is still known by
// name, and the connection it killed is not used again.
func TestStaleAfterOwnKillNoCommandTable(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Users: []redistest.User{
		{Name: "nocmd", Password: "pw", Rules: []string{"on", "~*", "&*", "+@all", "-command"}},
	}})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("nocmd", "pw"))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	for i := 0; i < 100; i++ {
		killSelf(t, ctx, r, "Do")
		_, err := r.Do(ctx, "INCR", "stale:nocmd")
		require.NoError(t, err, "kill %d: the command after the kill failed", i)
	}
	v, err := justredis.Int64(r.Do(ctx, "GET", "stale:nocmd"))
	require.NoError(t, err)
	require.EqualValues(t, 100, v, "each INCR ran once")
}

// TestStaleAfterOwnKillCluster is TestStaleAfterOwnKill in a cluster,
// where keyless commands all go to one master.
func TestStaleAfterOwnKillCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	r, err := justredis.New(justredis.WithAddress(c.Nodes()[0].Addr()))
	require.NoError(t, err)
	defer r.Close()
	for _, via := range []string{"Do", "DoMulti", "DoMulti after CLIENT ID"} {
		ctx := testCtx(t)
		for i := 0; i < 100; i++ {
			killSelf(t, ctx, r, via)
			// PUBLISH has no key either, so it goes to the same master,
			// and is no read: a failure would not be retried.
			_, err := r.Do(ctx, "PUBLISH", "stale:after-kill", "x")
			require.NoError(t, err, "%s, kill %d: the command after the kill failed", via, i)
		}
	}
}

// killSelf has r's shared connection kill itself with CLIENT KILL, sent
// through Do or DoMulti (via); "DoMulti after CLIENT ID" sends another
// CLIENT subcommand before it in the batch, which must not be taken for
// the kill.
func killSelf(t *testing.T, ctx context.Context, r *justredis.Redis, via string) {
	t.Helper()
	id, err := justredis.Int64(r.Do(ctx, "CLIENT", "ID"))
	require.NoError(t, err)
	kill := []any{"CLIENT", "KILL", "ID", id, "SKIPME", "no"}
	switch via {
	case "Do":
		_, err = r.Do(ctx, kill...)
	case "DoMulti":
		_, err = r.DoMulti(ctx, kill)
	default:
		_, err = r.DoMulti(ctx, []any{"CLIENT", "ID"}, kill)
	}
	require.NoError(t, err, "CLIENT KILL of itself through %s", via)
}

// TestClosingCommandsGivePlacesBack: with one connection place, closing
// commands on the shared, pipelined and blocking paths, and one whose
// caller gives up mid-call, always give the place back, so no later call
// waits for it.
func TestClosingCommandsGivePlacesBack(t *testing.T) {
	r := newRedis(t, justredis.WithMaxConnections(1))
	ctx := testCtx(t)
	for i := 0; i < 30; i++ {
		_, err := r.Do(ctx, "ACL", "DELUSER", "stale-nobody")
		require.NoError(t, err)
		_, err = r.DoMulti(ctx, []any{"ACL", "DELUSER", "stale-nobody"}, []any{"BLPOP", key(t, "none"), "0.01"})
		require.NoError(t, err)
		short, cancel := context.WithTimeout(ctx, time.Millisecond)
		r.Do(short, "ACL", "DELUSER", "stale-nobody")
		cancel()
		_, err = r.Do(ctx, "PING")
		require.NoError(t, err, "round %d", i)
	}
}

// TestStaleAfterOwnUserDeleted: ACL DELUSER of the client's own user makes
// the server close the connection it came on once it has replied. The
// command sent right after must not be written into that closing
// connection, where it would fail as "may have run": it goes to a new one,
// whose login then fails plainly, as the user is gone.
func TestStaleAfterOwnUserDeleted(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Users: []redistest.User{
		{Name: "self", Password: "pw", Rules: []string{"on", "~*", "&*", "+@all"}},
	}})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("self", "pw"))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	for i := 0; i < 50; i++ {
		_, err := s.Do("ACL", "SETUSER", "self", "on", ">pw", "~*", "&*", "+@all")
		require.NoError(t, err)
		_, err = r.Do(ctx, "PING")
		require.NoError(t, err, "round %d: PING with the user made again", i)
		n, err := justredis.Int64(r.Do(ctx, "ACL", "DELUSER", "self"))
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, err = r.Do(ctx, "INCR", "stale:deluser")
		require.Error(t, err, "round %d: the user is gone", i)
		require.NotErrorIs(t, err, justredis.ErrNotRetried, "round %d: the INCR was written into the closing connection", i)
		require.Contains(t, err.Error(), "WRONGPASS", "round %d", i)
	}
	v, err := s.Do("GET", "stale:deluser")
	require.NoError(t, err)
	require.Empty(t, v, "an INCR ran")
}
