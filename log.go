package justredis

import (
	"context"
	"log/slog"
)

// emit hands ev to every hook, in order, and to the logger. Events are rare
// (dials, refreshes, failovers), so it may take its time; a client with
// neither hooks nor a logger returns at once.
func (s *settings) emit(ctx context.Context, ev *Event) {
	for _, h := range s.hooks {
		h.Event(ctx, ev)
	}
	if s.logger != nil {
		logEvent(ctx, s.logger, ev)
	}
}

// observed reports whether anyone listens to events, so that callers can
// skip building one.
func (s *settings) observed() bool { return len(s.hooks) > 0 || s.logger != nil }

// logEvent writes ev as one record. Messages are fixed text and the
// attributes are the address, the error and numbers: never a password or
// an argument value. Errors are safe to log because every error this
// client makes redacts what a server echoes of credentials.
func logEvent(ctx context.Context, l *slog.Logger, ev *Event) {
	level, msg := slog.LevelDebug, ""
	switch ev.Kind {
	case EventDial:
		msg = "justredis: connected"
		if ev.Err != nil {
			level, msg = slog.LevelWarn, "justredis: connect failed"
		}
	case EventClose:
		msg = "justredis: connection closed"
		if ev.Err != nil {
			level, msg = slog.LevelInfo, "justredis: connection broke"
		}
	case EventRefresh:
		level, msg = slog.LevelInfo, "justredis: cluster slot map refreshed"
		if ev.Err != nil {
			level, msg = slog.LevelWarn, "justredis: cluster slot map refresh failed"
		}
	case EventFailover:
		level, msg = slog.LevelWarn, "justredis: master changed"
	case EventResubscribe:
		level, msg = slog.LevelInfo, "justredis: push connection reconnected and subscribed again"
	case EventPoolWait:
		if ev.Err == nil {
			return // waiting and getting one is normal; hooks count it
		}
		level, msg = slog.LevelWarn, "justredis: no connection free in time"
	case EventDropped:
		level, msg = slog.LevelWarn, "justredis: push messages dropped, buffer full"
	default:
		return
	}
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 4)
	attrs = append(attrs, slog.String("addr", ev.Addr))
	if ev.Duration > 0 {
		attrs = append(attrs, slog.Duration("duration", ev.Duration))
	}
	if ev.Count > 0 {
		attrs = append(attrs, slog.Int("count", ev.Count))
	}
	if ev.Err != nil {
		attrs = append(attrs, slog.String("err", ev.Err.Error()))
	}
	l.LogAttrs(ctx, level, msg, attrs...)
}
