package justredisotel_test

// These tests follow the connection metrics through a client's life on a
// server of their own, and a call's server through a cluster's redirect.

import (
	"strconv"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
)

// TestConnectionCountBalanced shows db.client.connection.count going back
// to 0 once the client is closed, whatever kinds of connections it made
// and however they ended: every dial that worked is matched by one close.
func TestConnectionCountBalanced(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	tel := newTelemetry(t)
	r := tel.client(t, justredis.WithAddress(s.Addr()))
	ctx := testCtx(t)
	pool := attribute.String("db.client.connection.pool.name", s.Addr())
	count := func() int64 { return tel.sum(t, "db.client.connection.count", pool) }
	event := func(kind string) int64 {
		return tel.sum(t, "justredis.client.events", attribute.String("justredis.event", kind))
	}

	// Shared connections for two databases, a Connection, a push
	// connection, and one at rest after a blocking command.
	_, err := r.Do(ctx, "PING")
	require.NoError(t, err)
	_, err = r.Modify(justredis.WithDatabase(1)).Do(ctx, "PING")
	require.NoError(t, err)
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	p, err := r.PushConnection(ctx)
	require.NoError(t, err)
	require.NoError(t, p.Do(ctx, "SUBSCRIBE", "otel:news"))
	_, err = p.NextMessage(ctx)
	require.NoError(t, err)
	_, err = r.Do(ctx, "BLPOP", "otel:never", 0.01)
	require.NoError(t, err)
	assert.Equal(t, int64(5), count(), "five open")

	// The server drops them all: the client finds out, and dials again.
	_, err = s.Do("CLIENT", "KILL", "TYPE", "normal")
	require.NoError(t, err)
	_, err = s.Do("CLIENT", "KILL", "TYPE", "pubsub")
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond) // for the sockets to see it; no assertion hangs on it
	_, err = r.Do(ctx, "PING")
	require.NoError(t, err)
	_, err = p.NextMessage(ctx) // subscribed again, on a new connection
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, p.Close())

	require.NoError(t, r.Close())
	assert.Equal(t, int64(0), count(), "after Close")
	st := r.Stats().Servers[0]
	require.Zero(t, st.DialFailures)
	assert.EqualValues(t, st.Dials, event("dial"))
	assert.Greater(t, event("dial"), int64(5), "the redials are counted")
	assert.Equal(t, event("dial"), event("close"), "one close per dial")
	assert.Positive(t, event("resubscribe"))
}

// TestClusterServer shows server.address following a cluster's calls: the
// node that served a call, and none for a call that two nodes served (a
// MOVED reply sent it on), which is marked redirected.
func TestClusterServer(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	tel := newTelemetry(t)
	r := tel.client(t, justredis.WithAddress(c.Nodes()[0].Addr()))
	ctx := testCtx(t)
	const k = "otel:{moving}"
	_, err := r.Do(ctx, "SET", k, "v")
	require.NoError(t, err)

	var owner, other *redistest.Server
	for _, m := range c.Masters() {
		if _, err := m.Do("GET", k); err == nil {
			owner = m
		} else if other == nil {
			other = m
		}
	}
	require.NotNil(t, owner)
	ownerHost, ownerPort := hostPort(t, owner.Addr())
	var set bool
	for _, span := range tel.ended() {
		if span.Name() != "SET" {
			continue
		}
		set = true
		a := attrs(span)
		assert.Equal(t, ownerHost, a["server.address"].AsString())
		assert.Equal(t, ownerPort, a["server.port"].AsInt64())
	}
	require.True(t, set, "the SET's span")

	slotText, err := owner.Do("CLUSTER", "KEYSLOT", k)
	require.NoError(t, err)
	slot, err := strconv.Atoi(slotText)
	require.NoError(t, err)
	require.NoError(t, c.MoveSlot(slot, owner, other))

	_, err = r.Do(ctx, "GET", k)
	require.NoError(t, err)
	var get bool
	for _, span := range tel.ended() {
		if span.Name() != "GET" {
			continue
		}
		get = true
		a := attrs(span)
		assert.True(t, a["justredis.redirected"].AsBool())
		assert.NotContains(t, a, attribute.Key("server.address"), "two nodes served it")
	}
	require.True(t, get, "the GET's span")
	p := tel.histogramPoint(t, "db.client.operation.duration", attribute.String("db.operation.name", "GET"),
		attribute.Bool("justredis.redirected", true))
	assert.Equal(t, uint64(1), p.Count)
	_, ok := p.Attributes.Value("server.address")
	assert.False(t, ok)
}
