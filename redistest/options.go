package redistest

import "errors"

// Options describes the server to start. The zero value is a plain TCP server
// with no password, which is what most tests want.
type Options struct {
	// Password is the default user's password (requirepass). When set, Do,
	// URL and the readiness check authenticate with it, and protected mode is
	// left on.
	Password string

	// Users are ACL users created in addition to the default user, so tests
	// can exercise AUTH with a username. None may be named "default": that
	// user is Password's, and rules of its own would lock redistest's own
	// readiness check out.
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

// checkUsers refuses a user named "default", which would not be a user in
// addition to the default one but would replace its rules: the server
// would start and then refuse redistest's readiness check with NOAUTH.
func (o Options) checkUsers() error {
	for _, u := range o.Users {
		if u.Name == "default" {
			return errors.New(`redistest: Users may not name "default", the user Password is for; give its password as Password`)
		}
	}
	return nil
}
