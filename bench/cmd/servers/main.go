// Command servers starts the Redis servers the benchmarks share: one
// standalone server (TCP and a unix socket) and a 3-master cluster with no
// replicas, all through redistest on loopback ports. It writes their
// addresses as shell assignments to the file named by -env, then waits
// until it gets SIGINT or SIGTERM or its standard input closes, and removes
// the servers.
//
//	BENCH_ADDR=127.0.0.1:port
//	BENCH_UNIX=/tmp/.../redis.sock
//	BENCH_CLUSTER=127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3
//	BENCH_REDIS_VERSION=7.0.15
//
// run.sh sets JUSTREDIS_TEST_BACKEND=process, so the servers run as child
// processes: no container networking between client and server, and on
// Linux they die with this program.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/justredis/justredis/redistest"
)

func main() {
	envPath := flag.String("env", "", "file to write the servers' addresses to (required)")
	cluster := flag.Bool("cluster", true, "also start a 3-master cluster")
	stdin := flag.Bool("stdin", false, "also stop when standard input closes")
	flag.Parse()
	if *envPath == "" {
		fmt.Fprintln(os.Stderr, "servers: -env is required")
		os.Exit(2)
	}
	if err := run(*envPath, *cluster, *stdin); err != nil {
		fmt.Fprintln(os.Stderr, "servers:", err)
		os.Exit(1)
	}
}

func run(envPath string, withCluster, watchStdin bool) error {
	// Catch signals before anything starts, so servers are always removed.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)

	s, err := redistest.StartServer(redistest.Options{UnixSocket: true})
	if err != nil {
		return err
	}
	defer s.Close()

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
	if withCluster {
		c, err := redistest.StartClusterServer(3, 0, redistest.Options{})
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Fprintf(&b, "BENCH_CLUSTER=%s\n", strings.Join(c.Addrs(), ","))
	}

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
