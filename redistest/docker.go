package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
)

// dockerBackend runs each server in its own container of the locally built
// image. Containers share the host's network namespace and bind 127.0.0.1
// only, so addresses mean the same thing for both backends and nothing is
// reachable from outside the machine.
type dockerBackend struct {
	client *dc.Client
	image  string
}

var (
	dockerMu   sync.Mutex
	dockerDone bool
	dockerB    backend
	dockerErr  error
)

// dockerBackendOnce connects and builds the image once per process; the
// outcome, failure included, is reused by every later server.
func dockerBackendOnce() (backend, error) {
	dockerMu.Lock()
	defer dockerMu.Unlock()
	if !dockerDone {
		dockerB, dockerErr = newDockerBackend()
		dockerDone = true
	}
	return dockerB, dockerErr
}

func newDockerBackend() (backend, error) {
	bin, err := findRedisServer()
	if err != nil {
		return nil, err
	}
	pool, err := dockertest.NewPool("")
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := pool.Client.PingWithContext(ctx); err != nil {
		return nil, fmt.Errorf("docker engine does not answer (set %s=process to run redis-server directly): %w", envBackend, err)
	}
	// A wedged daemon must not hang tests forever.
	pool.Client.SetTimeout(2 * time.Minute)
	image, err := ensureImage(pool.Client, bin)
	if err != nil {
		return nil, err
	}
	removeOrphans(pool.Client)
	return &dockerBackend{client: pool.Client, image: image}, nil
}

// removeOrphans removes the containers of test processes that are gone: a
// test binary killed by its timeout, or by a signal, never ran its cleanup,
// and its servers would run on, holding ports, until the engine stops.
// Only containers redistest made carry its label, and the process that made
// one is named in it, so nothing else is touched. Containers of another
// machine sharing the engine would look orphaned; redistest's containers
// use the host's network, so they are only ever this machine's.
func removeOrphans(client *dc.Client) {
	containers, err := client.ListContainers(dc.ListContainersOptions{
		All:     true,
		Filters: map[string][]string{"label": {"org.justredis.redistest"}},
	})
	if err != nil {
		return // best effort: it only tidies up
	}
	for _, c := range containers {
		pid, err := strconv.Atoi(c.Labels["org.justredis.redistest.pid"])
		if err != nil || processAlive(pid) {
			continue
		}
		client.RemoveContainer(dc.RemoveContainerOptions{ID: c.ID, Force: true})
	}
}

func (*dockerBackend) name() string { return "docker" }

func (b *dockerBackend) newRunner(l layout, args []string) runner {
	return &dockerRunner{client: b.client, image: b.image, l: l, args: args}
}

// dockerRunner owns one container, created on first start and reused by
// later starts so a restarted server keeps its command line.
type dockerRunner struct {
	client *dc.Client
	image  string
	l      layout
	args   []string

	mu     sync.Mutex
	id     string
	paused bool
}

func (d *dockerRunner) start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.id == "" {
		if err := d.create(); err != nil {
			return err
		}
	}
	return d.client.StartContainer(d.id, nil)
}

func (d *dockerRunner) create() error {
	// Run as the test's user so the files the server writes into the shared
	// directory can be removed by the test afterwards.
	user := ""
	if os.Getuid() >= 0 {
		user = fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	}
	c, err := d.client.CreateContainer(dc.CreateContainerOptions{
		Config: &dc.Config{
			Image: d.image,
			Cmd:   d.args,
			User:  user,
			Labels: map[string]string{
				"org.justredis.redistest":      "server",
				"org.justredis.redistest.pid":  strconv.Itoa(os.Getpid()),
				"org.justredis.redistest.port": strconv.Itoa(d.l.port),
			},
		},
		HostConfig: &dc.HostConfig{
			NetworkMode: "host",
			// Same path inside and out: config, certificates and the unix
			// socket work without translation.
			Binds: []string{d.l.dir + ":" + d.l.dir},
		},
	})
	if err != nil {
		return fmt.Errorf("creating container from %s: %w", d.image, err)
	}
	d.id = c.ID
	return nil
}

func (d *dockerRunner) kill() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.id == "" {
		return nil
	}
	// Docker refuses to signal a paused container.
	if err := d.unpauseLocked(); err != nil {
		return err
	}
	err := d.client.KillContainer(dc.KillContainerOptions{ID: d.id, Signal: dc.SIGKILL})
	var notRunning *dc.ContainerNotRunning
	if err != nil && !errors.As(err, &notRunning) {
		return err
	}
	// The kill is asynchronous; wait so a following start does not race it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = d.client.WaitContainerWithContext(d.id, ctx)
	return err
}

func (d *dockerRunner) pause() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.client.PauseContainer(d.id); err != nil {
		return err
	}
	d.paused = true
	return nil
}

func (d *dockerRunner) resume() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.unpauseLocked()
}

func (d *dockerRunner) unpauseLocked() error {
	if !d.paused {
		return nil
	}
	if err := d.client.UnpauseContainer(d.id); err != nil {
		return err
	}
	d.paused = false
	return nil
}

func (d *dockerRunner) remove() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.id == "" {
		return nil
	}
	_ = d.unpauseLocked() // best effort; a forced remove follows anyway
	err := d.client.RemoveContainer(dc.RemoveContainerOptions{ID: d.id, Force: true, RemoveVolumes: true})
	var gone *dc.NoSuchContainer
	if err != nil && !errors.As(err, &gone) {
		return err
	}
	d.id = ""
	return nil
}

func (d *dockerRunner) exited() (bool, string) {
	d.mu.Lock()
	id := d.id
	d.mu.Unlock()
	if id == "" {
		return false, ""
	}
	c, err := d.client.InspectContainer(id)
	if err != nil {
		return true, err.Error()
	}
	if c.State.Running {
		return false, ""
	}
	return true, fmt.Sprintf("container exited with code %d %s", c.State.ExitCode, c.State.Error)
}

func (d *dockerRunner) output() string {
	d.mu.Lock()
	id := d.id
	d.mu.Unlock()
	if id == "" {
		return ""
	}
	var buf bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := d.client.Logs(dc.LogsOptions{
		Context: ctx, Container: id, OutputStream: &buf, ErrorStream: &buf,
		Stdout: true, Stderr: true, Tail: "20",
	})
	if err != nil {
		return "container logs: " + err.Error()
	}
	return buf.String()
}
