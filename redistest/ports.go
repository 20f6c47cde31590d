package redistest

import (
	"errors"
	"net"
	"sync"
)

// Ports are found by letting the kernel pick a free loopback port and closing
// the listener again. Another program can grab the port before redis-server
// binds it; startNode retries with new ports when that happens. Ports handed
// out here stay reserved until their server closes, so parallel tests in one
// binary never receive the same port twice.
var (
	portsMu  sync.Mutex
	reserved = map[int]bool{}
)

// pickPorts is freePorts, replaceable so tests can hand out a busy port.
var pickPorts = freePorts

// freePorts returns n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	// Keeping all listeners open until the end makes the ports distinct;
	// the attempt bound only matters if the kernel keeps returning ports we
	// already reserved.
	for attempts := 0; len(ports) < n && attempts < 100*n; attempts++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		held = append(held, l)
		port := l.Addr().(*net.TCPAddr).Port
		if !reserved[port] {
			ports = append(ports, port)
		}
	}
	if len(ports) < n {
		return nil, errors.New("no free loopback ports left")
	}
	for _, p := range ports {
		reserved[p] = true
	}
	return ports, nil
}

func releasePorts(ports ...int) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for _, p := range ports {
		delete(reserved, p)
	}
}
