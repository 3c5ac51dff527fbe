package pb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoNodes is returned (wrapped, with the last connection error if any)
// when no node of a Cluster is up. The health check brings nodes back.
var ErrNoNodes = errors.New("riak: no node available")

// ErrClosed is returned by the operations of a closed Cluster.
var ErrClosed = errors.New("riak: cluster closed")

// ClusterOptions configures a Cluster. Zero fields take the documented
// defaults.
type ClusterOptions struct {
	// Conn configures each connection (dial and request timeouts, frame
	// limit).
	Conn ConnOptions

	// MinIdle is the number of idle connections per node kept open (and
	// opened in the background) while the node is up. Default 0.
	MinIdle int
	// MaxIdle is the most idle connections kept per node. Default 8.
	MaxIdle int
	// MaxOpen is the most connections in use per node; further requests
	// for the node wait (within their context). Default 64.
	MaxOpen int
	// IdleTimeout closes connections idle for longer (MinIdle excepted).
	// Default 30 seconds.
	IdleTimeout time.Duration

	// MaxAttempts is the most attempts of one operation, on any nodes.
	// Default 3.
	MaxAttempts int
	// RetryBackoff is the pause before the second attempt; it doubles
	// (with jitter) before each further one, up to MaxRetryBackoff.
	// Defaults 10 ms and 500 ms.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration

	// HealthCheckInterval is both the period of the cluster's maintenance
	// loop and the first pause before a node marked down is pinged; the
	// pause doubles after each failed ping, up to MaxHealthCheckBackoff.
	// Defaults 500 ms and 10 s.
	HealthCheckInterval   time.Duration
	MaxHealthCheckBackoff time.Duration
	// HealthCheckTimeout bounds one health check (dial and ping), and the
	// background opening of a MinIdle connection. Default 2 s.
	HealthCheckTimeout time.Duration
}

func (o ClusterOptions) withDefaults() ClusterOptions {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.MinIdle < 0 {
		o.MinIdle = 0
	}
	def(&o.MaxIdle, 8)
	def(&o.MaxOpen, 64)
	def(&o.MaxAttempts, 3)
	o.MaxIdle = max(o.MaxIdle, o.MinIdle)
	defDur(&o.IdleTimeout, 30*time.Second)
	defDur(&o.RetryBackoff, 10*time.Millisecond)
	defDur(&o.MaxRetryBackoff, 500*time.Millisecond)
	defDur(&o.HealthCheckInterval, 500*time.Millisecond)
	defDur(&o.MaxHealthCheckBackoff, 10*time.Second)
	defDur(&o.HealthCheckTimeout, 2*time.Second)
	return o
}

// Cluster runs operations on several Riak nodes: round robin over the
// nodes that are up, a pool of connections per node, failover and retries
// on connection errors, and a health check that pings nodes marked down
// until they answer.
//
// Retries happen only after connection errors, never after a *Error (Riak
// answered) nor after the context ends. Idempotent operations (Ping,
// ServerInfo, Get, Index, DtFetch, the bucket and bucket-type properties
// operations, and IndexStream before its first callback) are retried after
// any connection error. The others (Put, Delete, DtUpdate, ListKeys,
// ListBuckets) are retried only when the request was certainly not sent,
// i.e. when connecting failed; but a Put carrying a vclock and a key,
// without if_none_match or if_not_modified, is treated as idempotent.
//
// A Cluster is safe for concurrent use. Close stops its goroutine.
type Cluster struct {
	opts  ClusterOptions
	nodes []*node
	next  atomic.Uint32 // round-robin position

	ctx    context.Context // ended by Close; bounds background work
	cancel context.CancelFunc
	wg     sync.WaitGroup // the maintenance loop and the checks it starts
	closed atomic.Bool
}

// NewCluster returns a Cluster of the nodes at addrs (host:port). No
// connection is opened before the first operation (or the first
// maintenance pass, with MinIdle > 0); every node starts up.
func NewCluster(addrs []string, opts ClusterOptions) (*Cluster, error) {
	if len(addrs) == 0 {
		return nil, errors.New("riak: cluster without nodes")
	}
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	cl := &Cluster{opts: opts, ctx: ctx, cancel: cancel}
	for i, a := range addrs {
		cl.nodes = append(cl.nodes, &node{
			idx:   i,
			addr:  a,
			opts:  &cl.opts,
			slots: make(chan struct{}, opts.MaxOpen),
			up:    true,
		})
	}
	cl.wg.Add(1)
	go cl.maintain()
	return cl, nil
}

// Close stops the health checks, waits for the background goroutines and
// closes the idle connections. Operations in progress finish (their
// connections are then closed); later ones fail with ErrClosed.
func (cl *Cluster) Close() error {
	if cl.closed.Swap(true) {
		return nil
	}
	cl.cancel()
	cl.wg.Wait()
	for _, n := range cl.nodes {
		n.close()
	}
	return nil
}

// NodeStatus describes one node of a Cluster.
type NodeStatus struct {
	Addr    string
	Up      bool
	Idle    int   // idle pooled connections
	InUse   int   // connections running an operation
	LastErr error // the error that marked the node down, nil when up
}

// Nodes returns the state of each node, in the order given to NewCluster.
func (cl *Cluster) Nodes() []NodeStatus {
	s := make([]NodeStatus, len(cl.nodes))
	for i, n := range cl.nodes {
		n.mu.Lock()
		s[i] = NodeStatus{Addr: n.addr, Up: n.up, Idle: len(n.idle), InUse: len(n.slots), LastErr: n.lastErr}
		n.mu.Unlock()
	}
	return s
}

// pick returns the next node that is up, preferring one not yet tried by
// this operation, or nil if none is up.
func (cl *Cluster) pick(tried []bool) *node {
	start := int(cl.next.Add(1) % uint32(len(cl.nodes)))
	var again *node
	for i := range cl.nodes {
		n := cl.nodes[(start+i)%len(cl.nodes)]
		if !n.isUp() {
			continue
		}
		if !tried[n.idx] {
			return n
		}
		if again == nil {
			again = n
		}
	}
	return again
}

// run runs op on a pooled connection, failing over and retrying as the
// Cluster documents. retry, if not nil, reports whether op may be run again
// after a connection error once its request may have been sent.
func (cl *Cluster) run(ctx context.Context, retry func() bool, op func(*Conn) error) error {
	if cl.closed.Load() {
		return ErrClosed
	}
	tried := make([]bool, len(cl.nodes))
	var last error
	for attempt := range cl.opts.MaxAttempts {
		if attempt > 0 {
			if err := sleep(ctx, cl.backoff(attempt)); err != nil {
				return fmt.Errorf("riak: %w (after: %w)", err, last)
			}
		}
		n := cl.pick(tried)
		if n == nil {
			if last != nil {
				return fmt.Errorf("%w: %w", ErrNoNodes, last)
			}
			return ErrNoNodes
		}
		tried[n.idx] = true
		c, err := n.get(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrClosed) {
				return err
			}
			// Connecting failed: the request was not sent, so any
			// operation may go to another node.
			n.markDown(err)
			last = err
			continue
		}
		err = op(c)
		n.put(c)
		if err == nil || !c.Broken() || ctx.Err() != nil ||
			errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return err // success, Riak's answer, a local error, or the caller gave up
		}
		last = err
		if nodeFailure(err) {
			n.markDown(err)
		}
		if retry == nil || !retry() {
			return err
		}
	}
	return last
}

// backoff returns the pause before attempt (1 for the second): exponential
// with jitter in [d/2, d).
func (cl *Cluster) backoff(attempt int) time.Duration {
	d := cl.opts.RetryBackoff << min(attempt-1, 20)
	if d <= 0 || d > cl.opts.MaxRetryBackoff {
		d = cl.opts.MaxRetryBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// nodeFailure reports whether a connection error suggests the node itself
// is gone (closed or reset connection) rather than slow (a timeout) or
// confused (a malformed frame): only then is it marked down.
func nodeFailure(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// maintain is the Cluster's goroutine: on each tick it closes expired idle
// connections and starts a health check for each node due for one (or the
// opening of MinIdle connections). It ends when Close cancels cl.ctx.
func (cl *Cluster) maintain() {
	defer cl.wg.Done()
	t := time.NewTicker(cl.opts.HealthCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-cl.ctx.Done():
			return
		case now := <-t.C:
			for _, n := range cl.nodes {
				if job := n.tick(now); job != nil {
					cl.wg.Add(1)
					go func() {
						defer cl.wg.Done()
						job(cl.ctx)
					}()
				}
			}
		}
	}
}

// node is one Riak node of a Cluster and its connection pool.
type node struct {
	idx  int
	addr string
	opts *ClusterOptions

	// slots holds a token per connection in use, so that at most MaxOpen
	// are; idle connections hold none, and are only kept while
	// idle + in use <= MaxOpen.
	slots chan struct{}

	mu        sync.Mutex
	idle      []idleConn // most recently used last
	up        bool
	busy      bool // a health check or MinIdle fill is running
	backoff   time.Duration
	nextCheck time.Time
	lastErr   error
	closed    bool
}

type idleConn struct {
	c     *Conn
	since time.Time
}

func (n *node) isUp() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.up
}

// get returns a connection to the node, pooled or new, holding a slot
// until put. An error is ctx's, ErrClosed, or a dial failure.
func (n *node) get(ctx context.Context) (*Conn, error) {
	select {
	case n.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	now := time.Now()
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		<-n.slots
		return nil, ErrClosed
	}
	for len(n.idle) > 0 {
		ic := n.idle[len(n.idle)-1]
		n.idle = n.idle[:len(n.idle)-1]
		n.mu.Unlock()
		// A connection the node closed while it was idle (the node
		// restarted, say) would fail the request on it, and one that is
		// not idempotent could not be retried: probe it first.
		if now.Sub(ic.since) > n.opts.IdleTimeout || ic.c.Broken() || !ic.c.alive() {
			ic.c.Close()
			n.mu.Lock()
			continue
		}
		return ic.c, nil
	}
	n.mu.Unlock()
	c, err := Dial(ctx, n.addr, n.opts.Conn)
	if err != nil {
		<-n.slots
		return nil, err
	}
	return c, nil
}

// put gives back a connection from get: kept idle if it is usable and
// there is room, closed otherwise.
func (n *node) put(c *Conn) {
	n.mu.Lock()
	if !n.closed && n.up && c.Err() == nil && len(n.idle) < n.opts.MaxIdle {
		n.idle = append(n.idle, idleConn{c, time.Now()})
		c = nil
	}
	n.mu.Unlock()
	if c != nil {
		c.Close()
	}
	<-n.slots
}

// markDown takes the node out of rotation after err, closing its idle
// connections (likely dead too); the health check will ping it.
func (n *node) markDown(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lastErr = err
	if !n.up {
		return
	}
	n.up = false
	n.backoff = n.opts.HealthCheckInterval
	n.nextCheck = time.Now().Add(n.backoff)
	n.closeIdleLocked(0)
}

// closeIdleLocked closes idle connections, oldest first, until keep remain.
func (n *node) closeIdleLocked(keep int) {
	for len(n.idle) > keep {
		n.idle[0].c.Close()
		n.idle = n.idle[1:]
	}
}

func (n *node) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	n.closeIdleLocked(0)
}

// tick does the node's periodic work: closing idle connections past
// IdleTimeout (keeping MinIdle), and returning the background job due, if
// any: a health check for a node down, or the opening of connections up to
// MinIdle.
func (n *node) tick(now time.Time) func(context.Context) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for len(n.idle) > n.opts.MinIdle && now.Sub(n.idle[0].since) > n.opts.IdleTimeout {
		n.idle[0].c.Close()
		n.idle = n.idle[1:]
	}
	if n.busy || n.closed {
		return nil
	}
	switch {
	case !n.up && !now.Before(n.nextCheck):
		n.busy = true
		return n.check
	case n.up && len(n.idle) < n.opts.MinIdle && len(n.idle)+len(n.slots) < n.opts.MaxOpen:
		n.busy = true
		return n.fill
	}
	return nil
}

// check pings the node on a new connection: it is up again if it answers,
// and otherwise checked again after a doubled pause.
func (n *node) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, n.opts.HealthCheckTimeout)
	defer cancel()
	c, err := Dial(ctx, n.addr, n.opts.Conn)
	if err == nil {
		if err = c.Ping(ctx); err != nil {
			c.Close()
			c = nil
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.busy = false
	if err != nil {
		n.lastErr = err
		n.backoff = min(2*n.backoff, n.opts.MaxHealthCheckBackoff)
		n.nextCheck = time.Now().Add(n.backoff)
		return
	}
	n.up, n.lastErr, n.backoff = true, nil, 0
	n.keepLocked(c)
}

// fill opens connections until MinIdle are idle.
func (n *node) fill(ctx context.Context) {
	defer func() {
		n.mu.Lock()
		n.busy = false
		n.mu.Unlock()
	}()
	for {
		n.mu.Lock()
		need := n.up && !n.closed && len(n.idle) < n.opts.MinIdle && len(n.idle)+len(n.slots) < n.opts.MaxOpen
		n.mu.Unlock()
		if !need {
			return
		}
		dctx, cancel := context.WithTimeout(ctx, n.opts.HealthCheckTimeout)
		c, err := Dial(dctx, n.addr, n.opts.Conn)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				n.markDown(err)
			}
			return
		}
		n.mu.Lock()
		n.keepLocked(c)
		n.mu.Unlock()
	}
}

// keepLocked adds a new connection to the idle ones if there is room, and
// closes it otherwise.
func (n *node) keepLocked(c *Conn) {
	if !n.closed && len(n.idle) < n.opts.MaxIdle && len(n.idle)+len(n.slots) < n.opts.MaxOpen {
		n.idle = append(n.idle, idleConn{c, time.Now()})
		return
	}
	c.Close()
}
