package pubsub

import (
	"context"
	"errors"
	"fmt"
)

// Bus delivers each message published on a topic to every subscriber of
// that topic, on this node and every other node sharing the bus, at most
// once and in the order each publishing connection sent them.
//
// Implementations are safe for concurrent use.
type Bus interface {
	// Publish sends msg (at most MaxMessage bytes of the implementation)
	// to the subscribers of topic. It returns once the bus has accepted
	// the message (for Redis: PUBLISH returned). It honours ctx. The bus
	// keeps no reference to msg after Publish returns.
	Publish(ctx context.Context, topic string, msg []byte) error

	// Subscribe calls h for every message published on topic after
	// Subscribe returns, and for each change of the subscription's state
	// (see EventKind), until cancel is called or the bus is closed.
	//
	// When Subscribe returns a nil error the subscription is confirmed by
	// the server: messages published afterwards are delivered. When it
	// returns an error, h is never called.
	//
	// h is called from a goroutine owned by the bus, one call at a time
	// per subscription; it must not block for long: a slow handler makes
	// its subscription lose messages and report Lost, then Reset, but
	// never stalls other subscribers nor grows memory without bound.
	//
	// cancel is idempotent. After it returns, h is not running and is not
	// called again; it may be called from h itself (then h's current call
	// is its last).
	Subscribe(ctx context.Context, topic string, h Handler) (cancel func(), err error)

	// Close stops every subscription (as their cancel does) and releases
	// the bus's connections. Afterwards Publish and Subscribe fail with
	// ErrClosed. Close is idempotent.
	Close() error
}

// Handler receives a subscription's events. It must not modify
// Event.Data, which is shared with the other subscribers of the message;
// it may keep it.
type Handler func(Event)

// EventKind says what an Event reports.
type EventKind uint8

// The kinds of events a Handler receives.
const (
	// Message: Data holds a message published on Topic.
	Message EventKind = iota + 1
	// Lost: the subscription's connection failed, or the subscriber fell
	// behind and its queue overflowed: messages may be missed until the
	// next Reset.
	Lost
	// Reset: the subscription works again after a Lost. Messages published
	// between Lost and Reset may have been lost: whoever keeps state
	// derived from messages must resynchronise (a cache flushes, a chat
	// client catches up from the store).
	Reset
)

// String returns the kind's name, as "Message".
func (k EventKind) String() string {
	switch k {
	case Message:
		return "Message"
	case Lost:
		return "Lost"
	case Reset:
		return "Reset"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is what a Handler receives: a message, or a change of the
// subscription's state.
type Event struct {
	Kind  EventKind
	Topic string // the subscription's topic
	Data  []byte // the message, for Kind == Message; nil otherwise
}

// The error kinds, checked with errors.Is.
var (
	// ErrInvalid: bad input: an invalid topic, a nil handler, an invalid
	// option or URL.
	ErrInvalid = errors.New("invalid")
	// ErrTooLarge: a message longer than the bus's MaxMessage. It also
	// matches ErrInvalid.
	ErrTooLarge = fmt.Errorf("%w: message too large", ErrInvalid)
	// ErrClosed: the bus is closed.
	ErrClosed = errors.New("bus closed")
)
