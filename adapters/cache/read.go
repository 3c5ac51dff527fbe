package cache

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/strata-go/strata/repo/driver"
)

// Tiers a read may be served from, as reported in driver.CallInfo.
const (
	SourceL1    = "l1"
	SourceL2    = "l2"
	SourceStore = "store"
)

// busyWait is how long a miss waits for another node's load of the same
// key (its L2 lease) before reading the store itself, and how many times.
const (
	busyWait  = 2 * time.Millisecond
	busyTries = 3
)

// Get returns the record from L1, else L2, else the store, filling the
// tiers it missed. Concurrent misses of one key on one node load it once.
func (a *Adapter) Get(ctx context.Context, c *driver.Collection, key any) (driver.Record, error) {
	if err := a.check("get"); err != nil {
		return driver.Record{}, err
	}
	if c == nil {
		return a.inner.Get(ctx, c, key)
	}
	k, ok := keyOf(c.Name, key)
	if !ok {
		return a.inner.Get(ctx, c, key) // the store reports the bad key
	}
	if a.degraded.Load() {
		a.stats.bypassed.Add(1)
		e, src, err := a.load(ctx, c, a.coll(c.Name), k, key)
		return a.result(ctx, c, key, e, src, err)
	}
	if e, ok := a.l1.GetIfPresent(k); ok {
		if e.fresh(a.flushGen.Load()) {
			a.stats.l1Hits.Add(1)
			return a.result(ctx, c, key, e, SourceL1, nil)
		}
		a.l1.Invalidate(k) // loaded before a flush
	}
	a.stats.l1Misses.Add(1)
	cs := a.coll(c.Name)
	src := SourceL1 // unless this call runs the load
	e, err := a.l1.Get(ctx, k, otter.LoaderFunc[l1Key, entry](func(ctx context.Context, k l1Key) (entry, error) {
		gen, flush := cs.gen.Load(), a.flushGen.Load()
		e, from, err := a.load(ctx, c, cs, k, key)
		src = from
		if err != nil {
			return entry{}, err
		}
		if e.missing && a.opts.Negative == 0 {
			return entry{}, otter.ErrNotFound
		}
		e.cs, e.gen, e.flush = cs, gen, flush
		return e, nil
	}))
	if errors.Is(err, otter.ErrNotFound) {
		e, err = entry{missing: true}, nil
	}
	return a.result(ctx, c, key, e, src, err)
}

// result turns an entry into Get's result, noting its source.
func (a *Adapter) result(ctx context.Context, c *driver.Collection, key any, e entry, src string, err error) (driver.Record, error) {
	if ci := driver.CallInfoFrom(ctx); ci != nil && err == nil {
		ci.Source = src
	}
	switch {
	case err != nil:
		return driver.Record{}, err
	case e.missing:
		return driver.Record{}, fmt.Errorf("cache: get %s %v: %w", c.Name, key, driver.ErrNotFound)
	}
	return copyRecord(e.rec), nil
}

// load reads a record from L2, else from the store, filling L2. It returns
// the entry (missing for "not found") and where it came from.
func (a *Adapter) load(ctx context.Context, c *driver.Collection, cs *collState, k l1Key, key any) (entry, string, error) {
	if a.l2 == nil {
		e, err := a.fromStore(ctx, c, key)
		return e, SourceStore, err
	}
	if a.degraded.Load() {
		// Flushes announced on the bus may be missed meanwhile: read the
		// collection's epoch from L2 every time.
		cs.loaded.Store(false)
	}
	epoch, err := a.epochOf(ctx, cs, c.Name)
	if err != nil {
		a.l2Failed("read epoch", err)
		e, err := a.fromStore(ctx, c, key)
		return e, SourceStore, err
	}
	token := newToken()
	for try := 0; ; try++ {
		res, v, err := a.l2.get(ctx, k, epoch, token)
		if err != nil {
			if ctx.Err() != nil {
				return entry{}, "", fmt.Errorf("cache: get %s %v: %w", c.Name, key, ctx.Err())
			}
			a.l2Failed("get", err)
			e, err := a.fromStore(ctx, c, key)
			return e, SourceStore, err
		}
		switch res {
		case l2Hit:
			e, ep, err := decodeEntry(c, v)
			if err == nil && (!e.missing || a.opts.Negative > 0) {
				a.stats.l2Hits.Add(1)
				a.learnEpoch(cs, ep)
				return e, SourceL2, nil
			}
			if err != nil && !errors.Is(err, errShape) {
				a.l2Failed("decode", err)
			}
			a.stats.l2Misses.Add(1)
			e, err = a.fromStore(ctx, c, key)
			return e, SourceStore, err
		case l2Lease:
			a.stats.l2Misses.Add(1)
			e, err := a.fromStore(ctx, c, key)
			if err == nil && (!e.missing || a.opts.Negative > 0) {
				a.fillL2(ctx, c, k, token, e, epoch)
			}
			return e, SourceStore, err
		}
		if try == busyTries {
			a.stats.l2Misses.Add(1)
			e, err := a.fromStore(ctx, c, key)
			return e, SourceStore, err
		}
		select {
		case <-time.After(busyWait):
		case <-ctx.Done():
			return entry{}, "", fmt.Errorf("cache: get %s %v: %w", c.Name, key, ctx.Err())
		}
	}
}

// fromStore reads a record from the store.
func (a *Adapter) fromStore(ctx context.Context, c *driver.Collection, key any) (entry, error) {
	a.stats.loads.Add(1)
	rec, err := a.inner.Get(ctx, c, key)
	if errors.Is(err, driver.ErrNotFound) {
		return entry{missing: true}, nil
	}
	if err != nil {
		return entry{}, err
	}
	return entry{rec: rec}, nil
}

// fillL2 stores a loaded entry in L2, if the lease is still the caller's.
func (a *Adapter) fillL2(ctx context.Context, c *driver.Collection, k l1Key, token string, e entry, epoch uint64) {
	v, err := encodeEntry(c, e, epoch)
	if err == nil {
		ttl := a.opts.L2TTL
		if e.missing {
			ttl = a.opts.Negative
		}
		err = a.l2.fill(ctx, k, token, v, ttl)
	}
	if err != nil {
		a.l2Failed("fill", err)
	}
}

// epochOf returns the collection's L2 epoch, reading it once after each
// bus reset.
func (a *Adapter) epochOf(ctx context.Context, cs *collState, name string) (uint64, error) {
	if cs.loaded.Load() {
		return cs.epoch.Load(), nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.loaded.Load() {
		return cs.epoch.Load(), nil
	}
	e, err := a.l2.epoch(ctx, name)
	if err != nil {
		return 0, err
	}
	a.learnEpoch(cs, e)
	cs.loaded.Store(true)
	return cs.epoch.Load(), nil
}

// learnEpoch raises the known epoch of a collection to e. A node that
// learns of a newer epoch than it knew (it missed a flush on the bus)
// drops its L1 records of the collection too.
func (a *Adapter) learnEpoch(cs *collState, e uint64) {
	for {
		old := cs.epoch.Load()
		if e <= old {
			return
		}
		if cs.epoch.CompareAndSwap(old, e) {
			if cs.loaded.Load() {
				cs.gen.Add(1)
				cs.qgen.Add(1)
			}
			return
		}
	}
}

// l2Failed notes an L2 failure the adapter rode over by reading the store.
func (a *Adapter) l2Failed(op string, err error) {
	a.stats.l2Errors.Add(1)
	a.log.Warn("strata cache: L2 "+op+" failed; reading the store", "error", err)
}

// Query returns the records q selects, from the query cache when it holds
// the result of the same query since the last write to the collection.
func (a *Adapter) Query(ctx context.Context, c *driver.Collection, q *driver.Query) iter.Seq2[driver.Record, error] {
	fp, ok := a.queryKey(c, q, "q")
	if !ok {
		return a.inner.Query(ctx, c, q)
	}
	return func(yield func(driver.Record, error) bool) {
		if e, ok := a.queries.GetIfPresent(fp); ok {
			a.stats.queryHits.Add(1)
			if ci := driver.CallInfoFrom(ctx); ci != nil {
				ci.Source = SourceL1
			}
			for _, rec := range e.recs {
				if !yield(copyRecord(rec), nil) {
					return
				}
			}
			return
		}
		a.stats.queryMisses.Add(1)
		if ci := driver.CallInfoFrom(ctx); ci != nil {
			ci.Source = SourceStore
		}
		recs, keep := []driver.Record{}, true
		for rec, err := range a.inner.Query(ctx, c, q) {
			if err != nil {
				yield(driver.Record{}, err)
				return
			}
			if keep && len(recs) < a.opts.MaxRows {
				recs = append(recs, copyRecord(rec))
			} else {
				keep, recs = false, nil
			}
			if !yield(rec, nil) {
				return
			}
		}
		if keep {
			a.queries.Set(fp, queryEntry{recs: recs})
		}
	}
}

// Count returns how many records q selects, from the query cache when it
// can.
func (a *Adapter) Count(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	fp, ok := a.queryKey(c, q, "c")
	if !ok {
		return a.inner.Count(ctx, c, q)
	}
	v, err := a.cachedValue(ctx, fp, func() (any, error) { return a.inner.Count(ctx, c, q) })
	n, _ := v.(int64)
	return n, err
}

// Aggregate computes fn over field of the records q selects (when the
// store has CapAggregates), from the query cache when it can.
func (a *Adapter) Aggregate(ctx context.Context, c *driver.Collection, q *driver.Query, fn driver.AggFunc, field int) (any, error) {
	ag, ok := a.inner.(driver.Aggregator)
	if !ok {
		return nil, fmt.Errorf("cache: aggregate: %w: the store has no aggregates", driver.ErrUnsupported)
	}
	fp, ok := a.queryKey(c, q, fmt.Sprintf("a%d.%d", fn, field))
	if !ok {
		return ag.Aggregate(ctx, c, q, fn, field)
	}
	return a.cachedValue(ctx, fp, func() (any, error) { return ag.Aggregate(ctx, c, q, fn, field) })
}

// cachedValue returns the cached value under fp, or computes and caches
// it.
func (a *Adapter) cachedValue(ctx context.Context, fp string, compute func() (any, error)) (any, error) {
	ci := driver.CallInfoFrom(ctx)
	if e, ok := a.queries.GetIfPresent(fp); ok {
		a.stats.queryHits.Add(1)
		if ci != nil {
			ci.Source = SourceL1
		}
		return e.value, nil
	}
	a.stats.queryMisses.Add(1)
	if ci != nil {
		ci.Source = SourceStore
	}
	v, err := compute()
	if err == nil {
		a.queries.Set(fp, queryEntry{value: v})
	}
	return v, err
}

// queryKey returns the query cache's key for q, or false if the query is
// not to be cached (no query cache, the bus is down, a value it cannot
// encode).
func (a *Adapter) queryKey(c *driver.Collection, q *driver.Query, kind string) (string, bool) {
	if a.queries == nil || c == nil || q == nil || a.degraded.Load() || a.closed.Load() {
		return "", false
	}
	cs := a.coll(c.Name)
	return fingerprint(kind, c, q, cs.qgen.Load(), cs.gen.Load(), a.flushGen.Load())
}
