package justredis_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// sharedServer is one Redis server shared by the tests and examples of
// this package that need nothing special; server starts it at first use,
// so that test binaries that need none (fuzz workers, say) start none.
// Tests that change server settings, kill it or need TLS or ACLs start
// servers of their own.
var (
	sharedOnce   sync.Once
	sharedServer *redistest.Server
)

func server() *redistest.Server {
	sharedOnce.Do(func() {
		s, err := redistest.StartServer(redistest.Options{UnixSocket: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "cannot start a Redis server for the tests:", err)
			os.Exit(1)
		}
		sharedServer = s
	})
	return sharedServer
}

func TestMain(m *testing.M) {
	code := m.Run()
	if leaked := testGoroutines(10 * time.Second); len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "%d goroutines of the tests outlived them (a test must stop what it starts, also when it fails):\n\n%s\n",
			len(leaked), strings.Join(leaked, "\n\n"))
		code = 1
	}
	if sharedServer != nil {
		sharedServer.Close()
	}
	os.Exit(code)
}

// testGoroutines returns the stacks of the goroutines that still run test
// code once every test ended, after waiting up to wait for them to end. A
// test's goroutine that outlives it (a load loop whose stop a failed
// require skipped, say) slows every test after it, and under the race
// detector that turns one failure into many.
func testGoroutines(wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		for {
			n := runtime.Stack(buf, true)
			if n < len(buf) {
				buf = buf[:n]
				break
			}
			buf = make([]byte, 2*len(buf))
		}
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "_test.go:") && !strings.Contains(g, "TestMain(") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// newRedis returns a client of the shared server, closed when t ends.
func newRedis(t testing.TB, opts ...justredis.Option) *justredis.Redis {
	t.Helper()
	r, err := justredis.New(append([]justredis.Option{justredis.WithAddress(server().Addr())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// testCtx bounds a test's calls, so a bug fails the test instead of hanging
// the run.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// key returns a key unique to the test, so tests sharing a server never
// see each other's data, nor their own from an earlier run (-count=2).
func key(t testing.TB, name string) string {
	run, _ := runs.LoadOrStore(t, runCount.Add(1))
	return fmt.Sprintf("%s:%d:%s", t.Name(), run, name)
}

var (
	runs     sync.Map // testing.TB → its run number
	runCount atomic.Int64
)

// forEachRESP runs f under RESP2 and RESP3.
func forEachRESP(t *testing.T, f func(t *testing.T, resp int)) {
	for _, resp := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", resp), func(t *testing.T) { f(t, resp) })
	}
}

// commandsProcessed reads the server's count of commands, to show that a
// refused call sent nothing.
func commandsProcessed(t *testing.T) int64 {
	t.Helper()
	info, err := server().Do("INFO", "stats")
	require.NoError(t, err)
	var n int64
	for _, line := range splitLines(info) {
		if _, err := fmt.Sscanf(line, "total_commands_processed:%d", &n); err == nil {
			return n
		}
	}
	t.Fatal("no total_commands_processed in INFO")
	return 0
}

func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			lines = append(lines, trimCR(s[start:i]))
			start = i + 1
		}
	}
	return append(lines, trimCR(s[start:]))
}

func trimCR(s string) string {
	if len(s) > 0 && s[len(s)-1] == '\r' {
		return s[:len(s)-1]
	}
	return s
}
