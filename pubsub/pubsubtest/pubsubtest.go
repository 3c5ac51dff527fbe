// Package pubsubtest is the contract every pubsub.Bus passes, as
// testing/fstest.TestFS is for file systems: one suite run against the
// in-process bus, Redis, Redis Cluster and PostgreSQL.
//
// A test runs it with a function that makes buses:
//
//	func TestContract(t *testing.T) {
//		pubsubtest.Run(t, func(t *testing.T) pubsub.Bus {
//			return newBusForTest(t) // see Run for what it must do
//		})
//	}
//
// Every case is a parallel sub-test on buses of its own. Its Recorder
// helps test code that uses a bus, too.
package pubsubtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-go/strata/pubsub"
)

// QueueSize is the number of events each subscription's queue must hold
// on the buses Run tests: the cases need it small, to make a slow
// subscriber fall behind quickly, and not smaller, so that the others
// never do.
const QueueSize = 64

// Run runs the contract against the buses newBus makes.
//
// Each call of newBus returns a new bus ("node"); the buses returned for
// the same t share one network (the same server and channel prefix), and
// those for different t's do not, so that the parallel cases do not see
// each other's messages. Each subscription's queue holds QueueSize
// events. A bus must have a MaxMessage() int method. Run closes the buses
// when the case ends.
//
// An in-process bus shared by the nodes of one process may return the
// same bus for every call with the same t; Run then skips what needs two.
func Run(t *testing.T, newBus func(t *testing.T) pubsub.Bus) {
	c := contract{newBus: newBus}
	cases := []struct {
		name string
		run  func(*testing.T)
	}{
		{"PublishReachesEveryNode", c.publishReachesEveryNode},
		{"SubscribeIsConfirmed", c.subscribeIsConfirmed},
		{"TopicsAreIsolated", c.topicsAreIsolated},
		{"OrderPerPublisher", c.orderPerPublisher},
		{"ConcurrentPublishers", c.concurrentPublishers},
		{"CancelStopsDelivery", c.cancelStopsDelivery},
		{"CancelWaitsForHandler", c.cancelWaitsForHandler},
		{"CancelFromHandler", c.cancelFromHandler},
		{"Resubscribe", c.resubscribe},
		{"Close", c.close},
		{"CloseWaitsForHandler", c.closeWaitsForHandler},
		{"BadTopic", c.badTopic},
		{"MessageSize", c.messageSize},
		{"Context", c.context},
		{"SlowSubscriberLosesAlone", c.slowSubscriber},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t)
		})
	}
}

type contract struct {
	newBus func(t *testing.T) pubsub.Bus
}

// node returns a new bus of t's network, closed when t ends.
func (c contract) node(t *testing.T) pubsub.Bus {
	t.Helper()
	b := c.newBus(t)
	if b == nil {
		t.Fatal("newBus returned nil")
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// nodes returns two buses of t's network, and whether they are distinct.
func (c contract) nodes(t *testing.T) (a, b pubsub.Bus, distinct bool) {
	t.Helper()
	a, b = c.node(t), c.node(t)
	return a, b, a != b
}

func subscribe(t *testing.T, b pubsub.Bus, topic string, h pubsub.Handler) (cancel func()) {
	t.Helper()
	ctx, done := context.WithTimeout(t.Context(), Patience)
	defer done()
	cancel, err := b.Subscribe(ctx, topic, h)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	if cancel == nil {
		t.Fatalf("Subscribe(%q) returned a nil cancel", topic)
	}
	t.Cleanup(cancel)
	return cancel
}

func record(t *testing.T, b pubsub.Bus, topic string) *Recorder {
	t.Helper()
	r := NewRecorder(topic)
	subscribe(t, b, topic, r.Handle)
	return r
}

func publish(t *testing.T, b pubsub.Bus, topic string, msg []byte) {
	t.Helper()
	ctx, done := context.WithTimeout(t.Context(), Patience)
	defer done()
	if err := b.Publish(ctx, topic, msg); err != nil {
		t.Fatalf("Publish(%q, %d bytes): %v", topic, len(msg), err)
	}
}

func maxMessage(t *testing.T, b pubsub.Bus) int {
	t.Helper()
	m, ok := b.(interface{ MaxMessage() int })
	if !ok {
		t.Fatalf("%T has no MaxMessage() int method", b)
	}
	return m.MaxMessage()
}

// quiet waits for events that must not come.
func quiet() { time.Sleep(Quiet) }

func (c contract) publishReachesEveryNode(t *testing.T) {
	a, b, _ := c.nodes(t)
	ra, rb := record(t, a, "news"), record(t, b, "news")
	binary := make([]byte, 0, 512)
	for i := range 512 {
		binary = append(binary, byte(i))
	}
	publish(t, a, "news", binary)
	publish(t, b, "news", []byte("from b"))
	publish(t, a, "news", []byte{})
	for _, r := range []*Recorder{ra, rb} {
		evs := r.WaitMessages(t, string(binary), "from b", "")
		r.CheckNoLoss(t)
		if len(evs[2].Data) != 0 {
			t.Fatalf("empty message delivered as %q", evs[2].Data)
		}
	}
}

// subscribeIsConfirmed: a message published right after Subscribe returns
// is delivered, on a new topic and on one already subscribed to.
func (c contract) subscribeIsConfirmed(t *testing.T) {
	a, b, _ := c.nodes(t)
	for i := range 10 {
		topic := fmt.Sprintf("fresh%d", i)
		r := record(t, b, topic)
		publish(t, a, topic, []byte("first"))
		r.WaitMessages(t, "first")
		r2 := record(t, b, topic)
		publish(t, a, topic, []byte("second"))
		r.WaitMessages(t, "first", "second")
		r2.WaitMessages(t, "second")
	}
}

func (c contract) topicsAreIsolated(t *testing.T) {
	a, b, _ := c.nodes(t)
	topics := []string{"room", "room.1", "room1", "Room", "roo", "room:1"}
	recs := make([]*Recorder, len(topics))
	for i, topic := range topics {
		recs[i] = record(t, b, topic)
	}
	publish(t, a, "other", []byte("nobody listens"))
	for _, topic := range topics {
		publish(t, a, topic, []byte(topic))
	}
	for i, topic := range topics {
		recs[i].WaitMessages(t, topic)
	}
	quiet()
	for i, topic := range topics {
		if got := recs[i].Messages(); !slices.Equal(got, []string{topic}) {
			t.Fatalf("subscriber of %q got %q", topic, got)
		}
		recs[i].CheckNoLoss(t)
	}
}

// orderPerPublisher: one publisher's messages arrive in order, on both
// nodes. It publishes in batches smaller than a queue, waiting for each.
func (c contract) orderPerPublisher(t *testing.T) {
	a, b, _ := c.nodes(t)
	ra, rb := record(t, a, "seq"), record(t, b, "seq")
	var want []string
	for batch := range 12 {
		for i := range QueueSize / 4 {
			m := fmt.Sprintf("%d.%d", batch, i)
			want = append(want, m)
			publish(t, a, "seq", []byte(m))
		}
		ra.WaitMessages(t, want...)
		rb.WaitMessages(t, want...)
	}
	ra.CheckNoLoss(t)
	rb.CheckNoLoss(t)
}

// concurrentPublishers: several goroutines publish on both nodes at once;
// every message arrives, each publisher's in order. Each publisher waits
// for its previous message, so that no queue overflows.
func (c contract) concurrentPublishers(t *testing.T) {
	const publishers, each = 8, 25
	a, b, _ := c.nodes(t)
	recs := []*Recorder{record(t, a, "busy"), record(t, b, "busy")}
	errs := make(chan error, publishers)
	var wg sync.WaitGroup
	for p := range publishers {
		bus := []pubsub.Bus{a, b}[p%2]
		wg.Go(func() {
			for i := range each {
				m := fmt.Sprintf("%d/%d", p, i)
				ctx, done := context.WithTimeout(context.Background(), Patience)
				err := bus.Publish(ctx, "busy", []byte(m))
				done()
				if err != nil {
					errs <- err
					return
				}
				for _, r := range recs {
					if !waitFor(r, func(evs []pubsub.Event) bool { return slices.Contains(Messages(evs), m) }) {
						errs <- fmt.Errorf("%s not delivered within %v", m, Patience)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, r := range recs {
		got := r.Wait(t, "every message", func(evs []pubsub.Event) bool { return len(Messages(evs)) >= publishers*each })
		r.CheckNoLoss(t)
		next := make([]int, publishers)
		for _, m := range Messages(got) {
			var p, i int
			if _, err := fmt.Sscanf(m, "%d/%d", &p, &i); err != nil || p < 0 || p >= publishers {
				t.Fatalf("unexpected message %q", m)
			}
			if i != next[p] {
				t.Fatalf("publisher %d: message %d arrived when %d was due", p, i, next[p])
			}
			next[p]++
		}
	}
}

// waitFor is Recorder.Wait for goroutines that must not call t.Fatal.
func waitFor(r *Recorder, cond func([]pubsub.Event) bool) bool {
	timer := time.NewTimer(Patience)
	defer timer.Stop()
	for {
		evs, changed := r.snapshot()
		if cond(evs) {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return cond(r.Events())
		}
	}
}

func (c contract) cancelStopsDelivery(t *testing.T) {
	a, b, _ := c.nodes(t)
	r1, r2 := NewRecorder("t"), NewRecorder("t")
	cancel1 := subscribe(t, b, "t", r1.Handle)
	subscribe(t, b, "t", r2.Handle)
	publish(t, a, "t", []byte("both"))
	r1.WaitMessages(t, "both")
	r2.WaitMessages(t, "both")
	cancel1()
	cancel1() // idempotent
	publish(t, a, "t", []byte("only r2"))
	r2.WaitMessages(t, "both", "only r2")
	quiet()
	if got := r1.Messages(); !slices.Equal(got, []string{"both"}) {
		t.Fatalf("cancelled subscriber got %q", got)
	}
}

// cancelWaitsForHandler: cancel, called while the handler runs, returns
// only after it has; the handler is not called again.
func (c contract) cancelWaitsForHandler(t *testing.T) {
	a, b, _ := c.nodes(t)
	var running, calls atomic.Int32
	entered, release := make(chan struct{}, 1), make(chan struct{})
	cancel := subscribe(t, b, "t", func(e pubsub.Event) {
		running.Store(1)
		calls.Add(1)
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		running.Store(0)
	})
	publish(t, a, "t", []byte("1"))
	publish(t, a, "t", []byte("2"))
	select {
	case <-entered:
	case <-time.After(Patience):
		t.Fatal("handler not called")
	}
	returned := make(chan struct{})
	go func() {
		cancel()
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("cancel returned while the handler was running")
	case <-time.After(Quiet):
	}
	close(release)
	select {
	case <-returned:
	case <-time.After(Patience):
		t.Fatal("cancel did not return after the handler did")
	}
	if running.Load() != 0 {
		t.Fatal("handler running after cancel returned")
	}
	n := calls.Load()
	publish(t, a, "t", []byte("3"))
	quiet()
	if calls.Load() != n {
		t.Fatalf("handler called %d times after cancel returned", calls.Load()-n)
	}
}

// cancelFromHandler: a handler may cancel its own subscription.
func (c contract) cancelFromHandler(t *testing.T) {
	a, b, _ := c.nodes(t)
	cancelc := make(chan func(), 1)
	done := make(chan struct{})
	var calls atomic.Int32
	cancel := subscribe(t, b, "t", func(e pubsub.Event) {
		if calls.Add(1) == 1 {
			(<-cancelc)()
			close(done)
		}
	})
	cancelc <- cancel
	publish(t, a, "t", []byte("1"))
	publish(t, a, "t", []byte("2"))
	select {
	case <-done:
	case <-time.After(Patience):
		t.Fatal("cancel called from the handler did not return")
	}
	publish(t, a, "t", []byte("3"))
	quiet()
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler called %d times, want 1", n)
	}
	cancel()
}

// resubscribe: cancelling the last subscription of a topic and subscribing
// again, quickly and repeatedly, leaves a working subscription.
func (c contract) resubscribe(t *testing.T) {
	a, b, _ := c.nodes(t)
	for i := range 10 {
		r := NewRecorder("again")
		cancel := subscribe(t, b, "again", r.Handle)
		if i%2 == 1 {
			publish(t, a, "again", []byte("x"))
			r.WaitMessages(t, "x")
		}
		cancel()
	}
	r := record(t, b, "again")
	publish(t, a, "again", []byte("last"))
	r.WaitMessages(t, "last")
	r.CheckNoLoss(t)
}

func (c contract) close(t *testing.T) {
	a, b, distinct := c.nodes(t)
	rb := record(t, b, "t")
	var ra *Recorder
	if distinct {
		ra = record(t, a, "t")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := t.Context()
	if err := b.Publish(ctx, "t", []byte("x")); !errors.Is(err, pubsub.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
	called := make(chan struct{}, 1)
	if cancel, err := b.Subscribe(ctx, "t", func(pubsub.Event) { called <- struct{}{} }); !errors.Is(err, pubsub.ErrClosed) || cancel != nil {
		t.Fatalf("Subscribe after Close: %v, want ErrClosed and no cancel", err)
	}
	if !distinct {
		return
	}
	// The other node works on, and the closed one hears nothing.
	publish(t, a, "t", []byte("after"))
	ra.WaitMessages(t, "after")
	quiet()
	if evs := rb.Events(); len(evs) != 0 {
		t.Fatalf("closed node delivered %s", Kinds(evs))
	}
	select {
	case <-called:
		t.Fatal("handler of a failed Subscribe called")
	default:
	}
}

// closeWaitsForHandler: Close, called while a handler runs, returns only
// after it has; Close may be called from a handler.
func (c contract) closeWaitsForHandler(t *testing.T) {
	a, b, distinct := c.nodes(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var running atomic.Int32
	subscribe(t, b, "t", func(e pubsub.Event) {
		running.Store(1)
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		running.Store(0)
	})
	publish(t, a, "t", []byte("1"))
	<-entered
	returned := make(chan struct{})
	go func() {
		b.Close()
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("Close returned while a handler was running")
	case <-time.After(Quiet):
	}
	close(release)
	select {
	case <-returned:
	case <-time.After(Patience):
		t.Fatal("Close did not return after the handler did")
	}
	if running.Load() != 0 {
		t.Fatal("handler running after Close returned")
	}
	if !distinct {
		return
	}
	// Close from a handler.
	closed := make(chan error, 1)
	subscribe(t, a, "u", func(e pubsub.Event) { closed <- a.Close() })
	c2 := c.node(t)
	publish(t, c2, "u", []byte("close"))
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close from a handler: %v", err)
		}
	case <-time.After(Patience):
		t.Fatal("Close from a handler did not return")
	}
}

func (c contract) badTopic(t *testing.T) {
	a := c.node(t)
	ctx := t.Context()
	bad := []string{"", strings.Repeat("x", pubsub.MaxTopic+1), "a b", "a/b", "a*", "a?", "caf\u00e9", "a\x00b", "a\nb", "{a}", "a,b"}
	called := make(chan struct{}, 1)
	h := func(pubsub.Event) {
		select {
		case called <- struct{}{}:
		default:
		}
	}
	for _, topic := range bad {
		if err := a.Publish(ctx, topic, []byte("x")); !errors.Is(err, pubsub.ErrInvalid) {
			t.Errorf("Publish(%q): %v, want ErrInvalid", topic, err)
		}
		if cancel, err := a.Subscribe(ctx, topic, h); !errors.Is(err, pubsub.ErrInvalid) || cancel != nil {
			t.Errorf("Subscribe(%q): %v, want ErrInvalid and no cancel", topic, err)
		}
	}
	if cancel, err := a.Subscribe(ctx, "t", nil); !errors.Is(err, pubsub.ErrInvalid) || cancel != nil {
		t.Errorf("Subscribe with a nil handler: %v, want ErrInvalid and no cancel", err)
	}
	// The longest topic, of every allowed byte, works.
	long := "azAZ09_.:-" + strings.Repeat("q", pubsub.MaxTopic-10)
	if err := pubsub.ValidateTopic(long); err != nil {
		t.Fatal(err)
	}
	r := record(t, a, long)
	publish(t, a, long, []byte("long"))
	r.WaitMessages(t, "long")
	select {
	case <-called:
		t.Fatal("handler of a rejected Subscribe called")
	default:
	}
}

// messageSize: a message of MaxMessage bytes goes through intact, one more
// byte is ErrTooLarge and is not delivered.
func (c contract) messageSize(t *testing.T) {
	a, b, _ := c.nodes(t)
	max := maxMessage(t, a)
	if max <= 0 {
		t.Fatalf("MaxMessage() = %d", max)
	}
	r := record(t, b, "big")
	big := make([]byte, max)
	rand.Read(big)
	publish(t, a, "big", big)
	err := a.Publish(t.Context(), "big", make([]byte, max+1))
	if !errors.Is(err, pubsub.ErrTooLarge) || !errors.Is(err, pubsub.ErrInvalid) {
		t.Fatalf("Publish of %d bytes: %v, want ErrTooLarge (and ErrInvalid)", max+1, err)
	}
	publish(t, a, "big", []byte("end"))
	evs := r.WaitMessages(t, string(big), "end")
	if !bytes.Equal(evs[0].Data, big) {
		t.Fatal("big message corrupted")
	}
	// The publisher may reuse its buffer once Publish has returned.
	buf := []byte("one")
	publish(t, a, "big", buf)
	copy(buf, "two")
	publish(t, a, "big", buf)
	r.WaitMessages(t, string(big), "end", "one", "two")
	r.CheckNoLoss(t)
}

func (c contract) context(t *testing.T) {
	a, b, _ := c.nodes(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := a.Publish(ctx, "t", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with a cancelled context: %v, want context.Canceled", err)
	}
	called := make(chan struct{}, 1)
	h := func(pubsub.Event) {
		select {
		case called <- struct{}{}:
		default:
		}
	}
	if cancel, err := b.Subscribe(ctx, "t", h); !errors.Is(err, context.Canceled) || cancel != nil {
		t.Fatalf("Subscribe with a cancelled context: %v, want context.Canceled and no cancel", err)
	}
	r := record(t, b, "t")
	publish(t, a, "t", []byte("x"))
	r.WaitMessages(t, "x")
	quiet()
	select {
	case <-called:
		t.Fatal("handler of a failed Subscribe called")
	default:
	}
}

// slowSubscriber: a handler that blocks loses messages (Lost, then Reset
// once it catches up), while the other subscribers of the topic, on its
// node and another, get every message without delay.
func (c contract) slowSubscriber(t *testing.T) {
	a, b, _ := c.nodes(t)
	slow := NewRecorder("s")
	entered, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	subscribe(t, b, "s", func(e pubsub.Event) {
		if first.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
		slow.Handle(e)
	})
	fastA, fastB := record(t, a, "s"), record(t, b, "s")
	const burst = 3 * QueueSize
	var want []string
	for i := range burst {
		m := fmt.Sprint(i)
		want = append(want, m)
		publish(t, a, "s", []byte(m))
		// Both fast subscribers have it before the next is published:
		// the blocked handler delays neither.
		fastA.WaitMessages(t, want...)
		fastB.WaitMessages(t, want...)
		if i == 0 {
			select {
			case <-entered:
			case <-time.After(Patience):
				t.Fatal("slow handler not called")
			}
		}
	}
	close(release)
	evs := slow.WaitKind(t, pubsub.Reset)
	kinds := Kinds(evs)
	if !strings.HasPrefix(kinds, "mL") || strings.Count(kinds, "L") != 1 || strings.Count(kinds, "R") != 1 {
		t.Fatalf("slow subscriber's events %s, want a message, Lost, messages, Reset", kinds)
	}
	got := Messages(evs)
	if len(got) >= burst || len(got) < QueueSize {
		t.Fatalf("slow subscriber got %d of %d messages; want its queue's worth (%d) at least, and not all", len(got), burst, QueueSize)
	}
	if got[0] != "0" {
		t.Fatalf("slow subscriber's first message %q, want \"0\"", got[0])
	}
	last := -1
	for _, m := range got {
		var i int
		fmt.Sscan(m, &i)
		if i <= last {
			t.Fatalf("slow subscriber's messages out of order: %s", abbreviate(got))
		}
		last = i
	}
	// It works again.
	publish(t, a, "s", []byte("after"))
	evs = slow.Wait(t, "the message after Reset", func(evs []pubsub.Event) bool {
		return slices.Contains(Messages(evs), "after")
	})
	reset := slices.IndexFunc(evs, func(e pubsub.Event) bool { return e.Kind == pubsub.Reset })
	after := slices.IndexFunc(evs, func(e pubsub.Event) bool { return string(e.Data) == "after" })
	if after < reset {
		t.Fatalf("events %s: the message published after Reset came before it", Kinds(evs))
	}
	fastA.CheckNoLoss(t)
	fastB.CheckNoLoss(t)
}
