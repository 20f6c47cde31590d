package redistest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
)

// envBackend forces a backend for every server whose Options.Backend is
// empty, so CI can run the same tests against both without code changes.
const envBackend = "JUSTREDIS_TEST_BACKEND"

const installHint = "install redis-server (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis) " +
	"or set " + envBackend + " to pick a backend explicitly"

// backend knows how to run redis-server somewhere.
type backend interface {
	name() string
	newRunner(l layout, args []string) runner
}

// runner is one redis-server instance. Its command line and directory are
// fixed at creation; start may be called again after kill to restart it.
type runner interface {
	start() error
	kill() error // SIGKILL and wait until it is gone
	pause() error
	resume() error
	remove() error          // stop for good and release what the runner holds
	exited() (bool, string) // whether the server died, and how
	output() string         // what it printed outside its log file
}

var (
	autoOnce    sync.Once
	autoBackend backend
	autoErr     error
)

// chooseBackend resolves Options.Backend, then envBackend, then auto
// detection. Auto detection runs once per process: probing Docker and
// building the image is too slow to repeat for every server.
func chooseBackend(want string) (backend, error) {
	if want == "" {
		want = os.Getenv(envBackend)
	}
	switch want {
	case "docker":
		return dockerBackendOnce()
	case "process":
		return newProcessBackend()
	case "":
		autoOnce.Do(func() { autoBackend, autoErr = detectBackend() })
		return autoBackend, autoErr
	}
	return nil, fmt.Errorf("unknown backend %q (want \"docker\" or \"process\")", want)
}

// detectBackend prefers Docker, which isolates the server's process from the
// test's, and falls back to a plain process when Docker is absent or cannot
// build its image.
func detectBackend() (backend, error) {
	var dockerErr error
	if runtime.GOOS == "linux" {
		b, err := dockerBackendOnce()
		if err == nil {
			return b, nil
		}
		dockerErr = err
	} else {
		// The image is built from the host's binary, which only runs in a
		// Linux container when the host is Linux.
		dockerErr = errors.New("the docker backend needs a Linux host")
	}
	b, err := newProcessBackend()
	if err != nil {
		return nil, fmt.Errorf("no backend available: docker: %v; process: %v", dockerErr, err)
	}
	return b, nil
}

// fallbackRedisServer is where Debian's package puts the binary, for
// environments whose PATH lacks /usr/bin; a variable so tests can move it.
var fallbackRedisServer = "/usr/bin/redis-server"

// findRedisServer locates the redis-server binary both backends start from.
func findRedisServer() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	if _, err := os.Stat(fallbackRedisServer); err == nil {
		return fallbackRedisServer, nil
	}
	return "", errors.New("redis-server not found on PATH or at /usr/bin/redis-server; " + installHint)
}
