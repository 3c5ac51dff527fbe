package riak

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-go/strata/adapters/riak/pb"
	"github.com/strata-go/strata/repo/driver"
)

// Options configure an Adapter.
type Options struct {
	// BucketType is the bucket type of the adapter's buckets ("default" if
	// empty). The adapter needs siblings (allow_mult=true), which every
	// custom type has by default; on the default type it sets allow_mult
	// on its own buckets.
	BucketType string
	// Namespace prefixes the adapter's bucket names ("strata" if empty).
	Namespace string
	// NVal, when not 0, is the n_val the adapter gives the buckets it
	// creates.
	NVal uint32
	// Fetchers bounds how many objects a query fetches at once (8 if 0).
	Fetchers int
	// Maps names the collections stored as Riak maps, in the bucket type
	// MapType ("maps" if empty), which must have datatype=map (see
	// maps.go for what such a collection supports).
	Maps    []string
	MapType string
}

// Adapter is a Strata store in Riak KV. It is safe for concurrent use.
type Adapter struct {
	c      pb.Client
	closer interface{ Close() error }
	opts   Options
	clock  *hlc

	// actors are the writers of this adapter's writes, one per write in
	// progress: merging needs each actor's writes to a record to form a
	// line (see actor.go), so two concurrent writes must not share one.
	actors chan *actor

	collections sync.Map // *driver.Collection -> *collection
	closed      atomic.Bool
}

// New returns an adapter over c (a *pb.Cluster or a *pb.Conn), which it
// closes on Close.
func New(c pb.Client, opts Options) (*Adapter, error) {
	if opts.BucketType == "" {
		opts.BucketType = "default"
	}
	if opts.Namespace == "" {
		opts.Namespace = "strata"
	}
	if opts.Fetchers <= 0 {
		opts.Fetchers = 8
	}
	if opts.MapType == "" {
		opts.MapType = "maps"
	}
	a := &Adapter{c: c, opts: opts, clock: newHLC(), actors: make(chan *actor, maxActors)}
	for range maxActors {
		a.actors <- newActor()
	}
	a.closer, _ = c.(interface{ Close() error })
	return a, nil
}

// maxActors bounds the writes an adapter makes at once, and so the
// entries one adapter adds to a counter or a set's clock.
const maxActors = 64

// check fails a call on a closed adapter.
func (a *Adapter) check() error {
	if a.closed.Load() {
		return fmt.Errorf("riak: %w", driver.ErrClosed)
	}
	return nil
}

// Capabilities: Riak gives neither transactions nor atomic conditional
// writes (concurrent writes become siblings, merged by the merge
// policies), and a query needs an index (or an explicit full scan).
func (a *Adapter) Capabilities() driver.Capabilities {
	return driver.CapFullScan | driver.CapOffset | driver.CapAggregates
}

// Close closes the client.
func (a *Adapter) Close() error {
	if a.closed.Swap(true) || a.closer == nil {
		return nil
	}
	return a.closer.Close()
}

// BeginTx is ErrUnsupported: Riak has no transactions.
func (a *Adapter) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	return nil, fmt.Errorf("%w: riak: transactions: Riak has none; keep transactional data in a CP store and route it there with repo.Router", driver.ErrUnsupported)
}

// hlc is a hybrid logical clock: microseconds of wall time, never going
// back and never repeating, so that an lww write is stamped after every
// write this adapter has made or seen.
type hlc struct {
	mu   sync.Mutex
	last uint64
}

func newHLC() *hlc { return &hlc{} }

func (c *hlc) now() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := uint64(time.Now().UnixMicro())
	if t <= c.last {
		t = c.last + 1
	}
	c.last = t
	return t
}

// observe moves the clock past stamp, a time seen in a stored record.
func (c *hlc) observe(stamp uint64) {
	c.mu.Lock()
	if stamp > c.last {
		c.last = stamp
	}
	c.mu.Unlock()
}
