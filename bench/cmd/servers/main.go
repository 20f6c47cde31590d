// Command servers starts the Redis servers the benchmarks share: one
// standalone server (TCP and a unix socket) and clusters of 3 and 15
// masters with no replicas, all through redistest on loopback ports. It
// writes their addresses as shell assignments to the file named by -env,
// then waits until it gets SIGINT or SIGTERM or its standard input closes,
// and removes the servers.
//
//	BENCH_ADDR=127.0.0.1:port
//	BENCH_UNIX=/tmp/.../redis.sock
//	BENCH_CLUSTER_3=127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3
//	BENCH_CLUSTER_15=127.0.0.1:p4,…
//	BENCH_REDIS_VERSION=7.0.15
//	BENCH_BACKEND=process
//
// The clusters start side by side with the standalone server, so start-up
// costs about what the 15-master cluster alone takes (2-3 s as processes).
//
// run.sh sets JUSTREDIS_TEST_BACKEND=process, so the servers run as child
// processes: no container networking between client and server, and on
// Linux they die with this program.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/justredis/justredis/redistest"
)

func main() {
	envPath := flag.String("env", "", "file to write the servers' addresses to (required)")
	sizes := flag.String("clusters", "3,15", "masters of each cluster to start, comma-separated (empty: none)")
	withClusters := flag.Bool("cluster", true, "start the clusters at all (-cluster=false: the standalone server only)")
	stdin := flag.Bool("stdin", false, "also stop when standard input closes")
	flag.Parse()
	if *envPath == "" {
		fmt.Fprintln(os.Stderr, "servers: -env is required")
		os.Exit(2)
	}
	masters, err := parseSizes(*sizes)
	if err != nil {
		fmt.Fprintln(os.Stderr, "servers: -clusters:", err)
		os.Exit(2)
	}
	if !*withClusters {
		masters = nil
	}
	if err := run(*envPath, masters, *stdin); err != nil {
		fmt.Fprintln(os.Stderr, "servers:", err)
		os.Exit(1)
	}
}

// parseSizes reads "3,15" as the masters of each cluster.
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a number of masters", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(envPath string, clusterSizes []int, watchStdin bool) error {
	// Catch signals before anything starts, so servers are always removed.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)

	began := time.Now()
	// Everything starts at once: the nodes are separate processes, and most
	// of a cluster's start-up is waiting for its gossip to converge.
	clusters := make([]*redistest.Cluster, len(clusterSizes))
	errs := make([]error, len(clusterSizes))
	var wg sync.WaitGroup
	for i, n := range clusterSizes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clusters[i], errs[i] = redistest.StartClusterServer(n, 0, redistest.Options{})
			if errs[i] != nil {
				errs[i] = fmt.Errorf("a %d-master cluster: %w", n, errs[i])
			}
		}()
	}
	s, err := redistest.StartServer(redistest.Options{UnixSocket: true})
	wg.Wait()
	for _, c := range clusters {
		if c != nil {
			defer c.Close()
		}
	}
	if err != nil {
		return err
	}
	defer s.Close()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	version := "unknown"
	if info, err := s.Do("INFO", "server"); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				version = v
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "BENCH_ADDR=%s\nBENCH_UNIX=%s\nBENCH_REDIS_VERSION=%s\nBENCH_BACKEND=%s\n",
		s.Addr(), s.UnixPath(), version, s.Backend())
	for i, c := range clusters {
		fmt.Fprintf(&b, "BENCH_CLUSTER_%d=%s\n", clusterSizes[i], strings.Join(c.Addrs(), ","))
	}

	fmt.Fprintf(os.Stderr, "servers: redis %s, standalone and clusters of %v masters up in %.1fs\n",
		version, clusterSizes, time.Since(began).Seconds())

	// Write then rename, so a reader never sees half a file.
	tmp := envPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, envPath); err != nil {
		return err
	}

	done := make(chan struct{})
	if watchStdin {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			close(done)
		}()
	}
	select {
	case <-sigs:
	case <-done:
	}
	return nil
}
