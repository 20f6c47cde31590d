package justredis

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// urlSettings parses rawURL and applies the options to the defaults.
func urlSettings(t *testing.T, rawURL string) settings {
	t.Helper()
	opts, err := parseURL(rawURL)
	require.NoError(t, err, rawURL)
	s := defaultSettings()
	for _, o := range opts {
		require.NoError(t, o.applyTo(&s), rawURL)
	}
	return s
}

// setDB is what WithDatabase(n) does.
func setDB(s *settings, n int) { s.call.db, s.call.dbSet = n, true }

func defaultTLS() *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12} }

func TestParseURL(t *testing.T) {
	addrs := func(a ...string) func(*settings) {
		return func(s *settings) { s.addrs = a }
	}
	tests := []struct {
		url  string
		want func(*settings) // applied to defaultSettings()
	}{
		// Hosts and ports.
		{"redis://", nil},
		{"redis://localhost", nil},
		{"redis://localhost:6379", nil},
		{"REDIS://example.com", addrs("example.com:6379")},
		{"redis://example.com:6380", addrs("example.com:6380")},
		{"redis://:6380", addrs("localhost:6380")},
		{"redis://10.0.0.1:7000", addrs("10.0.0.1:7000")},
		{"redis://redis_1.internal", addrs("redis_1.internal:6379")},
		{"redis://h:065535", addrs("h:65535")},
		{"redis://[::1]", addrs("[::1]:6379")},
		{"redis://[::1]:6380", addrs("[::1]:6380")},
		{"redis://[fe80::1%25eth0]:6380", addrs("[fe80::1%eth0]:6380")},
		{"redis://[2001:db8::7]:1/3", func(s *settings) { s.addrs = []string{"[2001:db8::7]:1"}; setDB(s, 3) }},
		{"redis://a,b:7001,[::1]:7002", addrs("a:6379", "b:7001", "[::1]:7002")},
		{"redis://a:7000?addr=b:7001&addr=[::2]:7002&addr=c", addrs("a:7000", "b:7001", "[::2]:7002", "c:6379")},
		{"redis://?addr=b:7001&addr=c:7002", addrs("b:7001", "c:7002")},
		{"redis:///?addr=b:7001", addrs("b:7001")},

		// Cluster replica reads and the push buffer.
		{"redis://h?read_only=true", func(s *settings) { s.addrs = []string{"h:6379"}; s.call.replicaReads = true }},
		{"redis://h?read_only", func(s *settings) { s.addrs = []string{"h:6379"}; s.call.replicaReads = true }},
		{"redis://h?push_buffer=50", func(s *settings) { s.addrs = []string{"h:6379"}; s.pushBuffer = 50 }},
		{"redis://h?client_cache=1048576&cache_ttl=30s", func(s *settings) {
			s.addrs = []string{"h:6379"}
			s.cacheBytes, s.call.cacheTTL = 1<<20, 30*time.Second
		}},

		// Sentinel: the hosts are the sentinels, port 26379 by default.
		{"redis://s1,s2:26380/2?master_name=mymaster", func(s *settings) {
			s.sentinel = sentinelConfig{master: "mymaster", addrs: []string{"s1:26379", "s2:26380"}}
			setDB(s, 2)
		}},
		{"redis://?master_name=m", func(s *settings) {
			s.sentinel = sentinelConfig{master: "m", addrs: []string{"localhost:26379"}}
		}},
		{"redis://?master_name=m&addr=a&addr=[::1]:1", func(s *settings) {
			s.sentinel = sentinelConfig{master: "m", addrs: []string{"a:26379", "[::1]:1"}}
		}},
		{"redis://u:pw@s1?Master_Name=m&sentinel_username=su&sentinel_password=s%2Bp&addr=s2:1&read_only", func(s *settings) {
			s.sentinel = sentinelConfig{master: "m", addrs: []string{"s1:26379", "s2:1"}, username: "su", password: "s+p", auth: true}
			s.username, s.password = "u", "pw"
			s.call.replicaReads = true
		}},
		{"rediss://s1?master_name=m&sentinel_password=sp", func(s *settings) {
			s.sentinel = sentinelConfig{master: "m", addrs: []string{"s1:26379"}, password: "sp", auth: true}
			s.tls = defaultTLS()
		}},

		// Unix sockets.
		{"unix:///run/redis.sock", addrs("/run/redis.sock")},
		{"unix:///run/redis.sock?db=2", func(s *settings) { s.addrs = []string{"/run/redis.sock"}; setDB(s, 2) }},
		{"unix:///run/my%20redis.sock", addrs("/run/my redis.sock")},
		{"unix:///run/a@b.sock", addrs("/run/a@b.sock")},
		{"unix://:pw@/run/redis.sock", func(s *settings) { s.addrs = []string{"/run/redis.sock"}; s.password = "pw" }},
		{"unix://user:p%40ss@/run/redis.sock?protocol=2", func(s *settings) {
			s.addrs = []string{"/run/redis.sock"}
			s.username, s.password, s.resp = "user", "p@ss", 2
		}},
		{"/run/redis.sock", addrs("/run/redis.sock")},
		{"/run/redis.sock?db=5&client_name=x", func(s *settings) {
			s.addrs = []string{"/run/redis.sock"}
			s.clientName = "x"
			setDB(s, 5)
		}},
		{"/tmp/user@host/redis.sock", addrs("/tmp/user@host/redis.sock")},

		// Credentials.
		{"redis://:secret@h", func(s *settings) { s.addrs = []string{"h:6379"}; s.password = "secret" }},
		{"redis://alice:secret@h", func(s *settings) {
			s.addrs = []string{"h:6379"}
			s.username, s.password = "alice", "secret"
		}},
		{"redis://alice@h", func(s *settings) { s.addrs = []string{"h:6379"}; s.username = "alice" }},
		{"redis://alice:@h", func(s *settings) { s.addrs = []string{"h:6379"}; s.username = "alice" }},
		{"redis://:@h", addrs("h:6379")},
		{"redis://:p%40ss%3A%2F%3F%23%25+@h", func(s *settings) { s.addrs = []string{"h:6379"}; s.password = "p@ss:/?#%+" }},
		{"redis://us%3Aer:pw@h", func(s *settings) { s.addrs = []string{"h:6379"}; s.username, s.password = "us:er", "pw" }},
		// Raw '@' and '/' in a password (base64 keys have '/').
		{"redis://:p@ss@h", func(s *settings) { s.addrs = []string{"h:6379"}; s.password = "p@ss" }},
		{"rediss://:ab/cd+ef=@h:6380/1", func(s *settings) {
			s.addrs = []string{"h:6380"}
			s.password, s.tls = "ab/cd+ef=", defaultTLS()
			setDB(s, 1)
		}},
		{"redis://:pw@h?client_name=a@b", func(s *settings) {
			s.addrs = []string{"h:6379"}
			s.password, s.clientName = "pw", "a@b"
		}},
		{"redis://h?username=bob&password=p%40ss%2B+x", func(s *settings) {
			s.addrs = []string{"h:6379"}
			s.username, s.password = "bob", "p@ss+ x"
		}},
		{"redis://h?password=p@ss", func(s *settings) { s.addrs = []string{"h:6379"}; s.password = "p@ss" }},
		{"redis://h?username=bob", func(s *settings) { s.addrs = []string{"h:6379"}; s.username = "bob" }},

		// Database.
		{"redis://h/0", func(s *settings) { s.addrs = []string{"h:6379"}; setDB(s, 0) }},
		{"redis://h/", addrs("h:6379")},
		{"redis://h/15", func(s *settings) { s.addrs = []string{"h:6379"}; setDB(s, 15) }},
		{"redis://h?db=7", func(s *settings) { s.addrs = []string{"h:6379"}; setDB(s, 7) }},

		// TLS.
		{"rediss://h", func(s *settings) { s.addrs = []string{"h:6379"}; s.tls = defaultTLS() }},
		{"rediss://h?skip_verify=true", func(s *settings) {
			s.addrs = []string{"h:6379"}
			s.tls = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
		}},
		{"rediss://h?skip_verify", func(s *settings) {
			s.addrs = []string{"h:6379"}
			s.tls = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
		}},
		{"rediss://h?skip_verify=no", func(s *settings) { s.addrs = []string{"h:6379"}; s.tls = defaultTLS() }},

		// Every parameter.
		{"redis://?protocol=2", func(s *settings) { s.resp = 2 }},
		{"redis://?protocol=3", func(s *settings) { s.resp = 3 }},
		{"redis://?client_name=worker-1", func(s *settings) { s.clientName = "worker-1" }},
		{"redis://?mode=auto", nil},
		{"redis://?mode=Standalone", func(s *settings) { s.mode = ModeStandalone }},
		{"redis://?mode=cluster", func(s *settings) { s.mode = ModeCluster }},
		{"redis://?mode=cluster&db=0", func(s *settings) { s.mode = ModeCluster; setDB(s, 0) }},
		{"redis://?decoder=string", nil},
		{"redis://?decoder=bytes", func(s *settings) { s.call.decoder = BytesDecoder }},
		{"redis://?decoder=RAW", func(s *settings) { s.call.decoder = RawDecoder }},
		{"redis://?endpoint=masters", func(s *settings) { s.call.endpoint = Masters }},
		{"redis://?endpoint=10.0.0.1:7000", func(s *settings) { s.call.endpoint = "10.0.0.1:7000" }},
		{"redis://?dial_timeout=3s", func(s *settings) { s.connectTimeout = 3 * time.Second }},
		{"redis://?dial_timeout=3", func(s *settings) { s.connectTimeout = 3 * time.Second }},
		{"redis://?dial_timeout=0.25", func(s *settings) { s.connectTimeout = 250 * time.Millisecond }},
		{"redis://?dial_timeout=1m30s", func(s *settings) { s.connectTimeout = 90 * time.Second }},
		{"redis://?dial_timeout=0", func(s *settings) { s.connectTimeout = 0 }},
		{"redis://?dial_timeout=-1", func(s *settings) { s.connectTimeout = 0 }},
		{"redis://?read_timeout=500ms", func(s *settings) { s.socketTimeout = 500 * time.Millisecond }},
		{"redis://?write_timeout=2", func(s *settings) { s.socketTimeout = 2 * time.Second }},
		{"redis://?read_timeout=1s&write_timeout=4s", func(s *settings) { s.socketTimeout = 4 * time.Second }},
		{"redis://?read_timeout=5s&write_timeout=4s", func(s *settings) { s.socketTimeout = 5 * time.Second }},
		{"redis://?read_timeout=-1", func(s *settings) { s.socketTimeout = 0 }},
		{"redis://?socket_timeout=10s", func(s *settings) { s.socketTimeout = 10 * time.Second }},
		{"redis://?pool_size=20", func(s *settings) { s.maxConns = 20 }},
		{"redis://?max_connections=0", nil},
		{"redis://?max_connections=8", func(s *settings) { s.maxConns = 8 }},
		{"redis://?pool_timeout=4s", func(s *settings) { s.waitTimeout = 4 * time.Second }},
		{"redis://?wait_timeout=1.5", func(s *settings) { s.waitTimeout = 1500 * time.Millisecond }},
		{"redis://?wait_timeout=-1", nil},
		{"redis://?max_retries=5", func(s *settings) { s.connectRetry = 5 }},
		{"redis://?max_retries=-1", func(s *settings) { s.connectRetry = 0 }},
		{"redis://?connect_retry=0", func(s *settings) { s.connectRetry = 0 }},
		{"redis://?keepalive=30s", func(s *settings) { s.keepAlive = 30 * time.Second }},
		{"redis://?keepalive=1", func(s *settings) { s.keepAlive = time.Second }},
		{"redis://?keepalive=0", func(s *settings) { s.keepAlive = -1 }},
		{"redis://?keepalive=-1", func(s *settings) { s.keepAlive = -1 }},
		{"redis://?tcp_keepalive=off", func(s *settings) { s.keepAlive = -1 }},
		{"redis://?tcp_keepalive=true", nil},
		{"redis://?timeout=2s", func(s *settings) { s.call.timeout = 2 * time.Second }},
		{"redis://?timeout=-1", nil},
		// Fewer seconds than a nanosecond are the least duration, not 0,
		// which means none.
		{"redis://?timeout=0.0000000001", func(s *settings) { s.call.timeout = time.Nanosecond }},
		{"redis://?dial_timeout=0.0000000001", func(s *settings) { s.connectTimeout = time.Nanosecond }},
		{"redis://?keepalive=0.0000000001", func(s *settings) { s.keepAlive = time.Nanosecond }},
		{"redis://?timeout=0.000", nil},
		{"redis://?DB=1&Protocol=3", func(s *settings) { setDB(s, 1); s.resp = 3 }},
		{"redis://?&db=1&&", func(s *settings) { setDB(s, 1) }},
		{"redis://?client_name=a%2Db", func(s *settings) { s.clientName = "a-b" }},

		// Everything at once.
		{"rediss://u%21:p%40w@n1.example:7000,n2.example:7001/0?protocol=3&client_name=api&dial_timeout=2s" +
			"&read_timeout=1s&write_timeout=3s&pool_size=16&pool_timeout=5s&max_retries=1&keepalive=20s" +
			"&skip_verify=1&timeout=6s&decoder=bytes&mode=cluster&addr=n3.example:7002", func(s *settings) {
			s.addrs = []string{"n1.example:7000", "n2.example:7001", "n3.example:7002"}
			s.username, s.password = "u!", "p@w"
			s.tls = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
			s.resp, s.clientName, s.mode = 3, "api", ModeCluster
			s.connectTimeout, s.socketTimeout = 2*time.Second, 3*time.Second
			s.maxConns, s.waitTimeout, s.connectRetry = 16, 5*time.Second, 1
			s.keepAlive = 20 * time.Second
			s.call.timeout, s.call.decoder = 6*time.Second, BytesDecoder
			setDB(s, 0)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			want := defaultSettings()
			if tc.want != nil {
				tc.want(&want)
			}
			require.Equal(t, want, urlSettings(t, tc.url))
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		url      string
		want     []string // substrings of the message
		password string   // must not appear in the message
	}{
		// The URL as a whole.
		{"", []string{"empty"}, ""},
		{"localhost:6379", []string{"no scheme"}, ""},
		{"user:hunter2@localhost:6379", []string{"no scheme"}, "hunter2"},
		{"http://:hunter2@localhost", []string{`unknown scheme "http"`}, "hunter2"},
		{"redis+sentinel://h", []string{`unknown scheme "redis+sentinel"`, "?master_name=mymaster"}, ""},
		{"re dis://:hunter2@h", []string{"malformed scheme"}, "hunter2"},
		{"redis://:hunter2@h\n", []string{"control character"}, "hunter2"},
		{"redis://:hunter2@h#frag", []string{"fragments"}, "hunter2"},

		// Hosts.
		{"redis://:hunter2@a,,b", []string{"host list", "empty entry"}, "hunter2"},
		{"redis://:hunter2@a,", []string{"host list", "empty entry"}, "hunter2"},
		{"redis://:hunter2@,a", []string{"host list", "empty entry"}, "hunter2"},
		{"redis://:hunter2@h:99999", []string{`port "99999" out of range`}, "hunter2"},
		{"redis://:hunter2@h:0", []string{`port "0" out of range`}, "hunter2"},
		{"redis://:hunter2@h:", []string{"empty port"}, "hunter2"},
		{"redis://:hunter2@h:63a", []string{`port "63a"`, "not a number"}, "hunter2"},
		{"redis://:hunter2@h:-1", []string{`port "-1"`, "negative"}, "hunter2"},
		{"redis://:hunter2@::1", []string{"too many colons", "brackets"}, "hunter2"},
		{"redis://:hunter2@[::1", []string{"no ']'"}, "hunter2"},
		{"redis://:hunter2@[::1]x", []string{"after ']'"}, "hunter2"},
		{"redis://:hunter2@[1.2.3.4]:1", []string{"not an IPv6 address"}, "hunter2"},
		{"redis://:hunter2@[::1%25]:1", []string{"empty IPv6 zone"}, "hunter2"},
		{"redis://:hunter2@ho%20st", []string{`host "ho%20st"`, "invalid character"}, "hunter2"},
		{"redis://:hunter2@höst", []string{"invalid character"}, "hunter2"},
		{"redis://:hunter2@h?addr=", []string{"addr has an empty value"}, "hunter2"},
		{"redis://:hunter2@h?addr=b:0", []string{"parameter addr", "out of range"}, "hunter2"},
		{"redis://:hunter2@h?addr=b:x", []string{"parameter addr", "not a number"}, "hunter2"},

		// Unix.
		{"unix://:hunter2@relative.sock", []string{"unix URL has no host"}, "hunter2"},
		{"unix://host/run/redis.sock", []string{"unix URL has no host"}, ""},
		{"unix://", []string{"no socket path"}, ""},
		{"unix://?db=1", []string{"no socket path"}, ""},
		{"unix:///", []string{"no socket path"}, ""},
		{"unix://:hunter2@/", []string{"no socket path"}, "hunter2"},
		{"unix:///run/redis.sock?addr=h:1", []string{"addr needs redis://"}, ""},
		{"unix:///run/%zz.sock", []string{"socket path", "percent-encoding"}, ""},
		{"unix:///run/%00.sock", []string{"NUL"}, ""},
		{"/run/redis.sock?skip_verify=true", []string{"skip_verify needs rediss://"}, ""},

		// Credentials.
		{"redis://:hunter2%zz@h", []string{"password: bad percent-encoding"}, "hunter2"},
		{"redis://us%zz:hunter2@h", []string{"user name: bad percent-encoding"}, "hunter2"},
		{"redis://:hunter2@h?password=other", []string{"credentials given both"}, "hunter2"},
		{"redis://alice:hunter2@h?username=bob", []string{"credentials given both"}, "hunter2"},
		{"redis://h?password=hunter2&password=hunter2", []string{"password given more than once"}, "hunter2"},
		{"redis://h?password=", []string{"password has an empty value"}, ""},
		{"redis://h?password", []string{"password needs a value"}, ""},
		{"redis://h?password=hunter2%zz", []string{"password: bad percent-encoding"}, "hunter2"},
		// A raw '?' in the password: the parser cannot tell, but it must
		// not show the password, nor any other text of the URL.
		{"redis://:hun?ter2@h:1", []string{"(hidden)", "%3F"}, "hun?ter2"},
		{"redis://user:hunter2?x@h", []string{"(hidden)"}, "hunter2?x"},
		{"redis://u:1234?x@host", []string{"unknown parameter (hidden)", "%3F"}, "1234?x"},
		{"redis://u:1234?protocol=9@host", []string{"protocol: (hidden)"}, "1234?protocol=9"},
		{"redis://user:p@ss?w0rd@host", []string{"unknown parameter (hidden)"}, "w0rd"},
		{"redis://user:p@s/1?db=2@host", []string{"database given both", "(text of the URL is hidden"}, "s/1"},
		{"redis://user:p@s:1?db=2@host", []string{"db: (hidden)"}, "db=2"},
		{"redis://:pw@h?client_name=a@b&db=x", []string{"db: (hidden): not a number"}, "pw"},

		// Database.
		{"redis://:hunter2@h/x", []string{`database "/x" in the path`, "not a number"}, "hunter2"},
		{"redis://:hunter2@h/-1", []string{`database "/-1"`, "negative"}, "hunter2"},
		{"redis://:hunter2@h/1/2", []string{`database "/1/2"`}, "hunter2"},
		{"redis://:hunter2@h/99999999999999999999", []string{"too large"}, "hunter2"},
		{"redis://:hunter2@h/1?db=1", []string{"database given both in the path and as parameter db"}, "hunter2"},
		{"redis://:hunter2@h?db=one", []string{`parameter db: "one": not a number`}, "hunter2"},
		{"redis://:hunter2@h?db=-2", []string{`parameter db: "-2": negative`}, "hunter2"},
		{"redis://:hunter2@h?db=1&db=2", []string{"db given more than once"}, "hunter2"},
		{"redis://:hunter2@h/2?mode=cluster", []string{"mode=cluster", "only database 0"}, "hunter2"},

		// Parameters.
		{"redis://:hunter2@h?foo=bar", []string{`unknown parameter "foo"`}, "hunter2"},
		{"redis://:hunter2@h?=1", []string{"has no name"}, "hunter2"},
		{"redis://:hunter2@h?%zz=1", []string{"parameter name"}, "hunter2"},
		{"redis://:hunter2@h?min_idle_conns=3", []string{`"min_idle_conns"`, "no justredis equivalent"}, "hunter2"},
		{"redis://:hunter2@h?protocol=4", []string{`protocol: "4"`, "want 2 or 3"}, "hunter2"},
		{"redis://:hunter2@h?protocol=0", []string{"want 2 or 3"}, "hunter2"},
		{"redis://:hunter2@h?protocol=3&protocol=3", []string{"protocol given more than once"}, "hunter2"},
		{"redis://:hunter2@h?client_name=a%20b", []string{"client_name", `"a b"`}, "hunter2"},
		{"redis://:hunter2@h?dial_timeout=soon", []string{`dial_timeout: "soon" is not a duration`}, "hunter2"},
		{"redis://:hunter2@h?dial_timeout=-2s", []string{"dial_timeout", "negative"}, "hunter2"},
		{"redis://:hunter2@h?read_timeout=1e9999", []string{"read_timeout", "not a duration"}, "hunter2"},
		{"redis://:hunter2@h?read_timeout=99999999999", []string{"read_timeout", "too long"}, "hunter2"},
		{"redis://:hunter2@h?write_timeout=1..2", []string{"write_timeout"}, "hunter2"},
		{"redis://:hunter2@h?read_timeout=2562048h", []string{"read_timeout", "too long"}, "hunter2"},
		{"redis://:hunter2@h?cache_ttl=1h9223372036854775807ns", []string{"cache_ttl", "too long"}, "hunter2"},
		{"redis://:hunter2@h?timeout=99999999999999999999ms", []string{"timeout", "too long"}, "hunter2"},
		{"redis://:hunter2@h?timeout=1.5.5s", []string{"timeout", "not a duration"}, "hunter2"},
		{"redis://:hunter2@h?timeout=.s", []string{"timeout", "not a duration"}, "hunter2"},
		{"redis://:hunter2@h?timeout=1x", []string{"timeout", "not a duration"}, "hunter2"},
		{"redis://:hunter2@h?timeout=5s3", []string{"timeout", "not a duration"}, "hunter2"},
		{"redis://:hunter2@h?socket_timeout=1s&read_timeout=1s", []string{"socket_timeout and read_timeout", "give one"}, "hunter2"},
		{"redis://:hunter2@h?socket_timeout=1s&write_timeout=1s", []string{"socket_timeout and write_timeout"}, "hunter2"},
		{"redis://:hunter2@h?pool_size=ten", []string{`pool_size: "ten": not a number`}, "hunter2"},
		{"redis://:hunter2@h?max_connections=-1", []string{"max_connections", "negative"}, "hunter2"},
		{"redis://:hunter2@h?pool_size=1&max_connections=1", []string{"pool_size and max_connections"}, "hunter2"},
		{"redis://:hunter2@h?pool_timeout=1&wait_timeout=1", []string{"pool_timeout and wait_timeout"}, "hunter2"},
		{"redis://:hunter2@h?wait_timeout=x", []string{"wait_timeout"}, "hunter2"},
		{"redis://:hunter2@h?max_retries=-2", []string{"max_retries", "negative"}, "hunter2"},
		{"redis://:hunter2@h?max_retries=1&connect_retry=1", []string{"max_retries and connect_retry"}, "hunter2"},
		{"redis://:hunter2@h?keepalive=1&tcp_keepalive=1", []string{"keepalive and tcp_keepalive"}, "hunter2"},
		{"redis://:hunter2@h?keepalive=maybe", []string{"keepalive", "not a duration"}, "hunter2"},
		{"redis://:hunter2@h?skip_verify=true", []string{"skip_verify needs rediss://"}, "hunter2"},
		{"redis://:hunter2@h?skip_verify=false", []string{"skip_verify needs rediss://"}, "hunter2"},
		{"rediss://:hunter2@h?skip_verify=perhaps", []string{`skip_verify: "perhaps" is not a boolean`}, "hunter2"},
		{"redis://:hunter2@h?timeout=-5s", []string{"timeout", "negative"}, "hunter2"},
		{"redis://:hunter2@h?decoder=json", []string{`decoder: "json"`, "string, bytes or raw"}, "hunter2"},
		{"redis://:hunter2@h?mode=sentinel", []string{`mode: "sentinel"`, "auto, standalone or cluster"}, "hunter2"},
		{"redis://:hunter2@h?endpoint=", []string{"endpoint has an empty value"}, "hunter2"},
		{"redis://:hunter2@h?db", []string{"db needs a value"}, "hunter2"},

		// Sentinel.
		{"redis://:hunter2@h?sentinel_password=s3cret", []string{"sentinel_password needs master_name"}, "s3cret"},
		{"redis://:hunter2@h?sentinel_username=u", []string{"sentinel_username needs master_name"}, "hunter2"},
		{"unix://:hunter2@/s.sock?master_name=m", []string{"master_name needs redis://"}, "hunter2"},
		{"redis://:hunter2@h?master_name=m&mode=cluster", []string{"not a Redis Cluster"}, "hunter2"},
		{"redis://:hunter2@h?master_name=my%20master", []string{`master name "my master"`, "spaces"}, "hunter2"},
		{"redis://:hunter2@h?master_name=", []string{"master_name has an empty value"}, "hunter2"},
		{"redis://h?master_name=m&sentinel_password=", []string{"sentinel_password has an empty value"}, ""},
		{"redis://:hunter2@h?replica_only=true", []string{`"replica_only" (a go-redis setting)`}, "hunter2"},
		{"redis://:hunter2@h?master_name=m&sentinel_password=s3cret&addr=b:x", []string{"parameter addr"}, "s3cret"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			opts, err := parseURL(tc.url)
			require.Error(t, err)
			require.Nil(t, opts)
			require.True(t, errors.Is(err, ErrInvalidArgument), "%v", err)
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "justredis: URL: "), msg)
			for _, w := range tc.want {
				require.Contains(t, msg, w)
			}
			if tc.password != "" {
				require.NotContains(t, msg, tc.password)
			}
		})
	}
}

// TestParseURLOptionsValid checks that parseURL reports what the options
// would refuse, so that New never fails on options from a URL.
func TestParseURLOptionsValid(t *testing.T) {
	_, err := parseURL("redis://?client_name=a%7Fb")
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.Contains(t, err.Error(), "client_name")
}

func TestFromURL(t *testing.T) {
	r, err := FromURL("redis://alice:pw@h:7000/2?protocol=2&client_name=a&decoder=bytes")
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, []string{"h:7000"}, r.p.s.addrs)
	require.Equal(t, "alice", r.p.s.username)
	require.Equal(t, "pw", r.p.s.password)
	require.Equal(t, 2, r.p.s.resp)
	require.Equal(t, 2, r.call.db)
	require.Equal(t, BytesDecoder, r.call.decoder)
	require.NotContains(t, r.String(), "pw")

	// Options given after the URL override it.
	custom := &tls.Config{ServerName: "redis.internal"}
	r2, err := FromURL("rediss://:pw@h/2?protocol=2&client_name=a&decoder=bytes",
		WithDatabase(5), WithRESP(3), WithClientName("b"), WithDecoder(RawDecoder),
		WithTLS(custom), WithAuth("bob", "other"), WithAddress("x:1"))
	require.NoError(t, err)
	defer r2.Close()
	require.Equal(t, 5, r2.call.db)
	require.Equal(t, 3, r2.p.s.resp)
	require.Equal(t, "b", r2.p.s.clientName)
	require.Equal(t, RawDecoder, r2.call.decoder)
	require.Same(t, custom, r2.p.s.tls)
	require.Equal(t, "bob", r2.p.s.username)
	require.Equal(t, "other", r2.p.s.password)
	require.Equal(t, []string{"x:1"}, r2.p.s.addrs)

	// URL errors come back as they are; so do errors of the options.
	_, err = FromURL("http://:hunter2@h")
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.NotContains(t, err.Error(), "hunter2")
	_, err = FromURL("redis://h", WithRESP(4))
	require.ErrorIs(t, err, ErrInvalidArgument)
}

// A password with an '&' that was not percent-encoded is split, and its
// tail reads as an unknown parameter: the error never shows it.
func TestParseURLPasswordTailHidden(t *testing.T) {
	for _, raw := range []string{
		"redis://localhost:6379?password=Zq9X&w7Vb",
		"redis://localhost:6379/0?sentinel_password=Zq9X&w7Vb&master_name=m",
	} {
		_, err := FromURL(raw)
		require.Error(t, err)
		require.NotContains(t, strings.ToLower(err.Error()), "w7vb", raw)
	}
}
