package justredis_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

func TestDoReplies(t *testing.T) {
	forEachRESP(t, func(t *testing.T, resp int) {
		r := newRedis(t, justredis.WithRESP(resp))
		ctx := testCtx(t)
		k := key(t, "k")

		v, err := r.Do(ctx, "SET", k, "b")
		require.NoError(t, err)
		require.Equal(t, "OK", v)
		v, err = r.Do(ctx, "GET", k)
		require.NoError(t, err)
		require.Equal(t, "b", v)

		v, err = r.Do(ctx, "GET", key(t, "missing"))
		require.NoError(t, err)
		require.Nil(t, v, "a missing key is (nil, nil)")

		v, err = r.Do(ctx, "INCRBY", key(t, "n"), 1000)
		require.NoError(t, err)
		require.Equal(t, int64(1000), v)

		_, err = r.Do(ctx, "RPUSH", key(t, "l"), "x", "y")
		require.NoError(t, err)
		v, err = r.Do(ctx, "LRANGE", key(t, "l"), 0, -1)
		require.NoError(t, err)
		require.Equal(t, []any{"x", "y"}, v)

		_, err = r.Do(ctx, "HSET", key(t, "h"), "f", "v")
		require.NoError(t, err)
		v, err = r.Do(ctx, "HGETALL", key(t, "h"))
		require.NoError(t, err)
		if resp == 3 {
			require.Equal(t, map[string]any{"f": "v"}, v)
		} else {
			require.Equal(t, []any{"f", "v"}, v, "RESP2 sends maps as flat arrays")
		}
		m, err := justredis.StringMap(v, err)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"f": "v"}, m, "StringMap reads both shapes")

		_, err = r.Do(ctx, "GET", key(t, "h"))
		var e *justredis.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, "WRONGTYPE", e.Prefix())
	})
}

// TestDebugProtocol checks every RESP type the server can send, with the
// vectors DEBUG PROTOCOL produces.
func TestDebugProtocol(t *testing.T) {
	big1, _ := new(big.Int).SetString("1234567999999999999999999999999999999", 10)
	resp3 := map[string]any{
		"string":   "Hello World",
		"integer":  int64(12345),
		"double":   3.141,
		"bignum":   big1,
		"null":     nil,
		"array":    []any{int64(0), int64(1), int64(2)},
		"set":      []any{int64(0), int64(1), int64(2)},
		"map":      map[string]any{"0": false, "1": true, "2": false},
		"attrib":   "Some real reply following the attribute",
		"push":     "Some real reply following the push reply",
		"true":     true,
		"false":    false,
		"verbatim": "This is a verbatim\nstring",
	}
	resp2 := map[string]any{
		"string":   "Hello World",
		"integer":  int64(12345),
		"double":   "3.141",
		"bignum":   "1234567999999999999999999999999999999",
		"null":     nil,
		"array":    []any{int64(0), int64(1), int64(2)},
		"set":      []any{int64(0), int64(1), int64(2)},
		"map":      []any{int64(0), int64(0), int64(1), int64(1), int64(2), int64(0)},
		"attrib":   "Some real reply following the attribute",
		"true":     int64(1),
		"false":    int64(0),
		"verbatim": "This is a verbatim\nstring",
	}
	forEachRESP(t, func(t *testing.T, resp int) {
		r := newRedis(t, justredis.WithRESP(resp))
		ctx := testCtx(t)
		want := resp2
		if resp == 3 {
			want = resp3
		}
		for typ, w := range want {
			v, err := r.Do(ctx, "DEBUG", "PROTOCOL", typ)
			require.NoError(t, err, typ)
			if b, ok := w.(*big.Int); ok {
				require.Zero(t, b.Cmp(v.(*big.Int)), typ)
				continue
			}
			require.Equal(t, w, v, typ)
		}
		if resp == 3 {
			v, err := r.Modify(justredis.WithDecoder(justredis.RawDecoder)).Do(ctx, "DEBUG", "PROTOCOL", "attrib")
			require.NoError(t, err)
			raw := v.(justredis.RawValue)
			require.Equal(t, justredis.KindBulk, raw.Kind)
			require.Len(t, raw.Attrs, 2, "RawDecoder keeps the attribute")
			require.Equal(t, "key-popularity", string(raw.Attrs[0].Data))

			v, err = r.Modify(justredis.WithDecoder(justredis.RawDecoder)).Do(ctx, "DEBUG", "PROTOCOL", "verbatim")
			require.NoError(t, err)
			require.Equal(t, "txt:This is a verbatim\nstring", string(v.(justredis.RawValue).Data))

			v, err = r.Modify(justredis.WithDecoder(justredis.RawDecoder)).Do(ctx, "DEBUG", "PROTOCOL", "set")
			require.NoError(t, err)
			require.Equal(t, justredis.KindSet, v.(justredis.RawValue).Kind)

			v, err = r.Do(ctx, "DEBUG", "PROTOCOL", "double")
			require.NoError(t, err)
			f, err := justredis.Float64(v, err)
			require.NoError(t, err)
			require.Equal(t, 3.141, f)
		}
	})
}

func TestDecoders(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	k := key(t, "bin")
	bin := []byte{0, 1, 2, 255, '\r', '\n'}
	_, err := r.Do(ctx, "SET", k, bin)
	require.NoError(t, err)

	v, err := r.Modify(justredis.WithDecoder(justredis.BytesDecoder)).Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, bin, v)

	v, err = r.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, string(bin), v, "the default stays StringDecoder")

	v, err = r.Modify(justredis.WithDecoder(justredis.RawDecoder)).Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, justredis.RawValue{Kind: justredis.KindBulk, Data: bin}, v)
}

func TestArguments(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	k := key(t, "arg")
	for _, c := range []struct {
		arg  any
		want string
	}{
		{"s", "s"}, {[]byte("b"), "b"}, {42, "42"}, {int8(-8), "-8"}, {int16(16), "16"},
		{int32(32), "32"}, {int64(math.MinInt64), "-9223372036854775808"}, {uint(7), "7"},
		{uint8(8), "8"}, {uint16(16), "16"}, {uint32(32), "32"}, {uint64(math.MaxUint64), "18446744073709551615"},
		{0.1, "0.1"}, {1e100, "1e+100"}, {float32(0.1), "0.1"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"},
		{true, "1"}, {false, "0"}, {"", ""},
	} {
		_, err := r.Do(ctx, "SET", k, c.arg)
		require.NoError(t, err, "%T", c.arg)
		v, err := r.Do(ctx, "GET", k)
		require.NoError(t, err)
		require.Equal(t, c.want, v, "%T %v", c.arg, c.arg)
	}
	// Redis parses what we send for floats back to the same number.
	_, err := r.Do(ctx, "SET", k, 0)
	require.NoError(t, err)
	v, err := r.Do(ctx, "INCRBYFLOAT", k, 0.1)
	require.NoError(t, err)
	require.Equal(t, "0.1", v)
}

// Named types of the kinds an argument may be are sent as that kind, as
// arguments, as keys (which the client reads to route and to cache) and
// as command names. time.Duration stays refused.
type (
	argUserID  int64
	argKey     string
	argScore   float64
	argFlag    bool
	argBlob    []byte
	argCount   uint16
	argCommand string
	argPoint   struct{ X int }
)

func TestNamedTypeArguments(t *testing.T) {
	r := newRedis(t, justredis.WithClientCache(1<<20))
	ctx := testCtx(t)
	k := argKey(key(t, "named"))
	for _, c := range []struct {
		arg  any
		want string
	}{
		{argUserID(-42), "-42"}, {argKey("key"), "key"}, {argScore(1.5), "1.5"},
		{argScore(math.Inf(1)), "inf"}, {argFlag(true), "1"}, {argFlag(false), "0"},
		{argBlob("blob"), "blob"}, {argCount(7), "7"}, {json.RawMessage(`{"a":1}`), `{"a":1}`},
		{time.Month(3), "3"},
	} {
		_, err := r.Do(ctx, argCommand("SET"), k, c.arg)
		require.NoError(t, err, "%T", c.arg)
		v, err := r.Do(ctx, "GET", string(k))
		require.NoError(t, err)
		require.Equal(t, c.want, v, "%T %v", c.arg, c.arg)
		// Read through the cache by the named key: its ID and its
		// invalidation both need the key's text.
		v, err = r.Modify(justredis.WithCache(time.Minute)).Do(ctx, argCommand("get"), k)
		require.NoError(t, err)
		require.Equal(t, c.want, v, "cached %T %v", c.arg, c.arg)
	}
	n, err := justredis.Int64(r.Do(ctx, "INCRBY", k+"n", argUserID(5)))
	require.NoError(t, err)
	require.Equal(t, int64(5), n)

	// A named string as a command name is known for what it is: MULTI
	// is refused on the shared connection, as "MULTI" is.
	_, err = r.Do(ctx, argCommand("MULTI"))
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	require.ErrorContains(t, err, "MULTI is not allowed")

	for _, bad := range []any{time.Second, argPoint{1}, []argKey{"a"}} {
		_, err := r.Do(ctx, "SET", k, bad)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%T", bad)
		require.ErrorContains(t, err, "argument 2 (of SET)")
	}
	_, err = r.Do(ctx, argCommand(""), k)
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	require.ErrorContains(t, err, "empty command name")
	_, err = r.Do(ctx, argBlob(nil), k)
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	require.ErrorContains(t, err, "empty command name")
}

func TestInvalidArgumentsSendNothing(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	_, err := r.Do(ctx, "PING") // connect, and load the command table
	require.NoError(t, err)

	for _, c := range []struct {
		args []any
		want string
	}{
		{[]any{"SET", "k", nil}, "argument 2"},
		{[]any{"SET", "k", struct{}{}}, "struct {}"},
		{[]any{"SET", "k", time.Second}, "time.Duration"},
		{[]any{"SET", "k", []string{"a"}}, "[]string"},
		{[]any{nil}, "argument 0"},
		{[]any{""}, "empty command"},
		{[]any{}, "empty command"},
	} {
		before := commandsProcessed(t)
		_, err := r.Do(ctx, c.args...)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		require.Contains(t, err.Error(), c.want)
		after := commandsProcessed(t)
		require.Equal(t, int64(1), after-before, "only the INFO of commandsProcessed reached the server")

		_, err = r.DoMulti(ctx, []any{"SET", "k", "ok"}, c.args)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "one bad command fails the whole batch")
		require.Equal(t, int64(1), commandsProcessed(t)-after)
	}
	v, err := r.Do(ctx, "PING")
	require.NoError(t, err, "the connection is still in step")
	require.Equal(t, "PONG", v)
}

func TestRefusedCommands(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	for _, c := range []struct {
		args []any
		use  string
	}{
		{[]any{"SELECT", 1}, "WithDatabase"},
		{[]any{"multi"}, "Connection"},
		{[]any{"EXEC"}, "Connection"},
		{[]any{"DISCARD"}, "Connection"},
		{[]any{"WATCH", "k"}, "Connection"},
		{[]any{"UNWATCH"}, "Connection"},
		{[]any{"SUBSCRIBE", "c"}, "PushConnection"},
		{[]any{"PSUBSCRIBE", "c*"}, "PushConnection"},
		{[]any{"SSUBSCRIBE", "c"}, "PushConnection"},
		{[]any{"UNSUBSCRIBE"}, "PushConnection"},
		{[]any{"MONITOR"}, "PushConnection"},
		{[]any{"AUTH", "secret"}, "WithAuth"},
		{[]any{"HELLO", "3"}, "WithRESP"},
		{[]any{"RESET"}, "shared"},
		{[]any{"QUIT"}, "Close"},
		{[]any{"CLIENT", "REPLY", "OFF"}, "CLIENT REPLY"},
		{[]any{"SYNC"}, "replication handshake"},
		{[]any{"psync", "?", -1}, "replication handshake"},
		{[]any{"REPLCONF", "ACK", 0}, "replication handshake"},
	} {
		before := commandsProcessed(t)
		_, err := r.Do(ctx, c.args...)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%v", c.args)
		require.Contains(t, err.Error(), c.use)
		require.NotContains(t, err.Error(), "secret")
		require.Equal(t, int64(1), commandsProcessed(t)-before, "%v was sent", c.args)
	}
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Do(ctx, "SUBSCRIBE", "x")
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	require.Contains(t, err.Error(), "PushConnection")
	// The replication handshake would never reply on a Connection either.
	for _, args := range [][]any{{"SYNC"}, {"PSYNC", "?", -1}, {"REPLCONF", "listening-port", 1}} {
		_, err = c.Do(ctx, args...)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%v", args)
		require.Contains(t, err.Error(), "replication handshake")
	}
	_, err = c.Do(ctx, "SELECT", 1)
	require.NoError(t, err, "a dedicated connection may SELECT")
}

func TestDatabases(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	k := key(t, "k")
	db1 := r.Modify(justredis.WithDatabase(1))
	db2 := r.Modify(justredis.WithDatabase(2))
	_, err := db1.Do(ctx, "SET", k, "one")
	require.NoError(t, err)
	_, err = db2.Do(ctx, "SET", k, "two")
	require.NoError(t, err)

	v, err := r.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Nil(t, v, "database 0 untouched")
	v, err = db1.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, "one", v)
	v, err = db2.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, "two", v)

	// The database option of New is the default for calls.
	r3 := newRedis(t, justredis.WithDatabase(2))
	v, err = r3.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, "two", v)

	_, err = r.Modify(justredis.WithDatabase(-1)).Do(ctx, "PING")
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
}

func TestDoMulti(t *testing.T) {
	forEachRESP(t, func(t *testing.T, resp int) {
		r := newRedis(t, justredis.WithRESP(resp))
		ctx := testCtx(t)
		k := key(t, "x")
		vs, err := r.DoMulti(ctx,
			[]any{"SET", k, 1},
			[]any{"INCR", k},
			[]any{"LPUSH", k, "oops"},
			[]any{"GET", k},
		)
		require.NoError(t, err)
		require.Len(t, vs, 4)
		require.Equal(t, "OK", vs[0])
		require.Equal(t, int64(2), vs[1])
		var e *justredis.Error
		require.ErrorAs(t, vs[2].(error), &e, "an error reply stands at its index")
		require.Equal(t, "WRONGTYPE", e.Prefix())
		require.Equal(t, "2", vs[3])

		vs, err = r.DoMulti(ctx)
		require.NoError(t, err)
		require.Empty(t, vs)
	})
}

func TestTransactionAndWatch(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	k := key(t, "acct")
	_, err := r.Do(ctx, "SET", k, 10)
	require.NoError(t, err)

	c, err := r.Connection(ctx)
	require.NoError(t, err)
	_, err = c.Do(ctx, "WATCH", k)
	require.NoError(t, err)
	_, err = r.Do(ctx, "INCR", k) // someone else changes the key
	require.NoError(t, err)
	_, err = c.Do(ctx, "MULTI")
	require.NoError(t, err)
	v, err := c.Do(ctx, "INCR", k)
	require.NoError(t, err)
	require.Equal(t, "QUEUED", v)
	v, err = c.Do(ctx, "EXEC")
	require.NoError(t, err)
	require.Nil(t, v, "EXEC aborts after a WATCHed key changed")
	require.NoError(t, c.Close())

	_, err = c.Do(ctx, "PING")
	require.ErrorIs(t, err, justredis.ErrClosed)
}

// TestWatchNeverLeaks shows that Close hands a connection back without the
// WATCH, MULTI or SELECT of its last user.
func TestWatchNeverLeaks(t *testing.T) {
	r := newRedis(t, justredis.WithMaxConnections(2)) // the shared one and one dedicated
	ctx := testCtx(t)
	k := key(t, "w")
	_, err := r.Do(ctx, "SET", k, 1)
	require.NoError(t, err)

	c1, err := r.Connection(ctx)
	require.NoError(t, err)
	id1, err := c1.Do(ctx, "CLIENT", "ID")
	require.NoError(t, err)
	_, err = c1.Do(ctx, "WATCH", k)
	require.NoError(t, err)
	_, err = c1.Do(ctx, "SELECT", 5)
	require.NoError(t, err)
	_, err = c1.Do(ctx, "MULTI")
	require.NoError(t, err)
	require.NoError(t, c1.Close())

	_, err = r.Do(ctx, "INCR", k) // would abort a leaked WATCH
	require.NoError(t, err)

	c2, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c2.Close()
	id2, err := c2.Do(ctx, "CLIENT", "ID")
	require.NoError(t, err)
	require.Equal(t, id1, id2, "the same server connection was handed out again")
	v, err := c2.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, "2", v, "not QUEUED: the MULTI was discarded; database 0 again")
	_, err = c2.Do(ctx, "MULTI")
	require.NoError(t, err)
	_, err = c2.Do(ctx, "INCR", k)
	require.NoError(t, err)
	v, err = c2.Do(ctx, "EXEC")
	require.NoError(t, err)
	require.Equal(t, []any{int64(3)}, v, "the transaction ran: no WATCH leaked")
}

func TestConnectionModifyDatabase(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	k := key(t, "k")
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Modify(justredis.WithDatabase(3)).Do(ctx, "SET", k, "three")
	require.NoError(t, err)
	v, err := r.Modify(justredis.WithDatabase(3)).Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, "three", v)
}

// A copy made with WithDatabase switches the Connection for its own calls
// only: the Connection itself keeps running in its database, the one it
// was taken at or the one its user last SELECTed.
func TestConnectionModifyDatabaseLeavesOriginal(t *testing.T) {
	r := newRedis(t, justredis.WithDatabase(1))
	ctx := testCtx(t)
	k := key(t, "k")
	for db := 1; db <= 4; db++ {
		_, err := r.Modify(justredis.WithDatabase(db)).Do(ctx, "SET", k, db)
		require.NoError(t, err)
	}
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	in := func(c *justredis.Connection) string {
		t.Helper()
		v, err := c.Do(ctx, "GET", k)
		require.NoError(t, err)
		return fmt.Sprint(v)
	}
	db2 := c.Modify(justredis.WithDatabase(2))

	require.Equal(t, "2", in(db2))
	require.Equal(t, "1", in(c), "the original runs in the database it was taken at")
	require.Equal(t, "2", in(db2))
	// Within one pipeline, too.
	vals, err := c.DoMulti(ctx, []any{"GET", k}, []any{"CLIENT", "INFO"})
	require.NoError(t, err)
	require.Equal(t, "1", vals[0])
	require.Contains(t, vals[1], " db=1 ")

	// An explicit SELECT makes another database the Connection's own.
	_, err = c.Do(ctx, "SELECT", 3)
	require.NoError(t, err)
	require.Equal(t, "3", in(c))
	require.Equal(t, "2", in(db2))
	require.Equal(t, "3", in(c), "back in the SELECTed database")
	require.Equal(t, "4", in(c.Modify(justredis.WithDatabase(4))))
	require.Equal(t, "3", in(c))

	// Close restores the pool's database whatever happened.
	require.NoError(t, c.Close())
	v, err := r.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, "1", v)
}

func TestUnixSocket(t *testing.T) {
	r, err := justredis.New(justredis.WithAddress(server().UnixPath()))
	require.NoError(t, err)
	defer r.Close()
	v, err := r.Do(testCtx(t), "PING")
	require.NoError(t, err)
	require.Equal(t, "PONG", v)

	r, err = justredis.FromURL("unix://" + server().UnixPath())
	require.NoError(t, err)
	defer r.Close()
	v, err = r.Do(testCtx(t), "PING")
	require.NoError(t, err)
	require.Equal(t, "PONG", v)
}

func TestTLS(t *testing.T) {
	s := redistest.Start(t, redistest.Options{TLS: true})
	ctx := testCtx(t)
	r, err := justredis.New(justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(s.TLSConfig()))
	require.NoError(t, err)
	defer r.Close()
	v, err := r.Do(ctx, "PING")
	require.NoError(t, err)
	require.Equal(t, "PONG", v)

	// A client that does not trust the CA fails, and says why.
	untrusting, err := justredis.New(justredis.WithAddress(s.TLSAddr()), justredis.WithTLS(&tls.Config{}), justredis.WithConnectRetry(0))
	require.NoError(t, err)
	defer untrusting.Close()
	_, err = untrusting.Do(ctx, "PING")
	require.Error(t, err)
	require.Contains(t, err.Error(), "certificate")

	// rediss:// with skip_verify connects without the CA.
	insecure, err := justredis.FromURL("rediss://" + s.TLSAddr() + "?skip_verify=true")
	require.NoError(t, err)
	defer insecure.Close()
	_, err = insecure.Do(ctx, "PING")
	require.NoError(t, err)

	// Mutual TLS.
	m := redistest.Start(t, redistest.Options{TLSClientAuth: true})
	mr, err := justredis.New(justredis.WithAddress(m.TLSAddr()), justredis.WithTLS(m.TLSConfig()))
	require.NoError(t, err)
	defer mr.Close()
	_, err = mr.Do(ctx, "PING")
	require.NoError(t, err)
}

func TestAuth(t *testing.T) {
	const pw = "s3cret-pw"
	s := redistest.Start(t, redistest.Options{
		Password: pw,
		Users:    []redistest.User{{Name: "alice", Password: "alice-pw"}},
	})
	ctx := testCtx(t)
	forEachRESP(t, func(t *testing.T, resp int) {
		r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("", pw), justredis.WithRESP(resp), justredis.WithClientName("tester"))
		require.NoError(t, err)
		defer r.Close()
		v, err := r.Do(ctx, "CLIENT", "GETNAME")
		require.NoError(t, err)
		require.Equal(t, "tester", v)

		alice, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("alice", "alice-pw"), justredis.WithRESP(resp))
		require.NoError(t, err)
		defer alice.Close()
		v, err = alice.Do(ctx, "ACL", "WHOAMI")
		require.NoError(t, err)
		require.Equal(t, "alice", v)

		wrong, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("alice", "not-the-password"), justredis.WithRESP(resp))
		require.NoError(t, err)
		defer wrong.Close()
		_, err = wrong.Do(ctx, "PING")
		var e *justredis.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, "WRONGPASS", e.Prefix())
		require.NotContains(t, err.Error(), "not-the-password")
		for _, s := range []string{fmt.Sprint(wrong), fmt.Sprintf("%+v", wrong), fmt.Sprintf("%#v", wrong)} {
			require.NotContains(t, s, "not-the-password")
		}

		none, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithRESP(resp))
		require.NoError(t, err)
		defer none.Close()
		_, err = none.Do(ctx, "GET", "x")
		require.ErrorAs(t, err, &e)
		require.Equal(t, "NOAUTH", e.Prefix())
	})
}

func TestPoolExhaustion(t *testing.T) {
	r := newRedis(t, justredis.WithMaxConnections(2), justredis.WithWaitTimeout(100*time.Millisecond))
	ctx := testCtx(t)
	c1, err := r.Connection(ctx)
	require.NoError(t, err)

	_, err = r.Connection(ctx)
	require.ErrorIs(t, err, justredis.ErrPoolTimeout, "one of the two is kept for shared calls")
	_, err = r.Do(ctx, "BLPOP", key(t, "l"), 0.01)
	require.ErrorIs(t, err, justredis.ErrPoolTimeout, "blocking commands need a connection of their own too")
	v, err := r.Do(ctx, "PING")
	require.NoError(t, err, "shared calls have the place kept for them")
	require.Equal(t, "PONG", v)

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = r.Connection(short)
	require.ErrorIs(t, err, justredis.ErrPoolTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the context ended the wait")

	require.NoError(t, c1.Close())
	c2, err := r.Connection(ctx)
	require.NoError(t, err, "a connection given back is reused")
	require.NoError(t, c2.Close())
}

// TestBlockingBesideNormal shows that a blocked BLPOP does not hold up
// other calls, and that the reply it finally gets is its own.
func TestBlockingBesideNormal(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	list := key(t, "list")
	done := make(chan any, 1)
	go func() {
		v, err := r.Do(ctx, "BLPOP", list, 0)
		if err != nil {
			done <- err
			return
		}
		done <- v
	}()
	// The BLPOP is blocked on its own connection while these all complete.
	for i := 0; i < 200; i++ {
		v, err := r.Do(ctx, "ECHO", i)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(i), v)
	}
	select {
	case v := <-done:
		t.Fatalf("BLPOP returned %v before anything was pushed", v)
	default:
	}
	_, err := r.Do(ctx, "RPUSH", list, "item")
	require.NoError(t, err)
	require.Equal(t, []any{list, "item"}, <-done)
}

// TestBlockingCancelled shows that giving up on a blocking command closes
// its connection, so the server does not hand it the next element.
func TestBlockingCancelled(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	list := key(t, "list")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := r.Do(short, "BLPOP", list, 0)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	_, err = r.Do(ctx, "RPUSH", list, "kept")
	require.NoError(t, err)
	n, err := r.Do(ctx, "LLEN", list)
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "no abandoned BLPOP took the element")

	// WithTimeout bounds calls that have no deadline.
	_, err = r.Modify(justredis.WithTimeout(50*time.Millisecond)).Do(context.Background(), "BLPOP", key(t, "empty"), 0)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestCancellationUnderConcurrency has many goroutines call with random
// deadlines and cancellations, and checks that every reply that does come
// back belongs to its own request.
func TestCancellationUnderConcurrency(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	const workers, calls = 32, 300
	var ok, gaveUp atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < calls; i++ {
				want := fmt.Sprintf("w%d-i%d-%s", w, i, strings.Repeat("x", rng.IntN(2000)))
				callCtx, cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(3000))*time.Microsecond)
				if rng.IntN(4) == 0 {
					go cancel() // cancelled rather than timed out
				}
				v, err := r.Do(callCtx, "ECHO", want)
				cancel()
				switch {
				case err == nil:
					if v != want {
						t.Errorf("got another caller's reply: %.20q for %.20q", v, want)
						return
					}
					ok.Add(1)
				case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
					gaveUp.Add(1)
				default:
					t.Errorf("unexpected error: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d calls: %d answered, %d gave up", workers*calls, ok.Load(), gaveUp.Load())
	require.Equal(t, int64(workers*calls), ok.Load()+gaveUp.Load())

	// Afterwards, calls without a deadline all succeed, each with its reply.
	for i := 0; i < 100; i++ {
		v, err := r.Do(ctx, "ECHO", i)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(i), v)
	}
}

// TestRetries shows which commands are sent again after their connection
// broke: read-only ones, and any command that provably never reached the
// server, but never a write that may have run.
func TestRetries(t *testing.T) {
	s := redistest.Start(t, redistest.Options{}) // its own: the test pauses it
	r, err := justredis.New(justredis.WithAddress(s.Addr()))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	counter := key(t, "counter")
	sharedID := func() string {
		id, err := r.Do(ctx, "CLIENT", "ID")
		require.NoError(t, err)
		return fmt.Sprint(id)
	}
	killShared := func() {
		_, err := s.Do("CLIENT", "KILL", "ID", sharedID())
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond) // for the close to reach the client
	}

	killShared()
	v, err := r.Do(ctx, "GET", counter)
	require.NoError(t, err, "a read-only command is retried on a fresh connection")
	require.Nil(t, v)

	killShared()
	v, err = r.Do(ctx, "INCR", counter)
	require.NoError(t, err, "a write on a connection closed while idle never reached the server: it is retried")
	require.Equal(t, int64(1), v)

	// A write the server received but did not answer before the connection
	// broke may have run: it is not sent again, and the error says so.
	id := sharedID()
	_, err = s.Do("CLIENT", "PAUSE", "10000", "WRITE")
	require.NoError(t, err)
	killed := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond) // for the INCR to be written
		_, err := s.Do("CLIENT", "KILL", "ID", id)
		s.Do("CLIENT", "UNPAUSE")
		killed <- err
	}()
	_, err = r.Do(ctx, "INCR", counter)
	require.NoError(t, <-killed)
	require.Error(t, err)
	require.ErrorIs(t, err, justredis.ErrNotRetried)
	require.True(t, errors.Is(err, io.EOF) || isNetError(err), "the cause is kept: %v", err)
	require.Contains(t, err.Error(), s.Addr(), "the error names the address")

	v, err = r.Do(ctx, "INCR", counter)
	require.NoError(t, err, "the client serves again by itself")
	n, err := justredis.Int64(v, err)
	require.NoError(t, err)
	require.LessOrEqual(t, n, int64(3), "never applied twice behind the caller's back")
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

func TestClosed(t *testing.T) {
	r, err := justredis.New(justredis.WithAddress(server().Addr()))
	require.NoError(t, err)
	ctx := testCtx(t)
	copy := r.Modify(justredis.WithDatabase(1))
	_, err = r.Do(ctx, "PING")
	require.NoError(t, err)
	require.NoError(t, r.Close())
	_, err = r.Do(ctx, "PING")
	require.ErrorIs(t, err, justredis.ErrClosed)
	_, err = copy.Do(ctx, "PING")
	require.ErrorIs(t, err, justredis.ErrClosed, "copies share the pool")
	_, err = r.DoMulti(ctx, []any{"PING"})
	require.ErrorIs(t, err, justredis.ErrClosed)
	_, err = r.Connection(ctx)
	require.ErrorIs(t, err, justredis.ErrClosed)
	require.NoError(t, r.Close(), "Close twice is fine")
}

// New checks addresses, so a URL or a host without a port fails there,
// saying what is wrong, and not at the first call (nor as a socket path).
func TestInvalidOptionsAddress(t *testing.T) {
	for addr, want := range map[string]string{
		"":                       "empty address",
		"redis://localhost:6379": "FromURL",
		"rediss://h:6380/0":      "FromURL",
		"localhost":              "host:port",
		"[::1]":                  "host:port",
		"::1:6379":               "[v6]:port",
		"host:99999":             "1 to 65535",
		"host:0":                 "1 to 65535",
		"host:-1":                "1 to 65535",
		"host:redis":             "1 to 65535",
		" localhost:6379":        "spaces",
		"localhost:6379\n":       "control",
	} {
		_, err := justredis.New(justredis.WithAddress(addr))
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%q", addr)
		require.Contains(t, err.Error(), want, "%q", addr)
		_, err = justredis.New(justredis.WithAddresses("localhost:6379", addr))
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%q among others", addr)
	}
	for _, addr := range []string{"localhost:6379", "127.0.0.1:1", "[::1]:6379", "h:65535", "/run/redis.sock", "relative/redis.sock", "redis.sock"} {
		r, err := justredis.New(justredis.WithAddress(addr))
		require.NoError(t, err, "%q", addr)
		r.Close()
	}
	// Still dialled as they were: a socket path and [v6]:port.
	v, err := newRedisOf(t, server().UnixPath()).Do(testCtx(t), "PING")
	require.NoError(t, err)
	require.Equal(t, "PONG", v)
	// [v6]:port reaches the dial: whatever it finds, it is no argument error.
	_, err = newRedisOf(t, "[::1]:1", justredis.WithConnectRetry(0)).Do(testCtx(t), "PING")
	require.Error(t, err)
	require.NotErrorIs(t, err, justredis.ErrInvalidArgument)
}

func TestInvalidOptions(t *testing.T) {
	for _, opt := range []justredis.Option{
		justredis.WithRESP(4),
		justredis.WithMaxConnections(-1),
		justredis.WithWaitTimeout(-time.Second),
		justredis.WithConnectTimeout(-time.Second),
		justredis.WithSocketTimeout(-time.Second),
		justredis.WithConnectRetry(-1),
		justredis.WithTLS(nil),
		justredis.WithDatabase(-1),
		justredis.WithDecoder(nil),
		justredis.WithTimeout(-time.Second),
		justredis.WithAddresses(),
		justredis.WithClientName("has space"),
		justredis.WithMode(justredis.Mode(9)),
		nil,
	} {
		_, err := justredis.New(opt)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	}
}

// TestRESPVersions: WithRESP(2) speaks RESP2, and the default asks for
// RESP3. (The fallback to RESP2 needs a server older than Redis 6.)
func TestRESPVersions(t *testing.T) {
	r := newRedis(t, justredis.WithRESP(2))
	ctx := testCtx(t)
	v, err := r.Do(ctx, "CLIENT", "INFO")
	require.NoError(t, err)
	require.Contains(t, v, "resp=2")

	r3 := newRedis(t)
	v, err = r3.Do(ctx, "CLIENT", "INFO")
	require.NoError(t, err)
	require.Contains(t, v, "resp=3", "the default asks for RESP3")
}

// TestPushesOnNormalConnections shows that RESP3 pushes (here, tracking
// invalidations) are never taken for a reply.
func TestPushesOnNormalConnections(t *testing.T) {
	r := newRedis(t, justredis.WithRESP(3))
	ctx := testCtx(t)
	k := key(t, "tracked")
	c, err := r.Connection(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Do(ctx, "CLIENT", "TRACKING", "ON")
	require.NoError(t, err)
	_, err = c.Do(ctx, "GET", k)
	require.NoError(t, err)
	_, err = r.Do(ctx, "SET", k, "changed") // invalidates k on c
	require.NoError(t, err)
	for i := 0; i < 10; i++ {
		v, err := c.Do(ctx, "ECHO", i)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(i), v)
	}
	_, err = r.Do(ctx, "CLIENT", "TRACKING", "ON")
	require.ErrorIs(t, err, justredis.ErrInvalidArgument, "not on the shared connections")
}

func TestEndpointsStandalone(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	eps, err := r.Endpoints(ctx)
	require.NoError(t, err)
	require.Equal(t, []justredis.Endpoint{{Address: server().Addr(), Role: "standalone"}}, eps)

	v, err := r.Modify(justredis.WithEndpoint(justredis.Masters)).Do(ctx, "PING")
	require.NoError(t, err)
	require.Equal(t, map[string]any{server().Addr(): "PONG"}, v)

	v, err = r.Modify(justredis.WithEndpoint(server().Addr())).Do(ctx, "PING")
	require.NoError(t, err)
	require.Equal(t, "PONG", v)
}

func TestSeveralSeeds(t *testing.T) {
	dead := "127.0.0.1:1" // nothing listens on port 1
	r := newRedis(t, justredis.WithAddresses(dead, server().Addr()), justredis.WithConnectRetry(0))
	v, err := r.Do(testCtx(t), "PING")
	require.NoError(t, err, "the seed that answers serves")
	require.Equal(t, "PONG", v)
}

func TestUnreachable(t *testing.T) {
	r := newRedis(t, justredis.WithAddress("127.0.0.1:1"), justredis.WithConnectRetry(1))
	_, err := r.Do(testCtx(t), "PING")
	require.Error(t, err)
	require.Contains(t, err.Error(), "127.0.0.1:1")
}

// TestCancelledContextSendsNothing: a call whose context has already ended
// fails at once, and the command never reaches the server.
func TestCancelledContextSendsNothing(t *testing.T) {
	r := newRedis(t)
	_, err := r.Do(testCtx(t), "PING") // connect first
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	counter := key(t, "counter")
	before := commandsProcessed(t)
	_, err = r.Do(ctx, "INCR", counter)
	require.ErrorIs(t, err, context.Canceled)
	_, err = r.DoMulti(ctx, []any{"INCR", counter})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, int64(1), commandsProcessed(t)-before, "only the INFO of commandsProcessed reached the server")
	v, err := r.Do(testCtx(t), "GET", counter)
	require.NoError(t, err)
	require.Nil(t, v)
}

// TestDatabasePastInt32: Redis numbers databases with 32-bit integers, so
// a larger number is refused at once with an error saying so, not left to
// fail every connection setup with a server error that names no database.
func TestDatabasePastInt32(t *testing.T) {
	db := math.MaxInt32
	db++
	_, err := justredis.New(justredis.WithAddress(server().Addr()), justredis.WithDatabase(db))
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	require.ErrorContains(t, err, "WithDatabase")
	r := newRedis(t)
	_, err = r.Modify(justredis.WithDatabase(db)).Do(testCtx(t), "PING")
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	_, err = justredis.FromURL("redis://" + server().Addr() + "/" + strconv.Itoa(db))
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
	// The greatest number a server may have is taken: the server judges it.
	_, err = r.Modify(justredis.WithDatabase(math.MaxInt32)).Do(testCtx(t), "PING")
	require.Error(t, err)
	require.NotErrorIs(t, err, justredis.ErrInvalidArgument)
}
