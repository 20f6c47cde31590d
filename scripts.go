package justredis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Transparent EVALSHA: EVAL and EVAL_RO go out as EVALSHA and EVALSHA_RO
// once the client knows the script is loaded on the server they go to, so
// a script's text crosses the network once per server and connection
// dialled rather than once per call. The client learns it from an EVAL
// that ran (a script that ran, even into an error, is loaded), and
// forgets it on NOSCRIPT, on a SCRIPT FLUSH sent through the client,
// whenever a connection to the server is found broken by the server or the
// network (a restart or a failover empties the server's script cache), when
// the client closes its last connection to it, after which none would
// break to tell of a restart (see forgetLocked, in server.go), and when it
// dials a new one, which may reach a restarted server while the idle
// connections that would tell so have not been looked at (see connect).
// The rewrite is decided once the connection is in hand, so that a call
// that replaces a broken connection sends the script.
//
// A SCRIPT FLUSH, through whatever path and connection, makes the client
// forget a server's scripts before it is encoded, so that every command
// encoded after it, in the same pipeline or transaction or elsewhere, goes
// as EVAL; and again when it is answered. Each forgetting starts a new
// epoch: an EVAL's success is learnt only in the epoch it was encoded in,
// since one answered after a flush may have run before it (on another
// connection) or after it.
//
// The server's NOSCRIPT proves the script did not run, so a single call
// answered so is sent again as EVAL; a script's own error that starts with
// NOSCRIPT is not (isServerNoScript). In a pipeline the commands after it have already
// run, so the NOSCRIPT stays at its index: resending would reorder.
//
// The rewrite is made per server, after routing, and encodes the EVALSHA
// form straight into bytes: the caller's arguments are never copied into
// a slice that outlives the call (see dispatch, in redis.go).

// scriptKind marks the commands transparent EVALSHA is concerned with,
// found from the COMMAND table by name.
type scriptKind uint8

const (
	notScript   scriptKind = iota
	scriptEval             // EVAL, EVAL_RO: may go as EVALSHA, EVALSHA_RO
	scriptFlush            // SCRIPT FLUSH: empties the server's script cache
)

// scriptKinds are the full names (as COMMAND lists them) of the commands
// that are no notScript.
var scriptKinds = map[string]scriptKind{
	"eval":         scriptEval,
	"eval_ro":      scriptEval,
	"script|flush": scriptFlush,
}

// scriptSHAs maps script texts to their SHA1 digests, computed once per
// text. It is bounded: a program that builds scripts on the fly should not
// grow it without end, so when full it starts again.
type scriptSHAs struct {
	mu   sync.RWMutex
	shas map[string]string
}

const maxScriptSHAs = 1024

// of returns the SHA1 of a script given as an argument; false when the
// argument cannot be sent (the encoder then says why). It never keeps
// script itself, nor anything it points to.
func (s *scriptSHAs) of(script any) (string, bool) {
	var text []byte
	switch v := script.(type) {
	case string:
		return s.sha(v)
	case []byte:
		text = v
	default:
		var buf [64]byte
		t, ok := argText(buf[:0], v)
		if !ok {
			return "", false
		}
		text = t
	}
	s.mu.RLock()
	sha, ok := s.shas[string(text)] // no copy: a lookup only
	s.mu.RUnlock()
	if ok {
		return sha, true
	}
	return s.add(string(text))
}

func (s *scriptSHAs) sha(script string) (string, bool) {
	s.mu.RLock()
	sha, ok := s.shas[script]
	s.mu.RUnlock()
	if ok {
		return sha, true
	}
	return s.add(strings.Clone(script)) // the caller's string is not kept
}

// add computes and keeps the SHA1 of script, which it owns.
func (s *scriptSHAs) add(script string) (string, bool) {
	sum := sha1.Sum([]byte(script))
	sha := hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shas == nil || len(s.shas) >= maxScriptSHAs {
		s.shas = make(map[string]string)
	}
	s.shas[script] = sha
	return sha, true
}

// loadedScripts is what one server is known to have in its script cache:
// the SHA1s of scripts that ran there. It is safe for concurrent use.
type loadedScripts struct {
	mu    sync.RWMutex
	set   map[string]struct{}
	epoch uint64 // how often clear was called
}

// maxLoadedScripts bounds what is remembered per server; beyond it the
// client starts again, at the cost of sending each script once more.
const maxLoadedScripts = 4096

// has reports whether the server is known to have the script sha, and
// the epoch that knowledge is of, to give add what a call encoded now
// learns.
func (l *loadedScripts) has(sha string) (loaded bool, epoch uint64) {
	l.mu.RLock()
	_, loaded = l.set[sha]
	epoch = l.epoch
	l.mu.RUnlock()
	return loaded, epoch
}

// add records that the script sha ran, in a call encoded in epoch; nothing
// when a flush came since.
func (l *loadedScripts) add(sha string, epoch uint64) {
	if loaded, now := l.has(sha); loaded || now != epoch {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epoch != epoch {
		return
	}
	if l.set == nil || len(l.set) >= maxLoadedScripts {
		l.set = make(map[string]struct{})
	}
	l.set[sha] = struct{}{}
}

func (l *loadedScripts) forget(sha string) {
	l.mu.Lock()
	delete(l.set, sha)
	l.mu.Unlock()
}

// clear forgets every script, and what calls encoded until now would
// teach: the server's cache was, or is about to be, emptied.
func (l *loadedScripts) clear() {
	l.mu.Lock()
	l.set = nil
	l.epoch++
	l.mu.Unlock()
}

// scriptSHA returns the SHA1 of the script of an EVAL or EVAL_RO; false
// for any other command, and for an EVAL without a script or a count of
// keys: the server refuses that one, and sent as written its error names
// the command the caller wrote, not an EVALSHA the caller never sent.
func (p *pool) scriptSHA(cmd *command, args []any) (string, bool) {
	if cmd == nil || cmd.evalsha != scriptEval || len(args) < 3 {
		return "", false
	}
	return p.shas.of(args[1])
}

// appendEvalSHA encodes args, an EVAL or EVAL_RO, as the EVALSHA or
// EVALSHA_RO of the script whose SHA1 is sha.
func appendEvalSHA(b []byte, cmd *command, args []any, sha string) ([]byte, error) {
	name := "EVALSHA"
	if cmd.name == "eval_ro" {
		name = "EVALSHA_RO"
	}
	start := len(b)
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	b = appendBulkString(b, name)
	b = appendBulkString(b, sha)
	for i := 2; i < len(args); i++ {
		var err error
		if b, err = appendArg(b, args[i]); err != nil {
			return b[:start], badArgument(args, i, err)
		}
	}
	return b, nil
}

// learnScript updates what loaded holds after a script call encoded in
// epoch got reply v. Only a reply that is no error proves the script
// loaded: one that failed to compile is not, and an error reply cannot be
// told from a script's own.
func learnScript(loaded *loadedScripts, sha string, epoch uint64, v any) {
	switch {
	case isNoScript(v):
		loaded.forget(sha)
	case !isErrorReply(v):
		loaded.add(sha, epoch)
	}
}

// isErrorReply reports whether v, a decoded reply, is an error, whatever
// the decoder: a top-level error is always an *Error, but one inside an
// array (EXEC's) is a RawValue for RawDecoder.
func isErrorReply(v any) bool {
	switch v := v.(type) {
	case error:
		return true
	case RawValue:
		return v.Kind == KindError || v.Kind == KindBlobError
	}
	return false
}

// noScriptText is the whole of the server's NOSCRIPT reply.
const noScriptText = "NOSCRIPT No matching script. Please use EVAL."

// isServerNoScript reports whether v is the server's own NOSCRIPT reply,
// which proves that nothing ran. A script may return any error after it
// ran, one starting with NOSCRIPT included; so it is told by its whole
// text. (A password that is one of its words, hidden in it, makes the
// server's reply pass for a script's: the call then fails, rather than
// perhaps run twice, and the next one sends the script.)
func isServerNoScript(v any) bool {
	switch v := v.(type) {
	case *Error:
		return v.msg == noScriptText
	case RawValue:
		return (v.Kind == KindError || v.Kind == KindBlobError) && string(v.Data) == noScriptText
	}
	return false
}

// isNoScript reports whether v reads NOSCRIPT: the server's reply, or a
// script's own error; either way the script is not known to be loaded.
func isNoScript(v any) bool {
	switch v := v.(type) {
	case *Error:
		return v.Prefix() == "NOSCRIPT"
	case RawValue:
		return (v.Kind == KindError || v.Kind == KindBlobError) && strings.HasPrefix(string(v.Data), "NOSCRIPT")
	}
	return false
}

// evalOn sends the script call args (an EVAL or EVAL_RO whose script has
// the SHA1 sha) on cn, a connection to sv, and returns its reply: as
// EVALSHA when sv is known to have the script, and as EVAL when it is not
// or answered NOSCRIPT, which proves nothing ran. For one call only: a
// pipeline must not be resent in part.
func (sv *server) evalOn(ctx context.Context, cn *conn, d Decoder, cmd *command, args []any, sha string) (any, error) {
	if loaded, epoch := sv.scripts.has(sha); loaded {
		var buf [256]byte
		enc, err := appendEvalSHA(buf[:0], cmd, args, sha)
		if err != nil {
			return nil, err
		}
		v, err := cn.roundTripEncoded(ctx, enc, d, nil)
		if err != nil || !isServerNoScript(v) {
			if err == nil {
				learnScript(&sv.scripts, sha, epoch, v)
			}
			return v, err
		}
		sv.scripts.forget(sha)
	}
	_, epoch := sv.scripts.has(sha)
	v, err := cn.roundTrip(ctx, [][]any{args}, d, nil)
	if err == nil {
		learnScript(&sv.scripts, sha, epoch, v)
	}
	return v, err
}

// scriptBatch is what transparent EVALSHA needs to know of a pipeline to
// one server: its script commands, and how each was sent.
type scriptBatch struct {
	sv   *server
	uses []scriptUse // in the order of the pipeline
}

type scriptUse struct {
	i     int // the command's index in the pipeline
	cmd   *command
	sha   string // the script's SHA1; "" for SCRIPT FLUSH
	asSHA bool   // it was sent as EVALSHA
	epoch uint64 // of the server's scripts when it was encoded
}

// planScripts finds the script commands among cmds, a pipeline to sv; nil
// when there are none, which is the common case and costs no allocation.
// t is the COMMAND table, nil before it is known.
func (p *pool) planScripts(sv *server, t *commandTable, cmds [][]any) *scriptBatch {
	if t == nil {
		return nil
	}
	var b *scriptBatch
	for i, args := range cmds {
		cmd := t.lookup(args)
		if cmd == nil || cmd.evalsha == notScript {
			continue
		}
		use := scriptUse{i: i, cmd: cmd}
		if cmd.evalsha == scriptEval {
			sha, ok := p.scriptSHA(cmd, args)
			if !ok {
				continue // not sendable: the encoder says why
			}
			use.sha = sha
		}
		if b == nil {
			b = &scriptBatch{sv: sv}
		}
		b.uses = append(b.uses, use)
	}
	return b
}

// encode encodes cmds with the script calls that sv is known to have as
// EVALSHA; with evalOnly, all as EVAL. A SCRIPT FLUSH among them makes sv
// forget its scripts before the commands after it are encoded.
func (b *scriptBatch) encode(cmds [][]any, evalOnly bool) ([]byte, error) {
	var enc []byte
	k := 0
	for i, args := range cmds {
		var err error
		if k < len(b.uses) && b.uses[k].i == i {
			u := &b.uses[k]
			k++
			if u.cmd.evalsha == scriptFlush {
				b.sv.scripts.clear()
			}
			var loaded bool
			loaded, u.epoch = b.sv.scripts.has(u.sha)
			u.asSHA = !evalOnly && u.sha != "" && loaded
			if u.asSHA {
				enc, err = appendEvalSHA(enc, u.cmd, args, u.sha)
			} else {
				enc, err = appendCommand(enc, args)
			}
		} else {
			enc, err = appendCommand(enc, args)
		}
		if err != nil {
			if len(cmds) > 1 {
				err = fmt.Errorf("command %d: %w", i, err)
			}
			return nil, err
		}
	}
	return enc, nil
}

// learn takes in the replies to a pipeline sent outside a transaction. It
// reports whether the pipeline, a single EVALSHA answered NOSCRIPT, is to
// be sent again as EVAL.
func (b *scriptBatch) learn(vals []any) (resend bool) {
	for i := range b.uses {
		if b.uses[i].learn(b.sv, vals[b.uses[i].i]) && len(vals) == 1 {
			resend = true
		}
	}
	return resend
}

// learn takes in the reply v to one script command on sv; it reports
// whether v is a NOSCRIPT answer to an EVALSHA, which proves nothing ran.
func (u *scriptUse) learn(sv *server, v any) (noScript bool) {
	if u.cmd.evalsha == scriptFlush {
		if !isErrorReply(v) {
			sv.scripts.clear()
		}
		return false
	}
	learnScript(&sv.scripts, u.sha, u.epoch, v)
	return u.asSHA && isServerNoScript(v)
}

// use returns the script command at index i of the pipeline; nil when it
// is none, or b is nil.
func (b *scriptBatch) use(i int) *scriptUse {
	if b == nil {
		return nil
	}
	for k := range b.uses {
		if b.uses[k].i == i {
			return &b.uses[k]
		}
	}
	return nil
}

// brokeOnItsOwn reports whether cn broke other than by the client closing
// it: the server or the network ended it, as a restart does.
func (cn *conn) brokeOnItsOwn() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.err != nil && !closedByClient(cn.err)
}
