package redistest

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests replace package variables, so they do not run in parallel.

func TestRetriesWhenPortIsTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	var once sync.Once
	pickPorts = func(n int) ([]int, error) {
		handOut := false
		once.Do(func() { handOut = true })
		if handOut {
			return []int{busyPort}, nil
		}
		return freePorts(n)
	}
	defer func() { pickPorts = freePorts }()

	srv := Start(t, Options{})
	assert.NotEqual(t, "127.0.0.1:"+strconv.Itoa(busyPort), srv.Addr())
	_, err = srv.Do("PING")
	assert.NoError(t, err)
}

func TestMissingRedisServerExplainsInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := fallbackRedisServer
	fallbackRedisServer = "/nonexistent/redis-server"
	defer func() { fallbackRedisServer = old }()

	_, err := StartServer(Options{Backend: "process"})
	assert.ErrorContains(t, err, "apt-get install -y redis-server")
}

func TestBadConfigFailsFastWithLog(t *testing.T) {
	start := time.Now()
	_, err := StartServer(Options{Args: []string{"--no-such-directive", "1"}})
	require.Error(t, err)
	t.Log(err)
	assert.Contains(t, err.Error(), "no-such-directive")
	assert.Less(t, time.Since(start), 10*time.Second)
}

func TestParseClusterNodes(t *testing.T) {
	view, err := parseClusterNodes("" +
		"07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected\n" +
		"e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 5462 [5461->-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]\n")
	require.NoError(t, err)
	require.Len(t, view, 2)
	assert.Equal(t, 30004, view[0].port)
	assert.True(t, view[0].flags["slave"])
	me, ok := myself(view)
	require.True(t, ok)
	assert.Equal(t, [][2]int{{0, 5460}, {5462, 5462}}, me.slots)
	assert.Equal(t, me.id, slotOwner(view, 5462))
	assert.Equal(t, "", slotOwner(view, 5461))
}

func TestQuoteConfig(t *testing.T) {
	assert.Equal(t, `""`, quoteConfig(""))
	assert.Equal(t, `"a \"b\" \\ \x0a"`, quoteConfig("a \"b\" \\ \n"))
}

// A container whose test process is gone (killed by its timeout, say) is
// removed the next time a process starts the Docker backend; one whose
// process lives is left alone.
func TestRemoveOrphans(t *testing.T) {
	b, err := dockerBackendOnce()
	if err != nil {
		t.Skipf("no Docker engine: %v", err)
	}
	client := b.(*dockerBackend).client
	orphan := func(pid int) string {
		c, err := client.CreateContainer(dc.CreateContainerOptions{
			Config: &dc.Config{
				Image: b.(*dockerBackend).image,
				Cmd:   []string{"redis-server", "--port", "0"},
				Labels: map[string]string{
					"org.justredis.redistest":     "server",
					"org.justredis.redistest.pid": strconv.Itoa(pid),
				},
			},
		})
		require.NoError(t, err)
		t.Cleanup(func() { client.RemoveContainer(dc.RemoveContainerOptions{ID: c.ID, Force: true}) })
		return c.ID
	}
	gone := exec.Command("true")
	require.NoError(t, gone.Run()) // its PID is free now
	dead, alive := orphan(gone.Process.Pid), orphan(os.Getpid())
	removeOrphans(client)
	_, err = client.InspectContainer(dead)
	var missing *dc.NoSuchContainer
	require.ErrorAs(t, err, &missing)
	_, err = client.InspectContainer(alive)
	require.NoError(t, err)
}

// TestBuildNoticesStrayMeet: a node that a node of another cluster met
// before the build introduced it to any (that cluster had a peer on its
// port) is noticed, so that StartCluster starts again on fresh ports
// instead of failing, or building a cluster with a stranger in it.
func TestBuildNoticesStrayMeet(t *testing.T) {
	cfg := nodeConfig{cluster: true}
	stray, err := startNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer stray.Close()
	ours, err := startNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	if _, err := stray.Do("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(ours.l.port), strconv.Itoa(ours.l.busPort)); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; {
		v, err := ours.view()
		if err == nil && len(v) > 1 {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("the MEET never reached the node")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := &Cluster{nodes: []*Server{ours}}
	if err := c.build(1, 0); !errors.Is(err, errStrayMeet) {
		t.Fatalf("build = %v, want errStrayMeet", err)
	}
}
