package justredisotel

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"sync"
	"syscall"

	"github.com/justredis/justredis"
)

// errorType returns the error.type of a failed call, and whether it is an
// error reply, whose type is then also its db.response.status_code. The
// package documentation lists the values.
func errorType(err error) (typ string, reply bool) {
	var re *justredis.Error
	if errors.As(err, &re) {
		return replyPrefix(re.Prefix()), true
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.name, false
		}
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout", false
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout", false
	case errors.Is(err, context.Canceled):
		return "canceled", false
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "io.ErrUnexpectedEOF", false
	case errors.Is(err, io.EOF):
		return "io.EOF", false
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name, ok := errnoNames[errno]; ok {
			return name, false
		}
	}
	return innermostType(err), false
}

// sentinels are the client's own failures, by the name a Go programmer
// would match them with. ErrNotRetried is not among them: the network
// error under it says more.
var sentinels = []struct {
	err  error
	name string
}{
	{justredis.ErrPoolTimeout, "justredis.ErrPoolTimeout"},
	{justredis.ErrClosed, "justredis.ErrClosed"},
	{justredis.ErrInvalidArgument, "justredis.ErrInvalidArgument"},
	{justredis.ErrProtocol, "justredis.ErrProtocol"},
	{justredis.ErrTxAborted, "justredis.ErrTxAborted"},
}

// replyPrefix returns the prefix of an error reply ("WRONGTYPE") when it
// looks like one: an upper-case word. Otherwise it may be the text of a
// script's own error, which can hold anything, so "_OTHER" stands for it.
func replyPrefix(p string) string {
	if p == "" || len(p) > 32 {
		return "_OTHER"
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return "_OTHER"
		}
	}
	return p
}

// errnoNames names the system errors a Redis client commonly meets, which
// say more than their type, syscall.Errno.
var errnoNames = map[syscall.Errno]string{
	syscall.ECONNREFUSED: "ECONNREFUSED",
	syscall.ECONNRESET:   "ECONNRESET",
	syscall.ECONNABORTED: "ECONNABORTED",
	syscall.EPIPE:        "EPIPE",
	syscall.ETIMEDOUT:    "ETIMEDOUT",
	syscall.EHOSTUNREACH: "EHOSTUNREACH",
	syscall.ENETUNREACH:  "ENETUNREACH",
	syscall.ENOENT:       "ENOENT",
	syscall.EACCES:       "EACCES",
}

// innermostType returns the Go type of the innermost error under err that
// is not a mere wrapper (fmt.Errorf's, errors.New's, the client's own),
// since the conventions prefer the original error to its wrappers.
func innermostType(err error) string {
	best := reflect.TypeOf(err)
	for e := err; e != nil; e = errors.Unwrap(e) {
		t := reflect.TypeOf(e)
		if !isWrapper(t) {
			best = t
		}
	}
	return typeName(best)
}

func isWrapper(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.PkgPath() {
	case "fmt", "errors", "github.com/justredis/justredis":
		return true
	}
	return false
}

// typeNames caches reflect.Type.String, which allocates.
var typeNames sync.Map // reflect.Type → string

func typeName(t reflect.Type) string {
	if s, ok := typeNames.Load(t); ok {
		return s.(string)
	}
	s := t.String()
	typeNames.Store(t, s)
	return s
}
