package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"

	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/repo/driver"
)

// Defaults of [Options].
const (
	DefaultSize     = 10_000
	DefaultTTL      = 30 * time.Second
	DefaultL2TTL    = 10 * time.Minute
	DefaultQueryTTL = 5 * time.Second
	DefaultMaxRows  = 1000
	defaultLease    = 5 * time.Second // how long a loader owns an L2 key
	// subscribeTimeout bounds New's wait for the bus to confirm its
	// subscription.
	subscribeTimeout = 10 * time.Second
)

// Options configure an [Adapter]. The zero value is an L1 of
// [DefaultSize] records living [DefaultTTL], with no L2, no bus (a single
// node), no negative caching and no query caching.
type Options struct {
	// Size is the most records the L1 holds (0: DefaultSize). It is the
	// bound of otter's admission and eviction policy (W-TinyLFU).
	Size int
	// TTL is how long a record stays in L1 after it was loaded
	// (0: DefaultTTL). It caps how stale a record can be on a node that
	// missed an invalidation without noticing; see the package doc.
	TTL time.Duration

	// L2, when not nil, is the shared tier: a Redis server or cluster
	// that every node's misses go through before the store. The adapter
	// does not close it.
	L2 redis.UniversalClient
	// L2TTL is how long a record stays in L2 (0: DefaultL2TTL).
	L2TTL time.Duration

	// Bus, when not nil, carries invalidations between the nodes that
	// share the store; without one the adapter assumes no other node
	// writes the store through a cache (or at all). The adapter does not
	// close it.
	Bus pubsub.Bus
	// Namespace separates caches of different stores that share an L2 or
	// a bus ("" is "default"); give every store its own.
	Namespace string
	// Node names this node in invalidations (for logs); a random suffix
	// makes it unique.
	Node string

	// Negative, when > 0, caches "not found" for that long (at most TTL
	// in L1), so that repeated reads of a missing key do not reach the
	// store. Inserts invalidate it like any write.
	Negative time.Duration

	// Queries, when true, caches the results of queries, counts and
	// aggregates in L1 until any write to their collection (on any node)
	// or QueryTTL (at most TTL), whichever comes first. Results of more
	// than MaxRows records are not cached; the query cache holds up to
	// Size records of results, besides the Size records of L1.
	Queries  bool
	QueryTTL time.Duration // 0: DefaultQueryTTL
	MaxRows  int           // 0: DefaultMaxRows

	// Logger receives warnings (an L2 or bus failure the adapter rode
	// over); nil discards them.
	Logger *slog.Logger
}

// Adapter is a driver.Adapter that caches the records of another. It is
// safe for concurrent use; see the package doc for what it caches and how
// it stays coherent.
type Adapter struct {
	inner driver.Adapter
	opts  Options
	log   *slog.Logger
	topic string
	node  string

	l1      *otter.Cache[l1Key, entry]
	queries *otter.Cache[string, queryEntry] // nil unless Options.Queries
	l2      *l2                              // nil without Options.L2
	bus     pubsub.Bus

	colls    sync.Map      // collection name → *collState
	flushGen atomic.Uint64 // bumped by a flush of everything
	global   atomic.Uint64 // the namespace's L2 epoch counter, as last seen
	// maxMessage is the largest invalidation the bus takes.
	maxMessage int
	// degraded is set while the bus has lost its connection: reads then
	// bypass L1, which cannot hear invalidations.
	degraded atomic.Bool
	seq      atomic.Uint64 // sequence of this node's invalidations

	unsubscribe func()
	owned       []func() error // closers of what Open created for the adapter
	closed      atomic.Bool
	stats       counters
}

// collState is what the adapter tracks per collection.
type collState struct {
	// gen is bumped when every L1 record of the collection is dropped
	// (DeleteAll, a migration); an L1 entry loaded under an older one is
	// a miss.
	gen atomic.Uint64
	// qgen is bumped by every write to the collection; cached query
	// results are keyed by it.
	qgen atomic.Uint64
	// epoch is the highest L2 epoch of the collection this node knows;
	// L2 entries written under an older one are misses. loaded reports
	// whether it is worth trusting: it was read from L2 at epochAt (unix
	// nanoseconds), and no bus reset or flush message came since.
	epoch   atomic.Uint64
	loaded  atomic.Bool
	epochAt atomic.Int64
	reading chan struct{} // a one-slot semaphore: one epoch read at a time
}

// New returns a cache over inner. The adapter takes inner over: Close
// closes it.
func New(inner driver.Adapter, opts Options) (*Adapter, error) {
	if inner == nil {
		return nil, fmt.Errorf("%w: cache: nil adapter", driver.ErrInvalid)
	}
	switch {
	case opts.Size < 0, opts.TTL < 0, opts.L2TTL < 0, opts.Negative < 0, opts.QueryTTL < 0, opts.MaxRows < 0:
		return nil, fmt.Errorf("%w: cache: negative size, duration or row count in options", driver.ErrInvalid)
	}
	if opts.Size == 0 {
		opts.Size = DefaultSize
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.L2TTL == 0 {
		opts.L2TTL = DefaultL2TTL
	}
	if opts.QueryTTL == 0 {
		opts.QueryTTL = DefaultQueryTTL
	}
	opts.QueryTTL = min(opts.QueryTTL, opts.TTL) // the staleness bound is TTL
	opts.Negative = min(opts.Negative, opts.TTL)
	if opts.MaxRows == 0 {
		opts.MaxRows = DefaultMaxRows
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if !driver.IsIdentifier(opts.Namespace) {
		return nil, fmt.Errorf("%w: cache: namespace %q is not an identifier", driver.ErrInvalid, opts.Namespace)
	}
	// The node's name in invalidations gets a random suffix: two adapters
	// given one name (two processes on one host) must still hear each
	// other's.
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	if opts.Node == "" {
		opts.Node = "node"
	}
	opts.Node += "-" + hex.EncodeToString(suffix[:])
	a := &Adapter{inner: inner, opts: opts, log: opts.Logger, topic: "cache." + opts.Namespace, node: opts.Node, bus: opts.Bus,
		maxMessage: maxMessage}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if a.l1, err = newL1(opts, &a.stats); err != nil {
		return nil, err
	}
	if opts.Queries {
		if a.queries, err = newQueryCache(opts); err != nil {
			return nil, err
		}
	}
	if opts.L2 != nil {
		a.l2 = newL2(opts.L2, opts.Namespace)
	}
	if a.bus != nil {
		if m, ok := a.bus.(interface{ MaxMessage() int }); ok {
			a.maxMessage = min(a.maxMessage, m.MaxMessage())
		}
		ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
		defer cancel()
		cancelSub, err := a.bus.Subscribe(ctx, a.topic, a.receive)
		if err != nil {
			return nil, fmt.Errorf("cache: subscribe to invalidations: %w", err)
		}
		a.unsubscribe = cancelSub
	}
	return a, nil
}

// Unwrap returns the adapter the cache wraps (driver.Wrapper), for
// reaching store-specific features. Writes made through it bypass the
// cache, which then serves stale records until they expire.
func (a *Adapter) Unwrap() driver.Adapter { return a.inner }

// Capabilities are the wrapped adapter's.
func (a *Adapter) Capabilities() driver.Capabilities { return a.inner.Capabilities() }

// CapabilitiesOf are the wrapped adapter's for the collection c
// (driver.CollectionCapabilities), so that a cache over a repo.Router
// keeps the router's per-collection capabilities.
func (a *Adapter) CapabilitiesOf(c *driver.Collection) driver.Capabilities {
	if cc, ok := a.inner.(driver.CollectionCapabilities); ok {
		return cc.CapabilitiesOf(c)
	}
	return a.inner.Capabilities()
}

// Close stops listening for invalidations, closes the wrapped adapter and
// whatever Open created for the cache (its L2 client and bus), and drops
// the L1.
func (a *Adapter) Close() error {
	if a.closed.Swap(true) {
		return nil
	}
	var errs []error
	if a.unsubscribe != nil {
		a.unsubscribe()
	}
	errs = append(errs, a.inner.Close())
	for _, c := range a.owned {
		errs = append(errs, c())
	}
	a.l1.InvalidateAll()
	a.l1.StopAllGoroutines()
	if a.queries != nil {
		a.queries.InvalidateAll()
		a.queries.StopAllGoroutines()
	}
	return errors.Join(errs...)
}

// coll returns the state of the named collection, creating it.
func (a *Adapter) coll(name string) *collState {
	if cs, ok := a.colls.Load(name); ok {
		return cs.(*collState)
	}
	cs, _ := a.colls.LoadOrStore(name, &collState{reading: make(chan struct{}, 1)})
	return cs.(*collState)
}

// check fails a call on a closed adapter.
func (a *Adapter) check(op string) error {
	if a.closed.Load() {
		return fmt.Errorf("cache: %s: %w", op, driver.ErrClosed)
	}
	return nil
}
