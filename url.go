package justredis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// FromURL is New with the options a URL describes. Options given after the
// URL override it, so a program can take the address and credentials from
// its environment and still fix, say, the decoder or a tls.Config of its
// own:
//
//	r, err := justredis.FromURL(os.Getenv("REDIS_URL"), justredis.WithClientName("billing"))
//
// The forms accepted are:
//
//	redis://[[user]:password@]host[:port][,host2[:port2]...][/db][?param=value&...]
//	rediss://...                        the same, over TLS
//	unix://[[user]:password@]/path/to/redis.sock[?param=value&...]
//	/path/to/redis.sock[?param=value&...]   the same as unix://
//	redis://[[user]:password@]sentinel[:port][,sentinel2...][/db]?master_name=name[&...]
//	                                    a Sentinel deployment (rediss:// for TLS)
//
// The host defaults to localhost and the port to 6379; IPv6 addresses go in
// brackets ("[::1]:6380", "[fe80::1%25eth0]"). Several comma-separated hosts
// are seeds of one deployment, tried in order (WithAddresses): the nodes of
// a cluster to start from, or alternatives for one server; addr parameters
// add more, and with an empty host list ("redis://?addr=a:7000&addr=b:7001")
// they are the only ones. The path of a redis:// or rediss:// URL, "/2",
// selects the database; a socket path is percent-decoded.
//
// With master_name, as in go-redis's ParseFailoverURL, the URL describes a
// Sentinel deployment (WithSentinel): the hosts and addr parameters are the
// sentinels, whose port defaults to 26379, and the client asks them where
// the master of that name is. The path is still the database, and the user
// info (or username and password) still the data nodes' credentials; the
// sentinels' own are sentinel_username and sentinel_password
// (WithSentinelAuth), go-redis's names for them. (go-redis's
// ParseFailoverURL reads user info as the sentinels' credentials; here it
// means what it means in every other URL.) rediss:// and skip_verify apply
// to the sentinels and the data nodes alike.
//
// The user name and password are percent-decoded, so "p%40ss" is "p@ss" and
// '+' stays '+'. Percent-encoding '@', ':', '/', '?', '#' and '%' in them is
// safest, but a raw '@', '/' or '#' in a password is understood (everything
// up to the last '@' before the query is the user info), so keys as cloud
// providers hand them out paste as they are. A raw '?' cannot be told from
// the start of the query: write it %3F. An empty user name means the default
// user; a user name without a password logs in as that user with an empty
// password, which a nopass user accepts.
//
// rediss:// verifies the server's certificate against the system roots and
// the host name dialled; pass WithTLS after the URL for anything else
// (private CAs, client certificates). No error from FromURL ever contains
// the password.
//
// Query parameters set the other options, under go-redis's names where
// go-redis has one. Durations are Go durations ("3s", "500ms", "1m30s") or
// bare seconds ("3", "0.5"); where go-redis reads -1 as "none", so does
// FromURL, which then sets 0 (no timeout, no retry). Booleans are
// true/false, 1/0, yes/no, on/off, t/f; a boolean given without "=value" is
// true. Values are query-decoded, so in a password parameter '+' is a space
// (write %2B). Names are not case-sensitive. Each parameter may be given
// once, except addr, and a setting under one name only: pool_size with
// max_connections, say, is an error. read_timeout and write_timeout may go
// together: one socket timeout covers reads and writes here, and the larger
// wins.
//
//	parameter          option              value
//	db                 WithDatabase        database number (not with a /db path; 0 with mode=cluster)
//	protocol           WithRESP            2 or 3
//	client_name        WithClientName      printable ASCII, no spaces
//	username           WithAuth            user name (not with user info before the host)
//	password           WithAuth            password (not with user info before the host)
//	addr               WithAddresses       one more seed (or sentinel), host[:port]; may be repeated
//	master_name        WithSentinel        the master's name: the hosts are sentinels
//	sentinel_username  WithSentinelAuth    the sentinels' user name (with master_name)
//	sentinel_password  WithSentinelAuth    the sentinels' password (with master_name)
//	mode               WithMode            auto, standalone or cluster
//	dial_timeout       WithConnectTimeout  duration; 0 or -1: none
//	read_timeout       WithSocketTimeout   duration; 0 or -1: none
//	write_timeout      WithSocketTimeout   duration; 0 or -1: none
//	socket_timeout     WithSocketTimeout   duration; 0 or -1: none
//	pool_size          WithMaxConnections  connections per server; 0: no bound
//	max_connections    WithMaxConnections  the same
//	pool_timeout       WithWaitTimeout     duration; 0 or -1: as long as the context allows
//	wait_timeout       WithWaitTimeout     the same
//	max_retries        WithConnectRetry    count; -1: none
//	connect_retry      WithConnectRetry    the same
//	keepalive          WithTCPKeepAlive    duration; 0, -1 or false: off; true: Go's default
//	tcp_keepalive      WithTCPKeepAlive    the same
//	skip_verify        WithTLS             boolean; rediss:// only: do not verify the certificate
//	timeout            WithTimeout         duration; 0 or -1: none
//	decoder            WithDecoder         string, bytes or raw
//	endpoint           WithEndpoint        an address from Endpoints, or masters
//	read_only          WithReplicaReads    boolean: replicas serve read-only commands
//	push_buffer        WithPushBuffer      messages a push connection keeps unread; 0: the default
//	conn_max_idle_time WithConnMaxIdleTime duration; 0 or -1: no limit
//	idle_timeout       WithConnMaxIdleTime the same (go-redis v8's name)
//	conn_max_lifetime  WithConnMaxLifetime duration; 0 or -1: no limit
//	max_conn_age       WithConnMaxLifetime the same (go-redis v8's name)
//
// go-redis's max_retries counts retries of commands, WithConnectRetry
// retries of connecting. Other go-redis parameters (min_idle_conns,
// max_idle_conns, ...) have no equivalent and are refused, as are
// unknown parameters, bad values, an unknown scheme, a bare host:port
// without a scheme, an empty entry in the host list and a port out of
// range, each with an error that says which part is wrong and matches
// ErrInvalidArgument.
func FromURL(rawURL string, opts ...Option) (*Redis, error) {
	urlOpts, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return New(append(urlOpts, opts...)...)
}

// parseURL turns a URL into options, in the order addresses, credentials,
// TLS, then the query parameters. Every option it returns applies without
// error. See FromURL for the format.
func parseURL(rawURL string) ([]Option, error) {
	p := &urlParser{}
	if err := p.parse(rawURL); err != nil {
		return nil, err
	}
	// The options validate themselves; apply them once here so that a bad
	// value is reported now, as a URL error.
	s := defaultSettings()
	for _, o := range p.opts {
		if err := o.applyTo(&s); err != nil {
			var ae *argError
			if errors.As(err, &ae) && !p.hide {
				return nil, p.errf("%s", ae.msg)
			}
			return nil, p.errf("invalid setting")
		}
	}
	return p.opts, nil
}

// urlParser holds the state of one parseURL.
type urlParser struct {
	// hide is set when an '@' follows the first '?': then what looks like
	// the query may really be the end of a password that holds a raw '?'
	// (and what looks like a host, its start), so no text of the URL may
	// appear in an error.
	hide bool
	opts []Option
}

// errf returns an ErrInvalidArgument error about the URL. Callers quote
// text of the URL only through show.
func (p *urlParser) errf(format string, args ...any) error {
	msg := "URL: " + fmt.Sprintf(format, args...)
	if p.hide {
		msg += " (text of the URL is hidden: it may hold a password; write a '?' in a password as %3F)"
	}
	return invalidArg(msg)
}

// show quotes text taken from the URL for an error message, unless the URL
// may hold a password where the parser does not expect one.
func (p *urlParser) show(s string) string {
	if p.hide {
		return "(hidden)"
	}
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

func (p *urlParser) add(o Option) { p.opts = append(p.opts, o) }

const (
	redisDefaultPort    = "6379"
	sentinelDefaultPort = "26379"
)

func (p *urlParser) parse(rawURL string) error {
	if rawURL == "" {
		return p.errf("empty")
	}
	for i := 0; i < len(rawURL); i++ {
		if c := rawURL[i]; c < ' ' || c == 0x7f {
			return p.errf("control character at byte %d", i)
		}
	}

	var scheme, rest string
	if strings.HasPrefix(rawURL, "/") {
		scheme, rest = "unix", rawURL // a bare socket path
	} else {
		i := strings.Index(rawURL, "://")
		if i < 0 {
			return p.errf("no scheme: want redis://host:port, rediss://host:port, unix:///path/to/redis.sock or an absolute socket path")
		}
		scheme, rest = rawURL[:i], rawURL[i+3:]
		if !validScheme(scheme) {
			return p.errf("malformed scheme: want redis://, rediss:// or unix://")
		}
		scheme = strings.ToLower(scheme)
		if scheme != "redis" && scheme != "rediss" && scheme != "unix" {
			hint := ""
			if strings.Contains(scheme, "sentinel") {
				hint = "; for Sentinel write redis://sentinel1:26379,sentinel2:26379/0?master_name=mymaster"
			}
			return p.errf("unknown scheme %q: want redis, rediss or unix%s", scheme, hint)
		}
		if scheme == "unix" && (rest == "" || rest[0] == '?') {
			return p.errf("no socket path: write unix:///path/to/redis.sock")
		}
		if scheme == "unix" && !strings.HasPrefix(rest, "/") && !strings.Contains(rest, "@/") {
			// rest may hold a password: quote none of it.
			return p.errf("a unix URL has no host: write unix:///path/to/redis.sock")
		}
	}

	// The query starts at the first '?'. The user info ends at the last '@'
	// before it (for unix://, at the last "@/", so that a socket path may
	// hold an '@'): a raw '@' or '/' in a password still parses.
	before, query, _ := strings.Cut(rest, "?")
	var userinfo string
	hasUserinfo := false
	if rawURL[0] != '/' { // a bare socket path has no user info
		at := -1
		if scheme == "unix" {
			if !strings.HasPrefix(before, "/") {
				at = strings.LastIndex(before, "@/")
			}
		} else {
			at = strings.LastIndexByte(before, '@')
		}
		if at >= 0 {
			userinfo, before, hasUserinfo = before[:at], before[at+1:], true
		}
	}
	// An '@' after the first '?', or left in a socket path, may be the end
	// of user info the URL's writer meant: then no text of the URL is
	// shown, lest it hold a password.
	p.hide = strings.Contains(query, "@") || (scheme == "unix" && strings.Contains(before, "@"))
	if strings.Contains(before, "#") || strings.Contains(query, "#") {
		return p.errf("fragments (#...) are not supported; write '#' as %%23")
	}

	user, password, err := p.userinfo(hasUserinfo, userinfo)
	if err != nil {
		return err
	}

	params, err := p.query(query)
	if err != nil {
		return err
	}

	// Addresses. With master_name they are the sentinels'.
	var addrs []string
	db, hasDB := 0, false
	master, sentinelForm := params["master_name"]
	defaultPort := redisDefaultPort
	if sentinelForm {
		defaultPort = sentinelDefaultPort
	}
	if scheme == "unix" {
		path, err := url.PathUnescape(before)
		if err != nil {
			return p.errf("socket path %s: bad percent-encoding", p.show(before))
		}
		if path == "/" || path == "" {
			return p.errf("no socket path: write unix:///path/to/redis.sock")
		}
		if !strings.HasPrefix(path, "/") {
			return p.errf("socket path %s is not absolute", p.show(path))
		}
		if strings.ContainsRune(path, 0) {
			return p.errf("socket path holds a NUL byte")
		}
		addrs = append(addrs, path)
		if _, ok := params["addr"]; ok {
			return p.errf("parameter addr needs redis:// or rediss://")
		}
		if sentinelForm {
			return p.errf("parameter master_name needs redis:// or rediss://, whose hosts are then the sentinels")
		}
	} else {
		hosts, path, _ := strings.Cut(before, "/")
		if path != "" {
			n, err := p.number(path)
			if err != nil {
				return p.errf("database %s in the path: %v", p.show("/"+path), err)
			}
			db, hasDB = n, true
		}
		if hosts != "" || len(params["addr"]) == 0 {
			for _, h := range strings.Split(hosts, ",") {
				a, err := p.hostPort(h, hosts == "", defaultPort)
				if err != nil {
					return p.errf("host list: %v", err)
				}
				addrs = append(addrs, a)
			}
		}
		for _, h := range params["addr"] {
			a, err := p.hostPort(h, false, defaultPort)
			if err != nil {
				return p.errf("parameter addr: %v", err)
			}
			addrs = append(addrs, a)
		}
	}
	if sentinelForm {
		if err := p.sentinel(master[0], addrs, params); err != nil {
			return err
		}
	} else {
		if _, ok := params["sentinel_username"]; ok {
			return p.errf("parameter sentinel_username needs master_name")
		}
		if _, ok := params["sentinel_password"]; ok {
			return p.errf("parameter sentinel_password needs master_name")
		}
		p.add(WithAddresses(addrs...))
	}

	// Credentials.
	_, hasUserParam := params["username"]
	_, hasPassParam := params["password"]
	if hasUserParam || hasPassParam {
		if hasUserinfo {
			return p.errf("credentials given both before the host and as username/password parameters; give them once")
		}
		user, password = first(params["username"]), first(params["password"])
	}
	if user != "" || password != "" {
		p.add(WithAuth(user, password))
	}

	// TLS.
	skipVerify := false
	if v, ok := params["skip_verify"]; ok {
		if scheme != "rediss" {
			return p.errf("skip_verify needs rediss://")
		}
		b, err := p.boolean("skip_verify", v[0])
		if err != nil {
			return err
		}
		skipVerify = b
	}
	if scheme == "rediss" {
		p.add(WithTLS(&tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify}))
	}

	return p.settings(params, db, hasDB)
}

// userinfo decodes the user name and password.
func (p *urlParser) userinfo(has bool, userinfo string) (user, password string, err error) {
	if !has {
		return "", "", nil
	}
	rawUser, rawPass, _ := strings.Cut(userinfo, ":")
	// Neither may be quoted in an error: both may be secret.
	if user, err = url.PathUnescape(rawUser); err != nil {
		return "", "", p.errf("user name: bad percent-encoding (write a literal '%%' as %%25)")
	}
	if password, err = url.PathUnescape(rawPass); err != nil {
		return "", "", p.errf("password: bad percent-encoding (write a literal '%%' as %%25)")
	}
	return user, password, nil
}

// urlParams lists the query parameters FromURL knows; the boolean ones may
// be given without a value.
var urlParams = map[string]bool{
	"db": false, "protocol": false, "client_name": false,
	"username": false, "password": false, "addr": false,
	"mode": false, "endpoint": false, "decoder": false, "timeout": false,
	"dial_timeout": false, "read_timeout": false, "write_timeout": false, "socket_timeout": false,
	"pool_size": false, "max_connections": false,
	"pool_timeout": false, "wait_timeout": false,
	"max_retries": false, "connect_retry": false,
	"keepalive": false, "tcp_keepalive": false,
	"skip_verify": true, "read_only": true, "push_buffer": false,
	"client_cache": false, "cache_ttl": false,
	"conn_max_idle_time": false, "idle_timeout": false, "conn_max_lifetime": false, "max_conn_age": false,
	"master_name": false, "sentinel_username": false, "sentinel_password": false,
}

// goRedisOnly lists go-redis parameters that have no equivalent here, to
// say so rather than "unknown".
var goRedisOnly = map[string]bool{
	"min_retry_backoff": true, "max_retry_backoff": true, "pool_fifo": true,
	"min_idle_conns": true, "max_idle_conns": true, "max_active_conns": true,
	"conn_max_lifetime_jitter": true, "idle_check_frequency": true,
	"max_redirects": true, "route_by_latency": true, "route_randomly": true,
	"context_timeout_enabled": true, "dialer_retries": true, "dialer_retry_timeout": true,
	"max_concurrent_dials": true, "unstable_resp3": true,
	"replica_only": true, "use_disconnected_replicas": true,
}

// query splits the query into decoded parameters, refusing unknown and
// repeated ones and empty values.
func (p *urlParser) query(query string) (map[string][]string, error) {
	params := map[string][]string{}
	if strings.Contains(strings.ToLower(query), "password=") {
		// An '&' in a password that was not percent-encoded splits it,
		// and its tail reads as a parameter's name: never show one.
		p.hide = true
	}
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		rawName, rawValue, hasValue := strings.Cut(kv, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, p.errf("query: bad percent-encoding in a parameter name")
		}
		name = strings.ToLower(name)
		if name == "" {
			return nil, p.errf("query: a parameter has no name")
		}
		isBool, known := urlParams[name]
		switch {
		case goRedisOnly[name]:
			return nil, p.errf("parameter %q (a go-redis setting) has no justredis equivalent", name)
		case !known:
			return nil, p.errf("unknown parameter %s", p.show(name))
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, p.errf("parameter %s: bad percent-encoding", name)
		}
		switch {
		case !hasValue && isBool:
			value = "true"
		case !hasValue:
			return nil, p.errf("parameter %s needs a value: %s=...", name, name)
		case value == "":
			return nil, p.errf("parameter %s has an empty value", name)
		}
		if _, dup := params[name]; dup && name != "addr" {
			return nil, p.errf("parameter %s given more than once", name)
		}
		params[name] = append(params[name], value)
	}
	// Two names for one setting.
	for _, pair := range [][2]string{
		{"pool_size", "max_connections"},
		{"pool_timeout", "wait_timeout"},
		{"max_retries", "connect_retry"},
		{"keepalive", "tcp_keepalive"},
		{"socket_timeout", "read_timeout"},
		{"socket_timeout", "write_timeout"},
		{"conn_max_idle_time", "idle_timeout"},
		{"conn_max_lifetime", "max_conn_age"},
	} {
		_, a := params[pair[0]]
		_, b := params[pair[1]]
		if a && b {
			return nil, p.errf("parameters %s and %s set the same thing; give one", pair[0], pair[1])
		}
	}
	return params, nil
}

// settings turns the remaining parameters into options.
func (p *urlParser) settings(params map[string][]string, db int, hasDB bool) error {
	if v, ok := params["db"]; ok {
		if hasDB {
			return p.errf("database given both in the path and as parameter db; give one")
		}
		n, err := p.number(v[0])
		if err != nil {
			return p.errf("parameter db: %s: %v", p.show(v[0]), err)
		}
		db, hasDB = n, true
	}
	if hasDB {
		if db != 0 && len(params["mode"]) > 0 && strings.EqualFold(params["mode"][0], "cluster") {
			return p.errf("database %d with mode=cluster: a cluster has only database 0", db)
		}
		p.add(WithDatabase(db))
	}

	if v, ok := params["protocol"]; ok {
		switch v[0] {
		case "2":
			p.add(WithRESP(2))
		case "3":
			p.add(WithRESP(3))
		default:
			return p.errf("parameter protocol: %s; want 2 or 3", p.show(v[0]))
		}
	}

	if v, ok := params["client_name"]; ok {
		for _, c := range v[0] {
			if c <= ' ' || c > '~' {
				return p.errf("parameter client_name: %s: names may not contain spaces or special characters", p.show(v[0]))
			}
		}
		p.add(WithClientName(v[0]))
	}

	if v, ok := params["mode"]; ok {
		switch strings.ToLower(v[0]) {
		case "auto":
			p.add(WithMode(ModeAuto))
		case "standalone":
			p.add(WithMode(ModeStandalone))
		case "cluster":
			p.add(WithMode(ModeCluster))
		default:
			return p.errf("parameter mode: %s; want auto, standalone or cluster", p.show(v[0]))
		}
	}

	if v, ok := params["decoder"]; ok {
		switch strings.ToLower(v[0]) {
		case "string":
			p.add(WithDecoder(StringDecoder))
		case "bytes":
			p.add(WithDecoder(BytesDecoder))
		case "raw":
			p.add(WithDecoder(RawDecoder))
		default:
			return p.errf("parameter decoder: %s; want string, bytes or raw", p.show(v[0]))
		}
	}

	if v, ok := params["endpoint"]; ok {
		p.add(WithEndpoint(v[0]))
	}
	if v, ok := params["read_only"]; ok {
		b, err := p.boolean("read_only", v[0])
		if err != nil {
			return err
		}
		p.add(WithReplicaReads(b))
	}

	// Durations.
	for _, d := range []struct {
		names []string
		opt   func(time.Duration) Option
	}{
		{[]string{"dial_timeout"}, WithConnectTimeout},
		{[]string{"pool_timeout", "wait_timeout"}, WithWaitTimeout},
		{[]string{"conn_max_idle_time", "idle_timeout"}, WithConnMaxIdleTime},
		{[]string{"conn_max_lifetime", "max_conn_age"}, WithConnMaxLifetime},
		{[]string{"timeout"}, func(d time.Duration) Option { return WithTimeout(d) }},
	} {
		for _, name := range d.names {
			if v, ok := params[name]; ok {
				t, err := p.duration(name, v[0])
				if err != nil {
					return err
				}
				p.add(d.opt(t))
			}
		}
	}

	// The socket timeout: read_timeout and write_timeout may both be given
	// (go-redis has the two); one timeout covers both here, the larger.
	var socket time.Duration
	hasSocket := false
	for _, name := range []string{"socket_timeout", "read_timeout", "write_timeout"} {
		if v, ok := params[name]; ok {
			t, err := p.duration(name, v[0])
			if err != nil {
				return err
			}
			socket, hasSocket = max(socket, t), true
		}
	}
	if hasSocket {
		p.add(WithSocketTimeout(socket))
	}

	for _, name := range []string{"pool_size", "max_connections"} {
		if v, ok := params[name]; ok {
			n, err := p.number(v[0])
			if err != nil {
				return p.errf("parameter %s: %s: %v", name, p.show(v[0]), err)
			}
			p.add(WithMaxConnections(n))
		}
	}

	if v, ok := params["client_cache"]; ok {
		n, err := p.number(v[0])
		if err != nil {
			return p.errf("parameter client_cache: %s: %v; want a size in bytes", p.show(v[0]), err)
		}
		p.add(WithClientCache(n))
	}
	if v, ok := params["cache_ttl"]; ok {
		t, err := p.duration("cache_ttl", v[0])
		if err != nil {
			return err
		}
		p.add(WithCache(t))
	}

	if v, ok := params["push_buffer"]; ok {
		n, err := p.number(v[0])
		if err != nil {
			return p.errf("parameter push_buffer: %s: %v", p.show(v[0]), err)
		}
		p.add(WithPushBuffer(n))
	}

	for _, name := range []string{"max_retries", "connect_retry"} {
		if v, ok := params[name]; ok {
			n := 0
			if v[0] != "-1" {
				var err error
				if n, err = p.number(v[0]); err != nil {
					return p.errf("parameter %s: %s: %v; want a count, or -1 for none", name, p.show(v[0]), err)
				}
			}
			p.add(WithConnectRetry(n))
		}
	}

	for _, name := range []string{"keepalive", "tcp_keepalive"} {
		if v, ok := params[name]; ok {
			var period time.Duration // 0: Go's default
			switch strings.ToLower(v[0]) {
			case "true", "t", "yes", "y", "on":
			case "false", "f", "no", "n", "off":
				period = -1
			default:
				t, err := p.duration(name, v[0])
				if err != nil {
					return err
				}
				period = t
				if t == 0 { // 0 and -1 turn keep-alives off
					period = -1
				}
			}
			p.add(WithTCPKeepAlive(period))
		}
	}
	return nil
}

// sentinel adds the options of the sentinel form: the master's name, the
// sentinels and their credentials.
func (p *urlParser) sentinel(master string, addrs []string, params map[string][]string) error {
	if v, ok := params["mode"]; ok && strings.EqualFold(v[0], "cluster") {
		return p.errf("master_name with mode=cluster: a Sentinel deployment is not a Redis Cluster")
	}
	p.add(WithSentinel(master, addrs...))
	user, hasUser := params["sentinel_username"]
	pass, hasPass := params["sentinel_password"]
	if hasUser || hasPass {
		p.add(WithSentinelAuth(first(user), first(pass)))
	}
	return nil
}

// hostPort parses one entry of the host list, or an addr parameter, into
// "host:port" with the defaults filled in (port is the default port). An
// empty entry is localhost only when it is the whole host list
// (allowEmpty).
func (p *urlParser) hostPort(entry string, allowEmpty bool, defaultPort string) (string, error) {
	if entry == "" {
		if allowEmpty {
			return net.JoinHostPort("localhost", defaultPort), nil
		}
		return "", errors.New("empty entry")
	}
	var host, port string
	hasPort := false
	if strings.HasPrefix(entry, "[") {
		end := strings.IndexByte(entry, ']')
		if end < 0 {
			return "", fmt.Errorf("%s: no ']' after an IPv6 address", p.show(entry))
		}
		ip, err := p.ipv6(entry[1:end])
		if err != nil {
			return "", fmt.Errorf("%s: %v", p.show(entry), err)
		}
		host = ip
		switch tail := entry[end+1:]; {
		case tail == "":
		case tail[0] == ':':
			port, hasPort = tail[1:], true
		default:
			return "", fmt.Errorf("%s: unexpected text after ']'", p.show(entry))
		}
	} else {
		host, port, hasPort = strings.Cut(entry, ":")
		if strings.Contains(port, ":") {
			return "", fmt.Errorf("%s: too many colons (write an IPv6 address in brackets: [::1]:6379)", p.show(entry))
		}
		if host == "" {
			host = "localhost"
		} else if err := validHostname(host); err != nil {
			return "", fmt.Errorf("host %s: %v", p.show(host), err)
		}
	}
	if !hasPort {
		port = defaultPort
	} else {
		n, err := p.number(port)
		switch {
		case port == "":
			return "", fmt.Errorf("%s: empty port", p.show(entry))
		case err != nil:
			return "", fmt.Errorf("port %s: %v", p.show(port), err)
		case n < 1 || n > 65535:
			return "", fmt.Errorf("port %s out of range 1-65535", p.show(port))
		}
		port = strconv.Itoa(n)
	}
	return net.JoinHostPort(host, port), nil
}

// ipv6 checks the inside of "[...]", with an optional zone written "%25zone"
// as RFC 6874 wants (or "%zone"), and returns it as net.Dial wants it.
func (p *urlParser) ipv6(s string) (string, error) {
	addr, zone, hasZone := strings.Cut(s, "%")
	if hasZone {
		zone = strings.TrimPrefix(zone, "25")
		if zone == "" {
			return "", errors.New("empty IPv6 zone")
		}
		for _, c := range zone {
			if !isHostChar(c) {
				return "", errors.New("bad character in the IPv6 zone")
			}
		}
	}
	ip := net.ParseIP(addr)
	if ip == nil || !strings.Contains(addr, ":") {
		return "", errors.New("not an IPv6 address (brackets are for IPv6 only)")
	}
	if hasZone {
		return addr + "%" + zone, nil
	}
	return addr, nil
}

func isHostChar(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_'
}

// validHostname accepts DNS names (underscores too, as container names have
// them) and IPv4 addresses. Non-ASCII names must be given in punycode.
func validHostname(h string) error {
	if len(h) > 253 {
		return errors.New("too long")
	}
	for _, c := range h {
		if !isHostChar(c) {
			return fmt.Errorf("invalid character %q", c)
		}
	}
	return nil
}

// validScheme reports whether s has the syntax of a URL scheme (RFC 3986),
// so that it may be quoted in an error: it cannot hold a password.
func validScheme(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i, c := range s {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// number parses a non-negative decimal integer: digits only, no sign. Its
// errors quote nothing; callers quote s.
func (p *urlParser) number(s string) (int, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			if strings.HasPrefix(s, "-") {
				return 0, errors.New("negative")
			}
			return 0, errors.New("not a number")
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("too large")
	}
	return n, nil
}

// duration parses a Go duration ("1.5s") or bare seconds ("1.5"). "-1"
// means none and gives 0; other negative durations are refused.
func (p *urlParser) duration(name, s string) (time.Duration, error) {
	if s == "-1" {
		return 0, nil
	}
	bare := s != ""
	dots := 0
	for _, c := range s {
		switch {
		case c == '.':
			dots++
		case c < '0' || c > '9':
			bare = false
		}
	}
	if bare && dots <= 1 && s != "." {
		f, err := strconv.ParseFloat(s, 64)
		secs := f * float64(time.Second)
		if err != nil || secs >= math.MaxInt64 {
			return 0, p.errf("parameter %s: %s seconds is too long", name, p.show(s))
		}
		if secs > 0 && secs < 1 {
			// Fewer seconds than a nanosecond: the least duration, since
			// truncating to 0 would turn a bound asked for into none.
			return time.Nanosecond, nil
		}
		return time.Duration(secs), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil && durationShaped(s) {
		return 0, p.errf("parameter %s: %s is too long (Go durations end at about 292 years)", name, p.show(s))
	}
	if err != nil {
		return 0, p.errf("parameter %s: %s is not a duration (want e.g. 3s, 500ms, or seconds: 0.5)", name, p.show(s))
	}
	if d < 0 {
		return 0, p.errf("parameter %s: %s is negative (only -1, for none, is allowed)", name, p.show(s))
	}
	return d, nil
}

// durationShaped reports whether s is written the way time.ParseDuration
// reads durations (numbers, each followed by a unit), so that its failing can
// only mean the value is out of range.
func durationShaped(s string) bool {
	// One sign at most, as ParseDuration reads it: "--1s" is malformed.
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for s != "" {
		n := strings.IndexFunc(s, func(c rune) bool { return (c < '0' || c > '9') && c != '.' })
		if n <= 0 || strings.Trim(s[:n], ".") == "" || strings.Count(s[:n], ".") > 1 {
			return false
		}
		s = s[n:]
		unit := false
		for _, u := range []string{"ns", "us", "µs", "μs", "ms", "s", "m", "h"} {
			if strings.HasPrefix(s, u) {
				s, unit = s[len(u):], true
				break
			}
		}
		if !unit {
			return false
		}
	}
	return true
}

// boolean parses a boolean parameter.
func (p *urlParser) boolean(name, s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "t", "1", "yes", "y", "on":
		return true, nil
	case "false", "f", "0", "no", "n", "off":
		return false, nil
	}
	return false, p.errf("parameter %s: %s is not a boolean (want true or false)", name, p.show(s))
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
