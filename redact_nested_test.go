package justredis_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// shown is all the text a decoded reply shows: the text of its errors,
// and the data of its values however deep, RawValues' attributes too.
func shown(v any) string {
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case error:
			b.WriteString(v.Error())
		case justredis.RawValue:
			b.Write(v.Data)
			for _, e := range v.Elems {
				walk(e)
			}
			for _, a := range v.Attrs {
				walk(a)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for k, e := range v {
				b.WriteString(k)
				walk(e)
			}
		case []byte:
			b.Write(v)
		default:
			fmt.Fprint(&b, v)
		}
		b.WriteByte(' ')
	}
	walk(v)
	return b.String()
}

// tokenDecoder is a Decoder of the user's own: it keeps the text of every
// token of a reply.
type tokenDecoder struct{}

func (tokenDecoder) Decode(r *justredis.Reader) (any, error) {
	var texts []any
	for left := 1; left > 0; left-- {
		t, err := r.Next()
		if err != nil {
			return nil, err
		}
		texts = append(texts, string(t.Data))
		left += t.Len
		if t.Kind == justredis.KindMap || t.Kind == justredis.KindAttribute {
			left += t.Len
		}
		if t.Kind == justredis.KindAttribute {
			left++ // the value it describes
		}
	}
	return texts, nil
}

// TestPasswordHiddenInNestedErrors: a script's errors inside an array, one
// and two levels deep, and inside EXEC's reply, show the password they
// quote to no decoder, through no entry point.
func TestPasswordHiddenInNestedErrors(t *testing.T) {
	const pw = "nested-s3cret"
	s := redistest.Start(t, redistest.Options{Password: pw})
	ctx := testCtx(t)
	// Redis passes a table's error entries, at any depth, as error replies
	// inside the array reply.
	const script = "return {1, redis.error_reply(ARGV[1]), {redis.error_reply(ARGV[1])}}"
	const quoted = "ERR quoted " + pw + " back"
	decoders := map[string]justredis.Decoder{
		"string": justredis.StringDecoder,
		"bytes":  justredis.BytesDecoder,
		"raw":    justredis.RawDecoder,
		"tokens": tokenDecoder{},
	}
	forEachRESP(t, func(t *testing.T, resp int) {
		base, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("", pw), justredis.WithRESP(resp))
		require.NoError(t, err)
		defer base.Close()
		for name, d := range decoders {
			r := base.Modify(justredis.WithDecoder(d))
			check := func(what string, v any) {
				t.Helper()
				text := shown(v)
				require.NotContains(t, text, pw, "%s, %s decoder", what, name)
				require.Contains(t, text, "(password hidden)", "%s, %s decoder: the errors are gone", what, name)
			}

			v, err := r.Do(ctx, "EVAL", script, 0, quoted)
			require.NoError(t, err)
			check("Do", v)
			vals, err := justredis.Values(v, nil)
			if name != "tokens" {
				require.NoError(t, err)
				check("Values of Do", vals)
			}

			vals, err = r.DoMulti(ctx, []any{"EVAL", script, 0, quoted}, []any{"PING"})
			require.NoError(t, err)
			check("DoMulti", vals[0])

			replies, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
				return [][]any{{"EVAL", script, 0, quoted}, {"EVAL", "return redis.error_reply(ARGV[1])", 0, quoted}}, nil
			})
			require.NoError(t, err)
			check("Transaction", replies)

			c, err := r.Connection(ctx)
			require.NoError(t, err)
			vals, err = c.DoMulti(ctx, []any{"MULTI"}, []any{"EVAL", script, 0, quoted}, []any{"EXEC"})
			c.Close()
			require.NoError(t, err)
			check("Connection EXEC", vals[2])
		}
	})
}

// TestPasswordHiddenByConverters: a converter given a RawValue error made
// by the client shows no password.
func TestPasswordHiddenByConverters(t *testing.T) {
	const pw = "conv-s3cret"
	s := redistest.Start(t, redistest.Options{Password: pw})
	ctx := testCtx(t)
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("", pw), justredis.WithRESP(3))
	require.NoError(t, err)
	defer r.Close()
	raw := r.Modify(justredis.WithDecoder(justredis.RawDecoder))
	v, err := raw.Do(ctx, "EVAL", "return {redis.error_reply(ARGV[1])}", 0, "ERR says "+pw)
	require.NoError(t, err)
	_, err = justredis.Strings(v, nil)
	require.Error(t, err)
	require.NotContains(t, err.Error(), pw)
	_, err = justredis.String(v.(justredis.RawValue).Elems[0], nil)
	require.Error(t, err)
	require.NotContains(t, err.Error(), pw)
	require.Contains(t, err.Error(), "(password hidden)")
}
