package justredis

import (
	"errors"
	"io"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func raw(k Kind, data string) RawValue { return RawValue{Kind: k, Data: []byte(data)} }

func rawAgg(k Kind, elems ...RawValue) RawValue { return RawValue{Kind: k, Elems: elems} }

func bigInt(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return n
}

var errReply = &Error{msg: "WRONGTYPE Operation against a key holding the wrong kind of value"}

// convertCase is one input for a converter and what it should give: want,
// or an error that is errIs (by errors.Is) or whose text contains errText.
type convertCase struct {
	name    string
	in      any
	want    any
	errIs   error
	errText string
}

func checkConvert[T any](t *testing.T, conv func(any, error) (T, error), cases []convertCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := conv(c.in, nil)
			switch {
			case c.errIs != nil:
				require.ErrorIs(t, err, c.errIs)
				require.Zero(t, got)
			case c.errText != "":
				require.Error(t, err)
				require.Contains(t, err.Error(), c.errText)
				require.Zero(t, got)
			default:
				require.NoError(t, err)
				if f, ok := any(got).(float64); ok && math.IsNaN(f) {
					require.True(t, math.IsNaN(c.want.(float64)))
					return
				}
				require.Equal(t, c.want, got)
			}
		})
	}
}

// commonCases are the rules every converter shares: nil, null and error
// replies, at top level and as RawValue.
func commonCases() []convertCase {
	return []convertCase{
		{name: "nil", in: nil, errIs: ErrNil},
		{name: "raw null", in: RawValue{Kind: KindNull}, errIs: ErrNil},
		{name: "error reply", in: errReply, errIs: errReply},
		{name: "raw error", in: raw(KindError, "ERR boom"), errText: "ERR boom"},
		{name: "raw blob error", in: raw(KindBlobError, "SYNTAX bad"), errText: "SYNTAX bad"},
	}
}

func TestConvertPassesErrorThrough(t *testing.T) {
	sentinel := errors.New("network down")
	for _, in := range []any{nil, "1", int64(1), []any{"a", "b"}, errReply} {
		for _, err := range []error{sentinel, io.EOF, errReply} {
			s, e := String(in, err)
			require.Same(t, err, e)
			require.Zero(t, s)
			b, e := Bytes(in, err)
			require.Same(t, err, e)
			require.Nil(t, b)
			n, e := Int64(in, err)
			require.Same(t, err, e)
			require.Zero(t, n)
			f, e := Float64(in, err)
			require.Same(t, err, e)
			require.Zero(t, f)
			ok, e := Bool(in, err)
			require.Same(t, err, e)
			require.False(t, ok)
			ss, e := Strings(in, err)
			require.Same(t, err, e)
			require.Nil(t, ss)
			vs, e := Values(in, err)
			require.Same(t, err, e)
			require.Nil(t, vs)
			m, e := StringMap(in, err)
			require.Same(t, err, e)
			require.Nil(t, m)
		}
	}
}

func TestConvertErrorReplyIsReturnedAsIs(t *testing.T) {
	_, err := String(errReply, nil)
	require.Same(t, errReply, err)
	_, err = Int64(errReply, nil)
	require.Same(t, errReply, err)
	_, err = Strings([]any{"a", errReply}, nil)
	require.Same(t, errReply, err)
	_, err = StringMap(map[string]any{"a": errReply}, nil)
	require.Same(t, errReply, err)
	_, err = StringMap([]any{"a", errReply}, nil)
	require.Same(t, errReply, err)
	var e *Error
	_, err = String(raw(KindError, "ERR x"), nil)
	require.ErrorAs(t, err, &e)
	require.Equal(t, "ERR", e.Prefix())
}

func TestString(t *testing.T) {
	checkConvert(t, String, append(commonCases(), []convertCase{
		{name: "string", in: "hello", want: "hello"},
		{name: "empty string", in: "", want: ""},
		{name: "bytes", in: []byte("hello"), want: "hello"},
		{name: "int64", in: int64(-42), want: "-42"},
		{name: "float64", in: 3.5, want: "3.5"},
		{name: "float64 shortest", in: 0.1, want: "0.1"},
		{name: "float64 whole", in: 3.0, want: "3"},
		{name: "float64 large", in: 1e100, want: "1e+100"},
		// In decimal from 1e-4 up to 1e17, as Redis writes doubles.
		{name: "float64 unix time", in: 1700000000.0, want: "1700000000"},
		{name: "float64 million", in: 1234567.0, want: "1234567"},
		{name: "float64 fraction", in: 1234567.5, want: "1234567.5"},
		{name: "float64 negative", in: -3.0, want: "-3"},
		{name: "float64 zero", in: 0.0, want: "0"},
		{name: "float64 1e-4", in: 1e-4, want: "0.0001"},
		{name: "float64 below 1e-4", in: 2.5e-5, want: "2.5e-05"},
		{name: "float64 1e16", in: 1e16, want: "10000000000000000"},
		{name: "float64 below 1e17, every digit", in: 99999999999999984.0, want: "99999999999999984"},
		{name: "float64 1e17", in: 1e17, want: "1e+17"},
		{name: "float64 1e20", in: 1e20, want: "1e+20"},
		{name: "float64 inf", in: math.Inf(1), want: "inf"},
		{name: "float64 -inf", in: math.Inf(-1), want: "-inf"},
		{name: "float64 nan", in: math.NaN(), want: "nan"},
		{name: "big.Int", in: bigInt("12345678901234567890123"), want: "12345678901234567890123"},
		{name: "bool true", in: true, want: "1"},
		{name: "bool false", in: false, want: "0"},
		{name: "raw bulk", in: raw(KindBulk, "hello"), want: "hello"},
		{name: "raw empty bulk", in: RawValue{Kind: KindBulk}, want: ""},
		{name: "raw simple", in: raw(KindSimple, "OK"), want: "OK"},
		{name: "raw verbatim", in: raw(KindVerbatim, "txt:hello"), want: "hello"},
		{name: "raw int", in: raw(KindInt, "7"), want: "7"},
		{name: "raw double", in: raw(KindDouble, "inf"), want: "inf"},
		{name: "raw big number", in: raw(KindBigNumber, "123456789012345678901"), want: "123456789012345678901"},
		{name: "raw bool", in: raw(KindBool, "t"), want: "1"},
		{name: "array", in: []any{"a"}, errText: "justredis: String: cannot convert []interface {} to string"},
		{name: "map", in: map[string]any{}, errText: "justredis: String: cannot convert map[string]interface {} to string"},
		{name: "raw array", in: rawAgg(KindArray), errText: "justredis: String: cannot convert justredis.RawValue (array) to string"},
		{name: "int", in: 1, errText: "cannot convert int to string"},
		{name: "nil big.Int", in: (*big.Int)(nil), errIs: ErrNil},
		{name: "raw bad verbatim", in: raw(KindVerbatim, "xx"), errText: `justredis: String: cannot parse "xx" as verbatim string`},
		{name: "raw bad bool", in: raw(KindBool, "x"), errText: `cannot parse "x" as boolean`},
	}...))
}

func TestBytes(t *testing.T) {
	checkConvert(t, Bytes, append(commonCases(), []convertCase{
		{name: "bytes", in: []byte("hi\x00"), want: []byte("hi\x00")},
		{name: "empty bytes", in: []byte{}, want: []byte{}},
		{name: "string", in: "hi", want: []byte("hi")},
		{name: "int64", in: int64(42), want: []byte("42")},
		{name: "float64", in: 2.5, want: []byte("2.5")},
		{name: "float64 inf", in: math.Inf(-1), want: []byte("-inf")},
		{name: "big.Int", in: bigInt("-99999999999999999999"), want: []byte("-99999999999999999999")},
		{name: "bool", in: true, want: []byte("1")},
		{name: "raw bulk", in: raw(KindBulk, "\xff\x00"), want: []byte("\xff\x00")},
		{name: "raw empty bulk", in: RawValue{Kind: KindBulk}, want: []byte{}},
		{name: "raw verbatim", in: raw(KindVerbatim, "mkd:# x"), want: []byte("# x")},
		{name: "raw int", in: raw(KindInt, "5"), want: []byte("5")},
		{name: "raw bool", in: raw(KindBool, "f"), want: []byte("0")},
		{name: "array", in: []any{}, errText: "justredis: Bytes: cannot convert []interface {} to []byte"},
		{name: "raw set", in: rawAgg(KindSet), errText: "justredis: Bytes: cannot convert justredis.RawValue (set) to []byte"},
	}...))

	b := []byte("shared")
	got, err := Bytes(b, nil)
	require.NoError(t, err)
	require.Same(t, &b[0], &got[0], "a []byte reply is returned, not copied")
}

func TestInt64(t *testing.T) {
	checkConvert(t, Int64, append(commonCases(), []convertCase{
		{name: "int64", in: int64(-7), want: int64(-7)},
		{name: "int64 max", in: int64(math.MaxInt64), want: int64(math.MaxInt64)},
		{name: "string", in: "42", want: int64(42)},
		{name: "string negative", in: "-42", want: int64(-42)},
		{name: "string min", in: "-9223372036854775808", want: int64(math.MinInt64)},
		{name: "string whole double", in: "42.0", want: int64(42)},
		{name: "string exponent", in: "1e3", want: int64(1000)},
		{name: "bytes", in: []byte("42"), want: int64(42)},
		{name: "float64 whole", in: 42.0, want: int64(42)},
		{name: "float64 negative zero", in: math.Copysign(0, -1), want: int64(0)},
		{name: "big.Int fits", in: bigInt("-9223372036854775808"), want: int64(math.MinInt64)},
		{name: "bool true", in: true, want: int64(1)},
		{name: "bool false", in: false, want: int64(0)},
		{name: "nil big.Int", in: (*big.Int)(nil), errIs: ErrNil},
		{name: "raw int", in: raw(KindInt, "42"), want: int64(42)},
		{name: "raw bulk", in: raw(KindBulk, "42"), want: int64(42)},
		{name: "raw simple", in: raw(KindSimple, "42"), want: int64(42)},
		{name: "raw double", in: raw(KindDouble, "42"), want: int64(42)},
		{name: "raw big number", in: raw(KindBigNumber, "42"), want: int64(42)},
		{name: "raw bool", in: raw(KindBool, "t"), want: int64(1)},
		{name: "string not a number", in: "abc", errText: `justredis: Int64: cannot parse "abc" as int64`},
		{name: "string fraction", in: "1.5", errText: `cannot parse "1.5" as int64`},
		{name: "string overflow", in: "9223372036854775808", errText: `cannot parse "9223372036854775808" as int64`},
		{name: "string inf", in: "inf", errText: `cannot parse "inf" as int64`},
		{name: "string empty", in: "", errText: `cannot parse "" as int64`},
		{name: "string space", in: " 1", errText: `cannot parse " 1" as int64`},
		{name: "string long", in: strings.Repeat("x", 100), errText: `cannot parse "` + strings.Repeat("x", 32) + `..." as int64`},
		{name: "float64 fraction", in: 1.5, errText: "justredis: Int64: cannot convert float64 1.5 to int64"},
		{name: "float64 too large", in: 1e19, errText: "cannot convert float64 1e+19 to int64"},
		{name: "float64 2^63", in: math.Ldexp(1, 63), errText: "cannot convert float64 9.223372036854776e+18 to int64"},
		{name: "float64 inf", in: math.Inf(1), errText: "cannot convert float64 inf to int64"},
		{name: "float64 nan", in: math.NaN(), errText: "cannot convert float64 nan to int64"},
		{name: "big.Int too large", in: bigInt("9223372036854775808"), errText: "cannot convert *big.Int 9223372036854775808 to int64"},
		{name: "raw double fraction", in: raw(KindDouble, "0.5"), errText: `cannot parse "0.5" as int64`},
		{name: "array", in: []any{int64(1)}, errText: "justredis: Int64: cannot convert []interface {} to int64"},
		{name: "map", in: map[string]any{}, errText: "cannot convert map[string]interface {} to int64"},
		{name: "raw map", in: rawAgg(KindMap), errText: "cannot convert justredis.RawValue (map) to int64"},
		{name: "raw push", in: rawAgg(KindPush), errText: "cannot convert justredis.RawValue (push) to int64"},
	}...))
}

func TestFloat64(t *testing.T) {
	checkConvert(t, Float64, append(commonCases(), []convertCase{
		{name: "float64", in: 3.141, want: 3.141},
		{name: "string", in: "3.141", want: 3.141},
		{name: "string integer", in: "3", want: 3.0},
		{name: "string exponent", in: "1.5e-7", want: 1.5e-7},
		{name: "string inf", in: "inf", want: math.Inf(1)},
		{name: "string +inf", in: "+inf", want: math.Inf(1)},
		{name: "string -inf", in: "-inf", want: math.Inf(-1)},
		{name: "string nan", in: "nan", want: math.NaN()},
		{name: "string -nan", in: "-nan", want: math.NaN()},
		{name: "bytes", in: []byte("-0.25"), want: -0.25},
		{name: "int64", in: int64(-3), want: -3.0},
		{name: "big.Int", in: bigInt("100000000000000000000"), want: 1e20},
		{name: "bool", in: true, want: 1.0},
		{name: "raw double", in: raw(KindDouble, "-inf"), want: math.Inf(-1)},
		{name: "raw bulk", in: raw(KindBulk, "2.5"), want: 2.5},
		{name: "raw int", in: raw(KindInt, "2"), want: 2.0},
		{name: "raw big number", in: raw(KindBigNumber, "2"), want: 2.0},
		{name: "raw verbatim", in: raw(KindVerbatim, "txt:2.5"), want: 2.5},
		{name: "string not a number", in: "1.5x", errText: `justredis: Float64: cannot parse "1.5x" as float64`},
		{name: "string overflow", in: "1e400", errText: `cannot parse "1e400" as float64`},
		{name: "bytes empty", in: []byte{}, errText: `cannot parse "" as float64`},
		{name: "big.Int too large", in: new(big.Int).Lsh(big.NewInt(1), 1100), errText: "cannot convert *big.Int "},
		{name: "array", in: []any{}, errText: "justredis: Float64: cannot convert []interface {} to float64"},
		{name: "raw array", in: rawAgg(KindArray), errText: "cannot convert justredis.RawValue (array) to float64"},
	}...))
}

func TestBool(t *testing.T) {
	checkConvert(t, Bool, append(commonCases(), []convertCase{
		{name: "bool true", in: true, want: true},
		{name: "bool false", in: false, want: false},
		{name: "int64 1", in: int64(1), want: true},
		{name: "int64 0", in: int64(0), want: false},
		{name: "big.Int 1", in: big.NewInt(1), want: true},
		{name: "string 1", in: "1", want: true},
		{name: "string 0", in: "0", want: false},
		{name: "bytes 1", in: []byte("1"), want: true},
		{name: "raw bool t", in: raw(KindBool, "t"), want: true},
		{name: "raw bool f", in: raw(KindBool, "f"), want: false},
		{name: "raw int", in: raw(KindInt, "1"), want: true},
		{name: "raw bulk", in: raw(KindBulk, "0"), want: false},
		{name: "int64 2", in: int64(2), errText: "justredis: Bool: cannot convert int64 2 to bool"},
		{name: "int64 -1", in: int64(-1), errText: "cannot convert int64 -1 to bool"},
		{name: "big.Int 2", in: big.NewInt(2), errText: "cannot convert *big.Int 2 to bool"},
		{name: "string true", in: "true", errText: `justredis: Bool: cannot parse "true" as bool`},
		{name: "string yes", in: "yes", errText: `cannot parse "yes" as bool`},
		{name: "raw int 2", in: raw(KindInt, "2"), errText: `cannot parse "2" as bool`},
		{name: "float64", in: 1.0, errText: "cannot convert float64 to bool"},
		{name: "array", in: []any{true}, errText: "cannot convert []interface {} to bool"},
	}...))
}

func TestValues(t *testing.T) {
	checkConvert(t, Values, append(commonCases(), []convertCase{
		{name: "array", in: []any{"a", int64(1), nil}, want: []any{"a", int64(1), nil}},
		{name: "empty array", in: []any{}, want: []any{}},
		{name: "error element kept", in: []any{"OK", errReply}, want: []any{"OK", errReply}},
		{name: "raw array", in: rawAgg(KindArray, raw(KindBulk, "a")), want: []any{raw(KindBulk, "a")}},
		{name: "raw set", in: rawAgg(KindSet, raw(KindInt, "1")), want: []any{raw(KindInt, "1")}},
		{name: "raw push", in: rawAgg(KindPush, raw(KindBulk, "message")), want: []any{raw(KindBulk, "message")}},
		{name: "raw empty array", in: rawAgg(KindArray), want: []any{}},
		{name: "map", in: map[string]any{"a": "b"}, errText: "justredis: Values: cannot convert map[string]interface {} to []interface {}"},
		{name: "raw map", in: rawAgg(KindMap, raw(KindBulk, "a"), raw(KindBulk, "b")), errText: "cannot convert justredis.RawValue (map) to []interface {}"},
		{name: "string", in: "a", errText: "cannot convert string to []interface {}"},
		{name: "raw bulk", in: raw(KindBulk, "a"), errText: "cannot convert justredis.RawValue (bulk string) to []interface {}"},
		{name: "bytes", in: []byte("a"), errText: "cannot convert []byte to []interface {}"},
	}...))
}

func TestStrings(t *testing.T) {
	checkConvert(t, Strings, append(commonCases(), []convertCase{
		{name: "strings", in: []any{"a", "b"}, want: []string{"a", "b"}},
		{name: "empty", in: []any{}, want: []string{}},
		{name: "mixed", in: []any{"a", []byte("b"), int64(3), 1.5, true, bigInt("4")}, want: []string{"a", "b", "3", "1.5", "1", "4"}},
		{name: "nil element", in: []any{"a", nil, "c"}, want: []string{"a", "", "c"}},
		{name: "raw array", in: rawAgg(KindArray, raw(KindBulk, "a"), RawValue{Kind: KindNull}, raw(KindInt, "3")), want: []string{"a", "", "3"}},
		{name: "raw set", in: rawAgg(KindSet, raw(KindBulk, "x")), want: []string{"x"}},
		{name: "error element", in: []any{"a", errReply}, errIs: errReply},
		{name: "raw error element", in: rawAgg(KindArray, raw(KindError, "ERR e")), errText: "ERR e"},
		{name: "nested array", in: []any{"a", []any{"b"}}, errText: "justredis: Strings: element 1: cannot convert []interface {} to string"},
		{name: "map", in: map[string]any{"a": "b"}, errText: "justredis: Strings: cannot convert map[string]interface {} to []string (a map, as RESP3 sends field-value pairs: use StringMap)"},
		{name: "raw map", in: rawAgg(KindMap), errText: "cannot convert justredis.RawValue (map) to []string (a map, as RESP3 sends field-value pairs: use StringMap)"},
		{name: "resp3 pairs", in: []any{[]any{"b", 1.0}, []any{"a", 1700000000.0}, []any{"b", 2.5}}, want: []string{"b", "1", "a", "1700000000", "b", "2.5"}},
		{name: "raw pairs", in: rawAgg(KindArray, rawAgg(KindArray, raw(KindBulk, "a"), raw(KindDouble, "1"))), want: []string{"a", "1"}},
		{name: "pairs and a nil", in: []any{[]any{"a", "1"}, nil}, errText: "justredis: Strings: element 0: cannot convert []interface {} to string"},
		{name: "pair of arrays", in: []any{[]any{"a", []any{"b"}}}, errText: "justredis: Strings: element 1: cannot convert []interface {} to string"},
		{name: "string", in: "a", errText: "cannot convert string to []string"},
		{name: "raw int", in: raw(KindInt, "1"), errText: "cannot convert justredis.RawValue (integer) to []string"},
	}...))
}

func TestStringMap(t *testing.T) {
	want := map[string]string{"f1": "v1", "f2": "2"}
	checkConvert(t, StringMap, append(commonCases(), []convertCase{
		{name: "resp2 flat array", in: []any{"f1", "v1", "f2", "2"}, want: want},
		{name: "resp2 flat array bytes", in: []any{[]byte("f1"), []byte("v1"), []byte("f2"), int64(2)}, want: want},
		{name: "resp3 map", in: map[string]any{"f1": "v1", "f2": int64(2)}, want: want},
		{name: "resp3 map bytes", in: map[string]any{"f1": []byte("v1"), "f2": []byte("2")}, want: want},
		{name: "resp3 pairs", in: []any{[]any{"f1", "v1"}, []any{"f2", 2.0}}, want: want},
		{name: "raw map", in: rawAgg(KindMap, raw(KindBulk, "f1"), raw(KindBulk, "v1"), raw(KindSimple, "f2"), raw(KindInt, "2")), want: want},
		{name: "raw flat array", in: rawAgg(KindArray, raw(KindBulk, "f1"), raw(KindBulk, "v1"), raw(KindBulk, "f2"), raw(KindBulk, "2")), want: want},
		{name: "raw pairs", in: rawAgg(KindArray, rawAgg(KindArray, raw(KindBulk, "f1"), raw(KindBulk, "v1")), rawAgg(KindArray, raw(KindBulk, "f2"), raw(KindDouble, "2"))), want: want},
		{name: "empty array", in: []any{}, want: map[string]string{}},
		{name: "empty map", in: map[string]any{}, want: map[string]string{}},
		{name: "raw empty map", in: rawAgg(KindMap), want: map[string]string{}},
		{name: "nil value", in: []any{"a", nil}, want: map[string]string{"a": ""}},
		{name: "nil map value", in: map[string]any{"a": nil}, want: map[string]string{"a": ""}},
		{name: "repeated key", in: []any{"a", "1", "a", "2"}, want: map[string]string{"a": "2"}},
		{name: "odd length", in: []any{"a", "1", "b"}, errText: "justredis: StringMap: cannot convert an array of odd length 3 to map[string]string"},
		{name: "raw odd length", in: rawAgg(KindArray, raw(KindBulk, "a")), errText: "odd length 1"},
		{name: "error value", in: []any{"a", errReply}, errIs: errReply},
		{name: "error map value", in: map[string]any{"a": errReply}, errIs: errReply},
		{name: "nested value", in: []any{"a", []any{}}, errText: "justredis: StringMap: element 1: cannot convert []interface {} to string"},
		{name: "nested map value", in: map[string]any{"modules": []any{}}, errText: `justredis: StringMap: value of "modules": cannot convert []interface {} to string`},
		{name: "pairs of wrong length", in: []any{[]any{"a", "b", "c"}, []any{"d"}}, errText: "element 0: cannot convert []interface {} to string"},
		{name: "string", in: "a", errText: "justredis: StringMap: cannot convert string to map[string]string"},
		{name: "raw set of pairs", in: rawAgg(KindSet, raw(KindBulk, "a"), raw(KindBulk, "b")), want: map[string]string{"a": "b"}},
		{name: "raw bulk", in: raw(KindBulk, "a"), errText: "cannot convert justredis.RawValue (bulk string) to map[string]string"},
	}...))
}

// decodeWire decodes one complete reply frame with d.
func decodeWire(t *testing.T, frame string, d Decoder) any {
	t.Helper()
	v, err := d.Decode(&Reader{buf: []byte(frame)})
	require.NoError(t, err, "%q", frame)
	return v
}

// TestConvertSameAcrossProtocols decodes what RESP2 and RESP3 servers send
// for the same command, with every decoder, and checks each converter gives
// the same result for all of them.
func TestConvertSameAcrossProtocols(t *testing.T) {
	decoders := map[string]Decoder{"string": StringDecoder, "bytes": BytesDecoder, "raw": RawDecoder}
	wrap := func(f any) func(any) (any, error) {
		switch f := f.(type) {
		case func(any, error) (string, error):
			return func(v any) (any, error) { return f(v, nil) }
		case func(any, error) ([]byte, error):
			return func(v any) (any, error) { return f(v, nil) }
		case func(any, error) (int64, error):
			return func(v any) (any, error) { return f(v, nil) }
		case func(any, error) (float64, error):
			return func(v any) (any, error) { return f(v, nil) }
		case func(any, error) (bool, error):
			return func(v any) (any, error) { return f(v, nil) }
		case func(any, error) ([]string, error):
			return func(v any) (any, error) { return f(v, nil) }
		case func(any, error) (map[string]string, error):
			return func(v any) (any, error) { return f(v, nil) }
		}
		panic("unknown converter")
	}
	cases := []struct {
		name   string
		frames []string // the same reply as each protocol sends it
		conv   any
		want   any
	}{
		{"GET", []string{"$5\r\nhello\r\n"}, String, "hello"},
		{"GET as bytes", []string{"$5\r\nhello\r\n"}, Bytes, []byte("hello")},
		{"verbatim", []string{"$5\r\nhello\r\n", "=9\r\ntxt:hello\r\n"}, String, "hello"},
		{"ZSCORE", []string{"$3\r\n3.5\r\n", ",3.5\r\n"}, Float64, 3.5},
		{"ZSCORE whole", []string{"$1\r\n3\r\n", ",3\r\n"}, Float64, 3.0},
		{"ZSCORE inf", []string{"$3\r\ninf\r\n", ",inf\r\n"}, Float64, math.Inf(1)},
		{"ZSCORE -inf", []string{"$4\r\n-inf\r\n", ",-inf\r\n"}, Float64, math.Inf(-1)},
		{"ZSCORE as string", []string{"$3\r\n3.5\r\n", ",3.5\r\n"}, String, "3.5"},
		{"ZSCORE inf as string", []string{"$3\r\ninf\r\n", ",inf\r\n"}, String, "inf"},
		{"ZSCORE whole as string", []string{"$10\r\n1700000000\r\n", ",1700000000\r\n"}, String, "1700000000"},
		{"ZSCORE large as string", []string{"$5\r\n1e+20\r\n", ",1e+20\r\n"}, String, "1e+20"},
		{"ZRANGE WITHSCORES as strings", []string{
			"*4\r\n$1\r\na\r\n$7\r\n1234567\r\n$1\r\nb\r\n$3\r\n2.5\r\n",
			"*2\r\n*2\r\n$1\r\na\r\n,1234567\r\n*2\r\n$1\r\nb\r\n,2.5\r\n",
		}, Strings, []string{"a", "1234567", "b", "2.5"}},
		{"INCRBYFLOAT whole as int", []string{"$2\r\n10\r\n", ",10\r\n"}, Int64, int64(10)},
		{"INCR", []string{":42\r\n", "$2\r\n42\r\n"}, Int64, int64(42)},
		{"big number", []string{"$21\r\n123456789012345678901\r\n", "(123456789012345678901\r\n"}, String, "123456789012345678901"},
		{"big number small", []string{":42\r\n", "(42\r\n"}, Int64, int64(42)},
		{"bool true", []string{":1\r\n", "#t\r\n"}, Bool, true},
		{"bool false", []string{":0\r\n", "#f\r\n"}, Bool, false},
		{"bool as int", []string{":1\r\n", "#t\r\n"}, Int64, int64(1)},
		{"bool as string", []string{":1\r\n", "#t\r\n"}, String, "1"},
		{"SMEMBERS", []string{"*2\r\n$1\r\na\r\n$1\r\nb\r\n", "~2\r\n$1\r\na\r\n$1\r\nb\r\n"}, Strings, []string{"a", "b"}},
		{"MGET", []string{"*2\r\n$1\r\na\r\n$-1\r\n", "*2\r\n$1\r\na\r\n_\r\n"}, Strings, []string{"a", ""}},
		{"HGETALL", []string{
			"*4\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$1\r\n2\r\n",
			"%2\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$1\r\n2\r\n",
			"%2\r\n+f1\r\n=6\r\ntxt:v1\r\n+f2\r\n:2\r\n",
		}, StringMap, map[string]string{"f1": "v1", "f2": "2"}},
		{"ZRANGE WITHSCORES", []string{
			"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\n2.5\r\n",
			"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n",
		}, StringMap, map[string]string{"a": "1", "b": "2.5"}},
		{"streamed map", []string{"%?\r\n$1\r\na\r\n:1\r\n.\r\n", "*2\r\n$1\r\na\r\n:1\r\n"}, StringMap, map[string]string{"a": "1"}},
		{"attribute", []string{"|1\r\n+ttl\r\n:3\r\n:7\r\n", ":7\r\n"}, Int64, int64(7)},
	}
	for _, c := range cases {
		conv := wrap(c.conv)
		for _, frame := range c.frames {
			for dname, d := range decoders {
				v := decodeWire(t, frame, d)
				got, err := conv(v)
				require.NoError(t, err, "%s: %q with %s decoder gave %#v", c.name, frame, dname, v)
				require.Equal(t, c.want, got, "%s: %q with %s decoder gave %#v", c.name, frame, dname, v)
			}
		}
	}

	// Null and error replies, as both protocols send them.
	for _, frame := range []string{"$-1\r\n", "*-1\r\n", "_\r\n"} {
		for dname, d := range decoders {
			v := decodeWire(t, frame, d)
			_, err := String(v, nil)
			require.ErrorIs(t, err, ErrNil, "%q with %s decoder", frame, dname)
			_, err = Strings(v, nil)
			require.ErrorIs(t, err, ErrNil, "%q with %s decoder", frame, dname)
		}
	}
	for _, frame := range []string{"*2\r\n+OK\r\n-ERR boom\r\n", "*2\r\n+OK\r\n!8\r\nERR boom\r\n"} {
		for dname, d := range decoders {
			v := decodeWire(t, frame, d)
			_, err := Strings(v, nil)
			var e *Error
			require.ErrorAs(t, err, &e, "%q with %s decoder", frame, dname)
			require.Equal(t, "ERR boom", e.Error())
			vs, err := Values(v, nil)
			require.NoError(t, err)
			require.Len(t, vs, 2)
		}
	}
}
