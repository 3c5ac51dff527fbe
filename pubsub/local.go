package pubsub

import (
	"context"
	"fmt"
	"sync"

	"github.com/strata-go/strata/pubsub/internal/fanout"
)

// Defaults of the buses' options.
const (
	// DefaultQueueSize is the number of events a subscription's queue
	// holds unless configured otherwise.
	DefaultQueueSize = 1024
	// DefaultMaxMessage is the size limit of a message, in bytes, of the
	// buses that have no lower limit of their own (Local, Redis), unless
	// configured otherwise.
	DefaultMaxMessage = 1 << 20
)

// Local is an in-process bus: every Subscribe on the same *Local gets every
// Publish on it. It serves a single-node app, and tests that simulate
// several nodes in one process by sharing one Local.
//
// Its semantics are those of the network buses: each subscription has a
// bounded queue and its own goroutine; Publish never waits for a
// subscriber, and a subscriber whose queue is full loses the message and
// gets Lost, then Reset once it has caught up. Publish copies the message,
// once for all its subscribers.
type Local struct {
	queueSize  int
	maxMessage int

	mu     sync.RWMutex
	closed bool
	topics map[string]map[*fanout.Queue]struct{}
}

var _ Bus = (*Local)(nil)

// LocalOption configures a Local.
type LocalOption func(*Local)

// WithQueueSize sets the number of events a subscription's queue holds
// (DefaultQueueSize if n <= 0).
func WithQueueSize(n int) LocalOption {
	return func(l *Local) {
		if n > 0 {
			l.queueSize = n
		}
	}
}

// WithMaxMessage sets the size limit of a message, in bytes
// (DefaultMaxMessage if n <= 0).
func WithMaxMessage(n int) LocalOption {
	return func(l *Local) {
		if n > 0 {
			l.maxMessage = n
		}
	}
}

// NewLocal returns an empty in-process bus.
func NewLocal(opts ...LocalOption) *Local {
	l := &Local{
		queueSize:  DefaultQueueSize,
		maxMessage: DefaultMaxMessage,
		topics:     make(map[string]map[*fanout.Queue]struct{}),
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

// MaxMessage returns the size limit of a message, in bytes.
func (l *Local) MaxMessage() int { return l.maxMessage }

// Publish queues a copy of msg for every subscriber of topic, without
// waiting for any of them.
func (l *Local) Publish(ctx context.Context, topic string, msg []byte) error {
	if err := ValidateTopic(topic); err != nil {
		return fmt.Errorf("pubsub: publish: %w", err)
	}
	if len(msg) > l.maxMessage {
		return fmt.Errorf("pubsub: publish %s: %d bytes, more than %d: %w", topic, len(msg), l.maxMessage, ErrTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pubsub: publish %s: %w", topic, err)
	}
	data := append([]byte{}, msg...)
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return fmt.Errorf("pubsub: publish %s: %w", topic, ErrClosed)
	}
	for q := range l.topics[topic] {
		q.Push(data)
	}
	return nil
}

// Subscribe calls h for every message published on topic from now on; see
// Bus.Subscribe.
func (l *Local) Subscribe(ctx context.Context, topic string, h Handler) (cancel func(), err error) {
	if err := ValidateTopic(topic); err != nil {
		return nil, fmt.Errorf("pubsub: subscribe: %w", err)
	}
	if h == nil {
		return nil, fmt.Errorf("pubsub: subscribe %s: %w: nil handler", topic, ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pubsub: subscribe %s: %w", topic, err)
	}
	q := newQueue(topic, h, l.queueSize)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		q.Stop()
		return nil, fmt.Errorf("pubsub: subscribe %s: %w", topic, ErrClosed)
	}
	subs := l.topics[topic]
	if subs == nil {
		subs = make(map[*fanout.Queue]struct{})
		l.topics[topic] = subs
	}
	subs[q] = struct{}{}
	l.mu.Unlock()
	q.Start()
	return func() {
		l.mu.Lock()
		if subs := l.topics[topic]; subs != nil {
			delete(subs, q)
			if len(subs) == 0 {
				delete(l.topics, topic)
			}
		}
		l.mu.Unlock()
		q.Stop()
	}, nil
}

// Close stops every subscription; afterwards Publish and Subscribe fail
// with ErrClosed. It returns nil, every time.
func (l *Local) Close() error {
	l.mu.Lock()
	topics := l.topics
	l.topics = nil
	l.closed = true
	l.mu.Unlock()
	for _, subs := range topics {
		for q := range subs {
			q.Stop()
		}
	}
	return nil
}

// newQueue returns a subscription's queue, whose goroutine calls h once
// started.
func newQueue(topic string, h Handler, size int) *fanout.Queue {
	return fanout.New(size, func(kind uint8, data []byte) {
		h(Event{Kind: EventKind(kind), Topic: topic, Data: data})
	})
}
