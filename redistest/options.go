package redistest

// Options describes the server to start. The zero value is a plain TCP server
// with no password, which is what most tests want.
type Options struct {
	// Password is the default user's password (requirepass). When set, Do,
	// URL and the readiness check authenticate with it, and protected mode is
	// left on.
	Password string

	// Users are ACL users created in addition to the default user, so tests
	// can exercise AUTH with a username.
	Users []User

	// TLS makes the server also listen on a TLS port, with certificates
	// issued by a CA generated for this server (or cluster) alone, so tests
	// never depend on certificates from the machine.
	TLS bool

	// TLSClientAuth makes the TLS port require client certificates (mutual
	// TLS). TLSConfig then includes the client certificate. Implies TLS.
	TLSClientAuth bool

	// UnixSocket makes the server also listen on a unix socket in its
	// temporary directory; see Server.UnixPath.
	UnixSocket bool

	// Args are extra redis-server arguments, e.g. "--maxmemory", "10mb".
	// They are applied after redistest's own settings, so they win.
	Args []string

	// Backend picks how redis-server runs: "docker", "process", or "" to use
	// the JUSTREDIS_TEST_BACKEND environment variable and, when that is empty
	// too, Docker if an engine answers and a local process otherwise.
	Backend string
}

// User is an ACL user to create on the server.
type User struct {
	Name     string
	Password string // empty means the user needs no password (nopass) when Rules is empty

	// Rules are ACL rules such as "on", "~cache:*" or "-@dangerous". Empty
	// means a user with full access: "on", "~*", "&*", "+@all". The password
	// is added to the rules either way.
	Rules []string
}

func (o Options) tls() bool { return o.TLS || o.TLSClientAuth }
