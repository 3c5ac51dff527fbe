package pgpubsub

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-go/strata/pubsub/internal/busopts"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/pubsub/internal/fanout"
)

// Defaults and limits of Options.
const (
	DefaultPrefix      = busopts.DefaultPrefix
	DefaultHealthCheck = busopts.DefaultHealthCheck
	// MaxPrefix is the longest Options.Prefix, in bytes.
	MaxPrefix = busopts.MaxPrefix
	// DefaultMaxConns is the default size of the pool of connections that
	// publish.
	DefaultMaxConns = 4
)

// Options configure a Bus. The zero value is the defaults.
type Options struct {
	// Prefix namespaces the bus's channels: topic t is the PostgreSQL
	// channel Prefix+t (see the package documentation for long ones).
	// Every node of an app uses the same. Default "strata:"; at most
	// MaxPrefix bytes, of the characters of topics.
	Prefix string
	// HealthCheck is how long the listening connection may be silent
	// before the bus pings it, and how long the ping may take. Default
	// one second.
	HealthCheck time.Duration
	// QueueSize is the number of events each subscription's queue holds.
	// Default pubsub.DefaultQueueSize.
	QueueSize int
	// MaxConns is the size of the pool of connections that publish,
	// unless the connection string sets pool_max_conns. Default
	// DefaultMaxConns.
	MaxConns int32
}

// withDefaults checks o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	if err := busopts.Check(&o.Prefix, &o.HealthCheck, &o.QueueSize); err != nil {
		return o, err
	}
	switch {
	case o.MaxConns < 0:
		return o, fmt.Errorf("%w: negative pool size %d", pubsub.ErrInvalid, o.MaxConns)
	case o.MaxConns == 0:
		o.MaxConns = DefaultMaxConns
	}
	return o, nil
}

// Bus is a pubsub.Bus over PostgreSQL LISTEN/NOTIFY. Its methods are safe
// for concurrent use.
type Bus struct {
	opts   Options
	config *pgx.ConnConfig // of the listening connection
	pool   *pgxpool.Pool   // publishes
	ctx    context.Context // cancelled by Close: stops the listener
	stop   context.CancelFunc
	done   chan struct{} // closed when the listener has returned
	pid    atomic.Uint32 // the listening connection's backend process, for tests

	mu       sync.Mutex
	closed   bool
	channels map[string]*channel // by channel name
	// pending: the channels whose subscriptions changed since the listener
	// last ran LISTEN and UNLISTEN; interrupt, when set, stops its wait
	// for notifications.
	pending   map[*channel]struct{}
	interrupt context.CancelFunc
	// connErr is why the listener has no connection now; nil when it has.
	connErr error
}

var _ pubsub.Bus = (*Bus)(nil)

// channel is the state of one PostgreSQL channel that has, or just had,
// subscriptions. Its fields are guarded by Bus.mu.
type channel struct {
	name string
	subs map[*fanout.Queue]struct{}
	// listening: LISTEN committed on the current connection. unlistening:
	// UNLISTEN is being sent. ready is closed while listening and not
	// unlistening: Subscribe waits for it.
	listening, unlistening bool
	ready                  chan struct{}
	// down: the connection was lost since the last LISTEN; the
	// subscriptions were told (Lost) and await the next (Reset).
	down bool
}

// setReady keeps ready closed exactly while the channel is listening and
// not unlistening. b.mu is held.
func (ch *channel) setReady() {
	want := ch.listening && !ch.unlistening
	select {
	case <-ch.ready:
		if !want {
			ch.ready = make(chan struct{})
		}
	default:
		if want {
			close(ch.ready)
		}
	}
}

// New returns a bus on the database connString names (a URL or keyword/
// value string, as pgx takes it; pool_* parameters configure the pool that
// publishes). It connects the listening connection before it returns, so
// that a wrong address or password fails here.
func New(ctx context.Context, connString string, opts Options) (*Bus, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("pubsub: postgres: %w", err)
	}
	poolConfig, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("pubsub: postgres: %w: %v", pubsub.ErrInvalid, err)
	}
	if !strings.Contains(connString, "pool_max_conns") {
		poolConfig.MaxConns = o.MaxConns
	}
	b := &Bus{
		opts:     o,
		config:   poolConfig.ConnConfig.Copy(),
		done:     make(chan struct{}),
		channels: make(map[string]*channel),
		pending:  make(map[*channel]struct{}),
	}
	conn, err := b.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("pubsub: postgres: connect: %w", err)
	}
	b.pool, err = pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("pubsub: postgres: %w", err)
	}
	b.ctx, b.stop = context.WithCancel(context.Background())
	go b.listen(conn)
	return b, nil
}

// MaxMessage returns the size limit of a message, in bytes: MaxMessage.
func (b *Bus) MaxMessage() int { return MaxMessage }

// Publish sends msg to the subscribers of topic, on every node, with
// pg_notify; it returns once the notification is committed.
func (b *Bus) Publish(ctx context.Context, topic string, msg []byte) error {
	if err := pubsub.ValidateTopic(topic); err != nil {
		return fmt.Errorf("pubsub: publish: %w", err)
	}
	if len(msg) > MaxMessage {
		return fmt.Errorf("pubsub: publish %s: %d bytes, more than %d: %w", topic, len(msg), MaxMessage, pubsub.ErrTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pubsub: publish %s: %w", topic, err)
	}
	if b.isClosed() {
		return fmt.Errorf("pubsub: publish %s: %w", topic, pubsub.ErrClosed)
	}
	_, err := b.pool.Exec(ctx, "SELECT pg_notify($1, $2)", channelName(b.opts.Prefix, topic), encode(msg))
	if err != nil {
		if b.isClosed() {
			err = pubsub.ErrClosed
		}
		return fmt.Errorf("pubsub: publish %s: %w", topic, err)
	}
	return nil
}

// Subscribe calls h for every message published on topic from now on; see
// pubsub.Bus. It returns once the listening connection's LISTEN has
// committed, and fails at once while that connection is down.
func (b *Bus) Subscribe(ctx context.Context, topic string, h pubsub.Handler) (cancel func(), err error) {
	if err := pubsub.ValidateTopic(topic); err != nil {
		return nil, fmt.Errorf("pubsub: subscribe: %w", err)
	}
	if h == nil {
		return nil, fmt.Errorf("pubsub: subscribe %s: %w: nil handler", topic, pubsub.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pubsub: subscribe %s: %w", topic, err)
	}
	name := channelName(b.opts.Prefix, topic)
	// The queue starts collecting now, and delivering once listening.
	q := fanout.New(b.opts.QueueSize, func(kind uint8, data []byte) {
		h(pubsub.Event{Kind: pubsub.EventKind(kind), Topic: topic, Data: data})
	})

	b.mu.Lock()
	switch {
	case b.closed:
		err = pubsub.ErrClosed
	case b.connErr != nil:
		err = fmt.Errorf("not connected: %w", b.connErr)
	}
	if err != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("pubsub: subscribe %s: %w", topic, err)
	}
	ch := b.channels[name]
	if ch == nil {
		ch = &channel{name: name, subs: make(map[*fanout.Queue]struct{}), ready: make(chan struct{})}
		b.channels[name] = ch
	}
	ch.subs[q] = struct{}{}
	ready := ch.ready
	if !ch.listening || ch.unlistening {
		b.wakeListener(ch)
	}
	b.mu.Unlock()

	cancel = func() { b.unsubscribe(ch, q) }
	select {
	case <-ready:
		q.Start()
		return cancel, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-b.ctx.Done():
		err = pubsub.ErrClosed
	}
	cancel()
	return nil, fmt.Errorf("pubsub: subscribe %s: %w", topic, err)
}

// unsubscribe ends the subscription q of ch: cancel's work. The listener
// runs UNLISTEN if it was the channel's last.
func (b *Bus) unsubscribe(ch *channel, q *fanout.Queue) {
	b.mu.Lock()
	if _, ok := ch.subs[q]; ok {
		delete(ch.subs, q)
		if len(ch.subs) == 0 {
			b.wakeListener(ch)
		}
	}
	b.mu.Unlock()
	q.Stop()
}

// wakeListener tells the listener that ch's subscriptions changed. b.mu
// is held.
func (b *Bus) wakeListener(ch *channel) {
	if b.closed {
		return
	}
	b.pending[ch] = struct{}{}
	if b.interrupt != nil {
		b.interrupt()
		b.interrupt = nil
	}
}

// Close stops every subscription, the listener and the connections.
// Later calls return nil.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	var queues []*fanout.Queue
	for _, ch := range b.channels {
		for q := range ch.subs {
			queues = append(queues, q)
		}
	}
	b.channels = nil
	b.mu.Unlock()

	b.stop()
	<-b.done
	for _, q := range queues {
		q.Stop()
	}
	b.pool.Close()
	return nil
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
