package redispubsub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/strata-go/strata/pubsub/internal/busopts"

	"github.com/strata-go/strata/pubsub/internal/retry"

	"github.com/redis/go-redis/v9"

	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/pubsub/internal/fanout"
)

// Defaults and limits of Options.
const (
	DefaultPrefix      = busopts.DefaultPrefix
	DefaultHealthCheck = busopts.DefaultHealthCheck
	// MaxPrefix is the longest Options.Prefix, in bytes.
	MaxPrefix = busopts.MaxPrefix
	// MaxMaxMessage is the largest Options.MaxMessage: Redis's limit on a
	// string (proto-max-bulk-len).
	MaxMaxMessage = 512 << 20
)

// healthToken is the payload of the health check's PINGs; Subscribe's
// carry subToken and a number.
const (
	healthToken = "strata-pubsub-health"
	subToken    = "strata-pubsub-sub-"
)

// Options configure a Bus. The zero value is the defaults.
type Options struct {
	// Prefix namespaces the bus's channels: topic t is the Redis channel
	// Prefix+t. Every node of an app uses the same. Default "strata:"; at
	// most MaxPrefix bytes, of the characters of topics.
	Prefix string
	// HealthCheck is how long the subscription connection may be silent
	// before the bus PINGs it, and how long the PING may go unanswered
	// before the connection counts as lost. Default one second.
	HealthCheck time.Duration
	// QueueSize is the number of events each subscription's queue holds.
	// Default pubsub.DefaultQueueSize.
	QueueSize int
	// MaxMessage is the size limit of a message, in bytes. Default
	// pubsub.DefaultMaxMessage; at most MaxMaxMessage.
	MaxMessage int
}

// withDefaults checks o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	if err := busopts.Check(&o.Prefix, &o.HealthCheck, &o.QueueSize); err != nil {
		return o, err
	}
	switch {
	case o.MaxMessage < 0 || o.MaxMessage > MaxMaxMessage:
		return o, fmt.Errorf("%w: message size limit %d not in 1..%d", pubsub.ErrInvalid, o.MaxMessage, MaxMaxMessage)
	case o.MaxMessage == 0:
		o.MaxMessage = pubsub.DefaultMaxMessage
	}
	return o, nil
}

// Bus is a pubsub.Bus over Redis pub/sub. Its methods are safe for
// concurrent use.
type Bus struct {
	client     redis.UniversalClient
	ownsClient bool // Open made it: Close closes it
	opts       Options
	ps         *redis.PubSub
	ctx        context.Context // cancelled by Close: stops the receive loop
	stop       context.CancelFunc
	done       chan struct{} // closed when the receive loop has returned

	// cmdMu makes the SUBSCRIBE and UNSUBSCRIBE commands go out in the
	// order of the changes to channels that called for them.
	cmdMu sync.Mutex

	mu       sync.Mutex
	closed   bool
	channels map[string]*channel // by Redis channel name
	tokens   map[string]*channel // Subscribe's PINGs awaiting their reply, by payload
	seq      uint64              // the last token's number
}

var _ pubsub.Bus = (*Bus)(nil)

// channel is the state of one Redis channel that has subscriptions. Its
// fields are guarded by Bus.mu.
type channel struct {
	name  string
	subs  map[*fanout.Queue]struct{}
	ready chan struct{} // closed once confirmed; replaced when that ends

	// expect counts the confirmations still due for SUBSCRIBE commands
	// the Bus sent (0 or 1), on the current connection.
	expect int
	// confirmed: the server has the subscription connection subscribed
	// to the channel, as far as the Bus knows.
	confirmed bool
	// down: the connection was lost since; the subscriptions were told
	// (Lost) and await the channel's next confirmation (Reset).
	down bool
	// failed is closed, and err set, when Redis answered an error while
	// the channel awaited its confirmation (a SUBSCRIBE the server's ACL
	// forbids, say): its Subscribe calls fail with err.
	failed chan struct{}
	err    error
}

// New returns a bus over client: a *redis.Client, a *redis.ClusterClient
// or a failover client (not a *redis.Ring, whose shards do not share
// messages). The caller keeps ownership of client and closes it after the
// bus. New does not contact the server: the subscription connection is
// made in the background, and Subscribe fails if it cannot be.
func New(client redis.UniversalClient, opts Options) (*Bus, error) {
	if client == nil {
		return nil, fmt.Errorf("pubsub: redis: %w: nil client", pubsub.ErrInvalid)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("pubsub: redis: %w", err)
	}
	b := &Bus{
		client:   client,
		opts:     o,
		done:     make(chan struct{}),
		channels: make(map[string]*channel),
		tokens:   make(map[string]*channel),
	}
	b.ctx, b.stop = context.WithCancel(context.Background())
	// No channels yet: the connection is made by the first receive.
	b.ps = client.Subscribe(b.ctx)
	go b.receive()
	return b, nil
}

// MaxMessage returns the size limit of a message, in bytes.
func (b *Bus) MaxMessage() int { return b.opts.MaxMessage }

// Publish sends msg to the subscribers of topic, on every node, with a
// PUBLISH; it returns when Redis has answered.
func (b *Bus) Publish(ctx context.Context, topic string, msg []byte) error {
	if err := pubsub.ValidateTopic(topic); err != nil {
		return fmt.Errorf("pubsub: publish: %w", err)
	}
	if len(msg) > b.opts.MaxMessage {
		return fmt.Errorf("pubsub: publish %s: %d bytes, more than %d: %w", topic, len(msg), b.opts.MaxMessage, pubsub.ErrTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pubsub: publish %s: %w", topic, err)
	}
	if b.isClosed() {
		return fmt.Errorf("pubsub: publish %s: %w", topic, pubsub.ErrClosed)
	}
	if err := b.publish(ctx, b.opts.Prefix+topic, msg); err != nil {
		if b.isClosed() {
			err = pubsub.ErrClosed
		}
		return fmt.Errorf("pubsub: publish %s: %w", topic, err)
	}
	return nil
}

// publish sends a PUBLISH. On a cluster, where any node would do, it goes
// to the master of the channel's slot, always the same one: each node
// passes a message on to the others in the order it got it, but two nodes
// would not keep the order of two messages between them.
func (b *Bus) publish(ctx context.Context, channel string, msg []byte) error {
	if cc, ok := b.client.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, channel)
		if err != nil {
			return err
		}
		return node.Publish(ctx, channel, msg).Err()
	}
	return b.client.Publish(ctx, channel, msg).Err()
}

// Subscribe calls h for every message published on topic from now on; see
// pubsub.Bus. It returns once Redis has confirmed the subscription, and
// fails if it cannot send Redis the command.
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
	name := b.opts.Prefix + topic
	// The queue starts collecting now, and delivering once confirmed.
	q := fanout.New(b.opts.QueueSize, func(kind uint8, data []byte) {
		h(pubsub.Event{Kind: pubsub.EventKind(kind), Topic: topic, Data: data})
	})

	b.cmdMu.Lock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.cmdMu.Unlock()
		q.Stop()
		return nil, fmt.Errorf("pubsub: subscribe %s: %w", topic, pubsub.ErrClosed)
	}
	ch := b.channels[name]
	isNew := ch == nil
	if isNew {
		ch = &channel{name: name, subs: make(map[*fanout.Queue]struct{}), ready: make(chan struct{}), failed: make(chan struct{}), expect: 1}
		b.channels[name] = ch
	}
	ch.subs[q] = struct{}{}
	ready, failed, confirmed := ch.ready, ch.failed, ch.confirmed
	var token string
	if !confirmed {
		b.seq++
		token = subToken + strconv.FormatUint(b.seq, 10)
		b.tokens[token] = ch
	}
	b.mu.Unlock()
	// The PING follows the SUBSCRIBE on the connection (go-redis subscribes
	// a new connection to every channel before anything else), so its
	// reply means the channel is subscribed.
	if isNew {
		err = b.ps.Subscribe(ctx, name)
	}
	if err == nil && !confirmed {
		err = b.ps.Ping(ctx, token)
	}
	b.cmdMu.Unlock()

	cancel = func() { b.unsubscribe(ch, q) }
	if confirmed {
		q.Start()
		return cancel, nil
	}
	defer b.forget(token)
	fail := func(err error) (func(), error) {
		cancel()
		if b.isClosed() {
			err = pubsub.ErrClosed
		}
		return nil, fmt.Errorf("pubsub: subscribe %s: %w", topic, err)
	}
	if err != nil {
		return fail(err)
	}
	retry := time.NewTimer(b.opts.HealthCheck)
	defer retry.Stop()
	for {
		select {
		case <-ready:
			q.Start()
			return cancel, nil
		case <-failed:
			b.mu.Lock()
			err := ch.err
			b.mu.Unlock()
			return fail(err)
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-b.ctx.Done():
			return fail(pubsub.ErrClosed)
		case <-retry.C:
			// The PING's reply may have been lost with a connection.
			if err := b.ps.Ping(ctx, token); err != nil {
				return fail(err)
			}
			retry.Reset(b.opts.HealthCheck)
		}
	}
}

// forget drops a Subscribe's PING token.
func (b *Bus) forget(token string) {
	b.mu.Lock()
	delete(b.tokens, token)
	b.mu.Unlock()
}

// unsubscribe ends the subscription q of ch: cancel's work.
func (b *Bus) unsubscribe(ch *channel, q *fanout.Queue) {
	b.cmdMu.Lock()
	b.mu.Lock()
	_, ok := ch.subs[q]
	delete(ch.subs, q)
	last := ok && len(ch.subs) == 0 && b.channels[ch.name] == ch
	if last {
		delete(b.channels, ch.name)
	}
	closed := b.closed
	b.mu.Unlock()
	if last && !closed {
		// go-redis forgets the channel even if the command fails, so a
		// new connection will not subscribe to it again.
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.HealthCheck)
		_ = b.ps.Unsubscribe(ctx, ch.name)
		cancel()
	}
	b.cmdMu.Unlock()
	q.Stop()
}

// Close stops every subscription, the receive loop and its connection,
// and the client if Open made it. Later calls return nil.
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
	b.channels, b.tokens = nil, nil
	b.mu.Unlock()

	b.stop()
	_ = b.ps.Close() // unblocks the receive loop's read
	<-b.done
	for _, q := range queues {
		q.Stop()
	}
	if b.ownsClient {
		if err := b.client.Close(); err != nil {
			return fmt.Errorf("pubsub: redis: close: %w", err)
		}
	}
	return nil
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// receive is the receive loop: it reads the subscription connection until
// Close, dispatching what comes, checking the connection's health when it
// is silent, and reporting its failures.
func (b *Bus) receive() {
	defer close(b.done)
	pinged := false // a health-check PING awaits its reply
	failures := 0   // consecutive failures, for the backoff
	for {
		msg, err := b.read(pinged)
		if b.ctx.Err() != nil {
			return
		}
		if err == nil {
			pinged, failures = false, 0
			b.dispatch(msg)
			continue
		}
		if rerr := redis.Error(nil); errors.As(err, &rerr) {
			// An error reply to a command, on a working connection.
			pinged, failures = false, 0
			b.replyError(err)
			continue
		}
		if !pinged && isTimeout(err) {
			// Silence: ask for a sign of life, due within an interval.
			ctx, cancel := context.WithTimeout(b.ctx, b.opts.HealthCheck)
			err = b.ps.Ping(ctx, healthToken)
			cancel()
			if err == nil {
				pinged = true
				continue
			}
		}
		// The connection failed (go-redis has closed it and will make a
		// new one, subscribed to every channel, on the next read).
		pinged = false
		b.connLost()
		failures++
		if !retry.Sleep(b.ctx, retry.Backoff(failures)) {
			return
		}
	}
}

// read reads the next message, waiting at most HealthCheck. While a
// health-check PING is due, its deadline is the context's, which go-redis
// treats as a failure of the connection (and replaces it); otherwise it is
// a plain timeout, which go-redis lets pass.
func (b *Bus) read(pinged bool) (any, error) {
	if !pinged {
		return b.ps.ReceiveTimeout(b.ctx, b.opts.HealthCheck)
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.HealthCheck)
	defer cancel()
	return b.ps.Receive(ctx)
}

// dispatch handles one message from the subscription connection.
func (b *Bus) dispatch(msg any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch m := msg.(type) {
	case *redis.Message:
		ch := b.channels[m.Channel]
		if ch == nil {
			return
		}
		data := []byte(m.Payload)
		for q := range ch.subs {
			q.Push(data)
		}
	case *redis.Subscription:
		ch := b.channels[m.Channel]
		if m.Kind != "subscribe" || ch == nil {
			return
		}
		switch {
		case ch.expect > 0:
			// The reply to the Bus's own SUBSCRIBE; Subscribe's PING
			// confirms.
			ch.expect--
		case ch.down:
			// Subscribed again after the connection was lost.
			b.confirm(ch)
		case ch.confirmed:
			// go-redis subscribed a new connection again, without a read
			// error here: messages may have been lost in between.
			for q := range ch.subs {
				q.SetDown(true)
				q.SetDown(false)
			}
		}
	case *redis.Pong:
		if ch := b.tokens[m.Payload]; ch != nil && b.channels[ch.name] == ch {
			b.confirm(ch)
		}
	}
}

// replyError fails the Subscribe calls in progress with err, an error
// reply from Redis: it answers one of their commands (nothing else the Bus
// sends can fail), and which one the reply does not say.
func (b *Bus) replyError(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.tokens {
		if !ch.confirmed && ch.err == nil {
			ch.err = fmt.Errorf("redis answered: %w", err)
			close(ch.failed)
		}
	}
}

// confirm records that the server has the connection subscribed to ch.
// b.mu is held.
func (b *Bus) confirm(ch *channel) {
	if !ch.confirmed {
		ch.confirmed = true
		close(ch.ready)
	}
	if ch.down {
		ch.down = false
		for q := range ch.subs {
			q.SetDown(false)
		}
	}
}

// connLost records that the subscription connection failed: every
// subscription gets Lost, and awaits its channel's confirmation on the
// next connection.
func (b *Bus) connLost() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.channels {
		ch.expect = 0 // replies to what was sent on the lost connection will not come
		ch.down = true
		if ch.confirmed {
			ch.confirmed = false
			ch.ready = make(chan struct{})
		}
		for q := range ch.subs {
			q.SetDown(true)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
