package redistest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// layout is where a server lives: its directory and the ports it owns. It
// stays fixed for the server's life so Restart comes back on the same ports.
type layout struct {
	dir     string
	port    int
	tlsPort int // 0 without TLS
	busPort int // 0 outside a cluster
	certs   *certFiles
}

func (l layout) path(name string) string { return filepath.Join(l.dir, name) }

// writeConfig writes redis.conf and returns the redis-server arguments. A
// config file rather than flags keeps passwords and ACL rules with spaces or
// quotes intact; Options.Args follow the file so they override it. Extra
// directives go at the end of the file.
func writeConfig(l layout, opts Options, extra ...[]string) ([]string, error) {
	var b strings.Builder
	line := func(words ...string) {
		for i, w := range words {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(quoteConfig(w))
		}
		b.WriteByte('\n')
	}

	line("port", strconv.Itoa(l.port))
	line("bind", "127.0.0.1")
	line("dir", l.dir)
	line("logfile", l.path("redis.log"))
	line("save", "")
	line("appendonly", "no")
	line("enable-debug-command", "yes")
	// Replicas would otherwise wait 5s for a full sync to start.
	line("repl-diskless-sync-delay", "0")
	if opts.Password == "" && len(opts.Users) == 0 {
		line("protected-mode", "no")
	}
	if opts.Password != "" {
		line("requirepass", opts.Password)
		line("masterauth", opts.Password) // lets cluster replicas sync
	}
	for _, u := range opts.Users {
		line(append([]string{"user", u.Name}, userRules(u)...)...)
	}
	if opts.UnixSocket {
		line("unixsocket", l.path("redis.sock"))
		line("unixsocketperm", "700")
	}
	if l.certs != nil {
		line("tls-port", strconv.Itoa(l.tlsPort))
		line("tls-cert-file", l.certs.serverCert)
		line("tls-key-file", l.certs.serverKey)
		line("tls-ca-cert-file", l.certs.ca)
		line("tls-auth-clients", yesNo(opts.TLSClientAuth))
	}
	if l.busPort != 0 {
		line("cluster-enabled", "yes")
		line("cluster-config-file", l.path("nodes.conf"))
		line("cluster-node-timeout", "2000")
		line("cluster-port", strconv.Itoa(l.busPort))
		line("cluster-announce-ip", "127.0.0.1")
		if l.certs != nil {
			// With TLS on the bus, nodes know each other's TLS ports and
			// redirect TLS clients to them (plain clients still get plain
			// ports); replication and MIGRATE then use TLS too.
			line("tls-cluster", "yes")
			line("tls-replication", "yes")
		}
	}

	for _, words := range extra {
		line(words...)
	}

	conf := l.path("redis.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return append([]string{conf}, opts.Args...), nil
}

func userRules(u User) []string {
	rules := u.Rules
	if len(rules) == 0 {
		rules = []string{"on", "~*", "&*", "+@all"}
		if u.Password == "" {
			rules = append(rules, "nopass")
		}
	}
	if u.Password != "" {
		rules = append(rules[:len(rules):len(rules)], ">"+u.Password)
	}
	return rules
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// quoteConfig quotes a word the way redis.conf parses it, so any byte string
// survives the trip.
func quoteConfig(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
