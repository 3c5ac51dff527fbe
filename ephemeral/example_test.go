package ephemeral_test

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-go/strata/ephemeral"
)

// Example shows a fixed-window rate limit with Incr, and Fetch loading a
// value once.
func Example() {
	ctx := context.Background()
	c, err := ephemeral.NewLocal(ephemeral.LocalOptions{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// At most 3 messages per user per minute: the first Incr of a window
	// creates the counter with a ttl of a minute, and later ones count
	// within it.
	allow := func(user string) bool {
		n, err := c.Incr(ctx, "rate:"+user, 1, time.Minute)
		return err == nil && n <= 3
	}
	for range 4 {
		fmt.Println("ann may post:", allow("ann"))
	}
	fmt.Println("bob may post:", allow("bob"))
	count, _ := c.Get(ctx, "rate:ann")
	fmt.Printf("ann's count: %s\n", count)

	// A profile read through the cache: the first Fetch loads it, the
	// second finds it.
	loadProfile := func(ctx context.Context) ([]byte, error) {
		fmt.Println("loading ann's profile")
		return []byte(`{"name":"Ann"}`), nil
	}
	for range 2 {
		profile, err := c.Fetch(ctx, "profile:ann", 5*time.Minute, loadProfile)
		if err != nil {
			panic(err)
		}
		fmt.Println(string(profile))
	}

	// Output:
	// ann may post: true
	// ann may post: true
	// ann may post: true
	// ann may post: false
	// bob may post: true
	// ann's count: 4
	// loading ann's profile
	// {"name":"Ann"}
	// {"name":"Ann"}
}
