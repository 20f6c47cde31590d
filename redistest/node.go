package redistest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 15 * time.Second

// nodeConfig is everything startNode needs. Clusters reuse it with cluster
// set and one CA shared by all nodes, so one TLSConfig trusts every node.
type nodeConfig struct {
	opts    Options
	ca      *authority // nil: a fresh CA for this server
	cluster bool

	// Sentinel deployments add their own directives (extra, written after
	// redistest's usual ones), and sentinels run in sentinel mode.
	extra    [][]string
	sentinel bool
}

// startNode starts one redis-server and waits until it answers. It is the
// single place where servers come to life, for Start and StartCluster alike.
func startNode(cfg nodeConfig) (*Server, error) {
	if err := cfg.opts.checkUsers(); err != nil {
		return nil, err
	}
	b, err := chooseBackend(cfg.opts.Backend)
	if err != nil {
		return nil, err
	}
	dir, err := makeDir()
	if err != nil {
		return nil, err
	}
	var certs *certFiles
	if cfg.opts.tls() {
		ca := cfg.ca
		if ca == nil {
			if ca, err = newAuthority(); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
		}
		if certs, err = ca.issue(dir); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}

	// Free ports can be taken by someone else before the server binds them;
	// when that is why it failed, try again with new ones.
	for attempt := 1; ; attempt++ {
		s, err := launch(b, cfg, layout{dir: dir, certs: certs})
		if err == nil {
			return s, nil
		}
		if attempt == 5 || !errors.Is(err, errPortTaken) {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

var errPortTaken = errors.New("port already in use")

// launch allocates ports, writes the config and starts the server once.
func launch(b backend, cfg nodeConfig, l layout) (*Server, error) {
	n := 1
	if l.certs != nil {
		n++
	}
	if cfg.cluster {
		n++
	}
	ports, err := pickPorts(n)
	if err != nil {
		return nil, err
	}
	l.port = ports[0]
	if l.certs != nil {
		l.tlsPort = ports[1]
	}
	if cfg.cluster {
		l.busPort = ports[n-1]
	}
	// A fresh log per attempt, so errors of an earlier attempt are not
	// mistaken for this one's.
	os.Remove(l.path("redis.log"))
	os.Remove(l.path("stdout.log"))
	args, err := writeConfig(l, cfg.opts, cfg.extra...)
	if err != nil {
		releasePorts(ports...)
		return nil, err
	}
	if cfg.sentinel {
		// Sentinel mode is a command-line switch, not a directive.
		args = slices.Insert(args, 1, "--sentinel")
	}
	s := &Server{opts: cfg.opts, l: l, backend: b.name(), run: b.newRunner(l, args), ports: ports}
	err = s.run.start()
	if err == nil {
		err = s.waitReady(startTimeout)
	}
	if err != nil {
		taken := strings.Contains(s.logTail(50), "Address already in use")
		if rerr := s.run.remove(); rerr != nil {
			err = fmt.Errorf("%w (and removing it failed: %v)", err, rerr)
		}
		releasePorts(ports...)
		if taken {
			return nil, fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return nil, err
	}
	return s, nil
}

// waitReady polls until the server answers PING, failing early when it
// dies so a bad config does not cost the whole timeout.
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	lastCheck := time.Now()
	var lastErr error
	for time.Now().Before(deadline) {
		if lastErr = s.ping(); lastErr == nil {
			return nil
		}
		if time.Since(lastCheck) > 200*time.Millisecond {
			lastCheck = time.Now()
			if dead, how := s.run.exited(); dead {
				return s.startError("exited during startup: " + how)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s.startError(fmt.Sprintf("did not answer PING within %v: %v", timeout, lastErr))
}

// ping is the readiness probe. Error replies other than LOADING count as
// ready: the server is answering, and Options.Args may have changed the
// password.
func (s *Server) ping() error {
	c, err := dialRESP("tcp", s.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if s.opts.Password != "" {
		if _, err := c.do("AUTH", s.opts.Password); err != nil && !answered(err) {
			return err
		}
	}
	rep, err := c.do("PING")
	if err != nil {
		if answered(err) {
			return nil
		}
		return err
	}
	if rep.str != "PONG" {
		return fmt.Errorf("unexpected PING reply %q", rep.str)
	}
	return nil
}

func answered(err error) bool {
	var se serverError
	return errors.As(err, &se) && !strings.HasPrefix(string(se), "LOADING")
}

func (s *Server) startError(what string) error {
	return fmt.Errorf("redis-server on %s (%s backend) %s\n--- log tail ---\n%s", s.Addr(), s.backend, what, s.logTail(20))
}

// logTail is the end of the server's log plus what it printed elsewhere
// (errors before the log file is open go to stderr).
func (s *Server) logTail(lines int) string {
	out := fileTail(s.l.path("redis.log"), lines)
	if extra := strings.TrimSpace(s.run.output()); extra != "" {
		out += "\n--- output ---\n" + tail(extra, lines)
	}
	return out
}

// makeDir creates the server's private directory. Unix socket paths are
// limited to about 100 bytes, so a long TMPDIR falls back to /tmp.
func makeDir() (string, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return "", err
	}
	if len(filepath.Join(dir, "redis.sock")) > 100 {
		os.RemoveAll(dir)
		return os.MkdirTemp("/tmp", "redistest-")
	}
	return dir, nil
}

func fileTail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "(nothing logged yet)"
	}
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return tail(string(data), lines)
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
