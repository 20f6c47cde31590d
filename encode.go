package justredis

// This file writes commands in RESP: every byte the client sends is built
// here, from the caller's arguments or as one of the fixed frames below.

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
)

// appendCommand encodes args as one RESP command (an array of bulk strings)
// and appends it to b. On error b is returned unchanged in length, so the
// caller can reuse the buffer and nothing of the command is ever sent.
func appendCommand(b []byte, args []any) ([]byte, error) {
	if len(args) == 0 {
		return b, invalidArg("empty command")
	}
	start := len(b)
	b = append(b, '*')
	b = appendLength(b, len(args))
	b = append(b, '\r', '\n')
	name := len(b)
	for i, a := range args {
		// Most arguments are strings: encoded here, without appendArg's
		// call and its switch over every kind.
		if s, ok := a.(string); ok && len(s) <= maxBulkLen {
			b = appendBulkString(b, s)
			continue
		}
		var err error
		if b, err = appendArg(b, a); err != nil {
			return b[:start], badArgument(args, i, err)
		}
	}
	if string(b[name:name+4]) == "$0\r\n" {
		return b[:start], invalidArg("empty command name")
	}
	return b, nil
}

// checkArgs reports what appendCommand would of args, a command that is
// not empty, without encoding it: why an argument cannot be sent, or that
// the name is empty. It lets a batch name the command at fault before
// anything of it is encoded.
func checkArgs(args []any) error {
	for i, a := range args {
		// Every argument of every batch passes here: a string, the
		// common case, is judged without a call.
		if s, ok := a.(string); ok && len(s) <= maxBulkLen {
			continue
		}
		if err := checkArg(a); err != nil {
			return badArgument(args, i, err)
		}
	}
	if name, ok := args[0].(string); ok {
		if name == "" {
			return invalidArg("empty command name")
		}
		return nil
	}
	if n, ok := textLen(args[0]); ok && n == 0 {
		return invalidArg("empty command name")
	}
	return nil
}

// checkArg is appendArgText's verdict on a, without a copy of its text.
// It runs over every argument of every batch, so the common kinds come
// first.
func checkArg(a any) error {
	switch v := a.(type) {
	case string:
		if len(v) > maxBulkLen {
			return bulkTooLong(len(v))
		}
		return nil
	case int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8, float64, float32, bool:
		return nil
	}
	if n, ok := textLen(a); ok {
		if n > maxBulkLen {
			return bulkTooLong(n)
		}
		return nil
	}
	var num [32]byte
	_, err := appendArgText(num[:0], a)
	return err
}

// textLen is the length of a when it is text: a string or []byte, of a
// named type or not.
func textLen(a any) (int, bool) {
	switch v := a.(type) {
	case string:
		return len(v), true
	case []byte:
		return len(v), true
	}
	v := reflect.ValueOf(a)
	if v.Kind() == reflect.String || v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
		return v.Len(), true
	}
	return 0, false
}

// badArgument is the error for argument i of args, which cannot be sent.
func badArgument(args []any, i int, err error) error {
	return invalidArg(fmt.Sprintf("argument %d (%s): %v", i, argName(args, i), err))
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
	if name := reflect.ValueOf(args[0]); name.Kind() == reflect.String && name.Len() < 32 {
		return "of " + name.String()
	}
	return "of the command"
}

// appendArg appends a as a bulk string.
func appendArg(b []byte, a any) ([]byte, error) {
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
	}
	var num [32]byte
	text, err := appendArgText(num[:0], a)
	if err != nil {
		return b, err
	}
	return appendBulk(b, text), nil
}

// argText returns an argument as the server receives it: the text that
// appendArg sends. A []byte is returned as it is, without a copy.
func argText(buf []byte, a any) ([]byte, bool) {
	if v, ok := a.([]byte); ok {
		return v, true
	}
	text, err := appendArgText(buf, a)
	return text, err == nil
}

// argInt reads an integer argument as the server will.
func argInt(a any) (int64, bool) {
	var digits [24]byte
	text, ok := argText(digits[:0], a)
	if !ok {
		return 0, false
	}
	return parseInt(text)
}

// appendArgText appends the text of a, one of the types a command may
// hold, or says why a cannot be sent.
func appendArgText(b []byte, a any) ([]byte, error) {
	switch v := a.(type) {
	case string:
		if len(v) > maxBulkLen {
			return b, bulkTooLong(len(v))
		}
		return append(b, v...), nil
	case []byte:
		if len(v) > maxBulkLen {
			return b, bulkTooLong(len(v))
		}
		return append(b, v...), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case float64:
		return appendFloat(b, v, 64), nil
	case float32:
		return appendFloat(b, float64(v), 32), nil
	case bool:
		if v {
			return append(b, '1'), nil
		}
		return append(b, '0'), nil
	case time.Duration:
		return b, fmt.Errorf("time.Duration is ambiguous (seconds or milliseconds?): pass an integer")
	case nil:
		return b, fmt.Errorf("nil is not a value")
	}
	return appendKindText(b, a)
}

// appendKindText appends the text of a, a named type (type UserID int64,
// type Key string), as that of the type it is made of: the kinds the type
// switch of appendArgText takes are taken whatever their name. Its String
// method, if it has one, is not called. reflect.ValueOf and TypeOf do not
// let a escape, unlike fmt's %T: the caller's arguments can stay on its
// stack.
func appendKindText(b []byte, a any) ([]byte, error) {
	v := reflect.ValueOf(a)
	switch v.Kind() {
	case reflect.String:
		if v.Len() > maxBulkLen {
			return b, bulkTooLong(v.Len())
		}
		return append(b, v.String()...), nil
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			break
		}
		if v.Len() > maxBulkLen {
			return b, bulkTooLong(v.Len())
		}
		return append(b, v.Bytes()...), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case reflect.Float32:
		return appendFloat(b, v.Float(), 32), nil
	case reflect.Float64:
		return appendFloat(b, v.Float(), 64), nil
	case reflect.Bool:
		if v.Bool() {
			return append(b, '1'), nil
		}
		return append(b, '0'), nil
	}
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
	b = appendLength(b, len(v))
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

// appendLength appends n, a count or length, in decimal. Every command
// has a few, mostly of one or two digits, which need no call to strconv.
func appendLength(b []byte, n int) []byte {
	switch {
	case n < 10:
		return append(b, byte('0'+n))
	case n < 100:
		return append(b, byte('0'+n/10), byte('0'+n%10))
	}
	return strconv.AppendInt(b, int64(n), 10)
}

func appendBulkString(b []byte, v string) []byte {
	b = append(b, '$')
	b = appendLength(b, len(v))
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

// appendStrings encodes a command made of strings only, which always
// encodes.
func appendStrings(buf []byte, args ...string) []byte {
	buf = append(buf, '*')
	buf = strconv.AppendInt(buf, int64(len(args)), 10)
	buf = append(buf, '\r', '\n')
	for _, a := range args {
		buf = appendBulkString(buf, a)
	}
	return buf
}

// appendGetKeys encodes COMMAND GETKEYS followed by args, which asks the
// server which of args are keys. It is encoded here rather than through a
// longer []any, which would let Do's arguments escape to the heap on every
// call.
func appendGetKeys(buf []byte, args []any) ([]byte, error) {
	start := len(buf)
	buf = append(buf, '*')
	buf = strconv.AppendInt(buf, int64(len(args)+2), 10)
	buf = append(buf, "\r\n$7\r\nCOMMAND\r\n$7\r\nGETKEYS\r\n"...)
	for _, a := range args {
		var err error
		if buf, err = appendArg(buf, a); err != nil {
			return buf[:start], err
		}
	}
	return buf, nil
}

// Fixed frames, encoded once.
var (
	// askingCmd goes before a command that follows an ASK redirection.
	askingCmd = appendStrings(nil, "ASKING")

	// What a push connection's keep-alive PING sends, and the replies it
	// causes, which are not the user's: a bulk string under RESP2, a
	// "pong" push under RESP3, a line under MONITOR.
	keepAliveCmd     = appendStrings(nil, "PING", keepAliveArg)
	keepAliveBulk    = appendBulkString(nil, keepAliveArg)
	keepAlivePong    = appendBulkString([]byte("*2\r\n$4\r\npong\r\n"), keepAliveArg)
	keepAliveMonitor = []byte(`"PING" "` + keepAliveArg + "\"\r\n")

	// replyOKFrame confirms MONITOR and CLIENT TRACKING on a push
	// connection; emptyBulkFrame stands in for a "pong" without argument.
	replyOKFrame   = []byte("+OK\r\n")
	emptyBulkFrame = []byte("$0\r\n\r\n")
)

// keepAliveArg is the argument of the PINGs a push connection sends when
// the server has been silent for the socket timeout. Their replies are not
// delivered.
const keepAliveArg = "justredis-keepalive"
