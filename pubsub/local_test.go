package pubsub_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/pubsub/internal/leakcheck"
	"github.com/strata-go/strata/pubsub/pubsubtest"
)

func TestLocalContract(t *testing.T) {
	// The nodes of a test share one Local, as the nodes of a process do.
	var mu sync.Mutex
	buses := map[*testing.T]*pubsub.Local{}
	pubsubtest.Run(t, func(t *testing.T) pubsub.Bus {
		mu.Lock()
		defer mu.Unlock()
		if buses[t] == nil {
			buses[t] = pubsub.NewLocal(pubsub.WithQueueSize(pubsubtest.QueueSize), pubsub.WithMaxMessage(64<<10))
		}
		return buses[t]
	})
}

func TestLocalOptions(t *testing.T) {
	if got := pubsub.NewLocal().MaxMessage(); got != pubsub.DefaultMaxMessage {
		t.Errorf("default MaxMessage %d, want %d", got, pubsub.DefaultMaxMessage)
	}
	if got := pubsub.NewLocal(pubsub.WithMaxMessage(-1)).MaxMessage(); got != pubsub.DefaultMaxMessage {
		t.Errorf("MaxMessage after WithMaxMessage(-1): %d, want the default", got)
	}
	l := pubsub.NewLocal(pubsub.WithMaxMessage(3))
	defer l.Close()
	if err := l.Publish(context.Background(), "t", []byte("four")); !errors.Is(err, pubsub.ErrTooLarge) {
		t.Errorf("Publish of 4 bytes with a limit of 3: %v, want ErrTooLarge", err)
	}
}

// TestLocalNoLeak: closing a Local, or cancelling its subscriptions, ends
// every goroutine it started. Not parallel: it counts goroutines.
func TestLocalNoLeak(t *testing.T) {
	l := pubsub.NewLocal()
	r := pubsubtest.NewRecorder("t")
	cancel, err := l.Subscribe(context.Background(), "t", r.Handle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Subscribe(context.Background(), "u", func(pubsub.Event) {}); err != nil {
		t.Fatal(err)
	}
	if err := l.Publish(context.Background(), "t", []byte("x")); err != nil {
		t.Fatal(err)
	}
	r.WaitMessages(t, "x")
	if n := len(leakcheck.Running()); n < 2 {
		t.Fatalf("leakcheck sees %d goroutines of an open bus: are its Creators stale?", n)
	}
	cancel()
	l.Close()
	leakcheck.Check(t)
}
