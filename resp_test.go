package justredis

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Helpers of this file and resp_fuzz_test.go are named resp* so that they
// stay clear of the other test files of the package.

func respRaw(k Kind, data string) RawValue { return RawValue{Kind: k, Data: []byte(data)} }

func respAgg(k Kind, elems ...RawValue) RawValue { return RawValue{Kind: k, Elems: elems} }

func respBig(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return n
}

// respEqual compares decoded replies: NaN equals NaN, big numbers and
// errors compare by value, and a nil []byte equals an empty one.
func respEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case float64:
		b, ok := b.(float64)
		return ok && (a == b && math.Signbit(a) == math.Signbit(b) || math.IsNaN(a) && math.IsNaN(b))
	case *big.Int:
		b, ok := b.(*big.Int)
		return ok && a.Cmp(b) == 0
	case *Error:
		b, ok := b.(*Error)
		return ok && a.msg == b.msg
	case []byte:
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b)
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !respEqual(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok || !respEqual(v, w) {
				return false
			}
		}
		return true
	case RawValue:
		b, ok := b.(RawValue)
		return ok && respRawEqual(a, b)
	}
	return a == b
}

func respRawEqual(a, b RawValue) bool {
	if a.Kind != b.Kind || !bytes.Equal(a.Data, b.Data) || len(a.Elems) != len(b.Elems) || len(a.Attrs) != len(b.Attrs) {
		return false
	}
	for i := range a.Elems {
		if !respRawEqual(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	for i := range a.Attrs {
		if !respRawEqual(a.Attrs[i], b.Attrs[i]) {
			return false
		}
	}
	return true
}

// respShow prints a decoded reply for failure messages.
func respShow(v any) string {
	switch v := v.(type) {
	case RawValue:
		var b strings.Builder
		respShowRaw(&b, v)
		return b.String()
	case []byte:
		return fmt.Sprintf("[]byte(%q)", v)
	case *Error:
		return fmt.Sprintf("*Error(%q)", v.msg)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = respShow(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprintf("%T(%#v)", v, v)
}

func respShowRaw(b *strings.Builder, v RawValue) {
	if len(v.Attrs) > 0 {
		b.WriteString("attrs{")
		for _, a := range v.Attrs {
			respShowRaw(b, a)
			b.WriteByte(' ')
		}
		b.WriteString("} ")
	}
	fmt.Fprintf(b, "%c%q", byte(v.Kind), v.Data)
	if v.Elems != nil {
		b.WriteByte('[')
		for _, e := range v.Elems {
			respShowRaw(b, e)
			b.WriteByte(' ')
		}
		b.WriteByte(']')
	}
}

// ---------------------------------------------------------------------
// appendCommand

func respBulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

// respCmd is the wire form of a command of bulk strings.
func respCmd(args ...string) string {
	s := "*" + strconv.Itoa(len(args)) + "\r\n"
	for _, a := range args {
		s += respBulk(a)
	}
	return s
}

func TestAppendCommandArguments(t *testing.T) {
	cases := []struct {
		arg  any
		wire string // the argument as the server reads it
	}{
		{"", ""},
		{"hello", "hello"},
		{"with\r\nCRLF and \x00 NUL", "with\r\nCRLF and \x00 NUL"},
		{[]byte(nil), ""},
		{[]byte{}, ""},
		{[]byte("\xff\xfe binary\r\n"), "\xff\xfe binary\r\n"},
		{0, "0"},
		{-1, "-1"},
		{math.MaxInt, strconv.Itoa(math.MaxInt)}, // int's width is the platform's
		{math.MinInt, strconv.Itoa(math.MinInt)},
		{int8(math.MinInt8), "-128"},
		{int8(math.MaxInt8), "127"},
		{int16(math.MinInt16), "-32768"},
		{int16(math.MaxInt16), "32767"},
		{int32(math.MinInt32), "-2147483648"},
		{int32(math.MaxInt32), "2147483647"},
		{int64(math.MinInt64), "-9223372036854775808"},
		{int64(math.MaxInt64), "9223372036854775807"},
		{uint(0), "0"},
		{uint(math.MaxUint), strconv.FormatUint(math.MaxUint, 10)},
		{uint8(math.MaxUint8), "255"},
		{uint16(math.MaxUint16), "65535"},
		{uint32(math.MaxUint32), "4294967295"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{0.1, "0.1"},
		{1e+100, "1e+100"},
		{3.0, "3"},
		{-2.5, "-2.5"},
		{0.0, "0"},
		{1.0 / 3, "0.3333333333333333"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{math.SmallestNonzeroFloat64, "5e-324"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{float32(0.1), "0.1"},
		{float32(1e30), "1e+30"},
		{float32(16777216), "1.6777216e+07"},
		{float32(math.Inf(1)), "inf"},
		{float32(math.Inf(-1)), "-inf"},
		{true, "1"},
		{false, "0"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%T(%v)", c.arg, c.arg), func(t *testing.T) {
			b, err := appendCommand(nil, []any{"SET", c.arg})
			require.NoError(t, err)
			require.Equal(t, respCmd("SET", c.wire), string(b))
		})
	}

	// All of them at once, appended after what the buffer held.
	args := []any{"MSET"}
	want := []string{"MSET"}
	for _, c := range cases {
		args = append(args, c.arg)
		want = append(want, c.wire)
	}
	b, err := appendCommand([]byte("previous"), args)
	require.NoError(t, err)
	require.Equal(t, "previous"+respCmd(want...), string(b))

	// The command name may be []byte too.
	b, err = appendCommand(nil, []any{[]byte("PING")})
	require.NoError(t, err)
	require.Equal(t, respCmd("PING"), string(b))
}

// Floats are written in the shortest form that reads back as exactly the
// same value.
func TestAppendCommandFloatRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	check := func(f float64, bits int) {
		t.Helper()
		var arg any = f
		if bits == 32 {
			arg = float32(f)
		}
		b, err := appendCommand(nil, []any{"X", arg})
		require.NoError(t, err)
		text := respArgs(t, b)[1]
		if math.IsNaN(f) {
			require.Equal(t, "nan", text)
			return
		}
		got, err := parseDouble([]byte(text))
		require.NoError(t, err, text)
		if bits == 32 {
			// The shortest text that reads back as the same float32.
			g, err := strconv.ParseFloat(text, 32)
			require.NoError(t, err, text)
			got = g
		}
		require.Equal(t, math.Float64bits(f), math.Float64bits(got), "%v written as %q", arg, text)
		require.Equal(t, strconv.FormatFloat(f, 'g', -1, bits) == text, !math.IsInf(f, 0), "%q is not the shortest form", text)
	}
	for _, f := range []float64{0.1, 0.2, 0.3, 1e100, 1e-100, 123456789.123, math.Copysign(0, -1), math.Pi, math.NaN()} {
		check(f, 64)
		check(float64(float32(f)), 32)
	}
	for i := 0; i < 10000; i++ {
		f := math.Float64frombits(rng.Uint64())
		check(f, 64)
		check(float64(math.Float32frombits(rng.Uint32())), 32)
	}
}

// respArgs decodes an encoded command back into its arguments.
func respArgs(t testing.TB, b []byte) []string {
	t.Helper()
	var s frameScanner
	n, err := s.scan(b)
	require.NoError(t, err)
	require.Equal(t, len(b), n, "the command is not one frame")
	var r Reader
	v, err := decodeReply(&r, b, StringDecoder)
	require.NoError(t, err)
	vs := v.([]any)
	out := make([]string, len(vs))
	for i, e := range vs {
		out[i] = e.(string)
	}
	return out
}

type respPoint struct{ X, Y int }

func TestAppendCommandRefusals(t *testing.T) {
	secret := "s3cret-value"
	cases := []struct {
		args []any
		want []string // in the error text
	}{
		{[]any{"SET", "k", time.Second}, []string{"argument 2", "time.Duration"}},
		{[]any{"SET", "k", nil}, []string{"argument 2", "nil"}},
		{[]any{"SET", "k", respPoint{1, 2}}, []string{"argument 2", "respPoint"}},
		{[]any{"SET", "k", struct{}{}}, []string{"argument 2", "struct {}"}},
		{[]any{"SET", "k", &secret}, []string{"argument 2", "*string"}},
		{[]any{"SET", "k", []string{secret}}, []string{"argument 2", "[]string"}},
		{[]any{"SET", "k", map[string]int{secret: 1}}, []string{"argument 2", "map[string]int"}},
		{[]any{"SET", "k", complex(1, 2)}, []string{"argument 2", "complex128"}},
		{[]any{"SET", "k", errors.New(secret)}, []string{"argument 2"}},
		{[]any{"SET", secret, "v", "EX", 5 * time.Second}, []string{"argument 4", "time.Duration", "SET"}},
		{[]any{nil}, []string{"argument 0", "command name", "nil"}},
		{[]any{time.Minute}, []string{"argument 0", "time.Duration"}},
		{[]any{}, []string{"empty command"}},
		{nil, []string{"empty command"}},
		{[]any{"", "k"}, []string{"empty command name"}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v", c.want), func(t *testing.T) {
			prev := []byte("*1\r\n$4\r\nPING\r\n")
			buf := append(make([]byte, 0, 256), prev...)
			b, err := appendCommand(buf, c.args)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrInvalidArgument), "%v does not match ErrInvalidArgument", err)
			require.False(t, errors.Is(err, ErrProtocol))
			for _, w := range c.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), secret, "the error shows an argument's value")
			require.Equal(t, string(prev), string(b), "the buffer changed length or content before it")
		})
	}
}

// ---------------------------------------------------------------------
// frameScanner and decoders

// respCase is a well-formed reply and what each decoder makes of it.
type respCase struct {
	name  string
	frame string
	str   any // StringDecoder; an *Error here is the error decodeReply returns
	byt   any // BytesDecoder; nil means same as str unless bytNil
	raw   any // RawDecoder
	// bytNil says byt is really nil rather than "same as str".
	bytNil bool
}

var respNaN = math.NaN()

func respCases() []respCase {
	pushMsg := ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
	return []respCase{
		{name: "simple", frame: "+OK\r\n", str: "OK", raw: respRaw(KindSimple, "OK")},
		{name: "simple other", frame: "+hello world\r\n", str: "hello world", raw: respRaw(KindSimple, "hello world")},
		{name: "simple empty", frame: "+\r\n", str: "", raw: respRaw(KindSimple, "")},
		{name: "error", frame: "-ERR unknown command\r\n", str: &Error{"ERR unknown command"}, raw: &Error{"ERR unknown command"}},
		{name: "integer", frame: ":42\r\n", str: int64(42), raw: respRaw(KindInt, "42")},
		{name: "negative integer", frame: ":-9223372036854775808\r\n", str: int64(math.MinInt64), raw: respRaw(KindInt, "-9223372036854775808")},
		{name: "bulk", frame: "$5\r\nhello\r\n", str: "hello", byt: []byte("hello"), raw: respRaw(KindBulk, "hello")},
		{name: "bulk binary", frame: "$6\r\n\r\n\x00\xff\r\n\r\n", str: "\r\n\x00\xff\r\n", byt: []byte("\r\n\x00\xff\r\n"), raw: respRaw(KindBulk, "\r\n\x00\xff\r\n")},
		{name: "bulk empty", frame: "$0\r\n\r\n", str: "", byt: []byte{}, raw: respRaw(KindBulk, "")},
		{name: "null bulk", frame: "$-1\r\n", str: nil, bytNil: true, raw: RawValue{Kind: KindNull}},
		{name: "null array", frame: "*-1\r\n", str: nil, bytNil: true, raw: RawValue{Kind: KindNull}},
		{name: "null", frame: "_\r\n", str: nil, bytNil: true, raw: RawValue{Kind: KindNull}},
		{name: "double", frame: ",3.14\r\n", str: 3.14, raw: respRaw(KindDouble, "3.14")},
		{name: "double exponent", frame: ",1e+100\r\n", str: 1e100, raw: respRaw(KindDouble, "1e+100")},
		{name: "double integral", frame: ",10\r\n", str: 10.0, raw: respRaw(KindDouble, "10")},
		{name: "double inf", frame: ",inf\r\n", str: math.Inf(1), raw: respRaw(KindDouble, "inf")},
		{name: "double -inf", frame: ",-inf\r\n", str: math.Inf(-1), raw: respRaw(KindDouble, "-inf")},
		{name: "double nan", frame: ",nan\r\n", str: respNaN, raw: respRaw(KindDouble, "nan")},
		{name: "true", frame: "#t\r\n", str: true, raw: respRaw(KindBool, "t")},
		{name: "false", frame: "#f\r\n", str: false, raw: respRaw(KindBool, "f")},
		{name: "big number", frame: "(3492890328409238509324850943850943825024385\r\n", str: respBig("3492890328409238509324850943850943825024385"), raw: respRaw(KindBigNumber, "3492890328409238509324850943850943825024385")},
		{name: "negative big number", frame: "(-3492890328409238509324850943850943825024385\r\n", str: respBig("-3492890328409238509324850943850943825024385"), raw: respRaw(KindBigNumber, "-3492890328409238509324850943850943825024385")},
		{name: "blob error", frame: "!21\r\nSYNTAX invalid syntax\r\n", str: &Error{"SYNTAX invalid syntax"}, raw: &Error{"SYNTAX invalid syntax"}},
		{name: "blob error with CRLF", frame: "!5\r\nA\r\nBC\r\n", str: &Error{"A\r\nBC"}, raw: &Error{"A\r\nBC"}},
		{name: "verbatim", frame: "=15\r\ntxt:Some string\r\n", str: "Some string", byt: []byte("Some string"), raw: respRaw(KindVerbatim, "txt:Some string")},
		{name: "verbatim empty", frame: "=4\r\nmkd:\r\n", str: "", byt: []byte{}, raw: respRaw(KindVerbatim, "mkd:")},
		{name: "array", frame: "*3\r\n:1\r\n$3\r\nfoo\r\n+bar\r\n",
			str: []any{int64(1), "foo", "bar"}, byt: []any{int64(1), []byte("foo"), "bar"},
			raw: respAgg(KindArray, respRaw(KindInt, "1"), respRaw(KindBulk, "foo"), respRaw(KindSimple, "bar"))},
		{name: "array empty", frame: "*0\r\n", str: []any{}, raw: RawValue{Kind: KindArray, Elems: []RawValue{}}},
		{name: "array nested with nulls", frame: "*3\r\n*2\r\n:1\r\n_\r\n*-1\r\n$-1\r\n",
			str: []any{[]any{int64(1), nil}, nil, nil},
			raw: respAgg(KindArray, respAgg(KindArray, respRaw(KindInt, "1"), RawValue{Kind: KindNull}), RawValue{Kind: KindNull}, RawValue{Kind: KindNull})},
		{name: "errors inside an array", frame: "*3\r\n-ERR one\r\n!3\r\ntwo\r\n:3\r\n",
			str: []any{&Error{"ERR one"}, &Error{"two"}, int64(3)},
			raw: respAgg(KindArray, respRaw(KindError, "ERR one"), respRaw(KindBlobError, "two"), respRaw(KindInt, "3"))},
		{name: "set", frame: "~3\r\n+a\r\n:2\r\n#t\r\n",
			str: []any{"a", int64(2), true},
			raw: respAgg(KindSet, respRaw(KindSimple, "a"), respRaw(KindInt, "2"), respRaw(KindBool, "t"))},
		{name: "map", frame: "%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n$3\r\ntwo\r\n",
			str: map[string]any{"first": int64(1), "second": "two"},
			byt: map[string]any{"first": int64(1), "second": []byte("two")},
			raw: respAgg(KindMap, respRaw(KindSimple, "first"), respRaw(KindInt, "1"), respRaw(KindBulk, "second"), respRaw(KindBulk, "two"))},
		{name: "map order and non-string keys", frame: "%5\r\n:2\r\n+b\r\n:1\r\n+a\r\n,1.5\r\n+c\r\n_\r\n+d\r\n#t\r\n+e\r\n",
			str: map[string]any{"2": "b", "1": "a", "1.5": "c", "": "d", "true": "e"},
			raw: respAgg(KindMap, respRaw(KindInt, "2"), respRaw(KindSimple, "b"), respRaw(KindInt, "1"), respRaw(KindSimple, "a"),
				respRaw(KindDouble, "1.5"), respRaw(KindSimple, "c"), RawValue{Kind: KindNull}, respRaw(KindSimple, "d"), respRaw(KindBool, "t"), respRaw(KindSimple, "e"))},
		{name: "map empty", frame: "%0\r\n", str: map[string]any{}, raw: RawValue{Kind: KindMap, Elems: []RawValue{}}},
		{name: "push", frame: pushMsg,
			str: []any{"message", "news", "hello"}, byt: []any{[]byte("message"), []byte("news"), []byte("hello")},
			raw: respAgg(KindPush, respRaw(KindBulk, "message"), respRaw(KindBulk, "news"), respRaw(KindBulk, "hello"))},
		{name: "attribute before a value", frame: "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n*2\r\n:2039123\r\n:9543892\r\n",
			str: []any{int64(2039123), int64(9543892)},
			raw: RawValue{Kind: KindArray, Elems: []RawValue{respRaw(KindInt, "2039123"), respRaw(KindInt, "9543892")},
				Attrs: []RawValue{respRaw(KindSimple, "key-popularity"), respAgg(KindMap, respRaw(KindBulk, "a"), respRaw(KindDouble, "0.1923"))}}},
		{name: "empty attribute", frame: "|0\r\n:1\r\n", str: int64(1), raw: RawValue{Kind: KindInt, Data: []byte("1"), Attrs: []RawValue{}}},
		{name: "attribute inside an array", frame: "*2\r\n|1\r\n+ttl\r\n:3\r\n$1\r\nx\r\n:2\r\n",
			str: []any{"x", int64(2)}, byt: []any{[]byte("x"), int64(2)},
			raw: respAgg(KindArray, RawValue{Kind: KindBulk, Data: []byte("x"), Attrs: []RawValue{respRaw(KindSimple, "ttl"), respRaw(KindInt, "3")}}, respRaw(KindInt, "2"))},
		{name: "attribute of an attribute", frame: "|1\r\n|1\r\n+a\r\n+b\r\n+key\r\n+value\r\n:7\r\n",
			str: int64(7),
			raw: RawValue{Kind: KindInt, Data: []byte("7"), Attrs: []RawValue{
				{Kind: KindSimple, Data: []byte("key"), Attrs: []RawValue{respRaw(KindSimple, "a"), respRaw(KindSimple, "b")}}, respRaw(KindSimple, "value")}}},
		{name: "attributes in a row", frame: "|1\r\n+a\r\n:1\r\n|1\r\n+b\r\n:2\r\n+v\r\n",
			str: "v",
			raw: RawValue{Kind: KindSimple, Data: []byte("v"), Attrs: []RawValue{respRaw(KindSimple, "a"), respRaw(KindInt, "1"), respRaw(KindSimple, "b"), respRaw(KindInt, "2")}}},
		{name: "attribute before an error", frame: "|1\r\n+a\r\n:1\r\n-ERR x\r\n", str: &Error{"ERR x"}, raw: &Error{"ERR x"}},
		{name: "attribute before a map value", frame: "%1\r\n+k\r\n|1\r\n+a\r\n:1\r\n:5\r\n",
			str: map[string]any{"k": int64(5)},
			raw: respAgg(KindMap, respRaw(KindSimple, "k"), RawValue{Kind: KindInt, Data: []byte("5"), Attrs: []RawValue{respRaw(KindSimple, "a"), respRaw(KindInt, "1")}})},
		{name: "streamed string", frame: "$?\r\n;4\r\nHell\r\n;6\r\no worl\r\n;1\r\nd\r\n;0\r\n",
			str: "Hello world", byt: []byte("Hello world"), raw: respRaw(KindBulk, "Hello world")},
		{name: "streamed string with CRLF in a chunk", frame: "$?\r\n;2\r\n\r\n\r\n;0\r\n",
			str: "\r\n", byt: []byte("\r\n"), raw: respRaw(KindBulk, "\r\n")},
		{name: "streamed string empty", frame: "$?\r\n;0\r\n", str: "", byt: []byte{}, raw: respRaw(KindBulk, "")},
		{name: "streamed array", frame: "*?\r\n:1\r\n:2\r\n:3\r\n.\r\n",
			str: []any{int64(1), int64(2), int64(3)},
			raw: respAgg(KindArray, respRaw(KindInt, "1"), respRaw(KindInt, "2"), respRaw(KindInt, "3"))},
		{name: "streamed array empty", frame: "*?\r\n.\r\n", str: []any{}, raw: RawValue{Kind: KindArray, Elems: []RawValue{}}},
		{name: "streamed map", frame: "%?\r\n+a\r\n:1\r\n+b\r\n:2\r\n.\r\n",
			str: map[string]any{"a": int64(1), "b": int64(2)},
			raw: respAgg(KindMap, respRaw(KindSimple, "a"), respRaw(KindInt, "1"), respRaw(KindSimple, "b"), respRaw(KindInt, "2"))},
		{name: "streamed set", frame: "~?\r\n+a\r\n+b\r\n.\r\n",
			str: []any{"a", "b"}, raw: respAgg(KindSet, respRaw(KindSimple, "a"), respRaw(KindSimple, "b"))},
		{name: "streamed nested", frame: "*?\r\n*?\r\n:1\r\n.\r\n$?\r\n;1\r\na\r\n;0\r\n%?\r\n.\r\n*1\r\n~?\r\n.\r\n.\r\n",
			str: []any{[]any{int64(1)}, "a", map[string]any{}, []any{[]any{}}},
			byt: []any{[]any{int64(1)}, []byte("a"), map[string]any{}, []any{[]any{}}},
			raw: respAgg(KindArray, respAgg(KindArray, respRaw(KindInt, "1")), respRaw(KindBulk, "a"), RawValue{Kind: KindMap, Elems: []RawValue{}},
				respAgg(KindArray, RawValue{Kind: KindSet, Elems: []RawValue{}}))},
		{name: "streamed array followed by a sibling", frame: "*2\r\n*?\r\n:1\r\n.\r\n:2\r\n",
			str: []any{[]any{int64(1)}, int64(2)},
			raw: respAgg(KindArray, respAgg(KindArray, respRaw(KindInt, "1")), respRaw(KindInt, "2"))},
		{name: "streamed array with an attribute inside", frame: "*?\r\n|1\r\n+a\r\n+b\r\n:1\r\n.\r\n",
			str: []any{int64(1)},
			raw: respAgg(KindArray, RawValue{Kind: KindInt, Data: []byte("1"), Attrs: []RawValue{respRaw(KindSimple, "a"), respRaw(KindSimple, "b")}})},
		{name: "streamed attribute", frame: "|?\r\n+a\r\n:1\r\n.\r\n+v\r\n",
			str: "v", raw: RawValue{Kind: KindSimple, Data: []byte("v"), Attrs: []RawValue{respRaw(KindSimple, "a"), respRaw(KindInt, "1")}}},
	}
}

// respScanAtOnce scans frame in one go, with some bytes of a next reply
// after it, which must be left alone.
func respScanAtOnce(t *testing.T, frame string) {
	t.Helper()
	for _, tail := range []string{"", "+NEXT\r\n", "*?\r\n"} {
		var s frameScanner
		n, err := s.scan([]byte(frame + tail))
		require.NoError(t, err)
		require.Equal(t, len(frame), n, "with %q after it", tail)
	}
}

// respScanByteByByte feeds the scanner one byte more each time, as a
// connection whose reads return one byte would: it must ask for more until
// the last byte, then report the whole frame.
func respScanByteByByte(t *testing.T, frame string) {
	t.Helper()
	var s frameScanner
	for i := 0; i < len(frame); i++ {
		n, err := s.scan([]byte(frame[:i]))
		require.NoError(t, err, "after %d bytes", i)
		require.Zero(t, n, "complete after %d of %d bytes", i, len(frame))
	}
	n, err := s.scan([]byte(frame))
	require.NoError(t, err)
	require.Equal(t, len(frame), n)
}

func respDecode(t *testing.T, frame string, d Decoder) (any, error) {
	t.Helper()
	var r Reader
	return decodeReply(&r, []byte(frame), d)
}

// respCheckDecoded compares decodeReply's result with want, where an *Error
// want is the error a top-level error reply gives.
func respCheckDecoded(t *testing.T, want, got any, err error) {
	t.Helper()
	if e, ok := want.(*Error); ok {
		require.Nil(t, got)
		var ge *Error
		require.True(t, errors.As(err, &ge), "want error reply %q, got %v", e.msg, err)
		require.Equal(t, e.msg, ge.msg)
		return
	}
	require.NoError(t, err)
	require.True(t, respEqual(want, got), "want %s\n got %s", respShow(want), respShow(got))
}

func TestRESPReplies(t *testing.T) {
	for _, c := range respCases() {
		t.Run(c.name, func(t *testing.T) {
			respScanAtOnce(t, c.frame)
			respScanByteByByte(t, c.frame)

			byt := c.byt
			if byt == nil && !c.bytNil {
				byt = c.str
			}
			for _, d := range []struct {
				name string
				dec  Decoder
				want any
			}{{"StringDecoder", StringDecoder, c.str}, {"BytesDecoder", BytesDecoder, byt}, {"RawDecoder", RawDecoder, c.raw}} {
				got, err := respDecode(t, c.frame, d.dec)
				respCheckDecoded(t, d.want, got, err)
			}

			// Skipping the reply passes over all of it (but for the '.'
			// of a streamed aggregate, which the next Next skips).
			r := Reader{buf: []byte(c.frame)}
			require.NoError(t, r.Skip())
			require.Equal(t, "", strings.ReplaceAll(c.frame[r.pos:], ".\r\n", ""))
		})
	}
}

// Decoded values hold no memory of the read buffer, which is reused.
func TestRESPDecodedValuesAreCopies(t *testing.T) {
	frame := []byte("*3\r\n$3\r\nabc\r\n=7\r\ntxt:def\r\n+ghi\r\n")
	for _, d := range []Decoder{StringDecoder, BytesDecoder, RawDecoder} {
		buf := bytes.Clone(frame)
		var r Reader
		v, err := decodeReply(&r, buf, d)
		require.NoError(t, err)
		before := respShow(v)
		for i := range buf {
			buf[i] = 'X'
		}
		require.Equal(t, before, respShow(v), "%T", d)
	}
}

func TestRESPReaderTokens(t *testing.T) {
	frame := "*4\r\n%1\r\n+k\r\n:-12\r\n$?\r\n;2\r\nab\r\n;1\r\nc\r\n;0\r\n*?\r\n_\r\n#t\r\n.\r\n|1\r\n+a\r\n+b\r\n=7\r\ntxt:abc\r\n"
	want := []Token{
		{Kind: KindArray, Len: 4},
		{Kind: KindMap, Len: 1},
		{Kind: KindSimple, Data: []byte("k")},
		{Kind: KindInt, Data: []byte("-12")},
		{Kind: KindBulk, Data: []byte("abc")},
		{Kind: KindArray, Len: 2},
		{Kind: KindNull, Data: []byte{}},
		{Kind: KindBool, Data: []byte("t")},
		{Kind: KindAttribute, Len: 1},
		{Kind: KindSimple, Data: []byte("a")},
		{Kind: KindSimple, Data: []byte("b")},
		{Kind: KindVerbatim, Data: []byte("txt:abc")},
	}
	r := Reader{buf: []byte(frame)}
	for i, w := range want {
		tok, err := r.Next()
		require.NoError(t, err, "token %d", i)
		require.Equal(t, w.Kind, tok.Kind, "token %d", i)
		require.Equal(t, w.Len, tok.Len, "token %d", i)
		require.Equal(t, string(w.Data), string(tok.Data), "token %d", i)
	}
	require.Equal(t, len(frame), r.pos)
	_, err := r.Next()
	// The reply was whole: only a Decoder reads past it, and the error is
	// its own, not a malformed reply's.
	require.ErrorIs(t, err, errReadPastReply, "reading past the reply")
	require.NotErrorIs(t, err, ErrProtocol, "reading past the reply")

	// So it is past the end of a streamed aggregate that ends the reply.
	r = Reader{buf: []byte("*?\r\n:1\r\n.\r\n")}
	for range 2 {
		_, err := r.Next()
		require.NoError(t, err)
	}
	_, err = r.Next()
	require.ErrorIs(t, err, errReadPastReply, "reading past a streamed aggregate")

	n, err := Token{Kind: KindInt, Data: []byte("-12")}.Int()
	require.NoError(t, err)
	require.Equal(t, int64(-12), n)
	_, err = Token{Kind: KindInt, Data: []byte("1x")}.Int()
	require.ErrorIs(t, err, ErrProtocol)
}

// respUpperDecoder is a Decoder of the kind users write: simple and bulk
// strings in upper case, through Reader alone.
type respUpperDecoder struct{}

func (respUpperDecoder) Decode(r *Reader) (any, error) {
	t, err := r.Next()
	if err != nil {
		return nil, err
	}
	switch t.Kind {
	case KindSimple, KindBulk:
		return strings.ToUpper(string(t.Data)), nil
	case KindArray:
		out := make([]any, t.Len)
		for i := range out {
			if out[i], err = (respUpperDecoder{}).Decode(r); err != nil {
				return nil, err
			}
		}
		return out, nil
	case KindMap:
		for i := 0; i < 2*t.Len; i++ {
			if err := r.Skip(); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

func TestRESPCustomDecoder(t *testing.T) {
	v, err := respDecode(t, "*3\r\n+a\r\n$?\r\n;1\r\nb\r\n;0\r\n%1\r\n+x\r\n+y\r\n", respUpperDecoder{})
	require.NoError(t, err)
	require.Equal(t, []any{"A", "B", nil}, v)
	_, err = respDecode(t, "-ERR custom decoders see no top-level errors\r\n", respUpperDecoder{})
	require.EqualError(t, err, "ERR custom decoders see no top-level errors")
}

// ---------------------------------------------------------------------
// Malformed and hostile replies

func respNest(open string, depth int, inner string) string {
	return strings.Repeat(open, depth) + inner
}

// respBadFrames are malformed replies the scanner must refuse, whether they
// arrive at once or byte by byte.
func respBadFrames() []struct{ name, frame string } {
	return []struct{ name, frame string }{
		{"huge bulk length", "$9999999999\r\nabc"},
		{"huge array length", "*2147483647\r\n:1\r\n"},
		{"huge map length", "%2147483647\r\n"},
		{"length past int64", "$99999999999999999999999\r\n"},
		{"length just over the limit", "$536870913\r\n"},
		{"negative length", "$-5\r\n"},
		{"negative array length", "*-2\r\n"},
		{"non-numeric length", "*abc\r\n"},
		{"empty length", "$\r\n"},
		{"length with sign only", "$-\r\n"},
		{"length with space", "$ 3\r\nabc\r\n"},
		{"null attribute", "|-1\r\n:1\r\n"},
		{"streamed blob error", "!?\r\n"},
		{"streamed verbatim", "=?\r\n"},
		{"unknown type byte", "@foo\r\n"},
		{"type byte of a chunk", ";3\r\nabc\r\n"},
		{"'.' outside a streamed aggregate", ".\r\n"},
		{"'.' inside a counted array", "*2\r\n:1\r\n.\r\n"},
		{"'.' after an attribute", "*?\r\n|1\r\n+a\r\n+b\r\n.\r\n"},
		{"empty line", "\r\n"},
		{"empty line in an array", "*2\r\n:1\r\n\r\n"},
		{"LF without CR", "+OK\n"},
		{"bulk body not ended by CRLF", "$3\r\nabcde\r\n"},
		{"bulk body shorter than said", "$5\r\nabc\r\n:1\r\n"},
		{"chunk not a chunk", "$?\r\n+a\r\n"},
		{"chunk with bad length", "$?\r\n;x\r\n"},
		{"chunk with negative length", "$?\r\n;-1\r\n\r\n"},
		{"chunk body not ended by CRLF", "$?\r\n;1\r\nab\r\n;0\r\n"},
		{"nested too deep", respNest("*1\r\n", maxDepth+1, ":1\r\n")},
		{"nested streamed too deep", respNest("*?\r\n", maxDepth+1, ".\r\n")},
		{"maps nested too deep", respNest("%1\r\n+k\r\n", maxDepth+1, ":1\r\n")},
		{"attributes chained too deep", respNest("|0\r\n", maxDepth+1, ":1\r\n")},
		{"attributes nested too deep", respNest("|1\r\n", maxDepth+1, ":1\r\n")},
		{"line too long", "+" + strings.Repeat("a", maxLine+1)},
		{"line too long, then CRLF", "+" + strings.Repeat("a", maxLine+1) + "\r\n"},
		{"header too long", "$" + strings.Repeat("0", maxLine+1)},
	}
}

func TestRESPScannerRefusesMalformed(t *testing.T) {
	for _, c := range respBadFrames() {
		t.Run(c.name, func(t *testing.T) {
			var s frameScanner
			n, err := s.scan([]byte(c.frame))
			require.Zero(t, n)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrProtocol), "%v does not match ErrProtocol", err)
			require.Less(t, len(err.Error()), 200, "the error quotes too much of the reply")

			// Byte by byte it fails too, and never reports a frame.
			s.reset()
			var failed error
			step := 1
			if len(c.frame) > 4096 {
				step = len(c.frame)/16 + 1 // the long lines: in a few pieces, for speed
			}
			for i := 0; i <= len(c.frame) && failed == nil; i += step {
				n, err := s.scan([]byte(c.frame[:i]))
				require.Zero(t, n)
				failed = err
			}
			if failed == nil {
				_, failed = s.scan([]byte(c.frame))
			}
			require.ErrorIs(t, failed, ErrProtocol)
		})
	}
}

// The deepest nesting allowed is accepted and decoded.
func TestRESPMaxDepth(t *testing.T) {
	for _, frame := range []string{
		respNest("*1\r\n", maxDepth, ":1\r\n"),
		respNest("*?\r\n", maxDepth, "") + strings.Repeat(".\r\n", maxDepth),
		respNest("|0\r\n", maxDepth, ":1\r\n"),
	} {
		respScanAtOnce(t, frame)
		for _, d := range []Decoder{StringDecoder, BytesDecoder, RawDecoder} {
			_, err := respDecode(t, frame, d)
			require.NoError(t, err)
		}
	}
}

// Streamed aggregates nested in one another decode in time proportional
// to their size: this once took time exponential in the depth, so that a
// reply of a few hundred bytes could hold a client's CPU forever.
func TestRESPNestedStreamedDecodeQuickly(t *testing.T) {
	const depth = maxDepth
	frame := strings.Repeat("*?\r\n:1\r\n", depth) + strings.Repeat(".\r\n", depth)
	respScanAtOnce(t, frame)
	for _, d := range []Decoder{StringDecoder, BytesDecoder, RawDecoder} {
		v, err := respDecode(t, frame, d)
		require.NoError(t, err)
		require.NotNil(t, v)
	}
	r := Reader{buf: []byte(frame)}
	require.NoError(t, r.Skip())
}

// Replies that are well framed but whose content is wrong fail to decode
// with ErrProtocol.
func TestRESPDecodeRefusesMalformed(t *testing.T) {
	for _, frame := range []string{
		":abc\r\n",
		":\r\n",
		":99999999999999999999\r\n",
		"#x\r\n",
		"#\r\n",
		",abc\r\n",
		",\r\n",
		"(12a\r\n",
		"(\r\n",
		"=3\r\ntxt\r\n",
		"=4\r\ntxt-\r\n",
		"*2\r\n:1\r\n:x\r\n",
		"%1\r\n+k\r\n#maybe\r\n",
		"%?\r\n+k\r\n.\r\n",
		"*2\r\n%?\r\n+a\r\n.\r\n:5\r\n",
		"|?\r\n+a\r\n.\r\n+v\r\n",
	} {
		var s frameScanner
		n, err := s.scan([]byte(frame))
		require.NoError(t, err, "%q", frame)
		require.Equal(t, len(frame), n, "%q", frame)
		for _, d := range []Decoder{StringDecoder, BytesDecoder, RawDecoder} {
			_, err := respDecode(t, frame, d)
			if d == RawDecoder && !strings.Contains(frame, "?") {
				continue // RawDecoder keeps scalars' text unparsed
			}
			require.ErrorIs(t, err, ErrProtocol, "%q with %T", frame, d)
		}
	}
}

// The scanner allocates nothing for claimed lengths however large, and
// nothing at all for aggregates up to 8 deep.
func TestRESPScannerAllocations(t *testing.T) {
	for _, frame := range []string{
		"$536870912\r\nabc",
		"*536870912\r\n:1\r\n:2\r\n",
		"%268435456\r\n+k\r\n",
		"$?\r\n;536870912\r\nabc",
		"*7\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n$400000000\r\n",
	} {
		buf := []byte(frame)
		var s frameScanner
		allocs := testing.AllocsPerRun(100, func() {
			s.reset()
			s.scan(buf)
		})
		require.Zero(t, allocs, "%q", frame)
	}
	// Deep nesting allocates its stack of aggregates; errors allocate
	// their message. Neither depends on the lengths claimed.
	for _, frame := range []string{
		respNest("*1\r\n", maxDepth, "$400000000\r\n"),
		respNest("*1\r\n", maxDepth, "*2147483647\r\n"),
		"$9999999999\r\n",
		"*2147483647\r\n",
	} {
		buf := []byte(frame)
		var s frameScanner
		before := respTotalAlloc()
		n, _ := s.scan(buf)
		require.Less(t, respTotalAlloc()-before, uint64(64<<10), "the scanner allocated in proportion to a claimed length")
		require.Zero(t, n)
	}
}

// respTotalAlloc is the number of bytes the process allocated so far.
func respTotalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}
