package justredis_test

import (
	"context"
	"fmt"
	"time"

	"github.com/justredis/justredis"
)

func ExamplePushConnection() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := justredis.New(justredis.WithAddress(server().Addr()))
	if err != nil {
		panic(err)
	}
	defer r.Close()

	p, err := r.PushConnection(ctx)
	if err != nil {
		panic(err)
	}
	defer p.Close()
	if err := p.Do(ctx, "SUBSCRIBE", "example:news"); err != nil {
		panic(err)
	}
	// The confirmation: once it is in, publishing reaches p.
	msg, err := p.NextMessage(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(msg.Kind, msg.Channel, msg.Data)

	if _, err := r.Do(ctx, "PUBLISH", "example:news", "hello"); err != nil {
		panic(err)
	}
	msg, err = p.NextMessage(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(msg.Kind, msg.Channel, msg.Data)
	// Output:
	// subscribe example:news 1
	// message example:news hello
}

func ExamplePushConnection_Messages() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := justredis.New(justredis.WithAddress(server().Addr()))
	if err != nil {
		panic(err)
	}
	defer r.Close()
	p, err := r.PushConnection(ctx)
	if err != nil {
		panic(err)
	}
	defer p.Close()
	if err := p.Do(ctx, "PSUBSCRIBE", "example:sensor:*"); err != nil {
		panic(err)
	}

	for msg, err := range p.Messages(ctx) {
		if err != nil {
			fmt.Println("error:", err) // an error reply; the loop goes on
			continue
		}
		switch msg.Kind {
		case "psubscribe":
			// Subscribed (again, after a reconnection): publish now.
			if _, err := r.Do(ctx, "PUBLISH", "example:sensor:7", "21.5"); err != nil {
				panic(err)
			}
		case "pmessage":
			fmt.Printf("%s (matching %s): %s\n", msg.Channel, msg.Pattern, msg.Data)
		case "dropped":
			fmt.Println("fell behind; lost", msg.Data)
		}
		if msg.Kind == "pmessage" {
			break // p stays usable: later messages wait for the next call
		}
	}
	// Output:
	// example:sensor:7 (matching example:sensor:*): 21.5
}
