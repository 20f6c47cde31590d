// Package redistest starts real Redis servers for tests.
//
// A server runs either in a Docker container or as a local redis-server
// process; both use the redis-server binary installed on the machine (on
// Debian/Ubuntu: apt-get install -y redis-server). The Docker image is built
// locally from that binary and never pulled, so no registry is needed.
// Servers listen on free loopback ports only, keep their config, logs,
// certificates and unix socket in a private temporary directory, and are
// removed when the test ends.
//
// StartCluster starts a Redis Cluster of any number of masters and
// replicas. StartSentinel starts a Sentinel deployment: a master, its
// replicas, and sentinels (redis-server --sentinel) that monitor them, with
// Failover to promote a replica the way an operator would:
//
//	d := redistest.StartSentinel(t, redistest.SentinelOptions{Replicas: 2})
//	// a client configured with d.MasterName() and d.SentinelAddrs() ...
//	err := d.Failover(ctx) // d.Master() is now a former replica
//
// The sentinels' internal timers are shortened (SENTINEL DEBUG), so a
// deployment is ready in about a second and a failover settles in about
// three; killing the master gets it replaced after
// SentinelOptions.DownAfter and about two more seconds.
//
// Set JUSTREDIS_TEST_BACKEND=docker or JUSTREDIS_TEST_BACKEND=process to pick
// a backend; otherwise Docker is used when an engine answers.
//
// A test binary that is killed outright cannot clean up. Local processes die
// with it on Linux, but containers stay behind; they carry the label
// org.justredis.redistest=server, so
//
//	docker rm -f $(docker ps -aq --filter label=org.justredis.redistest=server)
//
// removes them.
//
//	func TestSomething(t *testing.T) {
//		srv := redistest.Start(t, redistest.Options{Password: "secret"})
//		// connect to srv.Addr() or srv.URL() ...
//	}
package redistest
