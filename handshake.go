package justredis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/justredis/justredis/socket"
)

// serverInfo is what a handshake learns about the server.
type serverInfo struct {
	resp  int    // the protocol spoken on the connection: 2 or 3
	mode  string // "standalone", "cluster" or "sentinel"; "" when unknown (RESP2)
	extra []any  // the replies to setupPlan.extra, error replies included
}

// setupPlan says what a new connection needs besides credentials.
type setupPlan struct {
	db int
	// readonly sends READONLY, which lets a cluster replica serve reads.
	readonly bool
	// extra are commands sent in the same round trip as the setup, whose
	// replies the caller wants (COMMAND, CLUSTER SLOTS), so that learning
	// about the server costs no round trip of its own. Their error replies
	// do not fail the setup.
	extra [][]any
}

// dial opens a connection to addr and makes it ready for commands: TLS,
// protocol, credentials, client name and database, in one round trip.
//
// WithConnectTimeout bounds each attempt, connect and handshakes together,
// and an attempt that fails on the way (refused, timed out, cut off) is
// made again, up to WithConnectRetry times, after a pause. A server that
// answered with an error reply is not asked again: it would answer the
// same.
//
// failed is the error of the last attempt that failed on its own account,
// not ctx's, and so tells of the server; nil when none did.
func dial(ctx context.Context, addr string, s *settings, plan setupPlan) (cn *conn, info serverInfo, failed, err error) {
	for attempt := 1; ; attempt++ {
		cn, info, err := dialOnce(ctx, addr, s, plan)
		if err != nil && ctxErr(ctx) == nil {
			failed = err
		}
		switch {
		case err == nil:
			return cn, info, failed, nil
		case ctxErr(ctx) != nil:
			if ended := ctxErr(ctx); !errors.Is(err, ended) {
				err = fmt.Errorf("justredis: %s: %w; last error: %w", addr, ended, err)
			} else if !strings.Contains(err.Error(), addr) {
				// The context ended in the middle of the handshake: say where.
				err = fmt.Errorf("justredis: %s: connection setup: %w", addr, err)
			}
			return nil, serverInfo{}, failed, err
		case !mayRetryConnect(err):
			return nil, serverInfo{}, failed, err
		case attempt > s.connectRetry:
			if attempt > 1 {
				err = fmt.Errorf("justredis: %s: %d attempts to connect failed: %w", addr, attempt, err)
			}
			return nil, serverInfo{}, failed, err
		}
		if ended := sleep(ctx, backoff(attempt-1)); ended != nil {
			return nil, serverInfo{}, failed, fmt.Errorf("justredis: %s: %w; last error: %w", addr, ended, err)
		}
	}
}

// ctxErr is ctx.Err(), also for a deadline that has passed but whose timer
// has not fired yet: the dialer gives up at the deadline itself, so a
// failure then must be taken for the context's, not retried.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// dialOnce is one attempt of dial, within WithConnectTimeout.
func dialOnce(ctx context.Context, addr string, s *settings, plan setupPlan) (*conn, serverInfo, error) {
	outer := ctx
	if s.connectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.connectTimeout)
		defer cancel()
	}
	nc, err := socket.Dial(ctx, addr, socket.Config{KeepAlive: s.keepAlive, TLS: s.tls})
	if err != nil {
		return nil, serverInfo{}, fmt.Errorf("justredis: %w", err)
	}
	cn := newConn(nc, addr, s.socketTimeout)
	cn.rd.secret = s.password
	cn.maxIdle, cn.maxLife = s.connMaxIdle, s.connMaxLife
	cn.born = time.Now()
	cn.idleSince = cn.born
	info, err := handshake(ctx, cn, s, plan)
	if err != nil {
		cn.close()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil && ctxErr(outer) == nil {
			// The connect timeout ran out, not the caller's context: say
			// so, lest the caller take it for its own deadline.
			err = fmt.Errorf("justredis: %s: no answer to the connection setup within the connect timeout (%v): %w",
				addr, s.connectTimeout, os.ErrDeadlineExceeded)
		}
		return nil, serverInfo{}, err
	}
	cn.db = plan.db
	cn.used = false // the handshake's commands were the client's own; nobody else sees cn yet
	return cn, info, nil
}

func handshake(ctx context.Context, cn *conn, s *settings, plan setupPlan) (serverInfo, error) {
	if s.resp == 2 {
		return handshake2(ctx, cn, s, plan)
	}
	hello := []any{"HELLO", "3"}
	if s.password != "" || s.username != "" {
		// A user name alone logs in too: a nopass user takes any
		// password, the empty one included.
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
	case s.username != "":
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

// setup sends cmds, then SELECT, READONLY and the plan's extra commands,
// as one round trip. It returns the replies to cmds, SELECT and READONLY,
// which must all succeed.
func setup(ctx context.Context, cn *conn, plan setupPlan, cmds ...[]any) ([]any, serverInfo, error) {
	if plan.db != 0 {
		cmds = append(cmds, []any{"SELECT", plan.db})
	}
	if plan.readonly {
		cmds = append(cmds, []any{"READONLY"})
	}
	checked := len(cmds)
	cmds = append(cmds, plan.extra...)
	var info serverInfo
	if len(cmds) == 0 {
		return nil, info, nil
	}
	vals := make([]any, len(cmds))
	if _, err := cn.roundTrip(ctx, cmds, StringDecoder, vals); err != nil {
		if ne, ok := ownCommand(err).(*netError); ok {
			err = &netError{addr: ne.addr, err: fmt.Errorf("connection setup: %w", ne.err)}
		}
		return nil, info, err
	}
	info.extra = vals[checked:]
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
// and says where it happened. The reader hid the password already, should
// the server have quoted it back (see redact.go).
func handshakeError(addr string, e *Error) error {
	return fmt.Errorf("justredis: %s: connection setup failed: %w", addr, e)
}

func userOrDefault(u string) string {
	if u == "" {
		return "default"
	}
	return u
}
