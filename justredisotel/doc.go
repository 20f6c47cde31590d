// Package justredisotel turns the calls and connection events of a
// justredis client into OpenTelemetry spans and metrics, following the
// OpenTelemetry semantic conventions for database clients and for Redis
// (https://opentelemetry.io/docs/specs/semconv/db/).
//
//	r, err := justredis.New(
//		justredis.WithAddress("localhost:6379"),
//		justredis.WithHook(justredisotel.New()),
//	)
//
// # Spans
//
// Each call (a Do, a DoMulti batch, a round trip of a Connection, a
// Transaction's MULTI ... EXEC) is one span of kind client, named after its
// db.operation.name. Its attributes, set when the span starts so that
// samplers see them, except for the server, known only at its end:
//
//   - db.system.name: "redis".
//   - db.operation.name: the command name in upper case ("GET"). A batch of
//     two or more commands is "PIPELINE GET" when all its commands are GET
//     and "PIPELINE" otherwise; a transaction (a batch that begins with
//     MULTI and ends with EXEC) is "MULTI GET" or "MULTI", after the
//     commands between, as the Redis conventions say. A command name that
//     is not text leaves the attribute out, and the span is then named
//     "redis".
//   - db.namespace: the index of the database the call ran against, as a
//     string ("0"), as the client reports it: no extra query is made.
//   - server.address and server.port: the server that served the call,
//     from its address ("host:port"); a unix socket path is the address,
//     with no port. They are set as the span ends, since the client knows
//     the server only then. In a Redis Cluster this is the node, not the
//     seed the client was configured with; a call that several nodes
//     served (a DoMulti spread over them, or a call a MOVED reply sent on)
//     has neither, nor has a call that reached no server.
//   - db.operation.batch.size: the number of commands, for batches of two
//     or more (and 0 for an empty one).
//   - db.query.text: only with WithQueryText(true), which makes the Hook
//     ask the client for argument values (justredis.ArgsHook); see there.
//   - justredis.retried, justredis.redirected, justredis.cache_hit: set,
//     to true, only when the call was sent again after a connection broke,
//     was redirected by a cluster, or was answered by the client-side
//     cache.
//
// A failed call sets the span status to Error and error.type, which is
//
//   - for an error reply (an *justredis.Error), its prefix ("WRONGTYPE",
//     "ERR"), which also goes in db.response.status_code; a prefix that is
//     not an upper-case word (a script's own error text, say) is "_OTHER",
//     so that no value leaks into it;
//   - "timeout" when a deadline passed (the context's or the socket's);
//     "canceled" when the context was canceled;
//   - "justredis.ErrPoolTimeout", "justredis.ErrClosed",
//     "justredis.ErrInvalidArgument", "justredis.ErrProtocol" or
//     "justredis.ErrTxAborted" for the client's own failures;
//   - the errno name ("ECONNREFUSED", "ECONNRESET") for common network
//     errors, otherwise the Go type of the innermost error
//     ("*net.DNSError").
//
// The status description is the error's text, except for error replies,
// whose text may echo argument values.
//
// # Metrics
//
//   - db.client.operation.duration (histogram, seconds, with the buckets
//     the conventions advise): one measurement per call, with db.system.name,
//     db.operation.name, db.namespace, server.address, server.port,
//     error.type, db.response.status_code and the justredis flags
//     (server.address and server.port when one server served the call).
//   - db.client.connection.count (up-down counter): connections opened minus
//     connections closed, per db.client.connection.pool.name, which is the
//     server's address; it is back to 0 once the client is closed. justredis
//     multiplexes calls on shared connections rather than lending them out,
//     so there is no idle/used state.
//   - db.client.connection.create_time (histogram, seconds): how long dials
//     took, failed ones too, with their error.type.
//   - db.client.connection.wait_time (histogram, seconds): how long callers
//     waited for a connection under WithMaxConnections, with error.type when
//     they gave up; db.client.connection.timeouts counts those.
//   - justredis.client.events (counter): every connection event, by
//     justredis.event (dial, close, refresh, failover, resubscribe,
//     pool-wait, dropped), server.address and error.type.
//   - justredis.client.push.dropped (counter): push messages dropped
//     because a PushConnection's buffer was full.
//
// Connection events are also added as span events ("justredis.dial", ...)
// to the span in the event's context, when one is recording: a dial or a
// pool wait made for a call shows inside that call's span.
package justredisotel
