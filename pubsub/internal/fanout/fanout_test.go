package fanout

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const wait = 10 * time.Second

// recorder records a queue's events as strings: "m:<data>", "lost", "reset".
type recorder struct {
	mu     sync.Mutex
	events []string
	gate   chan struct{} // when set, a message "block" waits for it
	in     chan struct{} // a token when the message "block" is being delivered
}

func newRecorder() *recorder {
	return &recorder{gate: make(chan struct{}), in: make(chan struct{}, 1)}
}

func (r *recorder) deliver(kind uint8, data []byte) {
	if kind == Message && string(data) == "block" {
		r.in <- struct{}{}
		<-r.gate
	}
	var e string
	switch kind {
	case Message:
		e = "m:" + string(data)
	case Lost:
		e = "lost"
	case Reset:
		e = "reset"
	default:
		e = fmt.Sprintf("kind %d", kind)
	}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// waitLen waits until n events were recorded and returns them.
func (r *recorder) waitLen(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		r.mu.Lock()
		got := slices.Clone(r.events)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d events, want %d: %q", len(got), n, got)
		}
		time.Sleep(time.Millisecond)
	}
}

func start(q *Queue) *Queue {
	q.Start()
	return q
}

func msgs(from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, fmt.Sprintf("m:%d", i))
	}
	return s
}

func TestOrder(t *testing.T) {
	r := newRecorder()
	q := start(New(1000, r.deliver))
	defer q.Stop()
	for i := range 500 {
		q.Push(fmt.Appendf(nil, "%d", i))
	}
	if got, want := r.waitLen(t, 500), msgs(0, 500); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// TestOverflow: a full queue drops, reports Lost at once, delivers what
// was queued, then Reset, then what came after.
func TestOverflow(t *testing.T) {
	const size = 4
	r := newRecorder()
	q := start(New(size, r.deliver))
	defer q.Stop()
	q.Push([]byte("block"))
	<-r.in // "block" is being delivered: the queue is empty
	for i := range size + 3 {
		q.Push(fmt.Appendf(nil, "%d", i)) // 0..3 queued, 4..6 dropped
	}
	close(r.gate)
	want := append([]string{"m:block", "lost"}, msgs(0, size)...)
	want = append(want, "reset")
	if got := r.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	q.Push([]byte("after"))
	want = append(want, "m:after")
	if got := r.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// TestResetAtMark: Reset comes after the messages queued before the last
// drop, ahead of those queued after it.
func TestResetAtMark(t *testing.T) {
	r := newRecorder()
	q := start(New(2, r.deliver))
	defer q.Stop()
	q.Push([]byte("block"))
	<-r.in
	q.Push([]byte("a"))
	q.Push([]byte("b"))
	q.Push([]byte("dropped"))
	r.gate <- struct{}{} // "block" returns; the loop then delivers Lost, a, b, ...
	// Room for one message at a time now: push c once a is out.
	r.waitLen(t, 3)
	q.Push([]byte("c"))
	close(r.gate)
	want := []string{"m:block", "lost", "m:a", "m:b", "reset", "m:c"}
	got := r.waitLen(t, len(want))
	// c may be queued after a or after b; either way Reset precedes it
	// and follows b.
	if !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestDown(t *testing.T) {
	r := newRecorder()
	q := start(New(10, r.deliver))
	defer q.Stop()
	q.Push([]byte("block"))
	<-r.in
	q.Push([]byte("before"))
	q.SetDown(true)
	q.SetDown(true) // no second Lost
	q.SetDown(false)
	q.Push([]byte("after"))
	close(r.gate)
	want := []string{"m:block", "lost", "m:before", "reset", "m:after"}
	if got := r.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	// Down with nothing queued: Lost now, Reset only once up.
	q.SetDown(true)
	want = append(want, "lost")
	r.waitLen(t, len(want))
	time.Sleep(20 * time.Millisecond)
	if got := r.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q (no Reset while down)", got, want)
	}
	q.SetDown(false)
	want = append(want, "reset")
	if got := r.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// TestStopWaits: Stop from another goroutine returns only once the call
// in progress has; nothing is delivered after.
func TestStopWaits(t *testing.T) {
	var running, calls atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	q := start(New(10, func(kind uint8, data []byte) {
		running.Store(1)
		calls.Add(1)
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		running.Store(0)
	}))
	q.Push([]byte("x"))
	q.Push([]byte("y"))
	<-started
	stopped := make(chan struct{})
	go func() {
		q.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("Stop returned while the handler was running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-stopped
	if running.Load() != 0 {
		t.Fatal("handler still running after Stop returned")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1 (y was queued when Stop was called)", n)
	}
	q.Push([]byte("z"))
	q.Stop() // idempotent
	time.Sleep(10 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls after Stop, want 1", n)
	}
}

// TestStopFromHandler: the handler may stop its own queue.
func TestStopFromHandler(t *testing.T) {
	var calls atomic.Int32
	var q *Queue
	ready := make(chan struct{})
	done := make(chan struct{})
	q = start(New(10, func(kind uint8, data []byte) {
		<-ready
		calls.Add(1)
		q.Stop()
		close(done)
	}))
	q.Push([]byte("x"))
	q.Push([]byte("y"))
	close(ready)
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Stop from the handler did not return")
	}
	q.Stop()
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

func TestGoid(t *testing.T) {
	a := goid()
	ch := make(chan uint64)
	go func() { ch <- goid() }()
	b := <-ch
	if a == 0 || b == 0 || a == b {
		t.Fatalf("goid: %d and %d, want distinct non-zero ids", a, b)
	}
	if goid() != a {
		t.Fatal("goid changed within a goroutine")
	}
}

// TestHeld: before Start nothing is delivered; Start delivers the messages
// collected and forgets a failure mended meanwhile, but not one still on.
func TestHeld(t *testing.T) {
	r := newRecorder()
	q := New(10, r.deliver)
	q.Push([]byte("early"))
	q.SetDown(true)
	q.SetDown(false)
	time.Sleep(10 * time.Millisecond)
	if got := r.waitLen(t, 0); len(got) != 0 {
		t.Fatalf("delivered before Start: %q", got)
	}
	q.Start()
	q.Start()
	q.Push([]byte("late"))
	want := []string{"m:early", "m:late"}
	if got := r.waitLen(t, 2); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	q.Stop()

	r = newRecorder()
	q = New(10, r.deliver)
	q.SetDown(true)
	q.Start()
	q.SetDown(false)
	want = []string{"lost", "reset"}
	if got := r.waitLen(t, 2); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	q.Stop()

	// Stop without Start returns at once; Start after Stop does nothing.
	r = newRecorder()
	q = New(10, r.deliver)
	q.Push([]byte("x"))
	q.Stop()
	q.Start()
	time.Sleep(10 * time.Millisecond)
	if got := r.waitLen(t, 0); len(got) != 0 {
		t.Fatalf("delivered after Stop: %q", got)
	}
}
