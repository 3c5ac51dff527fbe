package redispubsub

import (
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/pubsub/internal/fanout"
	"github.com/strata-go/strata/pubsub/pubsubtest"
)

// The receive loop's bookkeeping, driven by hand: what each reply from
// Redis does to the channels and their subscriptions.

func stateBus(t *testing.T, names ...string) (*Bus, map[string]*pubsubtest.Recorder) {
	b := &Bus{channels: map[string]*channel{}, tokens: map[string]*channel{}}
	recs := map[string]*pubsubtest.Recorder{}
	for _, name := range names {
		r := pubsubtest.NewRecorder(name)
		q := fanout.New(16, func(kind uint8, data []byte) {
			r.Handle(pubsub.Event{Kind: pubsub.EventKind(kind), Topic: name, Data: data})
		})
		q.Start()
		t.Cleanup(q.Stop)
		b.channels[name] = &channel{
			name:   name,
			subs:   map[*fanout.Queue]struct{}{q: {}},
			ready:  make(chan struct{}),
			failed: make(chan struct{}),
			expect: 1,
		}
		b.tokens["tok-"+name] = b.channels[name]
		recs[name] = r
	}
	return b, recs
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestConfirmByPing(t *testing.T) {
	b, _ := stateBus(t, "a")
	ch := b.channels["a"]
	b.dispatch(&redis.Subscription{Kind: "subscribe", Channel: "a", Count: 1})
	if ch.confirmed || closed(ch.ready) || ch.expect != 0 {
		t.Fatalf("after the SUBSCRIBE's reply: confirmed %v, expect %d; want unconfirmed until the PING's reply", ch.confirmed, ch.expect)
	}
	b.dispatch(&redis.Pong{Payload: "tok-other"})
	if ch.confirmed {
		t.Fatal("confirmed by another PING")
	}
	b.dispatch(&redis.Pong{Payload: "tok-a"})
	if !ch.confirmed || !closed(ch.ready) {
		t.Fatal("not confirmed by its PING's reply")
	}
}

func TestStalePing(t *testing.T) {
	b, _ := stateBus(t, "a")
	old := b.channels["a"]
	// The channel was dropped and subscribed again: the old PING's reply
	// must not confirm the new subscription.
	b.channels["a"] = &channel{name: "a", subs: old.subs, ready: make(chan struct{}), failed: make(chan struct{}), expect: 1}
	b.dispatch(&redis.Pong{Payload: "tok-a"})
	if b.channels["a"].confirmed {
		t.Fatal("a stale PING's reply confirmed a new subscription")
	}
}

func TestLostAndReset(t *testing.T) {
	b, recs := stateBus(t, "a", "b")
	for _, name := range []string{"a", "b"} {
		b.dispatch(&redis.Subscription{Kind: "subscribe", Channel: name})
		b.dispatch(&redis.Pong{Payload: "tok-" + name})
	}
	b.dispatch(&redis.Message{Channel: "a", Payload: "1"})
	recs["a"].WaitMessages(t, "1")

	b.connLost()
	b.connLost() // once only
	for _, name := range []string{"a", "b"} {
		ch := b.channels[name]
		if ch.confirmed || closed(ch.ready) || !ch.down {
			t.Fatalf("%s after a lost connection: confirmed %v, down %v", name, ch.confirmed, ch.down)
		}
		recs[name].WaitKind(t, pubsub.Lost)
	}
	// go-redis subscribes the new connection to a, then b.
	b.dispatch(&redis.Subscription{Kind: "subscribe", Channel: "a"})
	recs["a"].WaitKind(t, pubsub.Reset)
	b.dispatch(&redis.Message{Channel: "a", Payload: "2"})
	recs["a"].WaitMessages(t, "1", "2")
	if k := pubsubtest.Kinds(recs["b"].Events()); k != "L" {
		t.Fatalf("b before its confirmation: %s, want L", k)
	}
	b.dispatch(&redis.Subscription{Kind: "subscribe", Channel: "b"})
	recs["b"].WaitKind(t, pubsub.Reset)
	if k := pubsubtest.Kinds(recs["a"].Events()); k != "mLRm" {
		t.Fatalf("a: %s, want mLRm", k)
	}
	if !closed(b.channels["a"].ready) || !closed(b.channels["b"].ready) {
		t.Fatal("not confirmed again")
	}
}

// TestSilentReconnect: a confirmation nobody asked for means go-redis made
// a new connection: Lost and Reset.
func TestSilentReconnect(t *testing.T) {
	b, recs := stateBus(t, "a")
	b.dispatch(&redis.Subscription{Kind: "subscribe", Channel: "a"})
	b.dispatch(&redis.Pong{Payload: "tok-a"})
	b.dispatch(&redis.Subscription{Kind: "unsubscribe", Channel: "a"})
	b.dispatch(&redis.Subscription{Kind: "subscribe", Channel: "a"})
	recs["a"].WaitKind(t, pubsub.Reset)
	if k := pubsubtest.Kinds(recs["a"].Events()); k != "LR" {
		t.Fatalf("events %s, want LR", k)
	}
}

func TestReplyError(t *testing.T) {
	b, _ := stateBus(t, "a", "b")
	b.dispatch(&redis.Pong{Payload: "tok-b"})
	b.replyError(errors.New("NOPERM no permission"))
	if a := b.channels["a"]; !closed(a.failed) || a.err == nil {
		t.Fatal("pending subscription not failed by an error reply")
	}
	if b := b.channels["b"]; closed(b.failed) {
		t.Fatal("confirmed subscription failed by an error reply")
	}
}
