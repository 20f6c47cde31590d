package justredis_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// A PushConnection is one connection to one node: its shard channels never
// end up on two nodes, and none it has is given up silently for another.
func TestShardPubSubOneNode(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 0, redistest.Options{})
	seed := c.Nodes()[0].Addr()

	// publish publishes on a shard channel and returns how many received.
	publish := func(t *testing.T, r *justredis.Redis, ch, data string) int64 {
		t.Helper()
		n, err := justredis.Int64(r.Do(testCtx(t), "SPUBLISH", ch, data))
		require.NoError(t, err)
		return n
	}
	// otherSlot returns a key with prefix that master serves, in another
	// slot than key's.
	otherSlot := func(t *testing.T, master *redistest.Server, prefix, key string) string {
		t.Helper()
		for i := 0; i < 100; i++ {
			k := keyOn(t, c, master, prefix+strconv.Itoa(i))
			if keySlot(t, c, k) != keySlot(t, c, key) {
				return k
			}
		}
		t.Fatal("no key in another slot")
		return ""
	}

	t.Run("OtherNodeRefused", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		a, b := c.Masters()[0], c.Masters()[1]
		chA := keyOn(t, c, a, "zzz")
		chB := keyOn(t, c, b, "aaa") // first by name: the choice must not depend on it
		p, err := r.PushConnection(ctx)
		require.NoError(t, err)
		defer p.Close()
		require.NoError(t, p.Do(ctx, "SSUBSCRIBE", chA))
		awaitSubscribed(t, ctx, p, chA)

		err = p.Do(ctx, "SSUBSCRIBE", chB)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		for _, s := range []string{chB, strconv.Itoa(keySlot(t, c, chB)), b.Addr(), a.Addr(), "second PushConnection"} {
			require.ErrorContains(t, err, s)
		}
		// Nothing was sent, and chA still works.
		require.Equal(t, int64(1), publish(t, r, chA, "still"))
		msg, err := p.NextMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, justredis.Message{Kind: "smessage", Channel: chA, Data: "still"}, msg)
		require.Equal(t, int64(0), publish(t, r, chB, "unheard"))

		// A second PushConnection takes chB.
		p2, err := r.PushConnection(ctx, chB)
		require.NoError(t, err)
		defer p2.Close()
		require.NoError(t, p2.Do(ctx, "SSUBSCRIBE", chB))
		awaitSubscribed(t, ctx, p2, chB)
		require.Equal(t, int64(1), publish(t, r, chB, "there"))
	})

	t.Run("StaleMapRefused", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		a, b := c.Masters()[0], c.Masters()[1]
		chA := keyOn(t, c, a, "zzstale")
		chB := otherSlot(t, a, "aastale", chA)
		p, err := r.PushConnection(ctx, chA) // straight to a: the map stays as it was
		require.NoError(t, err)
		defer p.Close()
		require.NoError(t, p.Do(ctx, "SSUBSCRIBE", chA))
		awaitSubscribed(t, ctx, p, chA)

		// chB's slot moves without the client knowing: the SSUBSCRIBE
		// goes out, and a answers MOVED.
		slot := keySlot(t, c, chB)
		require.NoError(t, c.MoveSlot(slot, a, b))
		require.NoError(t, p.Do(ctx, "SSUBSCRIBE", chB))
		msg, err := p.NextMessage(ctx)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument)
		require.Equal(t, "error", msg.Kind)
		require.Equal(t, err, msg.Data)
		for _, s := range []string{chB, "MOVED", strconv.Itoa(slot), b.Addr(), chA, "second PushConnection"} {
			require.ErrorContains(t, err, s)
		}
		require.Equal(t, int64(1), publish(t, r, chA, "still"))
		msg, err = p.NextMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, justredis.Message{Kind: "smessage", Channel: chA, Data: "still"}, msg)
		require.Equal(t, int64(0), publish(t, r, chB, "unheard"))
		// Now that the map knows, the next one is refused before sending.
		require.ErrorIs(t, p.Do(ctx, "SSUBSCRIBE", chB), justredis.ErrInvalidArgument)
	})

	t.Run("SlotMovesAway", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		a, b := c.Masters()[0], c.Masters()[1]
		stay := keyOn(t, c, a, "zzstay")
		moving := otherSlot(t, a, "aamove", stay) // first by name
		p, err := r.PushConnection(ctx, stay)
		require.NoError(t, err)
		defer p.Close()
		require.NoError(t, p.Do(ctx, "SSUBSCRIBE", stay))
		require.NoError(t, p.Do(ctx, "SSUBSCRIBE", moving)) // same node: fine
		awaitSubscribed(t, ctx, p, stay)
		awaitSubscribed(t, ctx, p, moving)

		// The node gives up moving's slot: the connection keeps stay, and
		// says that it gave up moving.
		require.NoError(t, c.MoveSlot(keySlot(t, c, moving), a, b))
		msg, err := p.NextMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, justredis.Message{Kind: "sunsubscribe", Channel: moving, Data: int64(1)}, msg)
		wait, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		msg, err = p.NextMessage(wait)
		require.ErrorIs(t, err, justredis.ErrInvalidArgument, "%+v", msg)
		require.Equal(t, "error", msg.Kind)
		for _, s := range []string{moving, b.Addr(), a.Addr(), stay, "second PushConnection"} {
			require.ErrorContains(t, err, s)
		}
		require.Equal(t, int64(1), publish(t, r, stay, "still"))
		msg, err = p.NextMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, justredis.Message{Kind: "smessage", Channel: stay, Data: "still"}, msg, "no reconnect came first")
		require.Equal(t, int64(0), publish(t, r, moving, "unheard"))
	})

	t.Run("RefusedNotResubscribed", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		a := c.Masters()[0]
		ch0 := keyOn(t, c, a, "ref")
		chX := otherSlot(t, a, "refx", ch0) // same node, another slot
		chY := otherSlot(t, a, "refy", ch0)
		p, err := r.PushConnection(ctx, ch0)
		require.NoError(t, err)
		defer p.Close()
		expect := func(kinds ...string) {
			t.Helper()
			for _, k := range kinds {
				wait, cancel := context.WithTimeout(ctx, 10*time.Second)
				msg, err := p.NextMessage(wait)
				cancel()
				var e *justredis.Error
				if errors.As(err, &e) {
					require.Equal(t, k, e.Prefix())
					continue
				}
				require.NoError(t, err)
				require.Equal(t, k, msg.Kind+" "+msg.Channel)
			}
		}
		require.NoError(t, p.Do(ctx, "SUBSCRIBE", "sync"))
		require.NoError(t, p.Do(ctx, "SSUBSCRIBE", ch0, chX))
		require.NoError(t, p.Do(ctx, "SSUBSCRIBE", ch0))
		require.NoError(t, p.Do(ctx, "SUNSUBSCRIBE", ch0, chY))
		expect("subscribe sync", "CROSSSLOT", "ssubscribe "+ch0, "CROSSSLOT")

		for _, m := range c.Masters() {
			_, _ = m.Do("CLIENT", "KILL", "TYPE", "pubsub")
		}
		// What the server accepted, nothing it refused; the pong shows
		// that nothing else was set up.
		expect("subscribe sync", "ssubscribe "+ch0)
		require.NoError(t, p.Do(ctx, "PING"))
		expect("pong ")
		require.Equal(t, int64(1), publish(t, r, ch0, "kept"))
		require.Equal(t, int64(0), publish(t, r, chX, "unheard"))
		require.Equal(t, int64(0), publish(t, r, chY, "unheard"))
	})

	// The confirmation of the user's own SUNSUBSCRIBE is not the node
	// giving the channel up, even when an SSUBSCRIBE of the same channel
	// is already sent after it: the connection stays, and what is
	// published next arrives. The same for channels and patterns.
	t.Run("OwnUnsubscribe", func(t *testing.T) {
		a, b := c.Masters()[0], c.Masters()[1]
		x := keyOn(t, c, a, "own")
		y := "{" + x + "}y" // x's slot
		type churn struct {
			name       string
			sub, unsub string
			chans      []string // to subscribe to; the last command
			pub        string   // PUBLISH or SPUBLISH
			rounds     [][]any  // after subscribing to chans
		}
		var cases []churn
		for _, k := range []struct{ prefix, pub string }{{"S", "SPUBLISH"}, {"", "PUBLISH"}, {"P", "PUBLISH"}} {
			sub, unsub := k.prefix+"SUBSCRIBE", k.prefix+"UNSUBSCRIBE"
			var rounds [][]any
			for i := 0; i < 50; i++ {
				rounds = append(rounds,
					[]any{unsub, x}, []any{sub, x}, // unsubscribe first
					[]any{sub, x}, []any{unsub, x}, []any{sub, x}, // subscribe first
					[]any{unsub, y, x}, []any{sub, x, y}, // several
					[]any{unsub}, []any{sub, y, x}, // all
				)
			}
			cases = append(cases, churn{k.prefix + "SUBSCRIBE", sub, unsub, []string{x, y}, k.pub, rounds})
		}
		for _, cs := range cases {
			t.Run(cs.name, func(t *testing.T) {
				forEachRESP(t, func(t *testing.T, resp int) {
					h := &recorder{name: "h"}
					r := clusterClient(t, seed, justredis.WithRESP(resp), justredis.WithHook(h))
					ctx := testCtx(t)
					p, err := r.PushConnection(ctx, x)
					require.NoError(t, err)
					defer p.Close()
					require.NoError(t, p.Do(ctx, cs.sub, x, y))
					require.Len(t, fenceDrain(t, p, "subscribed"), 2)

					// Each command is confirmed once per channel, and
					// once per subscription for one without any.
					subs := map[string]bool{x: true, y: true}
					want := map[string]int{}
					for _, cmd := range cs.rounds {
						require.NoError(t, p.Do(ctx, cmd...))
						kind := strings.ToLower(cmd[0].(string))
						if len(cmd) == 1 {
							want[kind] += len(subs)
							clear(subs)
						}
						for _, ch := range cmd[1:] {
							want[kind]++
							subs[ch.(string)] = kind == strings.ToLower(cs.sub)
							if !subs[ch.(string)] {
								delete(subs, ch.(string))
							}
						}
					}
					got := map[string]int{}
					for _, line := range fenceDrain(t, p, "churned") {
						kind, ch, _ := strings.Cut(line, " ")
						require.Contains(t, []string{x, y}, ch, "%s", line)
						got[kind]++
					}
					require.Equal(t, want, got)
					require.Empty(t, h.events(justredis.EventResubscribe), "connected again")

					for _, ch := range cs.chans {
						n, err := justredis.Int64(r.Do(ctx, cs.pub, ch, "after"))
						require.NoError(t, err)
						require.Equal(t, int64(1), n, ch)
						msg, err := p.NextMessage(ctx)
						require.NoError(t, err)
						require.Equal(t, ch, msg.Channel, "%+v", msg)
						require.Equal(t, "after", msg.Data, "%+v", msg)
					}
					require.Empty(t, h.events(justredis.EventResubscribe), "connected again")
				})
			})
		}

		// A real move is still followed after all that.
		h := &recorder{name: "h"}
		r := clusterClient(t, seed, justredis.WithHook(h))
		ctx := testCtx(t)
		p, err := r.PushConnection(ctx, x)
		require.NoError(t, err)
		defer p.Close()
		for i := 0; i < 20; i++ {
			require.NoError(t, p.Do(ctx, "SUNSUBSCRIBE", x))
			require.NoError(t, p.Do(ctx, "SSUBSCRIBE", x))
		}
		fenceDrain(t, p, "churned")
		require.NoError(t, c.MoveSlot(keySlot(t, c, x), a, b))
		awaitSubscribed(t, ctx, p, x)
		// Once more if the first map it asked for lagged.
		evs := h.events(justredis.EventResubscribe)
		require.NotEmpty(t, evs)
		require.Equal(t, b.Addr(), evs[len(evs)-1].Addr)
		require.Equal(t, int64(1), publish(t, r, x, "moved"))
		msg, err := p.NextMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, justredis.Message{Kind: "smessage", Channel: x, Data: "moved"}, msg)
	})

	// The node gives the slot up while the user's SUNSUBSCRIBE and
	// SSUBSCRIBE of the channel wait to be read: its sunsubscribe comes
	// first, where the SUNSUBSCRIBE's confirmation was due, and then both
	// commands are answered MOVED. The connection follows the channel.
	t.Run("OwnUnsubscribeMeetsMove", func(t *testing.T) {
		r := clusterClient(t, seed)
		ctx := testCtx(t)
		a, b := c.Masters()[0], c.Masters()[1]
		x := keyOn(t, c, a, "race")
		slot := strconv.Itoa(keySlot(t, c, x))
		p, err := r.PushConnection(ctx, x)
		require.NoError(t, err)
		defer p.Close()
		require.NoError(t, p.Do(ctx, "SSUBSCRIBE", x))
		fenceDrain(t, p, "subscribed")

		bID, err := b.Do("CLUSTER", "MYID")
		require.NoError(t, err)
		// a sleeps, then gives the slot up before it reads anyone else.
		raw, err := net.DialTimeout("tcp", a.Addr(), 10*time.Second)
		require.NoError(t, err)
		defer raw.Close()
		require.NoError(t, raw.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = raw.Write([]byte("DEBUG SLEEP 1\r\nCLUSTER SETSLOT " + slot + " NODE " + bID + "\r\n"))
		require.NoError(t, err)
		time.Sleep(200 * time.Millisecond) // else the commands may come first: the plain case
		_, err = b.Do("CLUSTER", "SETSLOT", slot, "NODE", bID)
		require.NoError(t, err)
		require.NoError(t, p.Do(ctx, "SUNSUBSCRIBE", x))
		require.NoError(t, p.Do(ctx, "SSUBSCRIBE", x))
		replies := bufio.NewReader(raw)
		for i := 0; i < 2; i++ {
			line, err := replies.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "+OK\r\n", line)
		}
		for _, m := range c.Masters() {
			if m != a && m != b {
				_, err = m.Do("CLUSTER", "SETSLOT", slot, "NODE", bID)
				require.NoError(t, err)
			}
		}

		awaitSubscribed(t, ctx, p, x)
		require.Equal(t, int64(1), publish(t, r, x, "there"))
		msg, err := p.NextMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, justredis.Message{Kind: "smessage", Channel: x, Data: "there"}, msg)
	})
}
