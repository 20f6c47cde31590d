package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/justredis/justredis"
	"github.com/redis/rueidis"
)

// BenchmarkCacheHit: a GET of a 16-byte value answered from the client-side
// cache, from 1 goroutine and from 64 (b.SetParallelism(64/GOMAXPROCS)),
// cycling over the 100 keys, all cached before the clock starts. Only the
// clients with server-assisted caching take part: justredis
// (Modify(WithCache(ttl)).Do) and rueidis (DoCache). ns/op is wall time per
// GET; every reply is checked.
func BenchmarkCacheHit(b *testing.B) {
	for _, conc := range []int{1, 64} {
		for _, name := range []string{"justredis", "rueidis"} {
			b.Run(fmt.Sprintf("conc=%d/net=tcp/client=%s", conc, name), func(b *testing.B) {
				c := getCachedClient(b, name, standalone(b, "tcp"))
				loadKeys(b, getClient(b, "justredis", standalone(b, "tcp")))
				benchCacheHit(b, c, conc)
			})
		}
	}
}

// cachedClient reads through a client-side cache.
type cachedClient interface {
	CachedGet(ctx context.Context, key string) (string, error)
	Close() error
}

const cacheTTL = time.Hour

var (
	cachedMu      sync.Mutex
	cachedClients = map[string]cachedClient{}
)

func getCachedClient(tb testing.TB, name string, t target) cachedClient {
	tb.Helper()
	cachedMu.Lock()
	defer cachedMu.Unlock()
	key := name + "@" + t.String()
	if c, ok := cachedClients[key]; ok {
		return c
	}
	var c cachedClient
	var err error
	switch name {
	case "justredis":
		c, err = newCachedJustredis(t)
	case "rueidis":
		c, err = newCachedRueidis(t)
	default:
		err = fmt.Errorf("%s has no client-side cache here", name)
	}
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	cachedClients[key] = c
	tb.Cleanup(func() {}) // closed with the process
	return c
}

func benchCacheHit(b *testing.B, c cachedClient, conc int) {
	ctx := context.Background()
	// Fill the cache, and check that the second read of each key agrees.
	for round := 0; round < 2; round++ {
		for k := range keys {
			if v, err := c.CachedGet(ctx, keys[k]); err != nil || v != vals[k] {
				b.Fatalf("GET %s: got %q, %v; want %q", keys[k], v, err, vals[k])
			}
		}
	}
	b.ReportAllocs()
	if conc == 1 {
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			k := i % numKeys
			if v, err := c.CachedGet(ctx, keys[k]); err != nil || v != vals[k] {
				b.Fatalf("GET %s: got %q, %v; want %q", keys[k], v, err, vals[k])
			}
		}
		return
	}
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((conc + procs - 1) / procs)
	var start atomic.Int64
	var failed atomic.Bool
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(start.Add(37))
		for pb.Next() {
			k := i % numKeys
			i++
			if v, err := c.CachedGet(ctx, keys[k]); err != nil || v != vals[k] {
				if failed.CompareAndSwap(false, true) {
					b.Errorf("GET %s: got %q, %v; want %q", keys[k], v, err, vals[k])
				}
				return
			}
		}
	})
}

// justredis: WithClientCache(64 MiB), reads through a copy made with
// WithCache(ttl).
type cachedJustredis struct {
	r, cached *justredis.Redis
}

func newCachedJustredis(t target) (cachedClient, error) {
	r, err := justredis.New(justredis.WithAddress(t.addrs[0]), justredis.WithClientCache(64<<20))
	if err != nil {
		return nil, err
	}
	return &cachedJustredis{r: r, cached: r.Modify(justredis.WithCache(cacheTTL))}, nil
}

func (c *cachedJustredis) CachedGet(ctx context.Context, key string) (string, error) {
	v, err := c.cached.Do(ctx, "GET", key)
	if err != nil {
		return "", err
	}
	s, _ := v.(string)
	return s, nil
}

func (c *cachedJustredis) Close() error { return c.r.Close() }

// rueidis: defaults (its cache on, 128 MiB per connection), DoCache with
// the builder's Cache().
type cachedRueidis struct {
	c rueidis.Client
}

func newCachedRueidis(t target) (cachedClient, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: t.addrs})
	if err != nil {
		return nil, err
	}
	return &cachedRueidis{c: c}, nil
}

func (c *cachedRueidis) CachedGet(ctx context.Context, key string) (string, error) {
	return c.c.DoCache(ctx, c.c.B().Get().Key(key).Cache(), cacheTTL).ToString()
}

func (c *cachedRueidis) Close() error { c.c.Close(); return nil }
