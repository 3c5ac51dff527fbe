// Package fanout holds what every pub/sub bus of Strata shares: one
// subscription's bounded queue and the goroutine that calls its handler,
// which turn dropped messages and connection failures into Lost and Reset
// events.
//
// A bus pushes each message it receives to the Queue of every
// subscription of its topic, never waiting; it reports its connection's
// state with SetDown. The Queue's goroutine delivers, one at a time:
//
//   - Lost, as soon as a message was dropped (the queue was full) or the
//     connection went down, ahead of the messages still queued;
//   - the messages, in the order they were pushed;
//   - Reset, once the connection is up and every message queued before
//     the last drop or failure has been delivered. A message dropped later
//     makes a new Lost.
//
// So every message lost was pushed (or published, for a failure) before
// the Reset is delivered, and a subscriber that resynchronises on Reset
// misses nothing.
package fanout

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
)

// The kinds of events a Queue delivers; package pubsub's EventKind values.
const (
	Message uint8 = 1
	Lost    uint8 = 2
	Reset   uint8 = 3
)

// Queue is one subscription's bounded queue and the goroutine that
// delivers its events. Its methods are safe for concurrent use.
type Queue struct {
	deliver func(kind uint8, data []byte)
	size    int
	wake    chan struct{} // a token when there may be something to do
	done    chan struct{} // closed when the goroutine has returned

	mu       sync.Mutex
	items    [][]byte // messages to deliver, oldest first; at most size
	accepted uint64   // messages ever queued
	taken    uint64   // messages ever taken off the queue to deliver
	mark     uint64   // Reset waits until taken reaches it: the messages queued at the last drop or failure
	missed   bool     // a message was dropped or the connection went down since the last Reset
	reported bool     // Lost was delivered and Reset not yet
	down     bool     // the connection is down
	started  bool
	stopped  bool
	gid      uint64 // the goroutine's id, to tell a Stop from deliver itself
}

// New returns a queue of at most size messages (size > 0) whose
// goroutine, once started, calls deliver with each event: Message with the
// data pushed, Lost and Reset with nil.
//
// Until Start, the queue collects messages and states but delivers
// nothing, so that a Subscribe that fails never calls its handler.
func New(size int, deliver func(kind uint8, data []byte)) *Queue {
	return &Queue{
		deliver: deliver,
		size:    size,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
}

// Start starts delivering, from the messages collected since New. What
// happened to the subscription before (a failure since mended, a drop)
// is forgotten, unless the connection is still down: then it begins with
// Lost. Start after Start or Stop does nothing.
func (q *Queue) Start() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started || q.stopped {
		return
	}
	q.started = true
	if !q.down {
		q.missed = false
	}
	go q.run()
}

// Push queues data for delivery, or drops it (and reports Lost) when the
// queue is full. It never waits for the handler. The queue keeps data: the
// caller must not modify it afterwards.
func (q *Queue) Push(data []byte) {
	q.mu.Lock()
	switch {
	case q.stopped:
	case len(q.items) >= q.size:
		q.missed = true
		q.mark = q.accepted
	default:
		q.items = append(q.items, data)
		q.accepted++
	}
	q.mu.Unlock()
	q.signal()
}

// SetDown reports that the subscription's connection failed (true: Lost)
// or that the subscription is confirmed again (false: Reset, after what
// was queued before the failure). Repeating a state changes nothing.
func (q *Queue) SetDown(down bool) {
	q.mu.Lock()
	if down && !q.down {
		q.missed = true
		q.mark = q.accepted
	}
	q.down = down
	q.mu.Unlock()
	q.signal()
}

// Stop discards what is queued and stops the goroutine, if started. Unless called from
// deliver itself, it waits for a call of deliver in progress to return, so
// that deliver is never called once Stop has returned. It is idempotent.
func (q *Queue) Stop() {
	id := goid()
	q.mu.Lock()
	q.stopped = true
	q.items = nil
	wait := q.started && id != q.gid // q.gid is 0 until the goroutine runs
	q.mu.Unlock()
	q.signal()
	if wait {
		<-q.done
	}
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue) run() {
	defer close(q.done)
	id := goid()
	q.mu.Lock()
	q.gid = id
	q.mu.Unlock()
	for {
		kind, data, ok := q.next()
		if !ok {
			return
		}
		q.deliver(kind, data)
	}
}

// next waits for the next event to deliver; ok is false once stopped.
func (q *Queue) next() (kind uint8, data []byte, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		switch {
		case q.stopped:
			return 0, nil, false
		case q.missed && !q.reported:
			q.reported = true
			return Lost, nil, true
		case q.reported && !q.down && q.taken >= q.mark:
			q.reported = false
			q.missed = false
			return Reset, nil, true
		case len(q.items) > 0:
			data = q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			q.taken++
			return Message, data, true
		}
		q.mu.Unlock()
		<-q.wake
		q.mu.Lock()
	}
}

// goid returns the current goroutine's id, parsed from the first line of
// its stack trace ("goroutine 123 [running]:"), as net/http's HTTP/2 code
// does to track goroutines. Stop uses it to tell whether it is called from
// the handler, which it must not wait for. It returns 0 if the format ever
// changes; then Stop never waits, a weaker guarantee rather than a
// deadlock (and the package's tests fail).
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b, ok := bytes.CutPrefix(b, []byte("goroutine "))
	if !ok {
		return 0
	}
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0
	}
	return id
}
