package pubsub_test

import (
	"context"
	"fmt"

	"github.com/strata-go/strata/pubsub"
)

// Two parts of an app share a Local bus: a cache that drops entries others
// changed, and a writer that announces its changes.
func ExampleLocal() {
	ctx := context.Background()
	bus := pubsub.NewLocal()
	defer bus.Close()

	cache := map[string]string{"user:1": "Ada", "user:2": "Grace"}
	invalidated := make(chan string)
	cancel, err := bus.Subscribe(ctx, "cache.invalidate", func(e pubsub.Event) {
		switch e.Kind {
		case pubsub.Message:
			invalidated <- string(e.Data)
		case pubsub.Lost:
			// Messages may be missed until Reset: stop trusting the cache.
		case pubsub.Reset:
			// Some invalidations may have been missed: flush everything.
		}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cancel()

	if err := bus.Publish(ctx, "cache.invalidate", []byte("user:2")); err != nil {
		fmt.Println(err)
		return
	}
	key := <-invalidated
	delete(cache, key)
	fmt.Println("dropped", key, "- left:", cache)

	err = bus.Publish(ctx, "bad topic", nil)
	fmt.Println(err)
	// Output:
	// dropped user:2 - left: map[user:1:Ada]
	// pubsub: publish: invalid: topic "bad topic": byte 0x20 at 3 is not a letter, digit or one of "_.:-"
}
