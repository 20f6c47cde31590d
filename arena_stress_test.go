package justredis_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/justredis/justredis"
	"github.com/stretchr/testify/require"
)

// TestManyValuesConcurrent: values of many kinds of replies (nested arrays,
// maps, errors inside arrays, EXEC, scripts, DoMulti, big and small
// strings mixed, around arenaMax) decoded concurrently, kept, and checked
// again after garbage collections: values packed in arenas (arena.go)
// stay intact, whatever the decoder.
func TestManyValuesConcurrent(t *testing.T) {
	for _, resp := range []int{2, 3} {
		for _, dec := range []string{"string", "bytes", "raw"} {
			t.Run(fmt.Sprint("RESP", resp, dec), func(t *testing.T) {
				ctx := testCtx(t)
				opts := []justredis.Option{justredis.WithRESP(resp)}
				switch dec {
				case "bytes":
					opts = append(opts, justredis.WithDecoder(justredis.BytesDecoder))
				case "raw":
					opts = append(opts, justredis.WithDecoder(justredis.RawDecoder))
				}
				r := newRedis(t, opts...)
				base := key(t, "k")
				var mget []any
				want := map[string]string{}
				for i := 0; i < 150; i++ {
					k := fmt.Sprintf("%s:%d", base, i)
					size := []int{1, 7, 300, 511, 512, 513, 3000, 20000}[i%8]
					v := fmt.Sprintf("%d:", i) + strings.Repeat(string(rune('a'+i%26)), size)
					_, err := r.Do(ctx, "SET", k, v)
					require.NoError(t, err)
					mget = append(mget, k)
					want[k] = v
					_, err = r.Do(ctx, "HSET", base+":h", k, v)
					require.NoError(t, err)
				}
				script := `local t = {} for i = 1, #KEYS do t[i] = {redis.call('GET', KEYS[i]), i*1000, {KEYS[i], redis.error_reply('E' .. i)}} end return t`
				type kept struct {
					v     any
					check func(v any)
				}
				str := func(v any) string {
					switch v := v.(type) {
					case string:
						return v
					case []byte:
						return string(v)
					case justredis.RawValue:
						return string(v.Data)
					}
					return fmt.Sprintf("%T %v", v, v)
				}
				elems := func(v any) []any {
					if rv, ok := v.(justredis.RawValue); ok {
						a := make([]any, len(rv.Elems))
						for i := range rv.Elems {
							a[i] = rv.Elems[i]
						}
						return a
					}
					a, ok := v.([]any)
					if !ok {
						t.Errorf("not an array: %T", v)
					}
					return a
				}
				checkMget := func(v any) {
					for i, e := range elems(v) {
						if got := str(e); got != want[mget[i].(string)] {
							t.Errorf("MGET %d: %.40q", i, got)
							return
						}
					}
				}
				checkScript := func(v any) {
					for i, e := range elems(v) {
						ee := elems(e)
						if got := str(ee[0]); got != want[mget[i].(string)] {
							t.Errorf("script %d: %.40q", i, got)
							return
						}
						if dec != "raw" && ee[1] != int64((i+1)*1000) {
							t.Errorf("script int %d: %v", i, ee[1])
						}
						in := elems(ee[2])
						if str(in[0]) != mget[i] {
							t.Errorf("script key %d: %v", i, in[0])
						}
						if dec != "raw" {
							if e, ok := in[1].(error); !ok || !strings.Contains(e.Error(), fmt.Sprint("E", i+1)) {
								t.Errorf("script err %d: %v", i, in[1])
							}
						}
					}
				}
				var mu sync.Mutex
				var all []kept
				var wg sync.WaitGroup
				for g := 0; g < 4; g++ {
					wg.Add(1)
					go func(g int) {
						defer wg.Done()
						for i := 0; i < 15; i++ {
							var k kept
							switch (g + i) % 4 {
							case 0:
								v, err := r.Do(ctx, append([]any{"MGET"}, mget...)...)
								if err != nil {
									t.Error(err)
									return
								}
								k = kept{v, checkMget}
							case 1:
								v, err := r.Do(ctx, append([]any{"EVAL", script, len(mget)}, mget...)...)
								if err != nil {
									t.Error(err)
									return
								}
								k = kept{v, checkScript}
							case 2:
								var cmds [][]any
								for _, m := range mget {
									cmds = append(cmds, []any{"GET", m})
								}
								vals, err := r.DoMulti(ctx, cmds...)
								if err != nil {
									t.Error(err)
									return
								}
								k = kept{vals, func(v any) {
									a := v.([]any)
									for i, e := range a {
										if got := str(e); got != want[mget[i].(string)] {
											t.Errorf("DoMulti %d: %.40q", i, got)
											return
										}
									}
								}}
							case 3:
								v, err := r.Do(ctx, "HGETALL", base+":h")
								if err != nil {
									t.Error(err)
									return
								}
								k = kept{v, func(v any) {
									if dec == "raw" {
										return
									}
									m, err := justredis.StringMap(v, nil)
									if err != nil {
										t.Error(err)
										return
									}
									for kk, vv := range want {
										if m[kk] != vv {
											t.Errorf("HGETALL %s: %.40q", kk, m[kk])
											return
										}
									}
								}}
							}
							k.check(k.v)
							if dec == "bytes" {
								// The caller scribbles on its own copies.
								a, _ := k.v.([]any)
								for _, e := range a {
									if b, ok := e.([]byte); ok && len(b) > 0 {
										_ = append(b, "zzzz"...)
									}
								}
							}
							mu.Lock()
							all = append(all, k)
							mu.Unlock()
							runtime.GC()
						}
					}(g)
				}
				wg.Wait()
				runtime.GC()
				for _, k := range all {
					k.check(k.v)
				}
			})
		}
	}
}
