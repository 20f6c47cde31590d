package redistest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// processBackend runs redis-server as a child of the test binary.
type processBackend struct{ bin string }

func newProcessBackend() (backend, error) {
	bin, err := findRedisServer()
	if err != nil {
		return nil, err
	}
	return processBackend{bin: bin}, nil
}

func (processBackend) name() string { return "process" }

func (b processBackend) newRunner(l layout, args []string) runner {
	return &processRunner{bin: b.bin, args: args, dir: l.dir, outPath: l.path("stdout.log")}
}

// processRunner signals only the PID it got from exec, never a process found
// by name, so it cannot touch servers it did not start.
type processRunner struct {
	bin     string
	args    []string
	dir     string
	outPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has been waited for
	waitErr error
}

func (p *processRunner) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running() {
		return errors.New("redis-server is already running")
	}
	out, err := os.OpenFile(p.outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close() // the child keeps its own copy
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir = p.dir
	cmd.Stdout = out
	cmd.Stderr = out
	if err := spawn(cmd); err != nil {
		return fmt.Errorf("starting %s: %w", p.bin, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// running reports whether the last started process has not exited; p.mu
// must be held.
func (p *processRunner) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *processRunner) signal(sig os.Signal) error {
	if sig == nil {
		return errors.New("pausing a process is not supported on this OS")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running() {
		return errors.New("redis-server is not running")
	}
	return p.cmd.Process.Signal(sig)
}

func (p *processRunner) kill() error {
	p.mu.Lock()
	if !p.running() {
		p.mu.Unlock()
		return nil
	}
	err := p.cmd.Process.Kill()
	done := p.done
	p.mu.Unlock()
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("redis-server did not exit within 10s of SIGKILL")
	}
}

func (p *processRunner) pause() error  { return p.signal(sigStop) }
func (p *processRunner) resume() error { return p.signal(sigCont) }
func (p *processRunner) remove() error { return p.kill() }

func (p *processRunner) exited() (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil || p.running() {
		return false, ""
	}
	if p.waitErr != nil {
		return true, p.waitErr.Error()
	}
	return true, "exit status 0"
}

func (p *processRunner) output() string { return fileTail(p.outPath, 20) }
