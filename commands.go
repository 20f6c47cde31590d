package justredis

import (
	"context"
	"fmt"
	"strings"
)

// command is what the server's COMMAND reply says of one command, as far
// as the client needs it to choose a connection and to decide whether a
// command may be sent twice.
type command struct {
	name     string
	readonly bool // safe to send again after a lost reply
	blocking bool // may wait on the server, so gets a connection of its own
	// The legacy key positions: first, last (negative counts from the end)
	// and step; used where key specs are not needed.
	firstKey, lastKey, keyStep int
	movableKeys                bool
	keySpecs                   []any      // the raw key specifications (Redis 7)
	script                     scriptKind // EVAL and SCRIPT FLUSH, for transparent EVALSHA
	subcommands                map[string]*command

	// For the client-side cache: write is the "write" flag (a write
	// without keys, FLUSHALL, empties the cache); keys finds the keys the
	// cache serves or invalidates; cacheable says whether the cache may
	// serve the command (see cacheableCommand).
	write     bool
	keys      *keyFinder
	cacheable bool
}

// commandTable maps lower-case command names to what the server says of
// them. It is built once and then only read.
type commandTable map[string]*command

// blocksWithoutFlag names commands that block but that Redis does not flag
// "blocking" (WAIT and WAITAOF wait for replicas up to their timeout).
var blocksWithoutFlag = map[string]bool{"wait": true, "waitaof": true}

// parseCommandTable reads the reply of COMMAND.
func parseCommandTable(v any) (commandTable, error) {
	entries, ok := v.([]any)
	if !ok {
		return nil, &protocolError{fmt.Sprintf("COMMAND reply is %T, not an array", v)}
	}
	t := make(commandTable, len(entries))
	for _, e := range entries {
		c, err := parseCommand(e)
		if err != nil {
			return nil, err
		}
		t[c.name] = c
	}
	return t, nil
}

func parseCommand(e any) (*command, error) {
	f, ok := e.([]any)
	if !ok || len(f) < 6 {
		return nil, &protocolError{fmt.Sprintf("COMMAND entry %v is malformed", e)}
	}
	name, _ := f[0].(string)
	c := &command{name: strings.ToLower(name)}
	c.script = scriptKinds[c.name] // by the full name: "script|flush"
	if i := strings.IndexByte(c.name, '|'); i >= 0 {
		c.name = c.name[i+1:] // subcommands are listed as "client|kill"
	}
	flags, _ := f[2].([]any)
	noscript := false
	for _, fl := range flags {
		switch fl {
		case "readonly":
			c.readonly = true
		case "write":
			c.write = true
		case "blocking":
			c.blocking = true
		case "movablekeys":
			c.movableKeys = true
		case "noscript":
			noscript = true
		}
	}
	c.blocking = c.blocking || blocksWithoutFlag[c.name]
	c.firstKey = toInt(f[3])
	c.lastKey = toInt(f[4])
	c.keyStep = toInt(f[5])
	if len(f) > 8 {
		c.keySpecs, _ = f[8].([]any)
	}
	c.keys = newKeyFinder(c)
	c.cacheable = cacheableCommand(c, f, noscript)
	if len(f) > 9 {
		subs, _ := f[9].([]any)
		for _, s := range subs {
			sc, err := parseCommand(s)
			if err != nil {
				return nil, err
			}
			if c.subcommands == nil {
				c.subcommands = make(map[string]*command)
			}
			c.subcommands[sc.name] = sc
		}
	}
	return c, nil
}

// cacheableCommand decides from the server's COMMAND entry f whether the
// client-side cache may serve c: read-only, not blocking, with keys the
// client can find itself, and a reply that depends on those keys alone.
// Only a server that gives command tips (Redis 7 and later) can say that:
// the tip nondeterministic_output marks replies that change without a
// write (TTL, SRANDMEMBER, ...). nondeterministic_output_order does not
// bar caching: a stored reply in one order (HGETALL, SMEMBERS) is one the
// server could have given. Scripts and functions (flagged noscript) are
// left out, since what they read is not known from their keys.
func cacheableCommand(c *command, f []any, noscript bool) bool {
	if !c.readonly || c.blocking || noscript || len(f) < 8 {
		return false
	}
	tips, ok := f[7].([]any)
	if !ok {
		return false
	}
	for _, tip := range tips {
		if tip == "nondeterministic_output" {
			return false
		}
	}
	// Keys the client finds itself: without them there is nothing to
	// track, and with COMMAND GETKEYS a hit would cost a round trip.
	return !c.keys.getKeys && len(c.keys.specs) > 0
}

func toInt(v any) int {
	n, _ := v.(int64)
	return int(n)
}

// lookup finds the command args names, and its subcommand when it has
// them; nil for commands the server does not know (or before the table is
// loaded).
func (t commandTable) lookup(args []any) *command {
	var buf [32]byte
	name, ok := lowerName(buf[:0], args[0])
	if !ok {
		return nil
	}
	c := t[string(name)]
	if c == nil || c.subcommands == nil || len(args) < 2 {
		return c
	}
	if sub, ok := lowerName(buf[:0], args[1]); ok {
		if sc := c.subcommands[string(sub)]; sc != nil {
			return sc
		}
	}
	return c
}

// lowerName writes a command name in lower case into buf, without
// allocating for names that fit. An argument longer than any command or
// subcommand name is no name, and is not copied: the second argument of a
// command, looked at for a subcommand, may be a value of megabytes.
func lowerName(buf []byte, arg any) ([]byte, bool) {
	switch s := arg.(type) {
	case string:
		if len(s) > maxNameLen {
			return nil, false
		}
		for i := 0; i < len(s); i++ {
			buf = append(buf, lower(s[i]))
		}
	case []byte:
		if len(s) > maxNameLen {
			return nil, false
		}
		for _, ch := range s {
			buf = append(buf, lower(ch))
		}
	default:
		return nil, false
	}
	return buf, true
}

// maxNameLen is longer than every command and subcommand name Redis and
// its modules use.
const maxNameLen = 64

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// refusal says which API to use instead of a command that would change the
// state of a connection others share.
type refusal struct {
	shared    string // on *Redis
	dedicated string // on *Connection; "" when allowed there
}

var refused = map[string]refusal{
	"select":       {shared: "use WithDatabase"},
	"multi":        {shared: "use a Connection"},
	"exec":         {shared: "use a Connection"},
	"discard":      {shared: "use a Connection"},
	"watch":        {shared: "use a Connection"},
	"unwatch":      {shared: "use a Connection"},
	"subscribe":    {shared: "use PushConnection", dedicated: "use PushConnection"},
	"psubscribe":   {shared: "use PushConnection", dedicated: "use PushConnection"},
	"ssubscribe":   {shared: "use PushConnection", dedicated: "use PushConnection"},
	"unsubscribe":  {shared: "use PushConnection", dedicated: "use PushConnection"},
	"punsubscribe": {shared: "use PushConnection", dedicated: "use PushConnection"},
	"sunsubscribe": {shared: "use PushConnection", dedicated: "use PushConnection"},
	"monitor":      {shared: "use PushConnection", dedicated: "use PushConnection"},
	"auth":         {shared: "use WithAuth", dedicated: "use WithAuth"},
	"hello":        {shared: "use WithRESP and WithAuth", dedicated: "use WithRESP and WithAuth"},
	"reset":        {shared: "it would reset a shared connection", dedicated: "close the Connection instead"},
	"quit":         {shared: "use Close", dedicated: "use Close"},
}

// refusedSubcommands are refused by their first two words (all CLIENT's:
// see checkAllowed).
var refusedSubcommands = map[string]refusal{
	"client reply":    {shared: "replies would go missing", dedicated: "replies would go missing"},
	"client tracking": {shared: "use a Connection or PushConnection"},
}

// checkAllowed refuses, before anything is sent, a command that must go
// through another API.
func checkAllowed(args []any, dedicated bool) error {
	var buf [48]byte
	name, ok := lowerName(buf[:0], args[0])
	if !ok {
		return nil // appendCommand reports the bad name
	}
	r, found := refused[string(name)]
	// Only CLIENT has refused subcommands: looking further for any other
	// command would hash its first argument, a key, for nothing.
	if !found && len(args) > 1 && string(name) == "client" {
		if full, ok := lowerName(append(name, ' '), args[1]); ok {
			if r, found = refusedSubcommands[string(full)]; found {
				name = full
			}
		}
	}
	if !found {
		return nil
	}
	why := r.shared
	where := "on the shared Redis"
	if dedicated {
		why, where = r.dedicated, "on a Connection"
	}
	if why == "" {
		return nil
	}
	return invalidArg(fmt.Sprintf("%s is not allowed %s: %s", strings.ToUpper(string(name)), where, why))
}

// extraSetup asks the first connections' handshakes for the COMMAND
// table, until one has brought it.
func (p *pool) extraSetup() [][]any {
	if p.cmds.Load() != nil {
		return nil
	}
	return [][]any{{"COMMAND"}}
}

// tookSetup keeps the COMMAND table a handshake brought. A user not
// allowed COMMAND gets an empty table: every command is then treated as
// neither read-only nor blocking.
func (p *pool) tookSetup(replies []any) {
	t, err := parseCommandTable(replies[0])
	if err != nil {
		t = commandTable{}
	}
	p.cmds.CompareAndSwap(nil, &t)
}

// command returns what the server says of the command in args; nil when
// unknown. The table comes with the first connection's handshake, so
// before it is there, command makes sure of a connection to sv.
func (p *pool) command(ctx context.Context, sv *server, db int, args []any) (*command, error) {
	if t := p.cmds.Load(); t != nil {
		return t.lookup(args), nil
	}
	cn, err := sv.sharedConn(ctx, db)
	if err != nil {
		return nil, err
	}
	cn.done()
	if t := p.cmds.Load(); t != nil {
		return t.lookup(args), nil
	}
	return nil, nil
}
