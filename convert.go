package justredis

// Converters in the style of redigo's: each takes the (value, error) pair a
// call returns and gives a typed result, smoothing over the differences
// between RESP2 and RESP3 replies and between the decoders.

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// convertError is a reply that has the wrong shape or text for a converter.
type convertError struct{ msg string }

func (e *convertError) Error() string { return "justredis: " + e.msg }

// within prefixes the message of a conversion error with where it happened:
// the converter's name, and the element or key for aggregates. Other errors
// (ErrNil, an *Error reply) are returned unchanged.
func within(where string, err error) error {
	if ce, ok := err.(*convertError); ok {
		return &convertError{where + ": " + ce.msg}
	}
	return err
}

// typeName names the Go type of v, and for a RawValue its kind too.
func typeName(v any) string {
	if rv, ok := v.(RawValue); ok {
		return fmt.Sprintf("justredis.RawValue (%v)", rv.Kind)
	}
	if _, ok := v.([]byte); ok {
		return "[]byte" // rather than []uint8
	}
	return fmt.Sprintf("%T", v)
}

func mismatch(v any, want string) error {
	return &convertError{fmt.Sprintf("cannot convert %s to %s", typeName(v), want)}
}

func badText[T string | []byte](text T, want string) error {
	return &convertError{fmt.Sprintf("cannot parse %q as %s", truncate([]byte(text)), want)}
}

func badValue(v any, text, want string) error {
	return &convertError{fmt.Sprintf("cannot convert %T %s to %s", v, truncate([]byte(text)), want)}
}

// unraw turns a scalar RawValue into the value the other converters take:
// strings and numbers as their text ([]byte), a boolean as bool, a null as
// nil and an error as *Error. Aggregates, and anything that is not a
// RawValue, are returned unchanged.
func unraw(v any) (any, error) {
	rv, ok := v.(RawValue)
	if !ok {
		return v, nil
	}
	switch rv.Kind {
	case KindNull:
		return nil, nil
	case KindError, KindBlobError:
		return &Error{msg: string(rv.Data)}, nil
	case KindSimple, KindBulk, KindInt, KindDouble, KindBigNumber:
		if rv.Data == nil {
			return []byte{}, nil
		}
		return rv.Data, nil
	case KindVerbatim:
		if len(rv.Data) < 4 || rv.Data[3] != ':' {
			return nil, badText(rv.Data, "verbatim string")
		}
		return rv.Data[4:], nil
	case KindBool:
		switch string(rv.Data) {
		case "t":
			return true, nil
		case "f":
			return false, nil
		}
		return nil, badText(rv.Data, "boolean")
	}
	return v, nil
}

// formatFloat spells a double as Redis does in RESP2, where it sends one
// as a string: decimal notation for 1e-4 <= |f| < 1e17 (so a whole number
// such as a Unix time in a sorted-set score is plain digits, "1700000000",
// all of them), exponent notation outside that range ("1e+20",
// "2.5e-05"), as C's "%.17g" chooses, and "inf", "-inf", "nan". The digits
// of a fraction are the fewest that read back exactly; Redis 7.0 writes 17
// significant digits, so for a fraction that a double cannot hold exactly
// (0.1) its text is longer ("0.10000000000000001"), though it reads back to
// the same number.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	if a := math.Abs(f); a >= 1e-4 && a < 1e17 {
		if a >= 1 && f == math.Trunc(f) {
			// All its digits, as "%.17g" writes them: the shortest
			// digits would end a whole number past 2^53 in zeros.
			return strconv.FormatInt(int64(f), 10)
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// parseFloat parses a double as RESP2 sends it in a string or RESP3 in a
// double: decimal or exponent notation, "inf", "+inf", "-inf", "nan".
func parseFloat(b []byte) (float64, bool) {
	switch string(b) {
	case "nan", "-nan", "+nan":
		return math.NaN(), true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}

// floatToInt64 converts f if it is a whole number within the range of int64.
func floatToInt64(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false // NaN and the infinities fail here too
	}
	return int64(f), true
}

// toString is String without the (v, err) pair and the converter's name.
func toString(v any) (string, error) {
	v, err := unraw(v)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return formatFloat(v), nil
	case *big.Int:
		if v == nil {
			return "", ErrNil
		}
		return v.String(), nil
	case bool:
		if v {
			return "1", nil
		}
		return "0", nil
	case nil:
		return "", ErrNil
	case *Error:
		return "", v
	}
	return "", mismatch(v, "string")
}

// elemString converts an element of an aggregate: as toString, but a nil
// element is "".
func elemString(v any) (string, error) {
	s, err := toString(v)
	if err == ErrNil {
		return "", nil
	}
	return s, err
}

// String converts a reply to a string. It takes simple, bulk and verbatim
// strings (string or []byte, the text of a verbatim string only), integers
// (int64, in decimal), doubles (float64), big numbers (*big.Int) and
// booleans (bool, as "1" and "0", which is how RESP2 sends them), and the
// scalar forms of RawValue. An aggregate is an error.
//
// A double (a RESP3 score, say) is spelled as Redis spells it under RESP2,
// where it sends one as a string: in decimal from 1e-4 up to 1e17
// ("1700000000", "1234567.5", "0.5", "-3"), in exponent notation outside
// that range ("1e+20", "2.5e-05"), and "inf", "-inf", "nan". So String
// gives the same text under either protocol, with one exception: a
// fraction that a double cannot hold exactly (0.1) is written with the
// fewest digits that read back to it ("0.1"), where Redis 7.0 sends 17
// significant digits under RESP2 ("0.10000000000000001"). Compare such
// numbers with Float64, which reads both the same.
//
// If err is not nil, it is returned unchanged. A nil reply gives ErrNil; an
// *Error reply is returned as the error.
//
//	s, err := justredis.String(r.Do(ctx, "GET", "key")) // s == "value"
func String(v any, err error) (string, error) {
	if err != nil {
		return "", err
	}
	s, err := toString(v)
	if err != nil {
		return "", within("String", err)
	}
	return s, nil
}

// Bytes converts a reply to a []byte, taking the same values as String.
// A []byte reply (from BytesDecoder or RawDecoder) is returned as it is,
// not copied.
//
// If err is not nil, it is returned unchanged. A nil reply gives ErrNil; an
// *Error reply is returned as the error.
//
//	b, err := justredis.Bytes(r.Modify(justredis.WithDecoder(justredis.BytesDecoder)).Do(ctx, "GET", "img"))
func Bytes(v any, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	orig := v
	v, err = unraw(v)
	if err != nil {
		return nil, within("Bytes", err)
	}
	switch v := v.(type) {
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	s, err := toString(v)
	if err != nil {
		if _, ok := err.(*convertError); ok {
			return nil, within("Bytes", mismatch(orig, "[]byte"))
		}
		return nil, err
	}
	return []byte(s), nil
}

func toInt64(v any) (int64, error) {
	v, err := unraw(v)
	if err != nil {
		return 0, err
	}
	switch v := v.(type) {
	case int64:
		return v, nil
	case string:
		return textToInt64(v)
	case []byte:
		return textToInt64(v)
	case float64:
		if n, ok := floatToInt64(v); ok {
			return n, nil
		}
		return 0, badValue(v, formatFloat(v), "int64")
	case *big.Int:
		if v == nil {
			return 0, ErrNil
		}
		if v.IsInt64() {
			return v.Int64(), nil
		}
		return 0, badValue(v, v.String(), "int64")
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case nil:
		return 0, ErrNil
	case *Error:
		return 0, v
	}
	return 0, mismatch(v, "int64")
}

// textToInt64 parses an integer, or a double that is a whole number, since
// RESP2 sends doubles as text.
func textToInt64[T string | []byte](s T) (int64, error) {
	b := []byte(s)
	if n, ok := parseInt(b); ok {
		return n, nil
	}
	if f, ok := parseFloat(b); ok {
		if n, ok := floatToInt64(f); ok {
			return n, nil
		}
	}
	return 0, badText(b, "int64")
}

// Int64 converts a reply to an int64. It takes integers (int64); text
// (string or []byte) holding an integer, or a whole number in decimal or
// exponent notation ("42", "42.0", "1e3"); doubles (float64) that are whole
// numbers within range; big numbers (*big.Int) that fit; booleans (true is
// 1, false 0); and the scalar forms of RawValue. Anything else, a fraction
// or a value out of range is an error.
//
// If err is not nil, it is returned unchanged. A nil reply gives ErrNil; an
// *Error reply is returned as the error.
//
//	n, err := justredis.Int64(r.Do(ctx, "INCR", "counter")) // n == 1
func Int64(v any, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	n, err := toInt64(v)
	if err != nil {
		return 0, within("Int64", err)
	}
	return n, nil
}

// Float64 converts a reply to a float64. It takes doubles (float64); text
// (string or []byte) holding a number as RESP2 sends doubles, including
// "inf", "+inf", "-inf" and "nan"; integers (int64); big numbers (*big.Int)
// within the range of float64, rounded to the nearest; booleans (true is 1,
// false 0); and the scalar forms of RawValue.
//
// If err is not nil, it is returned unchanged. A nil reply gives ErrNil; an
// *Error reply is returned as the error.
//
//	f, err := justredis.Float64(r.Do(ctx, "ZSCORE", "board", "ann")) // f == 3.5 under RESP2 ("3.5") and RESP3 (3.5)
func Float64(v any, err error) (float64, error) {
	if err != nil {
		return 0, err
	}
	f, err := toFloat64(v)
	if err != nil {
		return 0, within("Float64", err)
	}
	return f, nil
}

func toFloat64(v any) (float64, error) {
	v, err := unraw(v)
	if err != nil {
		return 0, err
	}
	switch v := v.(type) {
	case float64:
		return v, nil
	case int64:
		return float64(v), nil
	case string:
		if f, ok := parseFloat([]byte(v)); ok {
			return f, nil
		}
		return 0, badText(v, "float64")
	case []byte:
		if f, ok := parseFloat(v); ok {
			return f, nil
		}
		return 0, badText(v, "float64")
	case *big.Int:
		if v == nil {
			return 0, ErrNil
		}
		f, _ := new(big.Float).SetInt(v).Float64()
		if math.IsInf(f, 0) {
			return 0, badValue(v, v.String(), "float64")
		}
		return f, nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case nil:
		return 0, ErrNil
	case *Error:
		return 0, v
	}
	return 0, mismatch(v, "float64")
}

// Bool converts a reply to a bool. It takes RESP3 booleans (bool), the
// integers 1 and 0 by which RESP2 and many commands answer yes or no (int64
// or *big.Int), the text "1" and "0" (string or []byte), and the scalar
// forms of RawValue. Any other integer or text ("2", "true", "yes") is an
// error rather than a guess.
//
// If err is not nil, it is returned unchanged. A nil reply gives ErrNil; an
// *Error reply is returned as the error.
//
//	ok, err := justredis.Bool(r.Do(ctx, "SISMEMBER", "set", "a")) // ok == true
func Bool(v any, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	b, err := toBool(v)
	if err != nil {
		return false, within("Bool", err)
	}
	return b, nil
}

func toBool(v any) (bool, error) {
	v, err := unraw(v)
	if err != nil {
		return false, err
	}
	switch v := v.(type) {
	case bool:
		return v, nil
	case int64:
		switch v {
		case 1:
			return true, nil
		case 0:
			return false, nil
		}
		return false, badValue(v, strconv.FormatInt(v, 10), "bool")
	case *big.Int:
		if v == nil {
			return false, ErrNil
		}
		if v.IsInt64() && (v.Int64() == 0 || v.Int64() == 1) {
			return v.Int64() == 1, nil
		}
		return false, badValue(v, v.String(), "bool")
	case string:
		return textToBool(v)
	case []byte:
		return textToBool(v)
	case nil:
		return false, ErrNil
	case *Error:
		return false, v
	}
	return false, mismatch(v, "bool")
}

func textToBool[T string | []byte](s T) (bool, error) {
	switch string(s) {
	case "1":
		return true, nil
	case "0":
		return false, nil
	}
	return false, badText(s, "bool")
}

// elems gives the elements of an array, set or push reply: a []any, or the
// Elems of a RawValue of those kinds (as RawValues). ok is false for
// anything else.
func elems(v any) (a []any, ok bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case RawValue:
		switch v.Kind {
		case KindArray, KindSet, KindPush:
			return rawElems(v.Elems), true
		}
	}
	return nil, false
}

func rawElems(rs []RawValue) []any {
	a := make([]any, len(rs))
	for i, r := range rs {
		a[i] = r
	}
	return a
}

// Values converts an array, set or push reply to a []any. A RawValue of
// those kinds gives its Elems, each as a RawValue. The elements are not
// converted: an *Error element (from EXEC, say) stays in place, so the
// other replies are not lost. A map is an error: use StringMap, or the
// map[string]any itself.
//
// If err is not nil, it is returned unchanged. A nil reply gives ErrNil; an
// *Error reply is returned as the error.
//
//	vs, err := justredis.Values(r.Do(ctx, "LRANGE", "list", 0, -1)) // vs == []any{"a", "b"}
func Values(v any, err error) ([]any, error) {
	if err != nil {
		return nil, err
	}
	orig := v
	v, err = unraw(v)
	if err != nil {
		return nil, within("Values", err)
	}
	switch v := v.(type) {
	case nil:
		return nil, ErrNil
	case *Error:
		return nil, v
	}
	if a, ok := elems(v); ok {
		return a, nil
	}
	return nil, within("Values", mapHint(v, mismatch(orig, "[]interface {}")))
}

// mapHint adds to err, a converter's refusal of v, that a map (which
// RESP3 sends where RESP2 sends a flat array) goes to StringMap.
func mapHint(v any, err error) error {
	isMap := false
	switch v := v.(type) {
	case map[string]any:
		isMap = true
	case RawValue:
		isMap = v.Kind == KindMap
	}
	if ce, ok := err.(*convertError); ok && isMap {
		return &convertError{ce.msg + " (a map, as RESP3 sends field-value pairs: use StringMap)"}
	}
	return err
}

// Strings converts an array, set or push reply to a []string, each element
// as String converts it, except that a nil element (a missing key in MGET)
// is "". An *Error element is returned as the error. An empty reply gives
// an empty, non-nil slice.
//
// An array whose every element is a two-element array is taken as pairs
// and flattened, in order, as StringMap takes it: RESP3 sends ZRANGE ...
// WITHSCORES, ZPOPMIN with a count, ZRANDMEMBER ... WITHSCORES and
// HRANDFIELD ... WITHVALUES as [[member, score], ...] where RESP2 sends
// [member, score, ...], so both give the same strings (repeats and order
// kept, which a map would lose). No such array converted before: an array
// element is an error. A map (HGETALL under RESP3) is an error, since Go
// maps have no order: use StringMap.
//
// If err is not nil, it is returned unchanged. A nil reply gives ErrNil; an
// *Error reply is returned as the error.
//
//	ss, err := justredis.Strings(r.Do(ctx, "MGET", "a", "missing")) // ss == []string{"1", ""}
func Strings(v any, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	orig := v
	v, err = unraw(v)
	if err != nil {
		return nil, within("Strings", err)
	}
	switch v := v.(type) {
	case nil:
		return nil, ErrNil
	case *Error:
		return nil, v
	}
	a, ok := elems(v)
	if !ok {
		return nil, within("Strings", mapHint(v, mismatch(orig, "[]string")))
	}
	if flat, ok := flattenPairs(a); ok {
		a = flat
	}
	ss := make([]string, len(a))
	for i, e := range a {
		if ss[i], err = elemString(e); err != nil {
			return nil, within(fmt.Sprintf("Strings: element %d", i), err)
		}
	}
	return ss, nil
}

// StringMap converts a reply of field-value pairs, such as HGETALL's or
// CONFIG GET's, to a map[string]string. It takes a RESP3 map
// (map[string]any, or a RawValue map), a RESP2 flat array of keys and
// values alternating (an odd length is an error), and an array of
// two-element arrays, which is how RESP3 sends some pairs (ZRANGE ...
// WITHSCORES). Keys and values are converted as String does, except that
// nil is "". An *Error value is returned as the error. If a key repeats,
// the last value wins.
//
// If err is not nil, it is returned unchanged. A nil reply gives ErrNil; an
// *Error reply is returned as the error.
//
//	m, err := justredis.StringMap(r.Do(ctx, "HGETALL", "hash")) // m == map[string]string{"f": "v"}
func StringMap(v any, err error) (map[string]string, error) {
	if err != nil {
		return nil, err
	}
	m, err := toStringMap(v)
	if err != nil {
		return nil, within("StringMap", err)
	}
	return m, nil
}

func toStringMap(v any) (map[string]string, error) {
	orig := v
	v, err := unraw(v)
	if err != nil {
		return nil, err
	}
	var flat []any
	switch v := v.(type) {
	case nil:
		return nil, ErrNil
	case *Error:
		return nil, v
	case map[string]any:
		m := make(map[string]string, len(v))
		for k, e := range v {
			if m[k], err = elemString(e); err != nil {
				return nil, within(fmt.Sprintf("value of %q", truncate([]byte(k))), err)
			}
		}
		return m, nil
	case RawValue:
		if v.Kind == KindMap {
			flat = rawElems(v.Elems)
		}
	}
	if flat == nil {
		a, ok := elems(v)
		if !ok {
			return nil, mismatch(orig, "map[string]string")
		}
		if flat, ok = flattenPairs(a); !ok {
			flat = a
		}
	}
	if len(flat)%2 != 0 {
		return nil, &convertError{fmt.Sprintf("cannot convert an array of odd length %d to map[string]string", len(flat))}
	}
	m := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, err := elemString(flat[i])
		if err != nil {
			return nil, within(fmt.Sprintf("element %d", i), err)
		}
		if m[k], err = elemString(flat[i+1]); err != nil {
			return nil, within(fmt.Sprintf("element %d", i+1), err)
		}
	}
	return m, nil
}

// flattenPairs turns [[k1, v1], [k2, v2], ...] into [k1, v1, k2, v2, ...].
// ok is false unless a is not empty and every element is a two-element
// array; such an array could not be a flat one, whose keys are strings.
func flattenPairs(a []any) (flat []any, ok bool) {
	if len(a) == 0 {
		return nil, false
	}
	for _, e := range a {
		if p, ok := elems(e); !ok || len(p) != 2 {
			return nil, false
		}
	}
	flat = make([]any, 0, 2*len(a))
	for _, e := range a {
		p, _ := elems(e)
		flat = append(flat, p...)
	}
	return flat, true
}
