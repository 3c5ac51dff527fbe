package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/strata-go/strata/repo/driver"
)

// Options configure an Adapter.
type Options struct {
	// Namespace prefixes every key the adapter writes ("strata" if
	// empty), so that several apps or test cases share a server. It must
	// be an identifier.
	Namespace string
	// Shards is the number of shards a new collection is spread over (see
	// the package doc): 1 on a single server, 16 on a cluster if 0. A
	// collection keeps the shard count it was created with; one with a
	// unique index always has one shard.
	Shards int
	// Replicas, when positive, makes every write wait (Redis's WAIT) until
	// that many replicas have it, and fail if they do not within
	// ReplicaTimeout (1 s if 0): an acknowledged write then survives the
	// failover of its master.
	Replicas       int
	ReplicaTimeout time.Duration
	// TTL gives collections (by name) whose records are ephemeral a time
	// to live: a record expires that long after its last write, and reads
	// as deleted from then on; a sweeper removes expired records and their
	// index entries every SweepEvery (1 s if 0).
	TTL        map[string]time.Duration
	SweepEvery time.Duration
	// WriteIDTTL is how long a server remembers the id of a write it
	// applied, so that a write retried after a lost reply (go-redis
	// retries on connection errors) is applied once (5 minutes if 0).
	WriteIDTTL time.Duration
}

// Adapter is a Strata store in Redis: a standalone server (and its
// replicas) or a Redis Cluster. It is safe for concurrent use.
type Adapter struct {
	client  goredis.UniversalClient
	cluster *goredis.ClusterClient // nil on a single server
	opts    Options
	idTTL   string // WriteIDTTL in seconds

	collections sync.Map // *driver.Collection -> *collection
	layouts     sync.Map // collection name -> *layout

	idPrefix string
	idSeq    atomic.Uint64
	closed   atomic.Bool

	stopSweep func() // stops the sweeper and waits for it
}

// New returns an adapter over client, a *goredis.Client (one server) or a
// *goredis.ClusterClient. The adapter owns client: Close closes it.
func New(ctx context.Context, client goredis.UniversalClient, opts Options) (*Adapter, error) {
	if opts.Namespace == "" {
		opts.Namespace = "strata"
	}
	if !driver.IsIdentifier(opts.Namespace) {
		return nil, fmt.Errorf("%w: redis: namespace %q is not an identifier", driver.ErrInvalid, opts.Namespace)
	}
	cc, _ := client.(*goredis.ClusterClient)
	if opts.Shards <= 0 {
		opts.Shards = 1
		if cc != nil {
			opts.Shards = 16
		}
	}
	if opts.ReplicaTimeout <= 0 {
		opts.ReplicaTimeout = time.Second
	}
	if opts.WriteIDTTL <= 0 {
		opts.WriteIDTTL = 5 * time.Minute
	}
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = time.Second
	}
	for name, d := range opts.TTL {
		if d < time.Millisecond {
			return nil, fmt.Errorf("%w: redis: time to live of %s is %s; want at least 1ms", driver.ErrInvalid, name, d)
		}
	}
	var seed [8]byte
	rand.Read(seed[:])
	a := &Adapter{
		client:   client,
		cluster:  cc,
		opts:     opts,
		idTTL:    strconv.FormatInt(int64((opts.WriteIDTTL+time.Second-1)/time.Second), 10),
		idPrefix: hex.EncodeToString(seed[:]) + ".",
	}
	if err := a.loadLibrary(ctx); err != nil {
		return nil, err
	}
	a.stopSweep = func() {}
	if len(opts.TTL) > 0 {
		a.startSweeper()
	}
	return a, nil
}

// Namespace returns the prefix of the adapter's keys.
func (a *Adapter) Namespace() string { return a.opts.Namespace }

// Client returns the go-redis client the adapter uses.
func (a *Adapter) Client() goredis.UniversalClient { return a.client }

// Capabilities: everything but filters on unindexed fields, which need
// FullScan. On a cluster there are also no transactions (and so no
// savepoints) and no atomic InsertAll: their keys may live on different
// masters, and Redis is atomic only within one.
func (a *Adapter) Capabilities() driver.Capabilities {
	caps := driver.AllCapabilities &^ driver.CapUnindexedFilter
	if a.cluster != nil {
		caps &^= driver.CapTransactions | driver.CapSavepoints | driver.CapBatchInsert
	}
	return caps
}

// Close closes the client.
func (a *Adapter) Close() error {
	if a.closed.Swap(true) {
		return nil
	}
	a.stopSweep()
	return a.client.Close()
}

// writeID returns a new id for a write, unique across processes.
func (a *Adapter) writeID() string {
	return a.idPrefix + strconv.FormatUint(a.idSeq.Add(1), 36)
}

// wrap adds the operation and collection to err and maps go-redis's
// errors to Strata's kinds.
func (a *Adapter) wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, goredis.ErrClosed) || a.closed.Load() {
		err = fmt.Errorf("%w: %w", driver.ErrClosed, err)
	}
	return fmt.Errorf("redis: %s %s: %w", op, name, err)
}
