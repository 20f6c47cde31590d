package justredis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/justredis/justredis/socket"
)

// serverInfo is what a handshake learns about the server.
type serverInfo struct {
	resp     int          // the protocol spoken on the connection: 2 or 3
	mode     string       // "standalone", "cluster" or "sentinel"; "" when unknown (RESP2)
	commands commandTable // the COMMAND table, when asked for; empty if refused
	slots    any          // the reply to CLUSTER SLOTS, when asked for (an *Error outside a cluster)
}

// setupPlan says what a new connection needs besides credentials.
type setupPlan struct {
	db       int
	commands bool // also fetch the COMMAND table, in the same round trip
	// readonly sends READONLY, which lets a cluster replica serve reads.
	readonly bool
	// slots also asks for CLUSTER SLOTS, so that finding out whether a
	// server is a cluster node costs no round trip of its own.
	slots bool
}

// dial opens a connection to addr and makes it ready for commands: TLS,
// protocol, credentials, client name and database, in one round trip.
func dial(ctx context.Context, addr string, s *settings, plan setupPlan) (*conn, serverInfo, error) {
	if s.connectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.connectTimeout)
		defer cancel()
	}
	nc, err := socket.Dial(ctx, addr, socket.Config{
		ConnectTimeout: s.connectTimeout,
		KeepAlive:      s.keepAlive,
		TLS:            s.tls,
		Retries:        s.connectRetry,
	})
	if err != nil {
		return nil, serverInfo{}, fmt.Errorf("justredis: %w", err)
	}
	cn := newConn(nc, addr, s.socketTimeout)
	info, err := handshake(ctx, cn, s, plan)
	if err != nil {
		cn.close()
		return nil, serverInfo{}, err
	}
	cn.db = plan.db
	return cn, info, nil
}

func handshake(ctx context.Context, cn *conn, s *settings, plan setupPlan) (serverInfo, error) {
	if s.resp == 2 {
		return handshake2(ctx, cn, s, plan)
	}
	hello := []any{"HELLO", "3"}
	if s.password != "" {
		hello = append(hello, "AUTH", userOrDefault(s.username), s.password)
	}
	if s.clientName != "" {
		hello = append(hello, "SETNAME", s.clientName)
	}
	vals, info, err := setup(ctx, cn, plan, hello)
	if err != nil {
		return serverInfo{}, err
	}
	if e, ok := vals[0].(*Error); ok {
		// Redis before 6 knows no HELLO: fall back to RESP2 when allowed.
		// Anything else (WRONGPASS, ...) is final.
		if s.resp == 0 && (e.Prefix() == "NOPROTO" || strings.Contains(e.msg, "unknown command")) {
			return handshake2(ctx, cn, s, plan)
		}
		return serverInfo{}, handshakeError(cn.addr, e)
	}
	if err := firstError(cn.addr, vals[1:]); err != nil {
		return serverInfo{}, err
	}
	info.resp = 3
	if m, ok := vals[0].(map[string]any); ok {
		info.mode, _ = m["mode"].(string)
	}
	return info, nil
}

// handshake2 sets a connection up the RESP2 way, with AUTH and CLIENT
// SETNAME.
func handshake2(ctx context.Context, cn *conn, s *settings, plan setupPlan) (serverInfo, error) {
	var cmds [][]any
	switch {
	case s.password != "" && s.username != "":
		cmds = append(cmds, []any{"AUTH", s.username, s.password})
	case s.password != "":
		cmds = append(cmds, []any{"AUTH", s.password})
	}
	if s.clientName != "" {
		cmds = append(cmds, []any{"CLIENT", "SETNAME", s.clientName})
	}
	vals, info, err := setup(ctx, cn, plan, cmds...)
	if err != nil {
		return serverInfo{}, err
	}
	if err := firstError(cn.addr, vals); err != nil {
		return serverInfo{}, err
	}
	info.resp = 2
	return info, nil
}

// setup sends cmds, then SELECT, READONLY, COMMAND and CLUSTER SLOTS as
// the plan says, as one round trip. It returns the replies to cmds, SELECT
// and READONLY, which must all succeed.
func setup(ctx context.Context, cn *conn, plan setupPlan, cmds ...[]any) ([]any, serverInfo, error) {
	if plan.db != 0 {
		cmds = append(cmds, []any{"SELECT", plan.db})
	}
	if plan.readonly {
		cmds = append(cmds, []any{"READONLY"})
	}
	checked := len(cmds)
	if plan.commands {
		cmds = append(cmds, []any{"COMMAND"})
	}
	if plan.slots {
		cmds = append(cmds, []any{"CLUSTER", "SLOTS"})
	}
	var info serverInfo
	if len(cmds) == 0 {
		return nil, info, nil
	}
	vals := make([]any, len(cmds))
	if _, err := cn.roundTrip(ctx, cmds, StringDecoder, vals); err != nil {
		return nil, info, err
	}
	i := checked
	if plan.commands {
		// A user not allowed COMMAND gets an empty table: every command is
		// then treated as neither read-only nor blocking.
		info.commands = commandTable{}
		if t, err := parseCommandTable(vals[i]); err == nil {
			info.commands = t
		}
		i++
	}
	if plan.slots {
		info.slots = vals[i]
	}
	return vals[:checked], info, nil
}

func firstError(addr string, vals []any) error {
	for _, v := range vals {
		if e, ok := v.(*Error); ok {
			return handshakeError(addr, e)
		}
	}
	return nil
}

// handshakeError keeps the server's error (errors.As finds the *Error)
// and says where it happened. The server never echoes a password, and
// neither does this.
func handshakeError(addr string, e *Error) error {
	return fmt.Errorf("justredis: %s: connection setup failed: %w", addr, e)
}

func userOrDefault(u string) string {
	if u == "" {
		return "default"
	}
	return u
}

// isServerError reports whether err is an error reply.
func isServerError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
