package justredis

import (
	"context"
	"fmt"
	"reflect"
	"strings"
)

// command is what the server's COMMAND reply says of one command, as far
// as the client needs it to choose a connection and to decide whether a
// command may be sent twice.
type command struct {
	name     string
	readonly bool // changes no data; see repeatable
	blocking bool // may wait on the server, so gets a connection of its own
	// script runs a script or function (the @scripting ACL category): an
	// error reply it gives may be the script's own, whatever its text, so
	// it is never taken for a redirection the topology does not confirm.
	script bool
	// The legacy key positions: first, last (negative counts from the end)
	// and step; used where key specs are not needed.
	firstKey, lastKey, keyStep int
	movableKeys                bool
	keySpecs                   []any // the raw key specifications (Redis 7)
	subcommands                map[string]*command
	// subcommand says c is one of another command's subcommands (CLIENT
	// KILL), which the second argument chose.
	subcommand bool
	// evalsha marks EVAL and SCRIPT FLUSH, for transparent EVALSHA
	// (scripts.go).
	evalsha scriptKind

	// For the client-side cache: write is the "write" flag (a write
	// without keys, FLUSHALL, empties the cache); keys finds the keys the
	// cache serves or invalidates; cacheable says whether the cache may
	// serve the command (see cacheableCommand).
	write     bool
	keys      *keyFinder
	cacheable bool

	// closes says the command may, with some arguments, make the server
	// close the connection it came on (see closesConnection).
	closes bool
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
	c.evalsha = scriptKinds[c.name] // by the full name: "script|flush"
	switch c.name {
	case "client", "acl", "client|kill", "acl|deluser", "acl|load":
		c.closes = true // Redis 6 lists no subcommands
	}
	if i := strings.IndexByte(c.name, '|'); i >= 0 {
		c.name = c.name[i+1:] // subcommands are listed as "client|kill"
		c.subcommand = true
	}
	if len(f) > 6 { // ACL categories, since Redis 6
		cats, _ := f[6].([]any)
		for _, cat := range cats {
			if cat == "@scripting" {
				c.script = true
			}
		}
	}
	c.script = c.script || scriptNames[c.name]
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
	if !c.readonly || c.blocking || c.script || noscript || len(f) < 8 {
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

// repeatable reports whether cmd may be sent again after its reply was
// lost: it is read-only and runs no script, which must never run twice.
func (cmd *command) repeatable() bool {
	return cmd != nil && cmd.readonly && !cmd.script
}

// scriptNames are the commands that run scripts, for a client without the
// COMMAND table.
var scriptNames = map[string]bool{
	"eval": true, "evalsha": true, "eval_ro": true, "evalsha_ro": true, "fcall": true, "fcall_ro": true,
}

// runsScript reports whether args, the command cmd (nil when unknown),
// runs a script.
func runsScript(cmd *command, args []any) bool {
	if cmd != nil {
		return cmd.script
	}
	var buf [16]byte
	name, ok := lowerName(buf[:0], args[0])
	return ok && scriptNames[string(name)]
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

// lookupNext is lookup for the commands of a batch in turn, given the one
// before (prev, nil for the first) and what it was (prevCmd): a batch
// mostly repeats one command, and looking its name up again would hash it
// once more. Only a command without subcommands is reused, since what the
// others are depends on their second argument: a subcommand's name has
// lost its parent's, so it is told by a flag.
func (t commandTable) lookupNext(args, prev []any, prevCmd *command) *command {
	if prevCmd != nil && prevCmd.subcommands == nil && !prevCmd.subcommand && sameName(args, prev) {
		return prevCmd
	}
	return t.lookup(args)
}

// sameName reports whether args names the command prev names, spelled the
// same, for a batch to skip what it did for prev already.
func sameName(args, prev []any) bool {
	if prev == nil {
		return false
	}
	a, ok := args[0].(string)
	b, ok2 := prev[0].(string)
	return ok && ok2 && a == b
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
		// A named string or []byte type (type Cmd string), which is sent
		// as its text.
		switch v := reflect.ValueOf(arg); {
		case v.Kind() == reflect.String:
			return lowerName(buf, v.String())
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
			return lowerName(buf, v.Bytes())
		}
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
	"readonly":     {shared: "use WithReplicaReads"},
	"readwrite":    {shared: "use WithReplicaReads"},
	"asking":       {shared: "the client follows ASK redirections itself"},
	// The replication handshake: the server answers with its data set, or
	// with nothing (REPLCONF ACK), and then treats the connection as a
	// replica's, so no reply would ever come back to the call.
	"sync":     {shared: replicationOnly, dedicated: replicationOnly},
	"psync":    {shared: replicationOnly, dedicated: replicationOnly},
	"replconf": {shared: replicationOnly, dedicated: replicationOnly},
}

const replicationOnly = "it is the replication handshake, for replicas only: the server would stream its data set, not reply"

// refusedSubcommands are refused by their first two words (all CLIENT's:
// see checkAllowed).
var refusedSubcommands = map[string]refusal{
	"client reply":    {shared: "replies would go missing", dedicated: "replies would go missing"},
	"client tracking": {shared: "use a Connection or PushConnection"},
	"client caching":  {shared: "use a Connection"},
	"client setname":  {shared: "use WithClientName, or a Connection"},
	"client setinfo":  {shared: "use a Connection"},
	"client no-evict": {shared: "use a Connection"},
	"client no-touch": {shared: "use a Connection"},
}

// lastingState names the commands allowed on a Connection whose effect on
// its server connection outlives the call and cannot be cheaply undone:
// Close drops a connection that sent one rather than hand it to the next
// user. (SELECT, MULTI and WATCH are undone instead; see dedicated.go.)
var lastingState = map[string]bool{
	"readonly": true, "readwrite": true, "asking": true,
	"client tracking": true, "client caching": true, "client setname": true, "client setinfo": true,
	"client no-evict": true, "client no-touch": true,
}

// closesConnection reports whether args is a command after whose reply
// the server may close the very connection it came on: CLIENT KILL in its
// old form (an address, which may be the caller's) or with SKIPME no, and
// ACL DELUSER and ACL LOAD, which drop the connections of the users they
// remove. The close follows the reply within microseconds, so a command
// written at once could be swallowed by it, with nobody to tell whether
// it ran: the client lets such a connection end once its replies are in
// (conn.beforeClosing), and drops a Connection that sent one.
func closesConnection(args []any) bool {
	if len(args) < 2 {
		return false
	}
	var buf [16]byte
	name, ok := lowerName(buf[:0], args[0])
	if !ok || len(name) > 6 {
		return false
	}
	cmd := string(name)
	name, ok = lowerName(buf[:0], args[1])
	if !ok {
		return false
	}
	switch cmd + " " + string(name) {
	case "acl deluser", "acl load":
		return true
	case "client kill":
		if len(args) == 3 {
			return true // CLIENT KILL ip:port
		}
		for i := 2; i+1 < len(args); i += 2 {
			opt, ok1 := lowerName(buf[:0], args[i])
			if ok1 && string(opt) == "skipme" {
				val, ok2 := lowerName(buf[:0], args[i+1])
				return ok2 && string(val) == "no"
			}
		}
	}
	return false
}

// mayClose is closesConnection for args, which is cmd (nil: not known),
// asking only of the commands that may.
func mayClose(cmd *command, args []any) bool {
	return (cmd == nil || cmd.closes) && closesConnection(args)
}

// changesState reports whether args is a command in lastingState, or one
// after which the server may close the connection (closesConnection): a
// Connection that sent one is not handed on.
func changesState(args []any) bool {
	if closesConnection(args) {
		return true
	}
	var buf [48]byte
	name, ok := lowerName(buf[:0], args[0])
	if !ok {
		return false
	}
	if lastingState[string(name)] {
		return true
	}
	if len(args) > 1 {
		if full, ok := lowerName(append(name, ' '), args[1]); ok {
			return lastingState[string(full)]
		}
	}
	return false
}

// checkAllowed refuses, before anything is sent, a command that must go
// through another API, and one with an argument that cannot be sent (see
// checkArgs), so that a batch, which checks each of its commands in turn,
// names the one at fault. A Connection checks inside its hooks, which so
// see the call refused for its arguments, as they do a Redis's.
func checkAllowed(args []any, dedicated bool) error {
	return checkAllowedNext(args, nil, dedicated)
}

// checkAllowedNext is checkAllowed for the commands of a batch in turn,
// given the one before (prev, nil for the first), which passed.
func checkAllowedNext(args, prev []any, dedicated bool) error {
	if err := checkArgs(args); err != nil {
		return err
	}
	return checkRefusedNext(args, prev, dedicated)
}

// checkRefused refuses, before anything is sent, a command that must go
// through another API.
func checkRefused(args []any, dedicated bool) error {
	return checkRefusedNext(args, nil, dedicated)
}

// checkRefusedNext is checkRefused for the commands of a batch in turn,
// given the one before (prev, nil for the first), which passed: the same
// name passes again, but for CLIENT, whose subcommand decides.
func checkRefusedNext(args, prev []any, dedicated bool) error {
	if sameName(args, prev) && !isClient(args[0].(string)) {
		return nil
	}
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

// isClient reports whether name is CLIENT in any case. It runs for every
// command of a batch: most names are of another length, and are told so
// without folding their letters.
func isClient(name string) bool {
	return len(name) == len("client") && strings.EqualFold(name, "client")
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
// allowed COMMAND gets an empty table, and noTable: no command is then
// taken for read-only, and every command for one that may block (see
// blocking).
func (p *pool) tookSetup(replies []any) {
	t, err := parseCommandTable(replies[0])
	if err != nil {
		t = commandTable{}
		p.noTable.Store(true)
	}
	p.cmds.CompareAndSwap(nil, &t)
}

// blocking says whether a command, cmd (nil when the table does not know
// it), must go on a connection of its own, and how long it may keep the
// server silent. Without a COMMAND table (a user not allowed COMMAND),
// the client cannot tell which commands block, so every command is taken
// for one that may: on a shared connection, a blocking command would
// stall every call queued behind it, and one abandoned would take data
// (a popped element, say) that nobody reads.
func (p *pool) blocking(cmd *command, args []any) (bool, blockWait) {
	switch {
	case cmd != nil && cmd.blocking:
		return true, commandWait(args)
	case cmd == nil && p.noTable.Load():
		return true, guessedWait(args)
	}
	return false, blockWait{}
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
