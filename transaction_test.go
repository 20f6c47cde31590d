package justredis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// incrementBy returns a Transaction fn that reads k and writes it back
// plus one, counting its calls: the read-modify-write that WATCH protects.
func incrementBy(ctx context.Context, k string, calls *atomic.Int64) func(c *justredis.Connection) ([][]any, error) {
	return func(c *justredis.Connection) ([][]any, error) {
		calls.Add(1)
		n, err := justredis.Int64(c.Do(ctx, "GET", k))
		if err != nil && !errors.Is(err, justredis.ErrNil) {
			return nil, err
		}
		return [][]any{{"SET", k, n + 1}}, nil
	}
}

// TestTransactionContention has goroutines increment one key through
// Transaction with GET and SET, which lose updates without WATCH. Every
// successful Transaction must count exactly once.
func TestTransactionContention(t *testing.T) {
	forEachRESP(t, func(t *testing.T, resp int) {
		r := newRedis(t, justredis.WithRESP(resp))
		ctx := testCtx(t)
		contend(t, ctx, r, key(t, "counter"))
	})
}

// contend runs 8 goroutines that increment k 25 times each through
// Transaction, and checks the total.
func contend(t *testing.T, ctx context.Context, r *justredis.Redis, k string) {
	const workers, each = 8, 25
	var calls, done, aborted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				replies, err := r.Transaction(ctx, incrementBy(ctx, k, &calls), k)
				switch {
				case errors.Is(err, justredis.ErrTxAborted):
					aborted.Add(1)
				case err != nil:
					errs <- err
				default:
					if len(replies) != 1 || replies[0] != "OK" {
						errs <- fmt.Errorf("replies %v", replies)
					}
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	n, err := justredis.Int64(r.Do(ctx, "GET", k))
	require.NoError(t, err)
	require.Equal(t, done.Load(), n, "every committed increment counted once, no lost update")
	t.Logf("%d transactions: %d committed, %d gave up after 32 attempts; fn ran %d times", workers*each, done.Load(), aborted.Load(), calls.Load())
	require.Equal(t, int64(workers*each), done.Load()+aborted.Load())
	require.Greater(t, done.Load(), int64(workers*each*9/10), "retries let nearly all commit")
}

// TestTransactionAbortsAfter32Attempts changes the watched key from inside
// fn on every attempt, so that every EXEC is aborted.
func TestTransactionAbortsAfter32Attempts(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	k, other := key(t, "watched"), key(t, "other")
	var calls int
	_, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		calls++
		if _, err := r.Do(ctx, "INCR", k); err != nil { // another client's write
			return nil, err
		}
		return [][]any{{"INCR", other}}, nil
	}, k)
	require.ErrorIs(t, err, justredis.ErrTxAborted)
	require.Equal(t, 32, calls, "32 attempts in all")
	n, err := justredis.Int64(r.Do(ctx, "GET", k))
	require.NoError(t, err)
	require.Equal(t, int64(32), n)
	v, err := r.Do(ctx, "GET", other)
	require.NoError(t, err)
	require.Nil(t, v, "no aborted transaction ran")
}

// TestTransactionFnError shows that fn's error comes back as it was and
// that nothing fn returned with it is sent.
func TestTransactionFnError(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	k := key(t, "k")
	mine := errors.New("not enough balance")
	var calls int
	replies, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		calls++
		return [][]any{{"SET", k, "written"}}, mine
	}, k)
	require.True(t, err == mine, "the very error fn returned: %v", err)
	require.Nil(t, replies)
	require.Equal(t, 1, calls, "an error is not retried")
	v, err := r.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Nil(t, v, "nothing was queued")
}

// TestTransactionLeavesConnectionClean shows that the connection a
// Transaction used goes back without its WATCH, whether fn failed,
// panicked or succeeded.
func TestTransactionLeavesConnectionClean(t *testing.T) {
	r := newRedis(t, justredis.WithMaxConnections(2)) // the shared one and one dedicated
	ctx := testCtx(t)
	k := key(t, "k")
	var id any
	spy := func(c *justredis.Connection) {
		v, err := c.Do(ctx, "CLIENT", "ID")
		require.NoError(t, err)
		if id != nil {
			require.Equal(t, id, v, "the pool hands out one dedicated connection")
		}
		id = v
	}
	checkClean := func(what string) {
		t.Helper()
		_, err := r.Do(ctx, "INCR", k) // would abort a leaked WATCH
		require.NoError(t, err)
		c, err := r.Connection(ctx)
		require.NoError(t, err)
		defer c.Close()
		spy(c)
		vs, err := c.DoMulti(ctx, []any{"MULTI"}, []any{"INCR", k}, []any{"EXEC"})
		require.NoError(t, err)
		require.NotNil(t, vs[2], "%s: no WATCH left behind", what)
	}

	_, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		spy(c)
		return nil, errors.New("fn failed")
	}, k)
	require.EqualError(t, err, "fn failed")
	checkClean("after an error")

	require.PanicsWithValue(t, "fn panicked", func() {
		r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			spy(c)
			panic("fn panicked")
		}, k)
	})
	checkClean("after a panic")

	_, err = r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		spy(c)
		return [][]any{{"INCR", k}}, nil
	}, k)
	require.NoError(t, err)
	checkClean("after a commit")
}

// TestTransactionRefusesTransactionCommands shows that fn cannot send
// MULTI, EXEC, WATCH, ... itself, nor return them to be queued.
func TestTransactionRefusesTransactionCommands(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	k := key(t, "k")
	for _, name := range []string{"MULTI", "exec", "WATCH", "Unwatch", "DISCARD"} {
		_, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			args := []any{name}
			if strings.EqualFold(name, "watch") {
				args = append(args, k)
			}
			_, err := c.Do(ctx, args...)
			require.ErrorIs(t, err, justredis.ErrInvalidArgument)
			require.Contains(t, err.Error(), strings.ToUpper(name)+" is not allowed inside a Transaction's fn")

			_, err = c.Modify(justredis.WithDecoder(justredis.BytesDecoder)).DoMulti(ctx, []any{"GET", k}, args)
			require.ErrorIs(t, err, justredis.ErrInvalidArgument, "a copy of c refuses it too")
			require.Contains(t, err.Error(), "command 1: ")

			_, err = c.Do(ctx, "SET", k, "fn may still write")
			require.NoError(t, err)
			return [][]any{args}, nil
		}, k)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, name)
		require.Contains(t, err.Error(), "command 0: "+strings.ToUpper(name)+" cannot be queued")
	}

	for _, bad := range [][]any{{"SELECT", 1}, {}, {"SUBSCRIBE", "ch"}, {"SET", k, nil}} {
		var calls int
		_, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			calls++
			return [][]any{{"INCR", k}, bad}, nil
		}, k)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%v", bad)
		require.Contains(t, err.Error(), "command 1", "%v", bad)
		require.Equal(t, 1, calls)
	}
	v, err := r.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Equal(t, "fn may still write", v, "no refused transaction ran")
}

// TestTransactionErrorInside shows EXEC's replies in order, with the
// *Error of a command that failed at run time at its index; the others ran.
func TestTransactionErrorInside(t *testing.T) {
	forEachRESP(t, func(t *testing.T, resp int) {
		r := newRedis(t, justredis.WithRESP(resp))
		ctx := testCtx(t)
		str, n := key(t, "str"), key(t, "n")
		_, err := r.Do(ctx, "SET", str, "not a number")
		require.NoError(t, err)
		replies, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			return [][]any{{"INCR", n}, {"INCR", str}, {"INCRBY", n, 10}}, nil
		}, str, n)
		require.NoError(t, err)
		require.Len(t, replies, 3)
		require.Equal(t, int64(1), replies[0])
		var e *justredis.Error
		require.ErrorAs(t, replies[1].(error), &e)
		require.Equal(t, "ERR", e.Prefix())
		require.Equal(t, int64(11), replies[2])
	})
}

// TestTransactionQueueingRefused shows that a command the server refuses
// to queue discards the whole transaction, and the error says which.
func TestTransactionQueueingRefused(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	k := key(t, "k")
	replies, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		return [][]any{{"SET", k, 1}, {"INCR"}, {"NOSUCHCOMMAND", k}}, nil
	}, k)
	require.Nil(t, replies)
	var e *justredis.Error
	require.ErrorAs(t, err, &e)
	require.Contains(t, e.Error(), "wrong number of arguments", "the first refusal comes first")
	require.Contains(t, err.Error(), "command 1 refused, so none ran")
	require.Contains(t, err.Error(), "EXECABORT")
	v, err := r.Do(ctx, "GET", k)
	require.NoError(t, err)
	require.Nil(t, v, "none ran")
}

// TestTransactionWithoutKeys runs MULTI/EXEC without WATCH, and with no
// commands at all.
func TestTransactionWithoutKeys(t *testing.T) {
	r := newRedis(t)
	ctx := testCtx(t)
	k := key(t, "k")
	replies, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		return [][]any{{"INCR", k}, {"INCR", k}}, nil
	})
	require.NoError(t, err)
	require.Equal(t, []any{int64(1), int64(2)}, replies)

	replies, err = r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) { return nil, nil }, k)
	require.NoError(t, err)
	require.Equal(t, []any{}, replies, "an empty EXEC still confirms the reads")

	_, err = r.Transaction(ctx, nil, k)
	require.ErrorIs(t, err, justredis.ErrInvalidArgument)
}

// TestTransactionSettings shows that the copy's database and decoder apply
// to fn's connection and to the transaction, and that a SELECT in fn does
// not move the transaction.
func TestTransactionSettings(t *testing.T) {
	for _, dec := range []justredis.Decoder{justredis.BytesDecoder, justredis.RawDecoder} {
		r := newRedis(t).Modify(justredis.WithDatabase(5), justredis.WithDecoder(dec))
		ctx := testCtx(t)
		k := key(t, fmt.Sprintf("%T", dec))
		_, err := r.Do(ctx, "SET", k, "five")
		require.NoError(t, err)
		replies, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			v, err := c.Do(ctx, "GET", k)
			require.NoError(t, err)
			require.Equal(t, "five", mustString(t, v), "fn reads database 5")
			_, err = c.Do(ctx, "SELECT", 6) // fn may move c...
			require.NoError(t, err)
			return [][]any{{"APPEND", k, "!"}, {"GET", k}, {"INCR", k}}, nil
		}, k)
		require.NoError(t, err)
		require.Len(t, replies, 3)
		require.Equal(t, "five!", mustString(t, replies[1]), "...but the transaction runs in database 5")
		_, isErr := replies[2].(*justredis.Error)
		require.True(t, isErr, "an *Error at its index whatever the decoder: %#v", replies[2])
		v, err := r.Modify(justredis.WithDatabase(0), justredis.WithDecoder(justredis.StringDecoder)).Do(ctx, "EXISTS", k)
		require.NoError(t, err)
		require.Equal(t, int64(0), v)
	}
}

func mustString(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case []byte:
		return string(v)
	case justredis.RawValue:
		return string(v.Data)
	case string:
		return v
	}
	t.Fatalf("%T is no string", v)
	return ""
}

// TestTransactionContext shows that the context ends the retries.
func TestTransactionContext(t *testing.T) {
	r := newRedis(t)
	k := key(t, "k")
	ctx, cancel := context.WithCancel(testCtx(t))
	var calls int
	_, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		calls++
		if calls == 3 {
			cancel()
		}
		_, err := r.Do(testCtx(t), "INCR", k) // abort every attempt
		return [][]any{{"GET", k}}, err
	}, k)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 3, calls)
}

// TestTransactionMultiDenied shows that a user whose ACL denies MULTI gets
// an error before fn runs, instead of commands run outside a transaction.
func TestTransactionMultiDenied(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Users: []redistest.User{
		{Name: "nomulti", Password: "pw", Rules: []string{"on", "~*", "&*", "+@all", "-multi"}},
	}})
	r, err := justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("nomulti", "pw"))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)
	var calls int
	_, err = r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		calls++
		return [][]any{{"SET", "k", "v"}}, nil
	}, "k")
	var e *justredis.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "NOPERM", e.Prefix())
	require.Contains(t, err.Error(), "MULTI refused, nothing was queued")
	require.Zero(t, calls)
	v, err := r.Do(ctx, "GET", "k")
	require.NoError(t, err)
	require.Nil(t, v)
}

// TestTransactionCluster runs transactions on a cluster: on the node of
// hash-tagged keys, refused before sending for keys in different slots,
// and under contention.
func TestTransactionCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	r := clusterClient(t, c.Nodes()[0].Addr())
	ctx := testCtx(t)
	_, err := r.Do(ctx, "PING") // load the slot map
	require.NoError(t, err)

	t.Run("CrossSlot", func(t *testing.T) {
		a := keyOn(t, c, c.Masters()[0], "tx:a")
		b := keyOn(t, c, c.Masters()[1], "tx:b")
		resetStats(t, c)
		var calls int
		_, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			calls++
			return nil, nil
		}, a, b)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		require.True(t, strings.HasPrefix(err.Error(), "CROSSSLOT"), err.Error())
		require.Zero(t, calls)
		for _, m := range c.Masters() {
			require.Zero(t, cmdStat(t, m, "watch"), "nothing sent")
			require.Zero(t, cmdStat(t, m, "multi"), "nothing sent")
		}
	})

	t.Run("HashTags", func(t *testing.T) {
		tag := keyOn(t, c, c.Masters()[2], "tag") // not the node of slot 0
		bal, log := "{"+tag+"}:balance", "{"+tag+"}:log"
		_, err := r.Do(ctx, "SET", bal, 100)
		require.NoError(t, err)
		resetStats(t, c)
		replies, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
			n, err := justredis.Int64(c.Do(ctx, "GET", bal))
			if err != nil {
				return nil, err
			}
			return [][]any{{"SET", bal, n - 10}, {"RPUSH", log, "-10"}}, nil
		}, bal, log)
		require.NoError(t, err)
		require.Equal(t, []any{"OK", int64(1)}, replies)
		require.Equal(t, 1, cmdStat(t, c.Masters()[2], "exec"), "on the keys' node")
		require.Zero(t, errorStat(t, c.Masters()[2], "MOVED"))
		v, err := r.Do(ctx, "GET", bal)
		require.NoError(t, err)
		require.Equal(t, "90", v)
	})

	t.Run("Contention", func(t *testing.T) {
		contend(t, ctx, r, keyOn(t, c, c.Masters()[1], "tx:counter"))
	})
}
