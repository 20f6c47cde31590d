package justredis

import (
	"crypto/sha1"
	"encoding/hex"
	"sync"
)

// Transparent EVALSHA: EVAL and EVAL_RO go out as EVALSHA and EVALSHA_RO
// once the client knows the script is loaded on the server they go to, so
// a script's text crosses the network once per server rather than once
// per call. The client learns it from an EVAL that ran (a script that ran,
// even into an error, is loaded), and forgets it on NOSCRIPT and whenever
// the server's connection is made again (a restart or a failover empties
// the server's script cache).
//
// NOSCRIPT proves the script did not run, so a single call answered so is
// sent again as EVAL. In a pipeline the commands after it have already
// run, so the NOSCRIPT stays at its index: resending would reorder.

// scriptSHAs maps script texts to their SHA1 digests, computed once per
// text. It is bounded: a program that builds scripts on the fly should not
// grow it without end, so when full it starts again.
type scriptSHAs struct {
	mu   sync.Mutex
	shas map[string]string
}

const maxScriptSHAs = 1024

func (s *scriptSHAs) sha(script []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sha, ok := s.shas[string(script)]; ok {
		return sha
	}
	sum := sha1.Sum(script)
	sha := hex.EncodeToString(sum[:])
	if s.shas == nil || len(s.shas) >= maxScriptSHAs {
		s.shas = make(map[string]string)
	}
	s.shas[string(script)] = sha
	return sha
}

// loadedScripts is what one server is known to have in its script cache.
// It is safe for concurrent use.
type loadedScripts struct {
	m sync.Map // sha → struct{}
}

func (l *loadedScripts) has(sha string) bool { _, ok := l.m.Load(sha); return ok }
func (l *loadedScripts) add(sha string)      { l.m.Store(sha, struct{}{}) }
func (l *loadedScripts) forget(sha string)   { l.m.Delete(sha) }
func (l *loadedScripts) clear()              { l.m.Clear() }

// evalScript reports whether args is EVAL or EVAL_RO with a script, and
// returns the script's SHA1 and, when the script is known to be loaded,
// the EVALSHA form to send instead. The caller's slice is never changed.
func evalScript(args []any, shas *scriptSHAs, loaded *loadedScripts) (sha string, asSHA []any, ok bool) {
	if len(args) < 2 {
		return "", nil, false
	}
	var name string
	switch {
	case equalFold(args[0], "EVAL"):
		name = "EVALSHA"
	case equalFold(args[0], "EVAL_RO"):
		name = "EVALSHA_RO"
	default:
		return "", nil, false
	}
	var buf [64]byte
	script, ok := argText(buf[:0], args[1])
	if !ok {
		return "", nil, false // not encodable: the encoder says why
	}
	sha = shas.sha(script)
	if !loaded.has(sha) {
		return sha, nil, true
	}
	asSHA = make([]any, len(args))
	asSHA[0], asSHA[1] = name, sha
	copy(asSHA[2:], args[2:])
	return sha, asSHA, true
}

// learnScript updates what loaded holds after a script call got reply v.
// Only a reply that is no error proves the script loaded: one that failed
// to compile is not, and an error reply cannot be told from a script's own.
func learnScript(loaded *loadedScripts, sha string, v any) {
	switch {
	case isNoScript(v):
		loaded.forget(sha)
	case !isError(v):
		loaded.add(sha)
	}
}

func isError(v any) bool {
	_, ok := v.(error)
	return ok
}

func isNoScript(v any) bool {
	e, ok := v.(*Error)
	return ok && e.Prefix() == "NOSCRIPT"
}
