package justredis

// This file finds where a RESP reply ends in the bytes read so far and
// names the kinds of values; it knows nothing of sockets. encode.go writes
// commands, decode.go turns the frames found here into values.

import (
	"fmt"
	"math"
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

// The kinds RESP3 adds. The streamed forms ($?, *?, ~?, %?, >?) are read
// as their ordinary kinds.
const (
	KindNull      Kind = '_' // null, and RESP2's $-1 and *-1
	KindDouble    Kind = ',' // double, including inf, -inf and nan
	KindBool      Kind = '#' // boolean, #t or #f
	KindBigNumber Kind = '(' // big number
	KindBlobError Kind = '!' // error with a length prefix
	KindVerbatim  Kind = '=' // verbatim string: a 3-letter format, ':', the text
	KindMap       Kind = '%' // map; Len counts pairs
	KindSet       Kind = '~' // set
	KindAttribute Kind = '|' // attribute: a map describing the value that follows
	KindPush      Kind = '>' // out-of-band push (pub/sub, invalidations)

	kindChunk Kind = ';' // a chunk of a streamed string
	kindEnd   Kind = '.' // the end of a streamed aggregate
)

// String names the kind, as in "bulk string".
func (k Kind) String() string {
	switch k {
	case KindSimple:
		return "simple string"
	case KindError:
		return "error"
	case KindInt:
		return "integer"
	case KindBulk:
		return "bulk string"
	case KindArray:
		return "array"
	case KindNull:
		return "null"
	case KindDouble:
		return "double"
	case KindBool:
		return "boolean"
	case KindBigNumber:
		return "big number"
	case KindBlobError:
		return "blob error"
	case KindVerbatim:
		return "verbatim string"
	case KindMap:
		return "map"
	case KindSet:
		return "set"
	case KindAttribute:
		return "attribute"
	case KindPush:
		return "push"
	}
	return fmt.Sprintf("Kind(%q)", byte(k))
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
	pos int // next byte to scan, from the frame's start
	// want is how long the frame is known to be at least, from the length
	// of a string body still arriving; 0 when nothing is known beyond pos.
	want     int
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
	s.pos, s.want = 0, 0
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
				s.want = next + int(n) + 2
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
				s.want = next + int(n) + 2
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
	// Two reads of every reply pass here, and most of its lengths have a
	// digit or two: those are read without parseInt's general case.
	switch {
	case len(b) == 1 && isDigit(b[0]):
		return int64(b[0] - '0'), nil
	case len(b) == 2 && isDigit(b[0]) && isDigit(b[1]):
		return int64(b[0]-'0')*10 + int64(b[1]-'0'), nil
	}
	n, ok := parseInt(b)
	if !ok || n < -1 {
		return 0, &protocolError{fmt.Sprintf("bad length %q", truncate(b))}
	}
	if n > maxLength {
		return 0, &protocolError{fmt.Sprintf("length %d exceeds the limit of %d", n, maxLength)}
	}
	return n, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

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
	for i, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		// Nineteen digits always fit: only a twentieth may overflow.
		if i == 19 && n > (math.MaxUint64-d)/10 {
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

// truncate keeps error messages about hostile input short. What it cuts
// ends in "...", so that a long value is not shown as a shorter one (a
// 37-digit number as a 32-digit one).
func truncate(b []byte) []byte {
	if len(b) > 32 {
		return append(b[:32:32], "..."...) // a copy: b may be the caller's
	}
	return b
}
