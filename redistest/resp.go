package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// This file is a deliberately tiny RESP2 client. redistest must not import
// the justredis package it helps to test: a bug there would then hide itself
// by breaking the fixtures that are supposed to expose it.

// reply is one decoded RESP2 value.
type reply struct {
	kind  byte // '+', '-', ':', '$' or '*'
	str   string
	null  bool
	elems []reply
}

// text flattens a reply into something a test can compare against: arrays
// become their elements' text, one per line.
func (r reply) text() string {
	if r.kind != '*' {
		return r.str
	}
	parts := make([]string, len(r.elems))
	for i, e := range r.elems {
		parts[i] = e.text()
	}
	return strings.Join(parts, "\n")
}

// strings returns the elements of an array reply as strings, keeping binary
// keys intact (text would split them on newlines).
func (r reply) strings() []string {
	out := make([]string, len(r.elems))
	for i, e := range r.elems {
		out[i] = e.str
	}
	return out
}

// serverError is an error reply, as opposed to a broken connection.
type serverError string

func (e serverError) Error() string { return string(e) }

// respConn is one connection speaking RESP2.
type respConn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// dialRESP connects to a server; the deadline bounds the whole conversation
// so a paused or wedged server cannot hang a test.
func dialRESP(network, addr string, timeout time.Duration) (*respConn, error) {
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		c.Close()
		return nil, err
	}
	return &respConn{c: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}, nil
}

func (c *respConn) Close() error { return c.c.Close() }

// do sends one command and returns its reply; error replies become errors.
func (c *respConn) do(args ...string) (reply, error) {
	fmt.Fprintf(c.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.w, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := c.w.Flush(); err != nil {
		return reply{}, err
	}
	rep, err := readReply(c.r)
	if err != nil {
		return reply{}, err
	}
	if rep.kind == '-' {
		return rep, serverError(rep.str)
	}
	return rep, nil
}

func readReply(r *bufio.Reader) (reply, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return reply{}, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return reply{}, fmt.Errorf("malformed reply line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+', '-', ':':
		return reply{kind: kind, str: body}, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return reply{}, fmt.Errorf("malformed bulk length %q", body)
		}
		if n < 0 {
			return reply{kind: kind, null: true}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return reply{}, err
		}
		return reply{kind: kind, str: string(buf[:n])}, nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return reply{}, fmt.Errorf("malformed array length %q", body)
		}
		if n < 0 {
			return reply{kind: kind, null: true}, nil
		}
		rep := reply{kind: kind, elems: make([]reply, n)}
		for i := range rep.elems {
			if rep.elems[i], err = readReply(r); err != nil {
				return reply{}, err
			}
		}
		return rep, nil
	}
	return reply{}, fmt.Errorf("unsupported reply type %q", kind)
}
