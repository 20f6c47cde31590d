package justredis

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// FuzzRESPScanner feeds arbitrary bytes to the frame scanner, at once and
// in the pieces cuts describes, and every frame it finds to every decoder.
//
//   - The scanner never panics, and its errors match ErrProtocol.
//   - Fed piece by piece it says what it says fed at once: the same frame
//     length, or an error, or that more bytes are needed.
//   - It allocates nothing in proportion to a length the bytes claim.
//   - Every decoder decodes a frame it reports without panicking, with a
//     value, an error reply or an error matching ErrProtocol; Reader.Skip
//     passes over exactly the frame, and agrees with RawDecoder, which
//     reads the same tokens, about whether the frame is well formed.
func FuzzRESPScanner(f *testing.F) {
	for _, c := range respCases() {
		f.Add([]byte(c.frame), []byte{1})
	}
	for _, c := range respBadFrames() {
		if len(c.frame) < 4096 {
			f.Add([]byte(c.frame), []byte{3, 0, 7})
		}
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		var once frameScanner
		before := respTotalAlloc()
		n, err := once.scan(data)
		if grew := respTotalAlloc() - before; grew > 64<<10 {
			t.Fatalf("scanning %d bytes allocated %d bytes", len(data), grew)
		}
		if cap(once.open) > 2*maxDepth {
			t.Fatalf("the stack of open aggregates grew to %d", cap(once.open))
		}
		switch {
		case err != nil:
			if n != 0 || !errors.Is(err, ErrProtocol) {
				t.Fatalf("scan = %d, %v; want 0 and an error matching ErrProtocol", n, err)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error too long: %q", err)
			}
		case n < 0 || n > len(data):
			t.Fatalf("scan = %d for %d bytes", n, len(data))
		}

		// Piece by piece, with the same scanner, as readFrame does.
		var s frameScanner
		var pn int
		var perr error
		for end, i := 0, 0; ; i++ {
			step := 1
			if len(cuts) > 0 {
				step = int(cuts[i%len(cuts)] % 64)
			}
			if step == 0 {
				// A read that brought nothing: scanning again is harmless.
				if m, e := s.scan(data[:end]); m != 0 || e != nil {
					t.Fatalf("scanning %d bytes again = %d, %v", end, m, e)
				}
				step = 1
			}
			end = min(end+step, len(data))
			pn, perr = s.scan(data[:end])
			if pn != 0 || perr != nil || end == len(data) {
				break
			}
		}
		switch {
		case err != nil && (perr == nil || pn != 0):
			t.Fatalf("at once: %v; in pieces: %d, %v", err, pn, perr)
		case err == nil && (perr != nil || pn != n):
			t.Fatalf("at once: %d; in pieces: %d, %v", n, pn, perr)
		}
		if n == 0 {
			return
		}

		frame := data[:n]
		for _, d := range []Decoder{StringDecoder, BytesDecoder} {
			var r Reader
			v, err := decodeReply(&r, frame, d)
			respCheckDecodeResult(t, frame, v, err)
		}
		var r Reader
		v, rawErr := decodeReply(&r, frame, RawDecoder)
		respCheckDecodeResult(t, frame, v, rawErr)
		if rawErr == nil {
			if _, ok := v.(RawValue); !ok {
				t.Fatalf("RawDecoder gave %T", v)
			}
		}

		r = Reader{buf: frame}
		skipErr := r.Skip()
		if skipErr != nil {
			if !errors.Is(skipErr, ErrProtocol) {
				t.Fatalf("Skip: %v does not match ErrProtocol", skipErr)
			}
		} else if rest := strings.ReplaceAll(string(frame[r.pos:]), ".\r\n", ""); rest != "" {
			t.Fatalf("Skip left %q of the frame", rest)
		}
		var e *Error
		if rawOK := rawErr == nil || errors.As(rawErr, &e); rawOK != (skipErr == nil) {
			t.Fatalf("RawDecoder: %v; Skip: %v", rawErr, skipErr)
		}
	})
}

func respCheckDecodeResult(t *testing.T, frame []byte, v any, err error) {
	t.Helper()
	var e *Error
	switch {
	case err == nil:
		if _, ok := v.(*Error); ok {
			t.Fatalf("decoding %q: an *Error value instead of an error", frame)
		}
	case errors.As(err, &e):
		if k := Kind(frame[0]); k != KindError && k != KindBlobError && k != KindAttribute {
			t.Fatalf("decoding %q: error reply %v from a %v", frame, err, k)
		}
	case !errors.Is(err, ErrProtocol):
		t.Fatalf("decoding %q: %v does not match ErrProtocol", frame, err)
	}
}

// FuzzRESPDecode builds a well-formed reply from the fuzzer's bytes,
// together with what each decoder must make of it per the table of replies,
// and checks the scanner and decoders against it. From the same bytes it
// builds a command, which must read back as its arguments.
func FuzzRESPDecode(f *testing.F) {
	for i := 0; i < 18; i++ {
		f.Add([]byte{byte(i), 3, 'a', '\r', 'c', 5, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	}
	f.Add([]byte("\x0b\x04\x0e\x02\x00\x01k\x02\x00\x03\x01\x03ab\r\x0f\x01\x00\x01x\x0c\x03\x04\x06chunky\x02\x03"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := respGen{in: data}
		want := g.value(0)
		frame := want.wire

		var s frameScanner
		n, err := s.scan(frame)
		if err != nil || n != len(frame) {
			t.Fatalf("scan(%q) = %d, %v; want %d", frame, n, err, len(frame))
		}
		s.reset()
		g = respGen{in: data}
		for end := 0; end < len(frame); end += 1 + int(g.next()%7) {
			if n, err := s.scan(frame[:end]); n != 0 || err != nil {
				t.Fatalf("scan(%q) after %d bytes = %d, %v", frame, end, n, err)
			}
		}
		if n, err := s.scan(frame); err != nil || n != len(frame) {
			t.Fatalf("scan(%q) in pieces = %d, %v", frame, n, err)
		}

		for _, d := range []struct {
			dec  Decoder
			want any
		}{{StringDecoder, want.str}, {BytesDecoder, want.byt}, {RawDecoder, want.raw}} {
			// Without an arena, with a pipeline's (shared by the replies
			// of a call), and with an aggregate's (sized by the frame).
			for _, a := range []*arena{nil, {}, {oneFrame: true}} {
				r := Reader{arena: a}
				if a != nil {
					// Another reply of the call came first.
					decodeReply(&r, []byte("$3\r\nabc\r\n"), d.dec)
				}
				got, err := decodeReply(&r, frame, d.dec)
				if want.isErr {
					var e *Error
					if got != nil || !errors.As(err, &e) || e.msg != want.str.(*Error).msg {
						t.Fatalf("%T(%q) = %s, %v; want error reply %q", d.dec, frame, respShow(got), err, want.str.(*Error).msg)
					}
					continue
				}
				if err != nil || !respEqual(d.want, got) {
					t.Fatalf("%T(%q), arena %v:\n got %s, %v\nwant %s", d.dec, frame, a, respShow(got), err, respShow(d.want))
				}
			}
		}
		r := Reader{buf: frame}
		if err := r.Skip(); err != nil {
			t.Fatalf("Skip(%q): %v", frame, err)
		}

		respCheckCommand(t, data)
	})
}

// respCheckCommand encodes a command of arguments of every kind made from
// data and checks that they read back.
func respCheckCommand(t *testing.T, data []byte) {
	g := respGen{in: data}
	args := []any{"CMD"}
	for len(g.in) > 0 && len(args) < 10 {
		switch g.next() % 8 {
		case 0:
			args = append(args, string(g.take(int(g.next()%20))))
		case 1:
			args = append(args, bytes.Clone(g.take(int(g.next()%20))))
		case 2:
			args = append(args, int64(g.u64()))
		case 3:
			args = append(args, g.u64())
		case 4:
			args = append(args, math.Float64frombits(g.u64()))
		case 5:
			args = append(args, math.Float32frombits(uint32(g.u64())))
		case 6:
			args = append(args, g.next()%2 == 0)
		case 7:
			args = append(args, int8(g.next()), uint16(g.u64()), int32(g.u64()))
		}
	}
	b, err := appendCommand(nil, args)
	if err != nil {
		t.Fatalf("appendCommand(%v): %v", args, err)
	}
	got := respArgs(t, b)
	if len(got) != len(args) {
		t.Fatalf("%d arguments read back as %d", len(args), len(got))
	}
	for i, a := range args {
		text := got[i]
		ok := true
		switch a := a.(type) {
		case string:
			ok = text == a
		case []byte:
			ok = text == string(a)
		case int64:
			ok = text == strconv.FormatInt(a, 10)
		case uint64:
			ok = text == strconv.FormatUint(a, 10)
		case int8, uint16, int32:
			ok = text == strconv.FormatInt(respInt(a), 10)
		case bool:
			ok = text == map[bool]string{true: "1", false: "0"}[a]
		case float64:
			ok = respFloatReadsBack(text, a, 64)
		case float32:
			ok = respFloatReadsBack(text, float64(a), 32)
		}
		if !ok {
			t.Fatalf("argument %d %T(%v) read back as %q", i, a, a, text)
		}
	}
}

func respInt(a any) int64 {
	switch a := a.(type) {
	case int8:
		return int64(a)
	case uint16:
		return int64(a)
	case int32:
		return int64(a)
	}
	panic(a)
}

// respFloatReadsBack reports whether text is the shortest form of f that
// reads back as f, in Redis's spelling of infinities.
func respFloatReadsBack(text string, f float64, bits int) bool {
	switch {
	case math.IsNaN(f):
		return text == "nan"
	case math.IsInf(f, 1):
		return text == "inf"
	case math.IsInf(f, -1):
		return text == "-inf"
	}
	back, err := strconv.ParseFloat(text, bits)
	return err == nil && back == f && math.Signbit(back) == math.Signbit(f) && text == strconv.FormatFloat(f, 'g', -1, bits)
}

// respGen makes a reply from bytes, and what the decoders must make of it.
type respGen struct{ in []byte }

type respWant struct {
	wire     []byte
	str, byt any
	raw      RawValue
	isErr    bool // an error reply: at the top level, decodeReply's error
	key      string
	keyable  bool // a scalar that may be a map key; key is its text
	nullForm bool
}

func (g *respGen) next() byte {
	if len(g.in) == 0 {
		return 0
	}
	c := g.in[0]
	g.in = g.in[1:]
	return c
}

func (g *respGen) take(n int) []byte {
	n = min(n, len(g.in))
	b := g.in[:n]
	g.in = g.in[n:]
	return b
}

func (g *respGen) u64() uint64 {
	var b [8]byte
	copy(b[:], g.take(8))
	return binary.LittleEndian.Uint64(b[:])
}

// line is text for a simple string or error: no CR or LF.
func (g *respGen) line() []byte {
	b := bytes.Clone(g.take(int(g.next() % 16)))
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
	return b
}

func respLen(kind Kind, n int) []byte { return []byte(string(kind) + strconv.Itoa(n) + "\r\n") }

const respMaxGenDepth = 6

func (g *respGen) value(depth int) respWant {
	kinds := byte(18)
	if depth >= respMaxGenDepth {
		kinds = 11 // scalars only
	}
	switch k := g.next() % kinds; k {
	case 0:
		t := g.line()
		return respWant{wire: append(append([]byte("+"), t...), "\r\n"...), str: string(t), byt: string(t),
			raw: RawValue{Kind: KindSimple, Data: t}, keyable: true, key: string(t)}
	case 1:
		t := g.line()
		e := &Error{msg: string(t)}
		return respWant{wire: append(append([]byte("-"), t...), "\r\n"...), str: e, byt: e,
			raw: RawValue{Kind: KindError, Data: t}, isErr: true}
	case 2:
		v := int64(g.u64())
		t := strconv.FormatInt(v, 10)
		return respWant{wire: []byte(":" + t + "\r\n"), str: v, byt: v, raw: RawValue{Kind: KindInt, Data: []byte(t)}, keyable: true, key: t}
	case 3, 9:
		kind := KindBulk
		if k == 9 {
			kind = KindBlobError
		}
		b := bytes.Clone(g.take(int(g.next() % 32)))
		w := respWant{wire: append(append(respLen(kind, len(b)), b...), "\r\n"...), raw: RawValue{Kind: kind, Data: b}}
		if kind == KindBlobError {
			w.str, w.byt, w.isErr = &Error{msg: string(b)}, &Error{msg: string(b)}, true
		} else {
			w.str, w.byt, w.keyable, w.key = string(b), b, true, string(b)
		}
		return w
	case 4:
		var wire, all []byte
		wire = append(wire, "$?\r\n"...)
		for chunks := g.next() % 4; chunks > 0; chunks-- {
			c := g.take(1 + int(g.next()%8))
			if len(c) == 0 {
				break
			}
			wire = append(append(append(wire, respLen(kindChunk, len(c))...), c...), "\r\n"...)
			all = append(all, c...)
		}
		wire = append(wire, ";0\r\n"...)
		return respWant{wire: wire, str: string(all), byt: append([]byte{}, all...), raw: RawValue{Kind: KindBulk, Data: all}, keyable: true, key: string(all)}
	case 5:
		wire := []string{"_\r\n", "$-1\r\n", "*-1\r\n"}[g.next()%3]
		return respWant{wire: []byte(wire), raw: RawValue{Kind: KindNull}, keyable: true, key: "", nullForm: true}
	case 6:
		f := math.Float64frombits(g.u64())
		var t string
		switch {
		case math.IsNaN(f):
			t = "nan"
		case math.IsInf(f, 1):
			t = "inf"
		case math.IsInf(f, -1):
			t = "-inf"
		default:
			t = strconv.FormatFloat(f, "gef"[g.next()%3], -1, 64)
		}
		return respWant{wire: []byte("," + t + "\r\n"), str: f, byt: f, raw: RawValue{Kind: KindDouble, Data: []byte(t)},
			keyable: true, key: formatFloat(f)}
	case 7:
		b := g.next()%2 == 0
		t := map[bool]string{true: "t", false: "f"}[b]
		return respWant{wire: []byte("#" + t + "\r\n"), str: b, byt: b, raw: RawValue{Kind: KindBool, Data: []byte(t)},
			keyable: true, key: strconv.FormatBool(b)}
	case 8:
		digits := g.take(1 + int(g.next()%40))
		t := []byte{}
		if g.next()%2 == 0 {
			t = append(t, '-')
		}
		for _, d := range digits {
			t = append(t, '0'+d%10)
		}
		if len(digits) == 0 {
			t = append(t, '0')
		}
		n, _ := new(big.Int).SetString(string(t), 10)
		return respWant{wire: []byte("(" + string(t) + "\r\n"), str: n, byt: n, raw: RawValue{Kind: KindBigNumber, Data: t},
			keyable: true, key: n.String()}
	case 10:
		format := []string{"txt", "mkd", "abc"}[g.next()%3]
		text := bytes.Clone(g.take(int(g.next() % 32)))
		body := append([]byte(format+":"), text...)
		return respWant{wire: append(append(respLen(KindVerbatim, len(body)), body...), "\r\n"...),
			str: string(text), byt: text, raw: RawValue{Kind: KindVerbatim, Data: body}, keyable: true, key: string(text)}
	case 11, 12, 13:
		kind := []Kind{KindArray, KindSet, KindPush}[k-11]
		n := int(g.next() % 5)
		streamed := kind != KindPush && g.next()%3 == 0
		var wire []byte
		if streamed {
			wire = []byte(string(kind) + "?\r\n")
		} else {
			wire = respLen(kind, n)
		}
		str, byt, raw := make([]any, n), make([]any, n), make([]RawValue, n)
		for i := range n {
			e := g.value(depth + 1)
			wire = append(wire, e.wire...)
			str[i], byt[i], raw[i] = e.str, e.byt, e.raw
		}
		if streamed {
			wire = append(wire, ".\r\n"...)
		}
		return respWant{wire: wire, str: str, byt: byt, raw: RawValue{Kind: kind, Elems: raw}}
	case 14:
		n := int(g.next() % 4)
		streamed := g.next()%3 == 0
		var wire []byte
		if streamed {
			wire = []byte("%?\r\n")
		} else {
			wire = respLen(KindMap, n)
		}
		str, byt, raw := map[string]any{}, map[string]any{}, make([]RawValue, 0, 2*n)
		for range n {
			var key respWant
			for !key.keyable {
				key = g.value(respMaxGenDepth)
			}
			v := g.value(depth + 1)
			wire = append(append(wire, key.wire...), v.wire...)
			str[key.key], byt[key.key] = v.str, v.byt
			raw = append(raw, key.raw, v.raw)
		}
		if streamed {
			wire = append(wire, ".\r\n"...)
		}
		return respWant{wire: wire, str: str, byt: byt, raw: RawValue{Kind: KindMap, Elems: raw}}
	default: // an attribute, then the value it describes
		n := int(g.next() % 3)
		streamed := g.next()%4 == 0
		var wire []byte
		if streamed {
			wire = []byte("|?\r\n")
		} else {
			wire = respLen(KindAttribute, n)
		}
		attrs := make([]RawValue, 0, 2*n)
		for range 2 * n {
			a := g.value(depth + 1)
			wire = append(wire, a.wire...)
			attrs = append(attrs, a.raw)
		}
		if streamed {
			wire = append(wire, ".\r\n"...)
		}
		v := g.value(depth + 1)
		v.wire = append(wire, v.wire...)
		v.raw.Attrs = append(attrs, v.raw.Attrs...)
		v.keyable = false
		return v
	}
}
