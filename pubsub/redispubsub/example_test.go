package redispubsub_test

import (
	"context"
	"log"

	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/pubsub/redispubsub"
)

// A chat node relays the messages of a conversation to its WebSocket
// clients, and sends them to the store to catch up when the bus may have
// lost some.
func ExampleOpen() {
	ctx := context.Background()
	bus, err := redispubsub.Open(ctx, "redis://127.0.0.1:6379/0", redispubsub.Options{Prefix: "chat:"})
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	live := make(chan []byte, 64) // to the WebSocket writer
	cancel, err := bus.Subscribe(ctx, "conv.42", func(e pubsub.Event) {
		switch e.Kind {
		case pubsub.Message:
			select {
			case live <- e.Data:
			default: // the client is too slow: it will catch up from the store
			}
		case pubsub.Lost:
			// Show the client that live updates paused.
		case pubsub.Reset:
			// Messages may have been missed: have the client fetch the
			// conversation from the store, after its last position.
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cancel()

	// Another node, or this one, announces a new message.
	if err := bus.Publish(ctx, "conv.42", []byte(`{"seq":17}`)); err != nil {
		log.Print(err)
	}
}
