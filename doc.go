// Package justredis is a Redis client with one way to call every command:
// a slice of arguments in, a Go value out.
//
//	r, err := justredis.New(justredis.WithAddress("localhost:6379"))
//	if err != nil {
//		// handle error: New fails only on invalid settings, it never dials
//	}
//	defer r.Close()
//
//	_, err = r.Do(ctx, "SET", "greeting", "hello")
//	v, err := r.Do(ctx, "GET", "greeting") // v == "hello"
//
// There are no per-command methods to learn: any command the server knows,
// module commands included, is called the same way. The client finds out by
// itself whether it talks to a single server or a Redis Cluster, and in a
// cluster sends every command to the node that owns its keys. Given
// sentinels, it finds the master of a Sentinel deployment and follows it
// through failovers.
//
// # Connecting
//
// New takes options; FromURL takes a URL and options that override it:
//
//	r, err := justredis.FromURL("redis://user:password@localhost:6379/0?protocol=3")
//	r, err := justredis.FromURL("rediss://cache.example.com:6380")  // TLS
//	r, err := justredis.FromURL("unix:///run/redis/redis.sock?db=2")
//
// Nothing is dialled until the first call. Connections are set up with
// HELLO 3 (RESP3), falling back to RESP2 on servers that do not know it,
// and carry the credentials (WithAuth), client name (WithClientName) and
// database given.
//
// # Executing commands
//
// Do sends one command and waits for its reply:
//
//	n, err := r.Do(ctx, "INCR", "visits")        // int64
//	v, err := r.Do(ctx, "HGETALL", "user:1")    // map[string]any under RESP3
//
// Arguments may be strings, []byte, integers of any size, floats (sent in
// the shortest form that reads back exactly) and bools (1 or 0), and named
// types of these kinds too (type UserID int64), sent as the value they hold
// (a String method is not called). Anything else, nil included, is refused
// with ErrInvalidArgument before a byte is sent. time.Duration is refused
// too, since Redis commands disagree on whether they want seconds or
// milliseconds; a type defined from it (type Timeout time.Duration) cannot
// be told from an int64, and goes as its count of nanoseconds.
//
// Replies are Go values:
//
//	RESP type                  StringDecoder (default)   BytesDecoder
//	simple string              string                    string
//	bulk, verbatim string      string                    []byte
//	integer                    int64                     int64
//	double                     float64                   float64
//	big number                 *big.Int                  *big.Int
//	boolean                    bool                      bool
//	null                       nil                       nil
//	array, set, push           []any                     []any
//	map                        map[string]any            map[string]any
//	error inside an aggregate  *Error                    *Error
//	error at top level         returned as the error     returned as the error
//	attribute                  dropped                   dropped
//
// A missing key gives (nil, nil). RawDecoder keeps everything the wire
// said, as a RawValue. BytesInto(&buf) is BytesDecoder with a bulk string
// reply put in buf's memory, read there straight from the socket when it
// is large and buf can hold it: a loop that GETs large values allocates
// nothing once buf has grown. You can write a Decoder of your own. A
// reply larger than the 16 KiB read buffer is read into memory of its
// own, which a string filling most of it shares instead of a copy; once
// the call has returned the client holds no reference to it.
//
// # Reply helpers
//
// Under RESP2 the server sends maps as flat arrays and doubles as strings;
// under RESP3 as maps and float64s. The helpers String, Bytes, Int64,
// Float64, Bool, Strings, Values and StringMap accept both shapes, so code
// does not depend on the protocol version. String spells a RESP3 double as
// Redis spells one under RESP2 ("1700000000", "0.5", "1e+20"), except that
// a fraction a double cannot hold exactly is given its fewest digits
// ("0.1", where Redis 7.0 sends "0.10000000000000001"). Strings flattens
// the [member, score] pairs of RESP3 (ZRANGE ... WITHSCORES) into RESP2's
// flat array; a map goes to StringMap. They take the two results of Do
// directly:
//
//	s, err := justredis.String(r.Do(ctx, "GET", "greeting"))
//	if errors.Is(err, justredis.ErrNil) {
//		// the key does not exist
//	}
//	fields, err := justredis.StringMap(r.Do(ctx, "HGETALL", "user:1"))
//
// # Per-call settings
//
// Modify returns a copy of the client with other per-call settings that
// shares its connections. It is cheap: make one per request if you like.
//
//	db2 := r.Modify(justredis.WithDatabase(2), justredis.WithDecoder(justredis.BytesDecoder))
//	raw, err := db2.Do(ctx, "GET", "image:42") // []byte, from database 2
//
// # Concurrency and pipelining
//
// A Redis value is safe for concurrent use and meant to be shared by the
// whole program. Calls to the same server are pipelined automatically:
// concurrent calls share a few connections, their commands are coalesced
// into single writes and their replies handed back in order. A caller that
// is alone pays no goroutine hand-off at all; over a unix socket, whose
// server is on the same machine, one that sent a single command tries to
// read its reply again at once for about 30 µs when it is not there yet,
// rather than sleep and be woken, which costs more. It does not spin with
// GOMAXPROCS=1, on a connection other calls crowd, or for a while after
// spins ran out of time (see socket.Stream.ReadSoon).
//
// DoMulti sends several commands as one explicit pipeline, in one round
// trip (one per node in a cluster):
//
//	replies, err := r.DoMulti(ctx,
//		[]any{"SET", "a", 1},
//		[]any{"INCR", "a"},
//	)
//	// replies == []any{"OK", int64(2)}; a failed command has its *Error at its index
//
// Blocking commands (BLPOP, XREAD, WAIT, ... as the server's COMMAND table
// says) are sent on connections of their own, so they never stall other
// callers. A user not allowed COMMAND (an ACL with -command) leaves the
// client unable to tell which commands block: every command then goes on
// a connection of its own, one call per connection, which is safe but
// gives up pipelining. Grant +command for the shared, pipelined
// connections.
//
// # Contexts and timeouts
//
// Every call honours its context while waiting for a connection, writing
// and reading. A caller that gives up returns at once; its reply is still
// read and dropped, so no later caller ever receives it. A blocking command
// that is given up closes its connection instead, so the server hands
// nothing more to it. WithTimeout gives calls without a deadline one.
//
// # Failures and retries
//
// After a network failure a command is sent again on a fresh connection
// only when that cannot do harm: it is read-only (and runs no script), or
// it provably never left the client. A write whose reply was lost is never
// repeated behind your back; its error matches ErrNotRetried, because it
// may or may not have run. So does the error of a call whose context ended
// after its command was written: it matches both ctx.Err() and
// ErrNotRetried, while one that matches the context's error alone was
// never sent. Over TLS, which cannot resume a write cut short, a context
// that ends mid-write closes the connection; the client makes a new one for
// the next call. Network errors name the server's address and wrap the
// cause.
//
// A connection the server closed while it sat idle (its timeout, a
// restart, CLIENT KILL from elsewhere, a proxy) is noticed before anything
// is written on it, so the call goes to a new one and does not fail. After
// a command that may make the server close the very connection it came on
// (CLIENT KILL with an address or SKIPME no, ACL DELUSER, ACL LOAD), that
// connection gets no new calls, and closes once its replies are in. A
// write that finds the connection closed under it leaves the replies the
// server sent before it closed to their callers, and the commands of which
// no byte went out go to a new connection.
//
// A LOADING reply, from a server still loading its data set after a restart
// or a full sync, proves the command did not run: Do, DoMulti, a
// Connection's calls outside MULTI and Transaction send it again with the
// same backoff, in every deployment, until the server answers or the
// context ends (the error then matches the context's error alone and
// quotes the reply). A call whose context has no deadline retries for 30s
// at most, then gets the LOADING reply. A pipeline goes again only when
// every reply is LOADING; a partly LOADING one is returned as it is, since
// sending some of its commands again would run them after later ones. A
// script's LOADING is returned as it is: it may be the script's own error.
//
// A server whose connects fail is tried again after a backoff (up to a
// second), by one caller for all; callers whose deadline comes first fail
// at once with the last failure. Of several seeds, the next is tried
// beside one that has not answered within 250ms.
//
// # Transactions and connection state
//
// Commands that change a connection's state would leak to other callers on
// a shared connection, so Do refuses them and names the API to use:
// SELECT (use WithDatabase), MULTI, EXEC, DISCARD, WATCH, UNWATCH (use
// Connection), SUBSCRIBE and MONITOR (use PushConnection), AUTH and HELLO
// (use WithAuth and WithRESP).
//
// A Connection is a server connection of your own:
//
//	c, err := r.Connection(ctx)
//	if err != nil {
//		return err
//	}
//	defer c.Close() // hands it back clean: DISCARD, UNWATCH, database restored (in the background)
//	c.Do(ctx, "WATCH", "balance")
//	c.Do(ctx, "MULTI")
//	c.Do(ctx, "INCRBY", "balance", 10)
//	v, err := c.Do(ctx, "EXEC") // nil if "balance" changed since WATCH
//
// Close never waits on the network: what undoes the connection's state is
// sent in the background, within WithConnectTimeout, and the server
// connection goes back to the pool only once that succeeded (it is closed
// otherwise). Meanwhile it keeps its place, so WithMaxConnections holds.
//
// Transaction does the WATCH, read, MULTI/EXEC loop for you, retrying when a
// watched key changed (at most 32 attempts, then ErrTxAborted):
//
//	replies, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
//		n, err := justredis.Int64(c.Do(ctx, "GET", "balance"))
//		if err != nil {
//			return nil, err
//		}
//		return [][]any{{"SET", "balance", n + 10}}, nil
//	}, "balance")
//
// # Iterating
//
// Scan turns SCAN, HSCAN, SSCAN and ZSCAN into an iterator that supplies
// the cursor; in a cluster SCAN walks every master:
//
//	for key, err := range r.Scan(ctx, "SCAN", "MATCH", "user:*") {
//		if err != nil {
//			return err
//		}
//		fmt.Println(key)
//	}
//
// # Publish and subscribe
//
// SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and MONITOR run on a PushConnection,
// which delivers what the server pushes as Messages and subscribes again by
// itself after a reconnect, to what the server accepted:
//
//	p, err := r.PushConnection(ctx)
//	if err != nil {
//		return err
//	}
//	defer p.Close()
//	p.Do(ctx, "SUBSCRIBE", "news")
//	for msg, err := range p.Messages(ctx) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(msg.Kind, msg.Channel, msg.Data)
//	}
//
// In a cluster a PushConnection is one connection to one node: SSUBSCRIBE
// of a shard channel that another node serves than its other shard
// channels is refused (ErrInvalidArgument), and takes a second
// PushConnection.
//
// # Cluster
//
// With ModeAuto (the default) the first call finds out whether the server is
// a cluster node. In a cluster, Do finds a command's keys from the server's
// own COMMAND metadata and sends it to the node that owns their slot,
// following MOVED and ASK redirections and refreshing the slot map as the
// cluster changes. DoMulti splits a pipeline by node. Endpoints lists the
// nodes, and WithEndpoint sends calls to one of them, or to every master at
// once with Masters. WithReplicaReads lets replicas serve read-only
// commands. Keys that share a hash tag ("{user1}:name", "{user1}:mail")
// share a node, so multi-key commands and transactions can use them
// together:
//
//	c, err := r.Connection(ctx, "{user1}:balance") // the node that owns the key
//	replicas := r.Modify(justredis.WithReplicaReads(true))
//	v, err := replicas.Do(ctx, "GET", "{user1}:name")
//
// # Sentinel
//
// WithSentinel (or a URL with master_name) points the client at the
// sentinels of a Redis Sentinel deployment instead of at a server:
//
//	r, err := justredis.New(
//		justredis.WithSentinel("mymaster", "10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"),
//		justredis.WithAuth("", "data-password"),              // the master and replicas
//		justredis.WithSentinelAuth("", "sentinel-password"), // the sentinels, if they want one
//	)
//	r, err := justredis.FromURL("redis://10.0.0.1:26379,10.0.0.2:26379/0?master_name=mymaster")
//
// The first call asks the sentinels where the master is, giving each a
// share of the call's time before asking the next beside it, and confirms
// the answer with ROLE. Calls, Connection and PushConnection then go to the
// master. The client follows failovers by itself: it stays subscribed to
// the sentinels' +switch-master announcements, and asks again when the
// master answers READONLY (a write so answered did not run, and goes on to
// the new master) or cannot be reached. A push connection cut off by a
// failover subscribes again on the new master. Endpoints lists the master
// and the replicas the sentinels see up, and WithReplicaReads lets those
// replicas serve read-only commands.
//
// # Scripts
//
// EVAL and EVAL_RO are sent as they are the first time a server sees a
// script, and as EVALSHA and EVALSHA_RO (its SHA1, 40 bytes) once the
// client knows the server has it: the text crosses the network once per
// server, not once per call. Nothing changes for the caller:
//
//	const incrBy = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
//	n, err := justredis.Int64(r.Do(ctx, "EVAL", incrBy, 1, "counter", 5))
//
// This holds for Do, DoMulti, Connection and Transaction, per node in a
// cluster. The client forgets what a server has on NOSCRIPT, on SCRIPT
// FLUSH sent through it (by any call, before anything after it is encoded,
// so an EVAL after it in the same pipeline or transaction goes as EVAL),
// and when it finds a connection to the server broken (a restart or a
// failover empties its script cache). A single
// call answered NOSCRIPT, which proves the script did not run, is sent
// again as EVAL; in a pipeline or a transaction the commands after it have
// run already, so the NOSCRIPT stays at its index as an *Error rather than
// reorder them. The cost: one SHA1 per script text, and a set of digests
// per server, both bounded.
//
// # Client-side caching
//
// WithClientCache gives a client a local cache of at most maxBytes, and
// copies made with WithCache read through it: a cacheable read is answered
// locally when it can be, and otherwise read from the server and kept, for
// at most ttl and never past its keys' expiry. The server tells the client
// when a cached key changes (Redis's client-side caching, CLIENT TRACKING),
// and the entry is dropped when the message arrives; a write through the
// client drops the entries of its keys before it returns. Redis (7.0)
// sends no invalidation for another client's SWAPDB, so entries read from
// the swapped databases may be served until their ttl (a SWAPDB through the
// client empties the cache).
//
//	r, err := justredis.New(justredis.WithClientCache(64 << 20))
//	cached := r.Modify(justredis.WithCache(time.Minute))
//	v, err := cached.Do(ctx, "GET", "config:flags") // the second time, from the cache
//	hits := r.Stats().CacheHits
//
// What may be cached is the server's to say, from its COMMAND metadata
// (Redis 7 or later): read-only commands with keys, not blocking, whose
// output the tips do not mark nondeterministic (GET, MGET, HGETALL,
// SMEMBERS, ZRANGE; not TTL or SRANDMEMBER). Every hit is decoded from the
// reply's wire frame with the caller's decoder, so callers never share a
// mutable value. DoMulti of cacheable reads answers hits locally and reads
// the misses in one pipeline per server. Concurrent misses for one command
// make one round trip. A miss is read where the read would go without the
// cache: in a cluster the key's node, through Sentinel the master, and
// with WithReplicaReads a replica, which tracks its reads too.
//
// Each server gets, per database, a connection of the cache's own with
// CLIENT TRACKING on in OPTIN mode: a miss is sent there as CLIENT CACHING
// yes, the read, and PTTL of its keys, in one write, so the server tracks
// the keys the cache holds and no others (the default mode would track
// every key read on the connection, in server memory). A goroutine reads
// that connection all the time, so invalidations are applied as they
// arrive, and a connection that breaks is noticed at once and takes its
// entries with it. Under RESP2 (WithRESP(2)) tracking is redirected to one
// more connection per server, subscribed to __redis__:invalidate. The
// costs: the server's tracking table (one entry per cached key) and its
// invalidation messages; one or two connections and goroutines per server;
// per miss, CLIENT CACHING and a PTTL per key on the wire; in the client,
// maxBytes at most, each entry counted as its frame, command and keys plus
// some 300 bytes.
//
// # Observability
//
// WithHook adds a Hook, which sees every call (its command names, server,
// database, duration, error, and whether it was retried, redirected or
// answered from the cache) and every connection event (dials, closes,
// slot-map refreshes, failovers, resubscribes, waits for a connection);
// the context its CallStart returns flows into the call, so spans nest (a
// nil one counts as the context CallStart was given).
// Argument values reach only a hook that asks for them (ArgsHook).
// WithLogger logs what an operator wants to know to a *slog.Logger, never
// a password or an argument value, and Stats is a snapshot of connections
// and counters to poll. The module justredisotel turns hooks into
// OpenTelemetry spans and metrics. With none of these, a call costs
// nothing extra.
//
// # Errors
//
// An error reply is an *Error, whose Prefix is the server's error code
// ("WRONGTYPE", "NOSCRIPT", ...). The client's own errors match ErrNil,
// ErrClosed, ErrPoolTimeout, ErrInvalidArgument, ErrProtocol or
// ErrNotRetried with errors.Is. No error and no String method ever shows a
// password.
//
// # Testing
//
// Package redistest starts real Redis servers, clusters and Sentinel
// deployments for tests, in Docker containers or as local processes.
package justredis
