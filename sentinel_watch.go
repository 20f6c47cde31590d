package justredis

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"
)

// The watcher: one goroutine per client, subscribed to +switch-master on
// one sentinel, so that the client learns of a failover when the
// sentinels announce it rather than when a call fails. When its sentinel
// goes away it subscribes on another, and asks again where the master is,
// since it may have missed an announcement meanwhile.

// watchIdle is how long the watcher's connection may stay silent before
// it is asked for a PING; silent for as long again, it is taken for dead.
const watchIdle = 5 * time.Second

var subscribeSwitchMaster = appendStrings(nil, "SUBSCRIBE", "+switch-master")

// startWatch starts the watcher, once: after the master is first found,
// so that it knows which sentinels answer.
func (s *sentinel) startWatch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watching || s.closed {
		return
	}
	s.watching = true
	s.wg.Add(1)
	go s.watch()
}

// watch subscribes, listens, and subscribes again, until the client is
// closed or a sentinel refuses the subscription.
func (s *sentinel) watch() {
	defer s.wg.Done()
	first := true
	for fails := 0; s.ctx.Err() == nil; {
		cn, sv, err := s.subscribe()
		if err != nil {
			if sleep(s.ctx, backoff(fails)) != nil {
				return
			}
			fails++
			continue
		}
		if !first {
			s.recheck() // it may have missed a +switch-master
		}
		first, fails = false, 0
		err = s.listen(cn)
		sv.drop(cn)
		var refused *Error
		if errors.As(err, &refused) {
			// SUBSCRIBE refused (an ACL): calls still follow failovers,
			// through READONLY replies and lost connections.
			return
		}
		s.setSlow(sv.addr)
	}
}

// subscribe subscribes to +switch-master on the first sentinel, in order
// of preference, that takes it.
func (s *sentinel) subscribe() (*conn, *server, error) {
	var errs []error
	for _, addr := range s.order() {
		sv := s.sentinelServer(addr)
		ctx, cancel := context.WithTimeout(s.ctx, s.timeout())
		cn, _, err := sv.openPlan(ctx, setupPlan{}, true)
		if err == nil {
			if err = cn.pushMode(); err == nil {
				_, _, err = cn.writePush(ctx, subscribeSwitchMaster, s.timeout())
			}
			if err != nil {
				sv.drop(cn)
			}
		}
		cancel()
		if err == nil {
			return cn, sv, nil
		}
		errs = append(errs, err)
		s.setSlow(addr)
		if s.ctx.Err() != nil {
			break
		}
	}
	return nil, nil, errors.Join(errs...)
}

// listen reads what the sentinel sends until the connection fails, and
// acts on the announcements of a new master.
func (s *sentinel) listen(cn *conn) error {
	pinged := false
	for {
		deadline := time.Now().Add(watchIdle)
		frame, err := cn.readPush(watchIdle)
		if err != nil {
			if s.ctx.Err() != nil || !isTimeout(err) {
				return err
			}
			if time.Now().Before(deadline) {
				continue // a stale interrupt
			}
			if pinged {
				return err // silent for two periods: gone
			}
			if _, _, err := cn.writePush(s.ctx, keepAliveCmd, watchIdle); err != nil && !peerClosed(err) {
				return err // else the next reads take what came before the close
			}
			pinged = true
			continue
		}
		pinged = false
		msg, err := decodeMessage(frame, StringDecoder, cn.rd.secret)
		if err != nil {
			return err
		}
		if msg.Kind != "message" || msg.Channel != "+switch-master" {
			continue // the confirmation, a pong
		}
		// "<name> <old ip> <old port> <new ip> <new port>"
		text, _ := msg.Data.(string)
		if f := strings.Fields(text); len(f) == 5 && f[0] == s.name {
			s.switched(net.JoinHostPort(f[3], f[4]))
		}
	}
}

// switched acts on the sentinels' announcement that addr is the master now.
func (s *sentinel) switched(addr string) {
	if cur := s.cur.Load(); cur != nil && cur.addr == addr {
		return // a call found it first
	}
	s.recheck()
}

// recheck asks the sentinels where the master is, and confirms it, in the
// background. When that fails, the master in use is forgotten, and the
// next call asks.
func (s *sentinel) recheck() {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout())
	defer cancel()
	cur := s.cur.Load()
	if _, err := s.resolve(ctx, 0, cur); err != nil && cur != nil {
		s.cur.CompareAndSwap(cur, nil)
	}
}
