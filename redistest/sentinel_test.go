package redistest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/justredis/justredis/redistest"
)

// askMaster asks one sentinel where the master is, the way a client does.
func askMaster(t *testing.T, sentinel *redistest.Server, name string) string {
	t.Helper()
	got, err := sentinel.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
	require.NoError(t, err)
	host, port, ok := strings.Cut(got, "\n")
	require.True(t, ok, "reply %q", got)
	return host + ":" + port
}

func requireRole(t *testing.T, srv *redistest.Server, role string) {
	t.Helper()
	got, err := srv.Do("ROLE")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(got, role+"\n"), "%s: ROLE says %q", srv.Addr(), got)
}

func TestSentinel(t *testing.T) {
	t.Parallel()
	start := time.Now()
	d := redistest.StartSentinel(t, redistest.SentinelOptions{})
	t.Logf("%s: master, 1 replica and 3 sentinels ready after %v", d.Nodes()[0].Backend(), time.Since(start))

	assert.Equal(t, "mymaster", d.MasterName())
	require.Len(t, d.Sentinels(), 3)
	require.Len(t, d.Nodes(), 2)
	assert.Len(t, d.SentinelAddrs(), 3)
	first, replica := d.Nodes()[0], d.Nodes()[1]
	require.Equal(t, first, d.Master())
	assert.Equal(t, []*redistest.Server{replica}, d.Replicas())
	for i, sn := range d.Sentinels() {
		assert.Equal(t, d.SentinelAddrs()[i], sn.Addr())
		assert.True(t, strings.HasPrefix(sn.Addr(), "127.0.0.1:"), sn.Addr())
		requireRole(t, sn, "sentinel")
		assert.Equal(t, first.Addr(), askMaster(t, sn, "mymaster"))
	}
	// The replica is announced where clients reach it.
	replicas, err := d.Sentinels()[0].Do("SENTINEL", "REPLICAS", "mymaster")
	require.NoError(t, err)
	assert.Contains(t, replicas, "name\n"+replica.Addr()+"\n")

	// Failover waits for the replica to have it.
	_, err = first.Do("SET", "k", "v")
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start = time.Now()
	require.NoError(t, d.Failover(ctx))
	t.Logf("failover settled after %v", time.Since(start))
	require.Equal(t, replica, d.Master())
	requireRole(t, replica, "master")
	requireRole(t, first, "slave")
	assert.Equal(t, []*redistest.Server{first}, d.Replicas())
	for _, sn := range d.Sentinels() {
		assert.Equal(t, replica.Addr(), askMaster(t, sn, "mymaster"))
	}
	got, err := replica.Do("GET", "k")
	require.NoError(t, err)
	assert.Equal(t, "v", got)
	_, err = first.Do("SET", "k", "w")
	assert.ErrorContains(t, err, "READONLY")

	// And back again: a deployment fails over as often as a test likes.
	start = time.Now()
	require.NoError(t, d.Failover(ctx))
	t.Logf("second failover settled after %v", time.Since(start))
	assert.Equal(t, first, d.Master())
}

func TestSentinelReplacesKilledMaster(t *testing.T) {
	t.Parallel()
	d := redistest.StartSentinel(t, redistest.SentinelOptions{Replicas: 2, DownAfter: time.Second})
	old := d.Master()
	require.NotNil(t, old)
	require.NoError(t, old.Kill())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, d.WaitReady(ctx))
	t.Logf("sentinels replaced the killed master after %v", time.Since(start))
	m := d.Master()
	require.NotNil(t, m)
	assert.NotEqual(t, old, m)
	requireRole(t, m, "master")
	assert.Len(t, d.Replicas(), 1)

	// The old master comes back as a replica of the new one.
	require.NoError(t, old.Restart())
	require.NoError(t, d.WaitReady(ctx))
	requireRole(t, old, "slave")
	assert.Len(t, d.Replicas(), 2)
}

func TestSentinelFailoverAwayFromDeadMaster(t *testing.T) {
	t.Parallel()
	// The sentinels would take a minute to act by themselves.
	d := redistest.StartSentinel(t, redistest.SentinelOptions{Replicas: 2, DownAfter: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	hung := d.Master()
	require.NoError(t, hung.Pause())
	require.NoError(t, d.Failover(ctx))
	assert.NotEqual(t, hung, d.Master())
	require.NoError(t, hung.Resume())
	require.NoError(t, d.WaitReady(ctx))
	requireRole(t, hung, "slave")

	killed := d.Master()
	require.NoError(t, killed.Kill())
	require.NoError(t, d.Failover(ctx))
	m := d.Master()
	assert.NotEqual(t, killed, m)
	requireRole(t, m, "master")

	// With the only other node down there is nothing to promote.
	require.Len(t, d.Replicas(), 1)
	require.NoError(t, d.Replicas()[0].Kill())
	assert.ErrorContains(t, d.Failover(ctx), "no running replica to promote")
}

func TestSentinelAuthAndKilledSentinel(t *testing.T) {
	t.Parallel()
	d := redistest.StartSentinel(t, redistest.SentinelOptions{
		MasterName:       "cache-1",
		Server:           redistest.Options{Password: "data-pw"},
		SentinelPassword: "sentinel-pw",
		SentinelUsers:    []redistest.User{{Name: "alice", Password: "wonderland"}},
	})
	sentinel := dial(t, "tcp", d.SentinelAddrs()[1])
	assert.True(t, strings.HasPrefix(inline(t, sentinel, "SENTINEL MASTERS"), "-NOAUTH"))
	assert.Equal(t, "+OK", inline(t, sentinel, "AUTH alice wonderland"))
	assert.Equal(t, "*2", inline(t, sentinel, "SENTINEL GET-MASTER-ADDR-BY-NAME cache-1"))
	assert.True(t, strings.HasPrefix(inline(t, dial(t, "tcp", d.Master().Addr()), "PING"), "-NOAUTH"))

	// The remaining sentinels carry on without the first, which a client
	// still finds first in SentinelAddrs.
	dead := d.Sentinels()[0]
	require.NoError(t, dead.Kill())
	assert.Equal(t, dead.Addr(), d.SentinelAddrs()[0])
	old := d.Master()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, d.Failover(ctx))
	assert.NotEqual(t, old, d.Master())

	// Restarted, it learns of the new master from the others.
	require.NoError(t, dead.Restart())
	require.NoError(t, d.WaitReady(ctx))
	assert.Equal(t, d.Master().Addr(), askMaster(t, dead, "cache-1"))
}

func TestSentinelOptionsRejected(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		opts redistest.SentinelOptions
		want string
	}{
		{redistest.SentinelOptions{Replicas: -1}, "may not be negative"},
		{redistest.SentinelOptions{Sentinels: 2, Quorum: 3}, "Quorum must be between 1 and Sentinels (2), got 3"},
		{redistest.SentinelOptions{DownAfter: time.Microsecond}, "at least 1ms"},
		{redistest.SentinelOptions{MasterName: "my master"}, `MasterName may not contain ' '`},
		{redistest.SentinelOptions{Server: redistest.Options{Password: `a"b`}}, `Server.Password may not contain '"'`},
		{redistest.SentinelOptions{Server: redistest.Options{TLS: true}}, "TLS is not supported"},
	} {
		_, err := redistest.StartSentinelDeployment(c.opts)
		assert.ErrorContains(t, err, c.want)
	}
}
