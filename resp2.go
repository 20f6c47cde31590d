package justredis

// This file and resp3.go know the wire format and nothing of sockets:
// they encode commands into byte slices and find and parse replies in
// byte slices that connection.go fills.

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
)

// Kind is the type of a RESP value: the first byte of its frame.
type Kind byte

// The kinds of RESP2. Null replies of every form ($-1, *-1, _) are read as
// KindNull.
const (
	KindSimple Kind = '+' // simple string
	KindError  Kind = '-' // simple error
	KindInt    Kind = ':' // integer
	KindBulk   Kind = '$' // bulk string
	KindArray  Kind = '*' // array
)

// maxLength bounds every length prefix. It is Redis's own ceiling for a bulk
// string (proto-max-bulk-len defaults to 512 MiB), so a hostile or corrupt
// prefix fails at once instead of making the client wait for, or reserve
// room for, gigabytes.
const maxLength = 512 << 20

// maxDepth bounds how deeply aggregates may nest, so a hostile reply cannot
// make decoding recurse without end.
const maxDepth = 256

// maxLine bounds a header or simple-string line.
const maxLine = 1 << 20

// appendCommand encodes args as one RESP command (an array of bulk strings)
// and appends it to b. On error b is returned unchanged in length, so the
// caller can reuse the buffer and nothing of the command is ever sent.
func appendCommand(b []byte, args []any) ([]byte, error) {
	if len(args) == 0 {
		return b, invalidArg("empty command")
	}
	start := len(b)
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for i, a := range args {
		var err error
		if b, err = appendArg(b, a); err != nil {
			return b[:start], invalidArg(fmt.Sprintf("argument %d (%s): %v", i, argName(args, i), err))
		}
	}
	if s, ok := args[0].(string); ok && s == "" {
		return b[:start], invalidArg("empty command name")
	}
	return b, nil
}

// maxBulkLen is the most a Redis bulk string may hold unless the server's
// proto-max-bulk-len was raised. A longer argument is refused before it is
// encoded: the server would read it all, for seconds, only to refuse it.
const maxBulkLen = 512 << 20

func bulkTooLong(n int) error {
	return fmt.Errorf("%d bytes is more than the %d MiB a Redis string may hold (proto-max-bulk-len)", n, maxBulkLen>>20)
}

// argName shows which argument was wrong without echoing its value, which
// may be secret.
func argName(args []any, i int) string {
	if i == 0 {
		return "command name"
	}
	if name, ok := args[0].(string); ok && len(name) < 32 {
		return "of " + name
	}
	return "of the command"
}

func appendArg(b []byte, a any) ([]byte, error) {
	var num [32]byte
	switch v := a.(type) {
	case string:
		if len(v) > maxBulkLen {
			return b, bulkTooLong(len(v))
		}
		return appendBulkString(b, v), nil
	case []byte:
		if len(v) > maxBulkLen {
			return b, bulkTooLong(len(v))
		}
		return appendBulk(b, v), nil
	case int:
		return appendBulk(b, strconv.AppendInt(num[:0], int64(v), 10)), nil
	case int64:
		return appendBulk(b, strconv.AppendInt(num[:0], v, 10)), nil
	case int32:
		return appendBulk(b, strconv.AppendInt(num[:0], int64(v), 10)), nil
	case int16:
		return appendBulk(b, strconv.AppendInt(num[:0], int64(v), 10)), nil
	case int8:
		return appendBulk(b, strconv.AppendInt(num[:0], int64(v), 10)), nil
	case uint:
		return appendBulk(b, strconv.AppendUint(num[:0], uint64(v), 10)), nil
	case uint64:
		return appendBulk(b, strconv.AppendUint(num[:0], v, 10)), nil
	case uint32:
		return appendBulk(b, strconv.AppendUint(num[:0], uint64(v), 10)), nil
	case uint16:
		return appendBulk(b, strconv.AppendUint(num[:0], uint64(v), 10)), nil
	case uint8:
		return appendBulk(b, strconv.AppendUint(num[:0], uint64(v), 10)), nil
	case float64:
		return appendBulk(b, appendFloat(num[:0], v, 64)), nil
	case float32:
		return appendBulk(b, appendFloat(num[:0], float64(v), 32)), nil
	case bool:
		if v {
			return appendBulkString(b, "1"), nil
		}
		return appendBulkString(b, "0"), nil
	case time.Duration:
		return b, fmt.Errorf("time.Duration is ambiguous (seconds or milliseconds?): pass an integer")
	case nil:
		return b, fmt.Errorf("nil is not a value")
	}
	// reflect.TypeOf does not let a escape, unlike fmt's %T: the caller's
	// arguments can stay on its stack.
	return b, fmt.Errorf("unsupported type %s", reflect.TypeOf(a))
}

// appendFloat writes the shortest text that parses back to exactly f, in
// the spelling Redis accepts for infinities.
func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	case math.IsNaN(f):
		return append(b, "nan"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

func appendBulk(b, v []byte) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

func appendBulkString(b []byte, v string) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

// frameScanner finds where one complete reply ends in a buffer that grows
// as bytes arrive. It keeps its place between calls, so a large reply that
// arrives in many reads is scanned once, not once per read; and it
// allocates nothing but its small stack of open aggregates.
//
// Decoding starts only once a whole frame is buffered. That makes decoding
// simple (no I/O, no partial values) and lets a read that times out resume
// later without losing its place.
type frameScanner struct {
	pos      int         // next byte to scan, from the frame's start
	open     []openAggr  // aggregates whose elements are still arriving
	chunking bool        // inside a streamed string ($?), between chunks
	prefix   [8]openAggr // backing store for open, to avoid allocating
}

type openAggr struct {
	left int64 // elements still to come; -1 when streamed (ends with '.')
	attr bool  // a streamed attribute: the value it describes follows its '.'
}

// reset prepares the scanner for the next frame.
func (s *frameScanner) reset() {
	s.pos = 0
	s.open = s.prefix[:0]
	s.chunking = false
}

// scan returns the length of the frame at the start of buf once it is
// complete, or 0 when more bytes are needed. A malformed frame is an error
// matching ErrProtocol.
func (s *frameScanner) scan(buf []byte) (int, error) {
	if s.open == nil {
		s.open = s.prefix[:0]
	}
	for {
		line, next, err := scanLine(buf, s.pos)
		if err != nil || next == 0 {
			return 0, err
		}
		if len(line) == 0 {
			return 0, &protocolError{"empty line"}
		}
		kind := Kind(line[0])
		if s.chunking {
			if kind != kindChunk {
				return 0, &protocolError{fmt.Sprintf("streamed string: want ';', got %q", kind)}
			}
			n, err := parseLength(line[1:])
			if err != nil {
				return 0, err
			}
			if n == 0 {
				s.chunking = false
				s.pos = next
				if s.elementDone() {
					return s.pos, nil
				}
				continue
			}
			end, err := bodyEnd(buf, next, n)
			if err != nil || end == 0 {
				return 0, err
			}
			s.pos = end
			continue
		}
		switch kind {
		case KindSimple, KindError, KindInt, KindNull, KindDouble, KindBool, KindBigNumber:
			s.pos = next
		case KindBulk, KindVerbatim, KindBlobError:
			if kind == KindBulk && string(line[1:]) == "?" {
				s.chunking = true
				s.pos = next
				continue
			}
			n, err := parseLength(line[1:])
			if err != nil {
				return 0, err
			}
			if n < 0 {
				s.pos = next // RESP2 null bulk string
				break
			}
			end, err := bodyEnd(buf, next, n)
			if err != nil || end == 0 {
				return 0, err
			}
			s.pos = end
		case KindArray, KindSet, KindPush, KindMap, KindAttribute:
			if len(s.open) >= maxDepth {
				return 0, &protocolError{fmt.Sprintf("aggregates nested more than %d deep", maxDepth)}
			}
			s.pos = next
			if string(line[1:]) == "?" {
				s.open = append(s.open, openAggr{left: -1, attr: kind == KindAttribute})
				continue
			}
			n, err := parseLength(line[1:])
			if err != nil {
				return 0, err
			}
			if kind == KindMap || kind == KindAttribute {
				n *= 2
			}
			if kind == KindAttribute {
				// An attribute holds its pairs and then the value it
				// describes, so that attributes before attributes nest
				// and count against maxDepth like any aggregate.
				if n < 0 {
					return 0, &protocolError{"null attribute"}
				}
				n++
			}
			if n > 0 {
				s.open = append(s.open, openAggr{left: n})
				continue
			}
		case kindEnd:
			if len(s.open) == 0 || s.open[len(s.open)-1].left != -1 {
				return 0, &protocolError{"'.' outside a streamed aggregate"}
			}
			if len(line) != 1 {
				return 0, &protocolError{fmt.Sprintf("bad end of a streamed aggregate %q", truncate(line))}
			}
			s.pos = next
			if top := &s.open[len(s.open)-1]; top.attr {
				*top = openAggr{left: 1} // the value it describes
				continue
			}
			s.open = s.open[:len(s.open)-1]
		default:
			return 0, &protocolError{fmt.Sprintf("unknown type byte %q", kind)}
		}
		if s.elementDone() {
			return s.pos, nil
		}
	}
}

// elementDone counts a finished element against the aggregates that hold
// it and reports whether the whole frame is now complete.
func (s *frameScanner) elementDone() bool {
	for len(s.open) > 0 {
		top := &s.open[len(s.open)-1]
		if top.left < 0 {
			return false
		}
		if top.left--; top.left > 0 {
			return false
		}
		s.open = s.open[:len(s.open)-1]
	}
	return true
}

// scanLine returns the line starting at buf[pos] without its CRLF, and the
// position after it; next is 0 when the line is not complete yet.
func scanLine(buf []byte, pos int) (line []byte, next int, err error) {
	rest := buf[pos:]
	for i, c := range rest {
		if c == '\n' {
			if i == 0 || rest[i-1] != '\r' {
				return nil, 0, &protocolError{"line not ended by CRLF"}
			}
			if i > maxLine {
				break // as if it had arrived in pieces
			}
			return rest[:i-1], pos + i + 1, nil
		}
	}
	if len(rest) > maxLine {
		return nil, 0, &protocolError{fmt.Sprintf("line longer than %d bytes", maxLine)}
	}
	return nil, 0, nil
}

// bodyEnd returns where a body of n bytes plus CRLF, starting at pos,
// ends; 0 when it has not fully arrived.
func bodyEnd(buf []byte, pos int, n int64) (int, error) {
	end := pos + int(n) + 2
	if end > len(buf) {
		return 0, nil
	}
	if buf[end-2] != '\r' || buf[end-1] != '\n' {
		return 0, &protocolError{"string body not ended by CRLF"}
	}
	return end, nil
}

// parseLength parses a length prefix: -1 (RESP2 null) or 0..maxLength.
func parseLength(b []byte) (int64, error) {
	n, ok := parseInt(b)
	if !ok || n < -1 {
		return 0, &protocolError{fmt.Sprintf("bad length %q", truncate(b))}
	}
	if n > maxLength {
		return 0, &protocolError{fmt.Sprintf("length %d exceeds the limit of %d", n, maxLength)}
	}
	return n, nil
}

// parseInt parses a decimal integer without allocating.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg || b[0] == '+' {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// truncate keeps error messages about hostile input short.
func truncate(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
