// Package bench compares justredis with go-redis v9, rueidis, redigo and
// radix v4 on the same workloads against the same local Redis server.
//
// The servers come from the environment when run.sh (through cmd/servers)
// started them, so every client and redis-benchmark talk to the very same
// processes across all repeats:
//
//	BENCH_ADDR        127.0.0.1:port of a standalone server
//	BENCH_UNIX        the same server's unix socket path
//	BENCH_CLUSTER_3   comma-separated addresses of a 3-master cluster
//	BENCH_CLUSTER_15  the same for a 15-master cluster
//
// Without them, TestMain starts its own through redistest (each cluster only
// when a benchmark first needs it), so `go test -bench .` works on its own.
package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
)

// target is one place to send commands to.
type target struct {
	net   string   // "tcp" or "unix"
	addrs []string // one address (host:port or socket path), or cluster seeds
	clust bool
}

func (t target) String() string {
	if t.clust {
		return "cluster:" + strings.Join(t.addrs, ",")
	}
	return t.net + ":" + t.addrs[0]
}

var (
	standaloneTCP  target
	standaloneUnix target

	clustersMu sync.Mutex
	clusters   = map[int]target{} // by number of masters

	ownServer   *redistest.Server    // nil when the environment named the servers
	ownClusters []*redistest.Cluster // the clusters this process started
)

// clusterSizes are the numbers of masters the cluster rows run against:
// the smallest real cluster, and one wide enough that a client's cost per
// node shows.
var clusterSizes = []int{3, 15}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if addr := os.Getenv("BENCH_ADDR"); addr != "" {
		standaloneTCP = target{net: "tcp", addrs: []string{addr}}
		if p := os.Getenv("BENCH_UNIX"); p != "" {
			standaloneUnix = target{net: "unix", addrs: []string{p}}
		}
	} else {
		s, err := redistest.StartServer(redistest.Options{UnixSocket: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: starting redis-server:", err)
			return 1
		}
		ownServer = s
		standaloneTCP = target{net: "tcp", addrs: []string{s.Addr()}}
		standaloneUnix = target{net: "unix", addrs: []string{s.UnixPath()}}
	}
	code := m.Run()
	closeClients()
	for _, c := range ownClusters {
		c.Close()
	}
	if ownServer != nil {
		ownServer.Close()
	}
	return code
}

// clusterTarget returns the cluster of the given number of masters (no
// replicas), from BENCH_CLUSTER_<masters> or, when the environment names
// none, started on first use.
func clusterTarget(tb testing.TB, masters int) target {
	tb.Helper()
	clustersMu.Lock()
	defer clustersMu.Unlock()
	if t, ok := clusters[masters]; ok {
		return t
	}
	if addrs := os.Getenv(fmt.Sprintf("BENCH_CLUSTER_%d", masters)); addrs != "" {
		t := target{net: "tcp", addrs: strings.Split(addrs, ","), clust: true}
		clusters[masters] = t
		return t
	}
	c, err := redistest.StartClusterServer(masters, 0, redistest.Options{})
	if err != nil {
		tb.Fatalf("starting a %d-master cluster: %v", masters, err)
	}
	ownClusters = append(ownClusters, c)
	t := target{net: "tcp", addrs: c.Addrs(), clust: true}
	clusters[masters] = t
	return t
}

// standalone returns the standalone server reached over net.
func standalone(tb testing.TB, net string) target {
	tb.Helper()
	switch net {
	case "tcp":
		return standaloneTCP
	case "unix":
		if len(standaloneUnix.addrs) == 0 {
			tb.Skip("no unix socket (BENCH_UNIX is empty)")
		}
		return standaloneUnix
	}
	tb.Fatalf("unknown net %q", net)
	return target{}
}

// The data set: numKeys keys with distinct 16-byte values, and one 1 MiB
// value. Keys carry no hash tag, so in a cluster they spread over all
// masters.
const (
	numKeys  = 100
	valueLen = 16
	bigLen   = 1 << 20
	bigKey   = "bench:big"
	maxConc  = 64 // the highest parallelism benchmarked; pools are sized for it
	pipeSize = 100
)

var (
	keys     [numKeys]string
	vals     [numKeys]string
	bigVal   string
	bigBytes []byte
)

func init() {
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:k:%02d", i)
		vals[i] = fmt.Sprintf("value-%010d", i*7919) // 16 bytes
		if len(vals[i]) != valueLen {
			panic("value length")
		}
	}
	bigBytes = make([]byte, bigLen)
	for i := range bigBytes {
		bigBytes[i] = 'a' + byte(i*31%26)
	}
	bigVal = string(bigBytes)
}

// cpuTime is the CPU time (user+system) this process has used so far. The
// servers are other processes, so their work is not in it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadKeys writes the 16-byte data set through c, checking each reply.
func loadKeys(tb testing.TB, c client) {
	tb.Helper()
	ctx := context.Background()
	for i := range keys {
		if err := c.Set(ctx, keys[i], vals[i]); err != nil {
			tb.Fatalf("SET %s: %v", keys[i], err)
		}
	}
}
