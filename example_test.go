package justredis_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/justredis/justredis"
)

// The examples run against the test server that TestMain starts; in your
// code, the address is your server's.

func ExampleNew() {
	r, err := justredis.New(justredis.WithAddress(server().Addr()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	ctx := context.Background()
	fmt.Println(r.Do(ctx, "SET", "example:greeting", "hello"))
	fmt.Println(r.Do(ctx, "GET", "example:greeting"))
	fmt.Println(r.Do(ctx, "GET", "example:missing"))
	// Output:
	// OK <nil>
	// hello <nil>
	// <nil> <nil>
}

func ExampleFromURL() {
	r, err := justredis.FromURL("redis://" + server().Addr() + "/3?protocol=2&client_name=example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	fmt.Println(r.Do(context.Background(), "CLIENT", "GETNAME"))
	// Output: example <nil>
}

func ExampleRedis_Do() {
	r, _ := justredis.New(justredis.WithAddress(server().Addr()))
	defer r.Close()
	ctx := context.Background()

	r.Do(ctx, "DEL", "example:visits")
	n, err := r.Do(ctx, "INCRBY", "example:visits", 5)
	fmt.Printf("%T %v %v\n", n, n, err)

	_, err = r.Do(ctx, "LPUSH", "example:visits", "x")
	var e *justredis.Error
	if errors.As(err, &e) {
		fmt.Println(e.Prefix())
	}

	_, err = r.Do(ctx, "SELECT", 2)
	fmt.Println(err)
	// Output:
	// int64 5 <nil>
	// WRONGTYPE
	// justredis: SELECT is not allowed on the shared Redis: use WithDatabase
}

func ExampleRedis_Modify() {
	r, _ := justredis.New(justredis.WithAddress(server().Addr()))
	defer r.Close()
	ctx := context.Background()

	db4 := r.Modify(justredis.WithDatabase(4), justredis.WithDecoder(justredis.BytesDecoder))
	db4.Do(ctx, "SET", "example:blob", []byte{1, 2, 3})
	v, err := db4.Do(ctx, "GET", "example:blob")
	fmt.Printf("%T %v %v\n", v, v, err)
	fmt.Println(r.Do(ctx, "EXISTS", "example:blob")) // database 0
	// Output:
	// []uint8 [1 2 3] <nil>
	// 0 <nil>
}

func ExampleRedis_DoMulti() {
	r, _ := justredis.New(justredis.WithAddress(server().Addr()))
	defer r.Close()

	replies, err := r.DoMulti(context.Background(),
		[]any{"SET", "example:n", 1},
		[]any{"INCR", "example:n"},
		[]any{"HGET", "example:n", "field"},
	)
	fmt.Println(err)
	for _, v := range replies {
		fmt.Println(v)
	}
	// Output:
	// <nil>
	// OK
	// 2
	// WRONGTYPE Operation against a key holding the wrong kind of value
}

func ExampleRedis_Connection() {
	r, _ := justredis.New(justredis.WithAddress(server().Addr()))
	defer r.Close()
	ctx := context.Background()
	r.Do(ctx, "SET", "example:balance", 100)

	c, err := r.Connection(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Do(ctx, "WATCH", "example:balance")
	c.Do(ctx, "MULTI")
	c.Do(ctx, "DECRBY", "example:balance", 30)
	fmt.Println(c.Do(ctx, "EXEC"))
	// Output: [70] <nil>
}

func ExampleStringMap() {
	r, _ := justredis.New(justredis.WithAddress(server().Addr()), justredis.WithRESP(2))
	defer r.Close()
	ctx := context.Background()
	r.Do(ctx, "DEL", "example:user")
	r.Do(ctx, "HSET", "example:user", "name", "Ada")

	// Under RESP2 HGETALL is a flat array; StringMap reads it as it would
	// read a RESP3 map.
	fmt.Println(justredis.StringMap(r.Do(ctx, "HGETALL", "example:user")))
	// Output: map[name:Ada] <nil>
}

func ExampleString() {
	r, _ := justredis.New(justredis.WithAddress(server().Addr()))
	defer r.Close()

	_, err := justredis.String(r.Do(context.Background(), "GET", "example:nothing"))
	fmt.Println(errors.Is(err, justredis.ErrNil))
	// Output: true
}

func ExampleRedis_Transaction() {
	r, _ := justredis.New(justredis.WithAddress(server().Addr()))
	defer r.Close()
	ctx := context.Background()
	r.Do(ctx, "SET", "example:{7}:balance", 100)
	r.Do(ctx, "DEL", "example:{7}:log")

	// fn reads, then returns the writes; they run only if the balance did
	// not change in between, else fn runs again.
	replies, err := r.Transaction(ctx, func(c *justredis.Connection) ([][]any, error) {
		n, err := justredis.Int64(c.Do(ctx, "GET", "example:{7}:balance"))
		if err != nil {
			return nil, err
		}
		if n < 10 {
			return nil, errors.New("not enough")
		}
		return [][]any{
			{"SET", "example:{7}:balance", n - 10},
			{"RPUSH", "example:{7}:log", "-10"},
		}, nil
	}, "example:{7}:balance")
	fmt.Println(replies, err)
	fmt.Println(r.Do(ctx, "GET", "example:{7}:balance"))
	// Output:
	// [OK 1] <nil>
	// 90 <nil>
}

func ExampleRedis_Scan() {
	r, _ := justredis.New(justredis.WithAddress(server().Addr()))
	defer r.Close()
	ctx := context.Background()
	r.Do(ctx, "DEL", "example:stock")
	r.Do(ctx, "HSET", "example:stock", "apples", 3, "pears", 5)

	// HSCAN yields field, value, field, value, ...
	var flat []string
	for s, err := range r.Scan(ctx, "HSCAN", "example:stock") {
		if err != nil {
			fmt.Println(err)
			return
		}
		flat = append(flat, s)
	}
	stock := map[string]string{}
	for i := 0; i+1 < len(flat); i += 2 {
		stock[flat[i]] = flat[i+1]
	}
	fmt.Println(stock)
	// Output: map[apples:3 pears:5]
}

func ExampleBytesInto() {
	r, _ := justredis.New(justredis.WithAddress(server().Addr()))
	defer r.Close()
	ctx := context.Background()
	r.Do(ctx, "SET", "example:image", make([]byte, 1<<20))

	var buf []byte
	big := r.Modify(justredis.WithDecoder(justredis.BytesInto(&buf)))
	for range 3 {
		// After the first call, the value is read straight into buf's
		// memory: nothing is allocated for it.
		img, err := big.Do(ctx, "GET", "example:image")
		fmt.Println(len(img.([]byte)), err)
	}
	// Output:
	// 1048576 <nil>
	// 1048576 <nil>
	// 1048576 <nil>
}
