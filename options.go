package justredis

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/justredis/justredis/socket"
)

// Mode says whether the client treats its servers as a Redis Cluster.
type Mode int

const (
	// ModeAuto finds out at first use whether the server is a cluster node.
	ModeAuto Mode = iota
	// ModeStandalone talks to one server and never follows redirections:
	// a MOVED reply comes back as an *Error.
	ModeStandalone
	// ModeCluster expects a Redis Cluster and fails if the seeds are not one.
	ModeCluster
)

// String returns "auto", "standalone" or "cluster".
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeStandalone:
		return "standalone"
	case ModeCluster:
		return "cluster"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// An Option configures New and FromURL. Options that may also differ per
// call are CallOptions.
type Option interface {
	applyTo(*settings) error
}

// A CallOption is an Option that may also be given to Modify, to change a
// setting for the calls made through the returned copy only.
type CallOption interface {
	Option
	applyToCall(*callSettings) error
}

// settings are fixed for the life of a pool.
type settings struct {
	addrs          []string
	username       string
	password       string
	clientName     string
	resp           int
	mode           Mode
	maxConns       int
	waitTimeout    time.Duration
	connectTimeout time.Duration
	socketTimeout  time.Duration
	connectRetry   int
	connMaxIdle    time.Duration // WithConnMaxIdleTime; 0: no limit
	connMaxLife    time.Duration // WithConnMaxLifetime; 0: no limit
	keepAlive      time.Duration
	tls            *tls.Config
	pushBuffer     int // messages a PushConnection buffers (WithPushBuffer); 0: the default
	hooks          []Hook
	logger         *slog.Logger
	cacheBytes     int            // WithClientCache; 0: no client-side cache
	sentinel       sentinelConfig // WithSentinel, WithSentinelAuth (sentinel.go)
	call           callSettings
}

// callSettings may differ from call to call; Modify copies them.
type callSettings struct {
	db       int
	dbSet    bool // WithDatabase was given: a Connection copy then switches
	decoder  Decoder
	endpoint string
	timeout  time.Duration
	// replicaReads lets cluster replicas serve read-only commands
	// (WithReplicaReads).
	replicaReads bool
	// cacheTTL is how long the client-side cache may keep the replies of
	// this copy's reads (WithCache); 0: not cached.
	cacheTTL time.Duration
	// trace collects what hooks are told of a call; nil without hooks,
	// and then set only on a per-call copy.
	trace *callTrace
}

func defaultSettings() settings {
	return settings{
		addrs:          []string{"localhost:6379"},
		connectTimeout: 10 * time.Second,
		connectRetry:   2,
		call:           callSettings{decoder: StringDecoder},
	}
}

type poolOption func(*settings) error

func (o poolOption) applyTo(s *settings) error { return o(s) }

type callOption func(*callSettings) error

func (o callOption) applyTo(s *settings) error         { return o(&s.call) }
func (o callOption) applyToCall(c *callSettings) error { return o(c) }

// WithAddress sets the server's address: "host:port", "[v6]:port" or a unix
// socket path such as "/run/redis.sock". The default is "localhost:6379".
func WithAddress(addr string) Option {
	return WithAddresses(addr)
}

// WithAddresses sets several addresses of one deployment, tried in order
// until one answers: the seeds of a cluster, or one server's alternatives.
// The next is tried as soon as one fails, and also beside one that has not
// answered within 250ms, so that an address whose connects hang cannot
// take a call's whole time; one that failed, or was still trying when
// another answered, is tried last the next time.
func WithAddresses(addrs ...string) Option {
	return poolOption(func(s *settings) error {
		if len(addrs) == 0 {
			return invalidArg("WithAddresses: no address given")
		}
		for _, a := range addrs {
			if err := checkAddress(a); err != nil {
				return err
			}
		}
		s.addrs = append([]string(nil), addrs...)
		return nil
	})
}

// checkAddress refuses, in New, an address no dial could use, which would
// otherwise fail only at the first call, or worse be taken for a unix
// socket path (anything with a slash is one; see socket.IsUnix).
func checkAddress(a string) error {
	bad := func(why string) error {
		return invalidArg(fmt.Sprintf("WithAddresses: address %q %s", a, why))
	}
	switch {
	case a == "":
		return invalidArg("WithAddresses: empty address")
	case strings.Contains(a, "://"):
		return bad("is a URL: use FromURL for URLs; WithAddress takes host:port or a socket path")
	case strings.TrimSpace(a) != a || strings.ContainsFunc(a, unicode.IsControl):
		return bad("has spaces or control characters around or in it")
	case socket.IsUnix(a):
		return nil
	}
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return bad(`is not host:port ("[v6]:port" for IPv6) nor a socket path`)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return bad("has no valid port: want a number from 1 to 65535")
	}
	return nil
}

// WithAuth sets the credentials sent at connect time (HELLO AUTH, or AUTH
// under RESP2). An empty username means the default user; a username with
// an empty password logs in as that user too (a nopass user takes it).
// With neither, no credentials are sent.
func WithAuth(username, password string) Option {
	return poolOption(func(s *settings) error {
		s.username, s.password = username, password
		return nil
	})
}

// WithClientName names every connection (CLIENT SETNAME), which shows in
// CLIENT LIST.
func WithClientName(name string) Option {
	return poolOption(func(s *settings) error {
		for _, c := range name {
			if c <= ' ' || c > '~' {
				return invalidArg(fmt.Sprintf("WithClientName: %q: names may not contain spaces or special characters", name))
			}
		}
		s.clientName = name
		return nil
	})
}

// WithRESP chooses the protocol version: 2, 3, or 0 (the default) to ask
// for RESP3 and fall back to RESP2 on servers older than Redis 6.
func WithRESP(version int) Option {
	return poolOption(func(s *settings) error {
		if version != 0 && version != 2 && version != 3 {
			return invalidArg(fmt.Sprintf("WithRESP: protocol %d; want 0 (auto), 2 or 3", version))
		}
		s.resp = version
		return nil
	})
}

// WithMode chooses between automatic cluster detection (the default), a
// single server, or a cluster.
func WithMode(m Mode) Option {
	return poolOption(func(s *settings) error {
		if m < ModeAuto || m > ModeCluster {
			return invalidArg(fmt.Sprintf("WithMode: unknown %v", m))
		}
		s.mode = m
		return nil
	})
}

// WithMaxConnections bounds the connections to each server: the shared
// ones (one per database in use), the connections of their own that
// Connection, PushConnection and blocking commands (BLPOP, XREAD BLOCK,
// WAIT, ...) take, and dials under way, all together. 0 (the default)
// means no bound.
//
// Connections of their own hold at most n-1 of the n, so that one is
// always left for the shared connections: however many blocking commands
// wait, other calls go on. With n = 1 nothing can be set aside: a
// Connection, a PushConnection or a blocking command then holds the only
// connection, and other calls wait until it is given back.
//
// A caller that needs a connection when none is free first frees one that
// nobody uses: one that broke, a dedicated one at rest, or a shared one
// (of another database, say) with no call under way, which is closed; a
// call in flight is never broken to make room. Otherwise it waits, in
// turn, up to WithWaitTimeout, and then fails with ErrPoolTimeout. Close
// ends the wait with ErrClosed.
func WithMaxConnections(n int) Option {
	return poolOption(func(s *settings) error {
		if n < 0 {
			return invalidArg(fmt.Sprintf("WithMaxConnections: %d is negative", n))
		}
		s.maxConns = n
		return nil
	})
}

// WithWaitTimeout bounds how long a caller waits for a connection when
// the WithMaxConnections are all in use and none is idle; it then fails
// with ErrPoolTimeout. 0 (the default) waits as long as the call's context
// allows. Close ends the wait at once, with ErrClosed.
func WithWaitTimeout(d time.Duration) Option {
	return poolOption(func(s *settings) error {
		if d < 0 {
			return invalidArg(fmt.Sprintf("WithWaitTimeout: %v is negative", d))
		}
		s.waitTimeout = d
		return nil
	})
}

// WithConnectTimeout bounds each attempt to connect, including the TLS and
// Redis handshakes. The default is 10s; 0 leaves it to the context.
func WithConnectTimeout(d time.Duration) Option {
	return poolOption(func(s *settings) error {
		if d < 0 {
			return invalidArg(fmt.Sprintf("WithConnectTimeout: %v is negative", d))
		}
		s.connectTimeout = d
		return nil
	})
}

// WithSocketTimeout bounds how long a connection may stay silent while it
// owes a reply. Past it the connection is deemed dead and closed, so a
// frozen server cannot hang callers that gave no deadline. 0 (the default)
// never times out on its own.
//
// A blocking command may keep the server silent for its own timeout on top
// of d: BLPOP, BRPOP, BZPOPMIN, BZPOPMAX, BRPOPLPUSH and BLMOVE (the last
// argument, in seconds), BLMPOP and BZMPOP (the first, in seconds), XREAD
// and XREADGROUP (BLOCK, in milliseconds), WAIT and WAITAOF (the last, in
// milliseconds). Since the server may time such a command out up to a
// tick of its clock late (1000/hz milliseconds), a second more is allowed
// on top. With a timeout of 0, or a blocking command whose timeout the
// client cannot find (a module's), d does not apply while it waits.
func WithSocketTimeout(d time.Duration) Option {
	return poolOption(func(s *settings) error {
		if d < 0 {
			return invalidArg(fmt.Sprintf("WithSocketTimeout: %v is negative", d))
		}
		s.socketTimeout = d
		return nil
	})
}

// WithConnectRetry sets how many more times a failed connect is tried, with
// backoff, before a call fails. The default is 2.
//
// Once a connect to a server has failed, the next is made no sooner than a
// backoff later (10ms, doubling with each failure in a row, up to 1s), by
// one caller for all: the others wait for its outcome, or, when their
// context would end before it is due, fail at once with an error naming the
// server and its last failure. So a server that is down gets a few
// connects a second from a whole client, not one per call.
func WithConnectRetry(n int) Option {
	return poolOption(func(s *settings) error {
		if n < 0 {
			return invalidArg(fmt.Sprintf("WithConnectRetry: %d is negative", n))
		}
		s.connectRetry = n
		return nil
	})
}

// WithConnMaxIdleTime closes a pooled connection (a shared one, or one at
// rest between Connections and blocking commands) that sat unused longer
// than d, instead of using it, and the call goes on a fresh one: for load
// balancers and proxies that drop connections idle longer than a limit of
// their own, or to give idle connections back to the server. 0 (the
// default) keeps them however long they idle. A Connection a caller holds
// is never closed behind its back.
func WithConnMaxIdleTime(d time.Duration) Option {
	return poolOption(func(s *settings) error {
		if d < 0 {
			return invalidArg(fmt.Sprintf("WithConnMaxIdleTime: %v is negative", d))
		}
		s.connMaxIdle = d
		return nil
	})
}

// WithConnMaxLifetime closes a pooled connection older than d the next
// time it has no call under way, and the call that would have used it goes
// on a fresh one: so that connections move to the servers a load balancer
// or DNS name points at now. A connection busy without a pause keeps
// serving until it has one. 0 (the default) sets no limit. A Connection a
// caller holds is never closed behind its back.
func WithConnMaxLifetime(d time.Duration) Option {
	return poolOption(func(s *settings) error {
		if d < 0 {
			return invalidArg(fmt.Sprintf("WithConnMaxLifetime: %v is negative", d))
		}
		s.connMaxLife = d
		return nil
	})
}

// WithTCPKeepAlive sets the TCP keep-alive period; a negative value turns
// keep-alives off. The default is Go's (15s). Periods above 32767s (about
// 9 hours, Linux's limit) are taken as 32767s.
func WithTCPKeepAlive(d time.Duration) Option {
	return poolOption(func(s *settings) error {
		s.keepAlive = d
		return nil
	})
}

// WithTLS makes every connection use TLS with this configuration. When
// config.ServerName is empty the certificate is verified against the host
// being dialled, as tls.Dial does.
func WithTLS(config *tls.Config) Option {
	return poolOption(func(s *settings) error {
		if config == nil {
			return invalidArg("WithTLS: nil *tls.Config")
		}
		s.tls = config
		return nil
	})
}

// WithDatabase selects the logical database (SELECT) for calls. Each
// database has connections of its own, so copies for different databases
// never interfere. Redis Cluster has database 0 only. A number below 0
// or past 2147483647 (math.MaxInt32), which no server has, is an error.
//
// On a Connection, a copy made by Modify with WithDatabase switches the
// server connection for its own calls (a SELECT sent in the same round
// trip); the Connection and its other copies keep to its own database,
// the one it was taken at or the one last SELECTed on it, and switch back
// when they next run.
func WithDatabase(db int) CallOption {
	return callOption(func(c *callSettings) error {
		if db < 0 {
			return invalidArg(fmt.Sprintf("WithDatabase: %d is negative", db))
		}
		if db > math.MaxInt32 {
			// Redis reads database numbers as 32-bit integers: every
			// connection setup would fail with a server error that does
			// not say which argument was out of range.
			return invalidArg(fmt.Sprintf("WithDatabase: %d is past %d, the greatest database number Redis takes", db, math.MaxInt32))
		}
		c.db, c.dbSet = db, true
		return nil
	})
}

// WithDecoder sets how replies become Go values: StringDecoder (the
// default), BytesDecoder, RawDecoder, or a Decoder of your own.
func WithDecoder(d Decoder) CallOption {
	return callOption(func(c *callSettings) error {
		if d == nil {
			return invalidArg("WithDecoder: nil Decoder")
		}
		if b, ok := d.(bytesInto); ok && b.buf == nil {
			// Refused here, as a nil Decoder is, rather than failing
			// every call with a nil pointer.
			return invalidArg("WithDecoder: BytesInto(nil): give it a pointer to a []byte of yours, such as &buf")
		}
		c.decoder = d
		return nil
	})
}

// Masters, given to WithEndpoint, runs a command on every master at once:
// in a cluster, the masters Endpoints lists, those that serve no slot (yet,
// or any more) included, so that a SCRIPT LOAD or a CONFIG SET reaches a
// master before its first slot does. The reply is a map[string]any from each master's address to its reply, or
// to its *Error. When the round trip to a master failed (network, closed,
// context), its entry holds that error, and Do returns the map together
// with an error: the first such failure, naming its address. A blocking
// command (BLPOP, WAIT, ...) runs on a connection of its own per master,
// as Do runs one. DoMulti refuses Masters (ErrInvalidArgument): a
// pipeline goes to one server.
const Masters = "masters"

// WithEndpoint sends calls to one server, given by an address from
// Endpoints, or to every master at once with Masters. "" restores routing
// by key. A call given an address that is none of the deployment's fails
// with ErrInvalidArgument before anything is dialled: the client would
// otherwise log in there with its credentials.
func WithEndpoint(addr string) CallOption {
	return callOption(func(c *callSettings) error {
		c.endpoint = addr
		return nil
	})
}

// WithTimeout gives calls whose context has no deadline one, d from the
// start of the call. 0 (the default) adds none.
func WithTimeout(d time.Duration) CallOption {
	return callOption(func(c *callSettings) error {
		if d < 0 {
			return invalidArg(fmt.Sprintf("WithTimeout: %v is negative", d))
		}
		c.timeout = d
		return nil
	})
}

// withTimeout applies WithTimeout, the one place that does: it gives ctx
// the call's timeout unless ctx has a deadline already. cancel is nil when
// it added none.
func (c *callSettings) withTimeout(ctx context.Context) (_ context.Context, cancel context.CancelFunc) {
	if c.timeout == 0 {
		return ctx, nil
	}
	if _, ok := ctx.Deadline(); ok {
		return ctx, nil
	}
	return context.WithTimeout(ctx, c.timeout)
}

// modified applies the CallOptions given to a Modify. An invalid option is
// kept as err, which every call of the copy then returns, since Modify
// itself returns no error.
func modified(cs callSettings, err error, opts []CallOption) (callSettings, error) {
	for _, o := range opts {
		if o == nil {
			return cs, invalidArg("Modify: nil CallOption")
		}
		if e := o.applyToCall(&cs); e != nil && err == nil {
			err = e
		}
	}
	return cs, err
}

// modifiedBound is modified for a connection bound to its server
// (Connection, PushConnection), where WithEndpoint could only be ignored:
// it is refused instead, so that a call never runs elsewhere than its
// caller asked without a word.
func modifiedBound(cs callSettings, err error, opts []CallOption, what string) (callSettings, error) {
	endpoint := cs.endpoint
	cs, err = modified(cs, err, opts)
	if cs.endpoint != endpoint && err == nil {
		err = invalidArg(fmt.Sprintf("WithEndpoint on a %s, which is bound to its server: use Redis.Modify", what))
	}
	return cs, err
}

// WithReplicaReads lets a cluster's replicas serve read-only commands
// (those the server flags "readonly", such as GET, MGET, HGETALL), taken in
// turn among the replicas of the shard that owns the key, on connections
// that sent READONLY. Replies may lag behind writes: a replica is updated
// asynchronously. A shard without a reachable replica is read from its
// master. In a Sentinel deployment (WithSentinel) the replicas the
// sentinels see up serve them in turn; a DoMulti goes to a replica only
// when all its commands read. It has no effect on a single server, on
// blocking commands, and on Connection and PushConnection.
func WithReplicaReads(on bool) CallOption {
	return callOption(func(c *callSettings) error {
		c.replicaReads = on
		return nil
	})
}

// defaultPushBuffer is how many messages a PushConnection keeps for
// NextMessage when WithPushBuffer is not given.
const defaultPushBuffer = 10000

// WithPushBuffer sets how many received messages each PushConnection keeps
// until NextMessage takes them. When the buffer is full the oldest message
// is dropped, and the next call to NextMessage reports how many were, as a
// Message of Kind "dropped", before the messages that were kept. 0 means
// the default, 10000.
func WithPushBuffer(n int) Option {
	return poolOption(func(s *settings) error {
		if n < 0 {
			return invalidArg(fmt.Sprintf("WithPushBuffer: %d is negative", n))
		}
		s.pushBuffer = n
		return nil
	})
}

// WithClientCache gives the client a client-side cache of at most maxBytes
// (server-assisted, with CLIENT TRACKING): copies made with WithCache
// answer cacheable reads from it. 0 (the default) means no cache. See the
// package documentation for how it works and what it costs.
func WithClientCache(maxBytes int) Option {
	return poolOption(func(s *settings) error {
		if maxBytes < 0 {
			return invalidArg(fmt.Sprintf("WithClientCache: %d bytes is negative", maxBytes))
		}
		s.cacheBytes = maxBytes
		return nil
	})
}

// WithCache makes the calls of a copy answer cacheable reads (GET, MGET,
// HGETALL, ...) from the client-side cache, keeping each reply at most ttl
// and never past its keys' expiry. 0 (the default) does not cache. It has
// no effect on a client made without WithClientCache, nor on Connection.
func WithCache(ttl time.Duration) CallOption {
	return callOption(func(c *callSettings) error {
		if ttl < 0 {
			return invalidArg(fmt.Sprintf("WithCache: %v is negative", ttl))
		}
		c.cacheTTL = ttl
		return nil
	})
}
