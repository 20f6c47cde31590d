package justredis

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// A Decoder turns one reply into a Go value. It reads the reply's tokens
// from r, which holds the whole reply already, so Decode does no I/O.
// Decode must consume exactly one value. Byte slices it is given are valid
// only until it returns: copy what you keep.
//
// A Decoder is used by many goroutines at once and must be safe for that.
// It may run in a goroutine other than its caller's, one that reads the
// connection for several callers, so a Decoder with a bug fails only its
// own call: a panic in Decode, or reading past the end of the reply,
// becomes that call's error, and the connection stays in use.
type Decoder interface {
	Decode(r *Reader) (any, error)
}

var (
	// StringDecoder, the default, gives bulk strings as string. See the
	// table of replies in the package documentation.
	StringDecoder Decoder = stringDecoder{}

	// BytesDecoder gives bulk and verbatim strings as []byte, for binary
	// values and to skip a conversion. Everything else is as StringDecoder.
	BytesDecoder Decoder = bytesDecoder{}

	// RawDecoder keeps everything the wire said, as a RawValue: verbatim
	// formats, map order and non-string keys, sets apart from arrays, and
	// attributes.
	RawDecoder Decoder = rawDecoder{}
)

// A Token is one element of a reply, as Reader.Next returns it.
type Token struct {
	Kind Kind
	// Data is the payload of a scalar: the text of a simple string, error,
	// integer, double, boolean ("t"/"f") or big number; the bytes of a bulk
	// string or blob error; a verbatim string with its "txt:" prefix. It
	// points into the reply's buffer, but for the text of an error that
	// hid the client's password, which is a copy.
	Data []byte
	// Len is the number of elements of an aggregate that follow; for a map
	// or an attribute, the number of key-value pairs.
	Len int
}

// Int parses an integer token's Data.
func (t Token) Int() (int64, error) {
	n, ok := parseInt(t.Data)
	if !ok {
		return 0, &protocolError{fmt.Sprintf("bad integer %q", truncate(t.Data))}
	}
	return n, nil
}

// Reader reads the tokens of one reply that is wholly in memory. Decoders
// use it; it is not safe for concurrent use.
type Reader struct {
	buf []byte
	pos int
	// arena, when set, is where the decoders put the values of a call's
	// many replies (see arena.go).
	arena *arena
	// secret is hidden in every error Next returns, at any depth, so that
	// no decoder, the user's own included, sees it (see redact.go).
	secret string
	// share, when above 0, is the length from which strings are not
	// copied but share buf, which nobody writes again.
	share int
}

// newError is the *Error for an error token's text, in which Next hid the
// password already.
func (r *Reader) newError(text []byte) *Error {
	return &Error{msg: string(text)}
}

// redacted returns the text of an error token with the password hidden:
// data itself when it does not show it, a copy otherwise.
func (r *Reader) redacted(data []byte) []byte {
	if r.secret == "" {
		return data
	}
	if msg := redact(string(data), r.secret); msg != string(data) {
		return []byte(msg)
	}
	return data
}

// Next returns the next token. An aggregate's elements follow it as tokens
// of their own (two per pair for maps and attributes); streamed aggregates
// arrive with their Len counted, and streamed strings joined, so a Decoder
// never sees the streamed forms. An attribute precedes the value it
// describes. The text of an error, wherever it stands in the reply, hides
// the client's password, should the server have quoted it.
//
// Past the end of the reply, Next returns an error: a Decoder that asks
// for more than one value's tokens.
func (r *Reader) Next() (Token, error) {
	for {
		if r.pos >= len(r.buf) {
			// The reply was framed whole before decoding began, so only
			// a Decoder can get here (past a streamed aggregate's end,
			// too): the error is its call's, not the server's, and the
			// connection, in step, stays open.
			return Token{}, errReadPastReply
		}
		line, next, err := scanLine(r.buf, r.pos)
		if err != nil {
			return Token{}, err
		}
		if next == 0 || len(line) == 0 {
			return Token{}, &protocolError{"reply ended early"}
		}
		kind := Kind(line[0])
		switch kind {
		case kindEnd:
			// The terminator of a streamed aggregate whose elements the
			// caller has already read.
			r.pos = next
			continue
		case KindBulk, KindVerbatim, KindBlobError:
			if string(line[1:]) == "?" {
				data, end := joinChunks(r.buf, next)
				r.pos = end
				if kind == KindBlobError {
					data = r.redacted(data)
				}
				return Token{Kind: kind, Data: data}, nil
			}
			n, err := parseLength(line[1:])
			if err != nil {
				return Token{}, err
			}
			if n < 0 {
				r.pos = next
				return Token{Kind: KindNull}, nil
			}
			end := next + int(n) + 2
			if end > len(r.buf) {
				return Token{}, &protocolError{"reply ended early"}
			}
			r.pos = end
			data := r.buf[next : end-2]
			if kind == KindBlobError {
				data = r.redacted(data)
			}
			return Token{Kind: kind, Data: data}, nil
		case KindArray, KindSet, KindPush, KindMap, KindAttribute:
			r.pos = next
			if string(line[1:]) == "?" {
				n, err := r.countStreamed()
				if err != nil {
					return Token{}, err
				}
				if kind == KindMap || kind == KindAttribute {
					if n%2 != 0 {
						return Token{}, &protocolError{fmt.Sprintf("streamed %v with a key but no value", kind)}
					}
					n /= 2
				}
				return Token{Kind: kind, Len: n}, nil
			}
			n, err := parseLength(line[1:])
			if err != nil {
				return Token{}, err
			}
			if n < 0 {
				return Token{Kind: KindNull}, nil
			}
			return Token{Kind: kind, Len: int(n)}, nil
		case KindError:
			r.pos = next
			return Token{Kind: kind, Data: r.redacted(line[1:])}, nil
		default:
			r.pos = next
			return Token{Kind: kind, Data: line[1:]}, nil
		}
	}
}

// countStreamed counts the values of a streamed aggregate that starts at
// r.pos, up to its '.' terminator. It steps over each value with a
// frameScanner, which needs no counts: skipping with Next would count
// every streamed aggregate nested inside again, which takes time
// exponential in the depth of nesting.
func (r *Reader) countStreamed() (int, error) {
	var s frameScanner
	pos := r.pos
	for n := 0; ; n++ {
		if pos < len(r.buf) && Kind(r.buf[pos]) == kindEnd {
			return n, nil
		}
		s.reset()
		m, err := s.scan(r.buf[pos:])
		if err != nil {
			return 0, err
		}
		if m == 0 {
			return 0, &protocolError{"reply ended early"}
		}
		pos += m
	}
}

// Skip passes over the next value, with any attribute before it.
func (r *Reader) Skip() error {
	t, err := r.Next()
	if err != nil {
		return err
	}
	n := t.Len
	switch t.Kind {
	case KindMap:
		n *= 2
	case KindAttribute:
		n = 2*n + 1 // its pairs, then the value it describes
	case KindArray, KindSet, KindPush:
	default:
		return nil
	}
	for ; n > 0; n-- {
		if err := r.Skip(); err != nil {
			return err
		}
	}
	return nil
}

// Pre-boxed values for the most common replies, so returning them as `any`
// allocates nothing.
var (
	replyOK     any = "OK"
	replyQueued any = "QUEUED"
	replyPong   any = "PONG"
	replyTrue   any = true
	replyFalse  any = false
)

func simpleString(b []byte) any {
	switch string(b) {
	case "OK":
		return replyOK
	case "QUEUED":
		return replyQueued
	case "PONG":
		return replyPong
	}
	return string(b)
}

type stringDecoder struct{}

func (stringDecoder) Decode(r *Reader) (any, error) { return decodeValue(r, false) }

type bytesDecoder struct{}

func (bytesDecoder) Decode(r *Reader) (any, error) { return decodeValue(r, true) }

// BytesInto returns a Decoder that decodes as BytesDecoder, except that a
// bulk string reply is put in *buf's memory, which is replaced by larger
// memory when the reply does not fit: a program that reads large values
// again and again allocates nothing once *buf has grown to the largest.
// A reply too large for the connection's read buffer is read from the
// socket straight into *buf when *buf can hold it and the caller is the
// one reading its connection, as a caller alone on it is; otherwise it is
// read into memory of its own, which becomes *buf.
//
// The value returned lies in *buf's memory, not necessarily at its start,
// and the next call decoded into buf overwrites it. So a Redis with this
// decoder is for one goroutine, one call at a time:
//
//	var buf []byte
//	big := r.Modify(justredis.WithDecoder(justredis.BytesInto(&buf)))
//	v, err := big.Do(ctx, "GET", "image") // v is valid until the next call through big
//
// Where one call gives several replies, which cannot all lie in one
// buffer, it decodes as BytesDecoder: DoMulti, Do with WithEndpoint(Masters),
// and the messages of a PushConnection.
//
// buf must not be nil: WithDecoder refuses BytesInto(nil).
func BytesInto(buf *[]byte) Decoder { return bytesInto{buf} }

// forSeveral is d for a call that gives several replies, which BytesInto
// cannot put in one buffer.
func forSeveral(d Decoder) Decoder {
	if _, ok := d.(bytesInto); ok {
		return BytesDecoder
	}
	return d
}

type bytesInto struct{ buf *[]byte }

func (d bytesInto) Decode(r *Reader) (any, error) {
	start := r.pos
	t, err := r.Next()
	if err != nil {
		return nil, err
	}
	if t.Kind != KindBulk {
		r.pos = start
		return decodeValue(r, true)
	}
	if r.share > 0 && len(t.Data) >= r.share {
		// The reply was read into memory of its own, which the next
		// reply may be read into in turn: *buf, or memory that becomes
		// *buf. Only the frame's own bytes: the connection may still have
		// bytes of later replies after them.
		if cap(*d.buf) == 0 || &(*d.buf)[:1][0] != &r.buf[0] {
			*d.buf = r.buf[:len(r.buf):len(r.buf)]
		}
		return t.Data[:len(t.Data):len(t.Data)], nil
	}
	if cap(*d.buf) < len(t.Data) {
		*d.buf = make([]byte, len(t.Data))
	}
	return append((*d.buf)[:0], t.Data...), nil
}

// decodeValue implements StringDecoder and BytesDecoder, which differ only
// in what a bulk string becomes.
func decodeValue(r *Reader, asBytes bool) (any, error) {
	t, err := r.Next()
	if err != nil {
		return nil, err
	}
	switch t.Kind {
	case KindBulk:
		if asBytes {
			return r.bytesValue(t.Data), nil
		}
		return r.stringValue(t.Data), nil
	case KindSimple:
		return simpleString(t.Data), nil
	case KindInt:
		n, err := t.Int()
		if err != nil {
			return nil, err
		}
		return r.intValue(n), nil
	case KindNull:
		return nil, nil
	case KindError, KindBlobError:
		return r.newError(t.Data), nil
	case KindArray, KindSet, KindPush:
		a := make([]any, t.Len)
		for i := range a {
			if a[i], err = decodeValue(r, asBytes); err != nil {
				return nil, err
			}
		}
		return a, nil
	case KindMap:
		m := make(map[string]any, t.Len)
		for i := 0; i < t.Len; i++ {
			k, err := decodeValue(r, false)
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(r, asBytes)
			if err != nil {
				return nil, err
			}
			m[keyText(k)] = v
		}
		return m, nil
	case KindDouble:
		return parseDouble(t.Data)
	case KindBool:
		b, err := parseBool(t.Data)
		if err != nil {
			return nil, err
		}
		if b {
			return replyTrue, nil
		}
		return replyFalse, nil
	case KindBigNumber:
		return parseBigNumber(t.Data)
	case KindVerbatim:
		_, text, err := verbatimText(t.Data)
		if err != nil {
			return nil, err
		}
		if asBytes {
			return r.bytesValue(text), nil
		}
		return r.stringValue(text), nil
	case KindAttribute:
		for i := 0; i < 2*t.Len; i++ {
			if err := r.Skip(); err != nil {
				return nil, err
			}
		}
		return decodeValue(r, asBytes)
	}
	return nil, &protocolError{fmt.Sprintf("unexpected %v", t.Kind)}
}

// keyText formats a map key that is not a string, since maps decode to
// map[string]any.
func keyText(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case int64:
		return strconv.FormatInt(k, 10)
	case float64:
		return formatFloat(k)
	case nil:
		return ""
	}
	return fmt.Sprint(k)
}

// RawValue is what RawDecoder gives: a reply as the wire said it.
type RawValue struct {
	Kind Kind
	// Data is the payload of a scalar, as in Token: a verbatim string keeps
	// its format prefix ("txt:..."), a double its text.
	Data []byte
	// Elems are the elements of an aggregate; for a map, keys and values
	// alternate, in the order the server sent them.
	Elems []RawValue
	// Attrs holds the attribute that preceded the value, if any, as
	// alternating keys and values.
	Attrs []RawValue
}

type rawDecoder struct{}

func (rawDecoder) Decode(r *Reader) (any, error) {
	v, err := decodeRaw(r)
	if err != nil {
		return nil, err
	}
	if v.Kind == KindError || v.Kind == KindBlobError {
		return r.newError(v.Data), nil
	}
	return v, nil
}

func decodeRaw(r *Reader) (RawValue, error) {
	t, err := r.Next()
	if err != nil {
		return RawValue{}, err
	}
	v := RawValue{Kind: t.Kind}
	switch t.Kind {
	case KindArray, KindSet, KindPush, KindMap, KindAttribute:
		n := t.Len
		if t.Kind == KindMap || t.Kind == KindAttribute {
			n *= 2
		}
		v.Elems = make([]RawValue, n)
		for i := range v.Elems {
			if v.Elems[i], err = decodeRaw(r); err != nil {
				return RawValue{}, err
			}
		}
		if t.Kind == KindAttribute {
			attrs := v.Elems
			if v, err = decodeRaw(r); err != nil {
				return RawValue{}, err
			}
			v.Attrs = append(attrs, v.Attrs...) // the value may have had one too
		}
	default:
		v.Data = r.copyBytes(t.Data)
	}
	return v, nil
}

// decodeReply decodes one complete reply frame. A top-level error reply
// becomes the returned error, whatever the decoder.
func decodeReply(r *Reader, frame []byte, d Decoder) (any, error) {
	v, err := decodeReplyFrame(r, frame, d)
	// A connection keeps its Reader between replies: one still holding
	// the frame would keep a large reply's buffer, or a BytesInto
	// caller's memory, alive after its values are gone.
	r.buf, r.pos = nil, 0
	return v, err
}

func decodeReplyFrame(r *Reader, frame []byte, d Decoder) (any, error) {
	switch Kind(frame[0]) {
	case KindError, KindBlobError:
		r.buf, r.pos = frame, 0
		t, err := r.Next()
		if err != nil {
			return nil, err
		}
		return nil, r.newError(t.Data)
	case KindSimple:
		// Only for the decoders that give "OK" anyway: RawDecoder and the
		// user's own must see every reply.
		switch d.(type) {
		case stringDecoder, bytesDecoder:
			if string(frame) == "+OK\r\n" {
				return replyOK, nil
			}
		}
	}
	r.buf, r.pos = frame, 0
	v, err := decodeWith(d, r)
	if err != nil {
		return nil, err
	}
	if e, ok := v.(*Error); ok {
		// A Decoder of the user's own. Its *Error was made from a token,
		// redacted already: hiding again would hide the marker itself
		// when the password is a word of it.
		return nil, e
	}
	return v, nil
}

// decodeWith runs d on r, turning a panic into an error for the one reply
// it was decoding. A reply is decoded by whichever goroutine reads the
// connection: often another caller, whose call d is not, or a goroutine of
// the client's own, where a panic would end the program; and a panic that
// a caller recovers from would leave the connection's reading role held,
// hanging every call after it. The frame is whole and its end known, so
// the replies after it are read as usual.
func decodeWith(d Decoder, r *Reader) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("justredis: the Decoder (%T) panicked: %v", d, p)
		}
	}()
	return d.Decode(r)
}

// parseDouble parses a RESP3 double, which spells infinities "inf" and
// "-inf" and may be "nan".
func parseDouble(b []byte) (float64, error) {
	switch string(b) {
	case "inf", "+inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	case "nan", "-nan":
		return math.NaN(), nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, &protocolError{fmt.Sprintf("bad double %q", truncate(b))}
	}
	return f, nil
}

func parseBool(b []byte) (bool, error) {
	switch string(b) {
	case "t":
		return true, nil
	case "f":
		return false, nil
	}
	return false, &protocolError{fmt.Sprintf("bad boolean %q", truncate(b))}
}

// maxBigNumber bounds the digits of a big number: parsing takes time
// quadratic in its length, and no real reply comes near it.
const maxBigNumber = 1 << 14

func parseBigNumber(b []byte) (*big.Int, error) {
	if len(b) > maxBigNumber {
		return nil, &protocolError{fmt.Sprintf("big number of %d digits exceeds the limit of %d", len(b), maxBigNumber)}
	}
	n, ok := new(big.Int).SetString(string(b), 10)
	if !ok {
		return nil, &protocolError{fmt.Sprintf("bad big number %q", truncate(b))}
	}
	return n, nil
}

// verbatimText splits a verbatim string into its format ("txt", "mkd")
// and its text.
func verbatimText(b []byte) (format, text []byte, err error) {
	if len(b) < 4 || b[3] != ':' {
		return nil, nil, &protocolError{fmt.Sprintf("bad verbatim string %q", truncate(b))}
	}
	return b[:3], b[4:], nil
}

// joinChunks returns the content of a streamed string whose chunks start at
// buf[pos], and the position after its final ";0" chunk. The frame has been
// scanned already, so the chunks are known to be well formed.
func joinChunks(buf []byte, pos int) ([]byte, int) {
	var out bytes.Buffer
	for {
		line, next, _ := scanLine(buf, pos)
		n, _ := parseInt(line[1:])
		if n == 0 {
			return out.Bytes(), next
		}
		out.Write(buf[next : next+int(n)])
		pos = next + int(n) + 2
	}
}
