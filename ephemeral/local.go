package ephemeral

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// DefaultMaxEntries is the bound of a [Local] whose options leave
// MaxEntries 0.
const DefaultMaxEntries = 100_000

// LocalOptions configure a [Local]. The zero value is ready to use.
type LocalOptions struct {
	// MaxEntries bounds the number of keys the cache holds; 0 means
	// DefaultMaxEntries. When the cache is full, otter's eviction policy
	// (W-TinyLFU: keys that are rarely read go first, which may be a key
	// just written) evicts keys before their expiry, and an evicted key
	// behaves exactly as an absent one: Get returns ErrNotFound, Incr
	// counts again from 0. Size it above the number of live keys you
	// expect, so that eviction is only a guard against running out of
	// memory.
	MaxEntries int
}

// Local is a [Cache] in this process's memory, on
// github.com/maypok86/otter/v2. Each process (app node) has its own: use it
// for state that is per node, such as the connections the node holds, or
// for a cache in front of a slower store. Its zero value is not usable;
// create one with [NewLocal].
//
// SetNew, Take, Incr and Expire are atomic: each is one otter Compute,
// which runs under the lock of the key's hash-table bucket. Expiry is
// exact to the nanosecond of the clock: an expired key is never returned,
// even before otter's periodic clean-up (about once a second) frees its
// memory. (A ttl that reaches past the year 2262, where otter's clock
// ends, counts as no expiry.)
type Local struct {
	cache  *otter.Cache[string, localEntry]
	closed atomic.Bool
}

var _ Cache = (*Local)(nil)

// localEntry is what a Local stores under a key.
type localEntry struct {
	data []byte // never modified once stored
	// ttl is the expiry to give the entry when it is written: a duration,
	// 0 for none, or keepTTL to keep the deadline it has. It is read only
	// by expiresAfter, at the write.
	ttl time.Duration
}

// keepTTL is the ttl of an entry written over a live one whose deadline it
// keeps (a counter's increment).
const keepTTL time.Duration = -1

// neverExpires is the deadline (in otter's clock) of an entry with no expiry.
const neverExpires = math.MaxInt64

// expiresAfter is the Local's otter expiry calculator: when an entry is
// created or updated, it gives the entry the ttl the entry carries. Reads
// do not change the deadline.
func expiresAfter(e otter.Entry[string, localEntry]) time.Duration {
	switch ttl := e.Value.ttl; ttl {
	case keepTTL:
		// Returning the time the entry has left keeps its deadline.
		return e.ExpiresAfter()
	case 0:
		// otter saturates the deadline at neverExpires.
		return math.MaxInt64
	default:
		return ttl
	}
}

// NewLocal returns an empty Local configured by opts. A negative
// MaxEntries is ErrInvalid.
func NewLocal(opts LocalOptions) (*Local, error) {
	if opts.MaxEntries < 0 {
		return nil, fmt.Errorf("ephemeral: new local: %w", invalid("negative MaxEntries %d", opts.MaxEntries))
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	c, err := otter.New(&otter.Options[string, localEntry]{
		MaximumSize:      opts.MaxEntries,
		ExpiryCalculator: otter.ExpiryWritingFunc(expiresAfter),
	})
	if err != nil {
		return nil, fmt.Errorf("ephemeral: new local: %w", err)
	}
	return &Local{cache: c}, nil
}

// Get implements [Cache.Get].
func (l *Local) Get(ctx context.Context, key string) ([]byte, error) {
	if err := begin(ctx, l.closed.Load(), "get", key); err != nil {
		return nil, err
	}
	e, ok := l.cache.GetIfPresent(key)
	if !ok {
		return nil, opError("get", key, ErrNotFound)
	}
	return clone(e.data), nil
}

// Set implements [Cache.Set].
func (l *Local) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := begin(ctx, l.closed.Load(), "set", key); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return opError("set", key, err)
	}
	l.cache.Set(key, localEntry{data: clone(value), ttl: ttl})
	return nil
}

// SetNew implements [Cache.SetNew].
func (l *Local) SetNew(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := begin(ctx, l.closed.Load(), "set new", key); err != nil {
		return false, err
	}
	if err := checkTTL(ttl); err != nil {
		return false, opError("set new", key, err)
	}
	e := localEntry{data: clone(value), ttl: ttl}
	var set bool
	l.cache.Compute(key, func(old localEntry, found bool) (localEntry, otter.ComputeOp) {
		if found {
			set = false
			return old, otter.CancelOp
		}
		set = true
		return e, otter.WriteOp
	})
	return set, nil
}

// Delete implements [Cache.Delete].
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := begin(ctx, l.closed.Load(), "delete", key); err != nil {
		return err
	}
	l.cache.Invalidate(key)
	return nil
}

// Take implements [Cache.Take].
func (l *Local) Take(ctx context.Context, key string) ([]byte, error) {
	if err := begin(ctx, l.closed.Load(), "take", key); err != nil {
		return nil, err
	}
	var (
		taken []byte
		ok    bool
	)
	l.cache.Compute(key, func(old localEntry, found bool) (localEntry, otter.ComputeOp) {
		taken, ok = old.data, found
		if !found {
			return old, otter.CancelOp
		}
		return localEntry{}, otter.InvalidateOp
	})
	if !ok {
		return nil, opError("take", key, ErrNotFound)
	}
	return clone(taken), nil
}

// Incr implements [Cache.Incr].
func (l *Local) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	if err := begin(ctx, l.closed.Load(), "incr", key); err != nil {
		return 0, err
	}
	if err := checkTTL(ttl); err != nil {
		return 0, opError("incr", key, err)
	}
	var (
		n   int64
		err error
	)
	l.cache.Compute(key, func(old localEntry, found bool) (localEntry, otter.ComputeOp) {
		if !found {
			n, err = by, nil
			return localEntry{data: strconv.AppendInt(nil, by, 10), ttl: ttl}, otter.WriteOp
		}
		n, err = parseCounter(old.data)
		if err == nil {
			n, err = addCounter(n, by)
		}
		if err != nil {
			return old, otter.CancelOp
		}
		return localEntry{data: strconv.AppendInt(nil, n, 10), ttl: keepTTL}, otter.WriteOp
	})
	if err != nil {
		return 0, opError("incr", key, err)
	}
	return n, nil
}

// TTL implements [Cache.TTL].
func (l *Local) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := begin(ctx, l.closed.Load(), "ttl", key); err != nil {
		return 0, err
	}
	e, ok := l.cache.GetEntryQuietly(key)
	if !ok {
		return 0, opError("ttl", key, ErrNotFound)
	}
	if e.ExpiresAtNano == neverExpires {
		return 0, nil
	}
	left := e.ExpiresAfter()
	if left <= 0 {
		// It expired between the lookup and now.
		return 0, opError("ttl", key, ErrNotFound)
	}
	return left, nil
}

// Expire implements [Cache.Expire].
func (l *Local) Expire(ctx context.Context, key string, ttl time.Duration) error {
	if err := begin(ctx, l.closed.Load(), "expire", key); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return opError("expire", key, err)
	}
	var ok bool
	l.cache.Compute(key, func(old localEntry, found bool) (localEntry, otter.ComputeOp) {
		ok = found
		if !found {
			return old, otter.CancelOp
		}
		return localEntry{data: old.data, ttl: ttl}, otter.WriteOp
	})
	if !ok {
		return opError("expire", key, ErrNotFound)
	}
	return nil
}

// Fetch implements [Cache.Fetch] with otter's loading Get: concurrent
// Fetches of a key wait for one load. load gets the context of the Fetch
// that started it; if that Fetch's context ends and load fails, a Fetch
// still waiting with a live context loads again rather than fail.
func (l *Local) Fetch(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	if err := begin(ctx, l.closed.Load(), "fetch", key); err != nil {
		return nil, err
	}
	if err := checkTTL(ttl); err != nil {
		return nil, opError("fetch", key, err)
	}
	if load == nil {
		return nil, opError("fetch", key, invalid("nil load function"))
	}
	e, err := l.cache.Get(ctx, key, otter.LoaderFunc[string, localEntry](func(ctx context.Context, _ string) (localEntry, error) {
		v, err := load(ctx)
		if err != nil {
			return localEntry{}, err
		}
		return localEntry{data: clone(v), ttl: ttl}, nil
	}))
	if err != nil {
		return nil, opError("fetch", key, err)
	}
	return clone(e.data), nil
}

// Close empties the cache and stops otter's clean-up goroutine. Calls
// after Close return ErrClosed; a call that races with Close may still
// succeed.
func (l *Local) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	l.cache.InvalidateAll()
	l.cache.StopAllGoroutines()
	return nil
}
