// Command tour walks through justredis against a real server: the one in
// REDIS_URL, or a throwaway one it starts (and removes) itself. The same
// code runs against a single server, a Redis Cluster and a Sentinel
// deployment.
//
//	go run ./examples/tour
//	go run ./examples/tour -cluster   # a throwaway 3-master cluster
//	go run ./examples/tour -sentinel  # a throwaway master, replica and 3 sentinels, failed over on the way
//	REDIS_URL=redis://localhost:6379/15 go run ./examples/tour
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
)

func main() {
	cluster := flag.Bool("cluster", false, "start a throwaway Redis Cluster instead of a single server")
	sentinel := flag.Bool("sentinel", false, "start a throwaway Sentinel deployment instead of a single server, and fail it over")
	flag.Parse()
	url := os.Getenv("REDIS_URL")
	var failover func(context.Context) error
	switch {
	case url != "":
	case *sentinel:
		fmt.Println("REDIS_URL is not set: starting a throwaway Sentinel deployment (a master, a replica, 3 sentinels)")
		d, err := redistest.StartSentinelDeployment(redistest.SentinelOptions{})
		if err != nil {
			log.Fatal(err)
		}
		defer d.Close()
		// The sentinels are the hosts; master_name says which master.
		url = "redis://" + strings.Join(d.SentinelAddrs(), ",") + "?master_name=" + d.MasterName()
		failover = d.Failover
	case *cluster:
		fmt.Println("REDIS_URL is not set: starting a throwaway Redis Cluster (3 masters)")
		c, err := redistest.StartClusterServer(3, 0, redistest.Options{})
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		url = c.URL()
	default:
		fmt.Println("REDIS_URL is not set: starting a throwaway Redis server")
		s, err := redistest.StartServer(redistest.Options{})
		if err != nil {
			log.Fatal(err)
		}
		defer s.Close()
		url = s.URL()
	}
	if err := tour(url, failover); err != nil {
		log.Fatal(err)
	}
}

// tour runs the tour against url; failover, when not nil, fails the
// deployment over on the way.
func tour(url string, failover func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	section("One value, one call form")
	r, err := justredis.FromURL(url)
	if err != nil {
		return err
	}
	defer r.Close()
	show(r.Do(ctx, "SET", "{tour}:greeting", "hello"))
	show(r.Do(ctx, "GET", "{tour}:greeting"))
	show(r.Do(ctx, "GET", "{tour}:missing"))
	show(r.Do(ctx, "INCRBY", "{tour}:visits", 10))
	show(r.Do(ctx, "HSET", "{tour}:user", "name", "Ada", "born", 1815))
	show(r.Do(ctx, "HGETALL", "{tour}:user"))

	section("Arguments are checked before anything is sent")
	show(r.Do(ctx, "SET", "{tour}:bad", time.Second))
	show(r.Do(ctx, "SELECT", 1))

	section("Where the calls go")
	endpoints, err := r.Endpoints(ctx)
	if err != nil {
		return err
	}
	for _, e := range endpoints {
		fmt.Printf("  %s (%s)\n", e.Address, e.Role)
	}
	info, err := justredis.String(r.Do(ctx, "INFO", "cluster"))
	if err != nil {
		return err
	}
	inCluster := strings.Contains(info, "cluster_enabled:1")
	// Keys share the hash tag {tour}, so in a cluster they live on one
	// node and multi-key commands and transactions work there too.
	show(r.Modify(justredis.WithEndpoint(justredis.Masters)).Do(ctx, "DBSIZE"))

	section("Modify: other per-call settings, same connections")
	raw := r.Modify(justredis.WithDecoder(justredis.BytesDecoder))
	show(raw.Do(ctx, "GET", "{tour}:greeting"))
	db1 := r.Modify(justredis.WithDatabase(1))
	if inCluster {
		show(db1.Do(ctx, "SET", "{tour}:greeting", "a cluster has database 0 only"))
	} else {
		show(db1.Do(ctx, "SET", "{tour}:greeting", "hello from database 1"))
		show(db1.Do(ctx, "GET", "{tour}:greeting"))
		show(r.Do(ctx, "GET", "{tour}:greeting"))
	}

	section("DoMulti: one round trip, replies in order")
	show(r.DoMulti(ctx,
		[]any{"SET", "{tour}:counter", 1},
		[]any{"INCR", "{tour}:counter"},
		[]any{"LPUSH", "{tour}:counter", "not a list"},
		[]any{"GET", "{tour}:counter"},
	))

	section("A transaction on a connection of its own")
	if err := transfer(ctx, r); err != nil {
		return err
	}

	section("Converters read RESP2 and RESP3 replies alike")
	name, err := justredis.String(r.Do(ctx, "HGET", "{tour}:user", "name"))
	fmt.Printf("String  -> %q %v\n", name, err)
	born, err := justredis.Int64(r.Do(ctx, "HGET", "{tour}:user", "born"))
	fmt.Printf("Int64   -> %d %v\n", born, err)
	fields, err := justredis.StringMap(r.Do(ctx, "HGETALL", "{tour}:user"))
	fmt.Printf("StringMap -> %v %v\n", fields, err)
	_, err = justredis.String(r.Do(ctx, "GET", "{tour}:missing"))
	fmt.Printf("String of a missing key -> errors.Is(err, ErrNil) == %v\n", errors.Is(err, justredis.ErrNil))

	section("Publish and subscribe on a push connection")
	if err := pubsub(ctx, r); err != nil {
		return err
	}

	if failover != nil {
		section("A failover: the same client follows the new master")
		show(r.Do(ctx, "INCR", "{tour}:visits"))
		if err := failover(ctx); err != nil {
			return err
		}
		show(r.Do(ctx, "INCR", "{tour}:visits"))
		endpoints, err := r.Endpoints(ctx)
		if err != nil {
			return err
		}
		for _, e := range endpoints {
			fmt.Printf("  %s (%s)\n", e.Address, e.Role)
		}
	}

	section("Cleaning up")
	show(r.Do(ctx, "DEL", "{tour}:greeting", "{tour}:visits", "{tour}:user", "{tour}:counter", "{tour}:a", "{tour}:b"))
	if !inCluster {
		show(db1.Do(ctx, "DEL", "{tour}:greeting"))
	}
	return nil
}

// transfer moves 10 from tour:a to tour:b atomically, with WATCH guarding
// against a concurrent change.
func transfer(ctx context.Context, r *justredis.Redis) error {
	show(r.DoMulti(ctx, []any{"SET", "{tour}:a", 100}, []any{"SET", "{tour}:b", 0}))
	c, err := r.Connection(ctx, "{tour}:a") // in a cluster, the node of the key
	if err != nil {
		return err
	}
	defer c.Close()
	show(c.Do(ctx, "WATCH", "{tour}:a"))
	balance, err := justredis.Int64(c.Do(ctx, "GET", "{tour}:a"))
	if err != nil {
		return err
	}
	if balance < 10 {
		return errors.New("not enough")
	}
	show(c.Do(ctx, "MULTI"))
	show(c.Do(ctx, "DECRBY", "{tour}:a", 10))
	show(c.Do(ctx, "INCRBY", "{tour}:b", 10))
	show(c.Do(ctx, "EXEC"))
	return nil
}

// pubsub subscribes, publishes three messages and reads what the server
// pushes: the confirmation, then the messages.
func pubsub(ctx context.Context, r *justredis.Redis) error {
	p, err := r.PushConnection(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Do(ctx, "SUBSCRIBE", "{tour}:news"); err != nil {
		return err
	}
	msg, err := p.NextMessage(ctx) // the confirmation comes as a message too
	if err != nil {
		return err
	}
	fmt.Printf("  %s %s %v\n", msg.Kind, msg.Channel, msg.Data)
	for i := 1; i <= 3; i++ {
		show(r.Do(ctx, "PUBLISH", "{tour}:news", fmt.Sprintf("story %d", i)))
	}
	read := 0
	for msg, err := range p.Messages(ctx) {
		if err != nil {
			return err
		}
		fmt.Printf("  %s %s %v\n", msg.Kind, msg.Channel, msg.Data)
		if read++; read == 3 {
			break
		}
	}
	return nil
}

func section(title string) { fmt.Printf("\n== %s\n", title) }

func show(v any, err error) {
	if err != nil {
		fmt.Printf("  error: %v\n", err)
		return
	}
	fmt.Printf("  %s\n", format(v))
}

// format prints a reply with its Go types, and error replies by their text.
func format(v any) string {
	switch v := v.(type) {
	case []any:
		s := "[]any{"
		for i, e := range v {
			if i > 0 {
				s += ", "
			}
			s += format(e)
		}
		return s + "}"
	case []byte:
		return fmt.Sprintf("[]byte(%q)", v)
	case int64:
		return fmt.Sprintf("int64(%d)", v)
	case error:
		return fmt.Sprintf("*Error(%q)", v.Error())
	}
	return fmt.Sprintf("%#v", v)
}
