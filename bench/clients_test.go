package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"

	redigo "github.com/gomodule/redigo/redis"
	"github.com/justredis/justredis"
	"github.com/mediocregopher/radix/v4"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// client is the little each workload needs. Every implementation calls its
// library the way that library's documentation shows, and checks replies in
// the benchmark, not here, except for SET's "OK".
type client interface {
	Set(ctx context.Context, key, val string) error
	Get(ctx context.Context, key string) (string, error)
	// GetBytes returns the value as []byte through the library's bytes API.
	// buf is scratch the caller owns: a library that can decode into a
	// caller's buffer (radix) reuses it, the others ignore it.
	GetBytes(ctx context.Context, key string, buf []byte) ([]byte, error)
	// Pipeline prepares one explicit pipeline of GETs of keys; each call of
	// the returned function sends it once and returns the replies' check.
	Pipeline(keys []string) func(ctx context.Context, want []string) error
	Close() error
}

// clientNames is the order of the columns everywhere.
var clientNames = []string{"justredis", "go-redis", "rueidis", "redigo", "radix"}

// supportsCluster says who takes part in the cluster rows: justredis and the
// two peers whose cluster clients are in the comparison, rueidis
// and go-redis. redigo has no cluster client of its own (redisc is a
// separate project). radix v4 has one (its constructor is below and still
// works), but it is left out of these rows to keep each round short.
func supportsCluster(name string) bool {
	switch name {
	case "justredis", "go-redis", "rueidis":
		return true
	}
	return false
}

var (
	clientsMu sync.Mutex
	clients   = map[string]client{}
)

// getClient returns the process-wide client for (name, target), creating it
// on first use. Go runs each benchmark function several times while it
// sizes b.N; sharing the client keeps its connections warm across those
// runs, as an application's would be.
func getClient(tb testing.TB, name string, t target) client {
	tb.Helper()
	clientsMu.Lock()
	defer clientsMu.Unlock()
	key := name + "@" + t.String()
	if c, ok := clients[key]; ok {
		return c
	}
	c, err := newClient(name, t)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	clients[key] = c
	return c
}

func closeClients() {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	for k, c := range clients {
		c.Close()
		delete(clients, k)
	}
}

func newClient(name string, t target) (client, error) {
	switch name {
	case "justredis":
		return newJustredis(t)
	case "go-redis":
		return newGoRedis(t)
	case "rueidis":
		return newRueidis(t)
	case "redigo":
		return newRedigo(t)
	case "radix":
		return newRadix(t)
	}
	return nil, fmt.Errorf("unknown client %q", name)
}

var errNotOK = errors.New("SET did not reply OK")

// ---------------------------------------------------------------- justredis

// justredis: defaults (justredis.New(justredis.WithAddress(addr))): it
// pipelines concurrent calls over its few shared connections by itself. The
// explicit pipeline is DoMulti; the 1 MiB GET uses
// WithDecoder(BytesInto(&buf)), which reuses buf's memory as radix reuses
// the caller's buffer (GetBytes is called by one goroutine at a time).
type justredisClient struct {
	r     *justredis.Redis
	bytes *justredis.Redis
	buf   []byte
}

func newJustredis(t target) (client, error) {
	var opt justredis.Option
	if t.clust {
		opt = justredis.WithAddresses(t.addrs...)
	} else {
		opt = justredis.WithAddress(t.addrs[0]) // a socket path for unix
	}
	r, err := justredis.New(opt)
	if err != nil {
		return nil, err
	}
	c := &justredisClient{r: r}
	c.bytes = r.Modify(justredis.WithDecoder(justredis.BytesInto(&c.buf)))
	return c, nil
}

func (c *justredisClient) Set(ctx context.Context, key, val string) error {
	v, err := c.r.Do(ctx, "SET", key, val)
	if err != nil {
		return err
	}
	if v != "OK" {
		return errNotOK
	}
	return nil
}

func (c *justredisClient) Get(ctx context.Context, key string) (string, error) {
	v, err := c.r.Do(ctx, "GET", key)
	if err != nil {
		return "", err
	}
	s, _ := v.(string)
	return s, nil
}

func (c *justredisClient) GetBytes(ctx context.Context, key string, _ []byte) ([]byte, error) {
	v, err := c.bytes.Do(ctx, "GET", key)
	if err != nil {
		return nil, err
	}
	b, _ := v.([]byte)
	return b, nil
}

func (c *justredisClient) Pipeline(keys []string) func(context.Context, []string) error {
	// The commands are built once and reused, as DoMulti allows.
	cmds := make([][]any, len(keys))
	for i, k := range keys {
		cmds[i] = []any{"GET", k}
	}
	return func(ctx context.Context, want []string) error {
		vs, err := c.r.DoMulti(ctx, cmds...)
		if err != nil {
			return err
		}
		if len(vs) != len(want) {
			return fmt.Errorf("%d replies for %d commands", len(vs), len(want))
		}
		for i, v := range vs {
			if s, _ := v.(string); s != want[i] {
				return fmt.Errorf("reply %d: got %v, want %q", i, v, want[i])
			}
		}
		return nil
	}
}

func (c *justredisClient) Close() error { return c.r.Close() }

// ----------------------------------------------------------------- go-redis

// go-redis v9: a connection per call from its pool. PoolSize is maxConc
// (64; its default is 10×GOMAXPROCS = 20 here), per node in the cluster.
// Everything else is default: RESP3, the dedicated pipeline pool, and the
// maintenance-notification handshake in "auto" mode.
type goRedisClient struct {
	c goredis.UniversalClient
}

func newGoRedis(t target) (client, error) {
	if t.clust {
		return &goRedisClient{c: goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs:    t.addrs,
			PoolSize: maxConc,
		})}, nil
	}
	return &goRedisClient{c: goredis.NewClient(&goredis.Options{
		Network:  t.net,
		Addr:     t.addrs[0],
		PoolSize: maxConc,
	})}, nil
}

func (c *goRedisClient) Set(ctx context.Context, key, val string) error {
	s, err := c.c.Set(ctx, key, val, 0).Result()
	if err != nil {
		return err
	}
	if s != "OK" {
		return errNotOK
	}
	return nil
}

func (c *goRedisClient) Get(ctx context.Context, key string) (string, error) {
	return c.c.Get(ctx, key).Result()
}

// GetBytes: StringCmd.Bytes hands out the reply's memory without a copy.
func (c *goRedisClient) GetBytes(ctx context.Context, key string, _ []byte) ([]byte, error) {
	return c.c.Get(ctx, key).Bytes()
}

func (c *goRedisClient) Pipeline(keys []string) func(context.Context, []string) error {
	cmds := make([]*goredis.StringCmd, len(keys))
	return func(ctx context.Context, want []string) error {
		pipe := c.c.Pipeline()
		for i, k := range keys {
			cmds[i] = pipe.Get(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		for i, cmd := range cmds {
			s, err := cmd.Result()
			if err != nil {
				return err
			}
			if s != want[i] {
				return fmt.Errorf("reply %d: got %q, want %q", i, s, want[i])
			}
		}
		return nil
	}
}

func (c *goRedisClient) Close() error { return c.c.Close() }

// ------------------------------------------------------------------ rueidis

// rueidis: defaults (auto pipelining over its shared connections, RESP3)
// with DisableCache: true, since no workload here uses client-side caching.
// Commands are built per call with its builder, which recycles them.
// Unix sockets need a DialCtxFn: rueidis dials TCP otherwise.
type rueidisClient struct {
	c rueidis.Client
}

func newRueidis(t target) (client, error) {
	opt := rueidis.ClientOption{InitAddress: t.addrs, DisableCache: true}
	if t.net == "unix" {
		opt.DialCtxFn = func(ctx context.Context, addr string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
			return d.DialContext(ctx, "unix", addr)
		}
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, err
	}
	return &rueidisClient{c: c}, nil
}

func (c *rueidisClient) Set(ctx context.Context, key, val string) error {
	s, err := c.c.Do(ctx, c.c.B().Set().Key(key).Value(val).Build()).ToString()
	if err != nil {
		return err
	}
	if s != "OK" {
		return errNotOK
	}
	return nil
}

func (c *rueidisClient) Get(ctx context.Context, key string) (string, error) {
	return c.c.Do(ctx, c.c.B().Get().Key(key).Build()).ToString()
}

// GetBytes: AsBytes hands out the reply's memory without a copy.
func (c *rueidisClient) GetBytes(ctx context.Context, key string, _ []byte) ([]byte, error) {
	return c.c.Do(ctx, c.c.B().Get().Key(key).Build()).AsBytes()
}

func (c *rueidisClient) Pipeline(keys []string) func(context.Context, []string) error {
	cmds := make(rueidis.Commands, len(keys))
	return func(ctx context.Context, want []string) error {
		for i, k := range keys {
			cmds[i] = c.c.B().Get().Key(k).Build()
		}
		res := c.c.DoMulti(ctx, cmds...)
		if len(res) != len(want) {
			return fmt.Errorf("%d replies for %d commands", len(res), len(want))
		}
		for i, r := range res {
			s, err := r.ToString()
			if err != nil {
				return err
			}
			if s != want[i] {
				return fmt.Errorf("reply %d: got %q, want %q", i, s, want[i])
			}
		}
		return nil
	}
}

func (c *rueidisClient) Close() error { c.c.Close(); return nil }

// ------------------------------------------------------------------- redigo

// redigo: a redis.Pool with MaxActive = MaxIdle = maxConc (64) and Wait:
// true, so the pool never closes a connection the parallel runs come back
// for. Each call takes a connection and gives it back (Get/Close), as its
// documentation shows. The explicit pipeline is Send×100, Flush,
// Receive×100 on one connection. No cluster support.
type redigoClient struct {
	p *redigo.Pool
}

func newRedigo(t target) (client, error) {
	if t.clust {
		return nil, errors.New("redigo has no cluster client")
	}
	network, addr := t.net, t.addrs[0]
	return &redigoClient{p: &redigo.Pool{
		MaxIdle:   maxConc,
		MaxActive: maxConc,
		Wait:      true,
		Dial:      func() (redigo.Conn, error) { return redigo.Dial(network, addr) },
	}}, nil
}

func (c *redigoClient) Set(_ context.Context, key, val string) error {
	conn := c.p.Get()
	s, err := redigo.String(conn.Do("SET", key, val))
	conn.Close()
	if err != nil {
		return err
	}
	if s != "OK" {
		return errNotOK
	}
	return nil
}

func (c *redigoClient) Get(_ context.Context, key string) (string, error) {
	conn := c.p.Get()
	s, err := redigo.String(conn.Do("GET", key))
	conn.Close()
	return s, err
}

func (c *redigoClient) GetBytes(_ context.Context, key string, _ []byte) ([]byte, error) {
	conn := c.p.Get()
	b, err := redigo.Bytes(conn.Do("GET", key))
	conn.Close()
	return b, err
}

func (c *redigoClient) Pipeline(keys []string) func(context.Context, []string) error {
	args := make([][]any, len(keys)) // built once and reused
	for i, k := range keys {
		args[i] = []any{k}
	}
	return func(_ context.Context, want []string) error {
		conn := c.p.Get()
		defer conn.Close()
		for i := range args {
			if err := conn.Send("GET", args[i]...); err != nil {
				return err
			}
		}
		if err := conn.Flush(); err != nil {
			return err
		}
		for i := range args {
			s, err := redigo.String(conn.Receive())
			if err != nil {
				return err
			}
			if s != want[i] {
				return fmt.Errorf("reply %d: got %q, want %q", i, s, want[i])
			}
		}
		return nil
	}
}

func (c *redigoClient) Close() error { return c.p.Close() }

// -------------------------------------------------------------------- radix

// radix v4: PoolConfig{Size: maxConc} (64; its default is 4), per node in
// the cluster (ClusterConfig.PoolConfig). Note that radix v4's pool is
// implicitly pipelined: commands that may share a connection (GET, SET,
// pipelines) go to a random pooled connection concurrently with others, so
// Size is the number of shared connections, not a bound on concurrency.
// GetBytes decodes into the caller's buffer, reusing its capacity.
type radixClient struct {
	c interface { // radix.Client for a pool, radix.MultiClient for a cluster
		Do(context.Context, radix.Action) error
		Close() error
	}
}

func newRadix(t target) (client, error) {
	ctx := context.Background()
	if t.clust {
		c, err := radix.ClusterConfig{PoolConfig: radix.PoolConfig{Size: maxConc}}.New(ctx, t.addrs)
		if err != nil {
			return nil, err
		}
		return &radixClient{c: c}, nil
	}
	c, err := radix.PoolConfig{Size: maxConc}.New(ctx, t.net, t.addrs[0])
	if err != nil {
		return nil, err
	}
	return &radixClient{c: c}, nil
}

func (c *radixClient) Set(ctx context.Context, key, val string) error {
	var s string
	if err := c.c.Do(ctx, radix.Cmd(&s, "SET", key, val)); err != nil {
		return err
	}
	if s != "OK" {
		return errNotOK
	}
	return nil
}

func (c *radixClient) Get(ctx context.Context, key string) (string, error) {
	var s string
	err := c.c.Do(ctx, radix.Cmd(&s, "GET", key))
	return s, err
}

func (c *radixClient) GetBytes(ctx context.Context, key string, buf []byte) ([]byte, error) {
	err := c.c.Do(ctx, radix.Cmd(&buf, "GET", key))
	return buf, err
}

func (c *radixClient) Pipeline(keys []string) func(context.Context, []string) error {
	p := radix.NewPipeline() // reused through Reset
	rcv := make([]string, len(keys))
	return func(ctx context.Context, want []string) error {
		p.Reset()
		clear(rcv) // so a reply that never came cannot pass for the last one
		for i, k := range keys {
			p.Append(radix.Cmd(&rcv[i], "GET", k))
		}
		if err := c.c.Do(ctx, p); err != nil {
			return err
		}
		for i, s := range rcv {
			if s != want[i] {
				return fmt.Errorf("reply %d: got %q, want %q", i, s, want[i])
			}
		}
		return nil
	}
}

func (c *radixClient) Close() error { return c.c.Close() }
