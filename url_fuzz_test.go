package justredis

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseURL checks that parseURL never panics, that the options it
// returns always apply, and that its errors never contain a password of
// the URL: whatever stands between "://" and an '@' after a ':', or follows
// "password=", however the parser itself reads the URL.
func FuzzParseURL(f *testing.F) {
	f.Add("redis://user:secret@host:6379/1?protocol=3")
	f.Add("redis://:s3cr%3Ft@[::1]:99999")
	f.Add("redis://s1,s2:26380/2?master_name=m&sentinel_password=s3cret&addr=s3")
	f.Fuzz(func(t *testing.T, rawURL string) {
		opts, err := parseURL(rawURL)
		if err == nil {
			s := defaultSettings()
			for _, o := range opts {
				if err := o.applyTo(&s); err != nil {
					t.Fatalf("parseURL(%q) gave an option that fails: %v", rawURL, err)
				}
			}
			if len(s.addrs) == 0 {
				t.Fatalf("parseURL(%q) gave no address", rawURL)
			}
			return
		}
		if !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("parseURL(%q): %v does not match ErrInvalidArgument", rawURL, err)
		}
		msg := err.Error()
		for _, c := range secretCandidates(rawURL) {
			if leaked(rawURL, msg, c) {
				t.Fatalf("parseURL(%q): error %q shows the password %q", rawURL, msg, rawURL[c.start:c.end])
			}
		}
	})
}

// secret is a span of a URL that may hold a password.
type secret struct {
	start, end int
	query      bool // a query value: decoded as such
}

// secretCandidates returns every span that some reading of rawURL could
// take for a password: from after the first ':' following "://" (or the
// start, when there is no scheme), unless a path starts there, to any '@'
// after it, and the value of any
// "?password=" or "&password=" in the query, or of sentinel_password.
func secretCandidates(rawURL string) []secret {
	var out []secret
	start := 0
	if i := strings.Index(rawURL, "://"); i >= 0 {
		start = i + 3
	}
	// A bare socket path, or "unix:///...", has no user info: in "/a:b@c"
	// there is nothing but a file name.
	if colon := strings.IndexByte(rawURL[start:], ':'); colon >= 0 &&
		!strings.HasPrefix(rawURL, "/") && !strings.HasPrefix(rawURL[start:], "/") {
		from := start + colon + 1
		for i := from; i < len(rawURL); i++ {
			if rawURL[i] == '@' {
				out = append(out, secret{start: from, end: i})
			}
		}
	}
	for off := 0; ; {
		i := strings.Index(asciiLower(rawURL[off:]), "password=")
		if i < 0 {
			break
		}
		from := off + i + len("password=")
		at := off + i
		if strings.HasSuffix(asciiLower(rawURL[:at]), "sentinel_") {
			at -= len("sentinel_") // sentinel_password
		}
		if at == 0 || rawURL[at-1] != '?' && rawURL[at-1] != '&' || !strings.Contains(rawURL[:at], "?") {
			off = from
			continue // not a parameter name
		}
		end := strings.IndexByte(rawURL[from:], '&')
		if end < 0 {
			end = len(rawURL)
		} else {
			end += from
		}
		out = append(out, secret{start: from, end: end, query: true})
		off = from
	}
	return out
}

// leaked reports whether msg shows the secret c of rawURL, raw or decoded.
// Text that also stands elsewhere in the URL may be shown legitimately, and
// a short one may be in the message by chance. So may a longer one that the
// message text holds anyway: the URL is parsed again with the secret's
// letters and digits changed (which keeps its structure), and text that
// stays in the message then is the message's own.
func leaked(rawURL, msg string, c secret) bool {
	raw := rawURL[c.start:c.end]
	if len(raw) < 4 {
		return false
	}
	outside := rawURL[:c.start] + "\x00" + rawURL[c.end:]
	decode := url.PathUnescape
	if c.query {
		decode = url.QueryUnescape
	}
	forms := []string{outside, strings.ToLower(outside)}
	for _, unescape := range []func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
		if d, err := unescape(outside); err == nil {
			forms = append(forms, d, strings.ToLower(d))
		}
	}
	elsewhere := func(s string) bool {
		for _, f := range forms {
			if strings.Contains(f, s) {
				return true
			}
		}
		return false
	}

	mangledRaw := mangle(raw)
	mangledURL := rawURL[:c.start] + mangledRaw + rawURL[c.end:]
	var msg2 string
	if _, err := parseURL(mangledURL); err != nil {
		msg2 = err.Error()
	}
	shows := func(secret, mangled string) bool {
		if len(secret) < 4 || !strings.Contains(msg, secret) || elsewhere(secret) {
			return false
		}
		// Unless the message holds it whatever the secret is, as its own
		// text, it is a leak.
		return secret == mangled || !strings.Contains(msg2, secret)
	}
	if shows(raw, mangledRaw) {
		return true
	}
	if d, err := decode(raw); err == nil {
		if d2, err := decode(mangledRaw); err == nil && shows(d, d2) {
			return true
		}
	}
	return false
}

// asciiLower lowers ASCII letters only, keeping the length (strings.ToLower
// may not, on invalid UTF-8).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// mangle swaps the case of letters and shifts digits, which keeps
// percent-escapes valid and the URL's structure as it was.
func mangle(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		case '0' <= c && c <= '9':
			b[i] = '0' + (c-'0'+1)%10
		}
	}
	return string(b)
}

func TestLeakedOracle(t *testing.T) {
	u := "redis://:hunter2@h:99999"
	c := secretCandidates(u)
	if len(c) != 1 || u[c[0].start:c[0].end] != "hunter2" {
		t.Fatalf("candidates %v", c)
	}
	if !leaked(u, `justredis: URL: "hunter2"`, c[0]) {
		t.Fatal("a shown password is not seen")
	}
	if !leaked("redis://:hunter%32@h", `justredis: URL: "hunter2"`, secretCandidates("redis://:hunter%32@h")[0]) {
		t.Fatal("a shown decoded password is not seen")
	}
	if leaked(u, `justredis: URL: port "99999" out of range`, c[0]) {
		t.Fatal("a message without the password is taken for a leak")
	}
	// "range" is the message's own text.
	u = "redis://:range@h:99999"
	if leaked(u, `justredis: URL: host list: port "99999" out of range 1-65535`, secretCandidates(u)[0]) {
		t.Fatal("the message's own text is taken for a leak")
	}
	u = "redis://:1234567@h/1234567?foo=1"
	if leaked(u, `justredis: URL: "1234567"`, secretCandidates(u)[0]) {
		t.Fatal("text found elsewhere in the URL is taken for a leak")
	}
	u = "redis://h?password=hunter2&x=1"
	if !leaked(u, `justredis: URL: "hunter2"`, secretCandidates(u)[0]) {
		t.Fatal("a shown password parameter is not seen")
	}
	u = "redis://h?master_name=m&Sentinel_Password=hunter2"
	if c := secretCandidates(u); len(c) != 1 || !leaked(u, `justredis: URL: "hunter2"`, c[0]) {
		t.Fatal("a shown sentinel_password parameter is not seen")
	}
}
