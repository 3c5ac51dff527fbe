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
	if err := ctx.Err(); err != nil {
		return driver.Record{}, fmt.Errorf("cache: get %s: %w", c.Name, err)
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
	flush := a.flushGen.Load()
	if e, ok := a.l1.GetIfPresent(k); ok {
		if e.fresh(flush) {
			a.stats.l1Hits.Add(1)
			return a.result(ctx, c, key, e, SourceL1, nil)
		}
		a.l1.Invalidate(k) // loaded before a flush
	}
	a.stats.l1Misses.Add(1)
	cs := a.coll(c.Name)
	gen := cs.gen.Load()
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
	switch {
	case errors.Is(err, otter.ErrNotFound):
		e, err = entry{missing: true}, nil
	case err == nil && (e.gen < gen || e.flush < flush):
		// This call joined a load that began before a flush this call
		// began after (otter does not cancel loads on a flush): its
		// record may predate the flush. Read it afresh, uncached.
		var from string
		e, from, err = a.load(ctx, c, cs, k, key)
		src = from
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
	epoch, err := a.epochOf(ctx, cs, c.Name)
	if err != nil {
		if ctx.Err() != nil {
			return entry{}, "", fmt.Errorf("cache: get %s %v: %w", c.Name, key, ctx.Err())
		}
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
			a.settleLease(ctx, c, k, token, e, err, epoch)
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

// settleLease ends a lease the caller took: it fills L2 with what the
// load found, or releases the lease when there is nothing to fill, so
// that other nodes need not wait for it to expire. It runs even if the
// caller's context has ended.
func (a *Adapter) settleLease(ctx context.Context, c *driver.Collection, k l1Key, token string, e entry, loadErr error, epoch uint64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), invalidateTimeout)
	defer cancel()
	var err error
	if loadErr == nil && (!e.missing || a.opts.Negative > 0) {
		var v string
		if v, err = encodeEntry(c, e, epoch); err == nil {
			ttl := a.opts.L2TTL
			if e.missing {
				ttl = a.opts.Negative
			}
			err = a.l2.fill(ctx, k, token, v, ttl)
		}
	} else {
		err = a.l2.release(ctx, k, token)
	}
	if err != nil {
		a.l2Failed("fill", err)
	}
}

// epochOf returns the collection's L2 epoch as this node knows it,
// reading it from L2 when it is older than half the L1 TTL (so that a
// flush whose message was lost reaches this node within the TTL), or
// older than degradedEpochAge while the bus is down.
func (a *Adapter) epochOf(ctx context.Context, cs *collState, name string) (uint64, error) {
	maxAge := a.opts.TTL / 2
	if a.degraded.Load() {
		maxAge = min(maxAge, degradedEpochAge)
	}
	current := func() bool {
		return cs.loaded.Load() && time.Since(time.Unix(0, cs.epochAt.Load())) < maxAge
	}
	if current() {
		return cs.epoch.Load(), nil
	}
	select {
	case cs.reading <- struct{}{}:
		defer func() { <-cs.reading }()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if current() {
		return cs.epoch.Load(), nil
	}
	at := time.Now()
	own, all, err := a.l2.epoch(ctx, name)
	if err != nil {
		return 0, err
	}
	if all > a.global.Load() {
		a.raiseGlobal(all)
	}
	a.learnEpoch(cs, own+all)
	cs.epochAt.Store(at.UnixNano())
	cs.loaded.Store(true)
	return cs.epoch.Load(), nil
}

// degradedEpochAge is how long a node trusts an epoch it read while its
// bus is down.
const degradedEpochAge = 50 * time.Millisecond

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
			cs.gen.Add(1)
			cs.qgen.Add(1)
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
	if a.queries == nil {
		return a.inner.Query(ctx, c, q)
	}
	return func(yield func(driver.Record, error) bool) {
		// The key is taken when the query runs, not when it is built.
		fp, ok := a.queryKey(c, q, "q")
		if !ok {
			for rec, err := range a.inner.Query(ctx, c, q) {
				if !yield(rec, err) {
					return
				}
			}
			return
		}
		ci := driver.CallInfoFrom(ctx)
		if e, ok := a.queries.GetIfPresent(fp); ok {
			a.stats.queryHits.Add(1)
			if ci != nil {
				ci.Source = SourceL1
			}
			for _, rec := range e.recs {
				if err := ctx.Err(); err != nil {
					yield(driver.Record{}, fmt.Errorf("cache: query %s: %w", c.Name, err))
					return
				}
				if !yield(copyRecord(rec), nil) {
					return
				}
			}
			return
		}
		a.stats.queryMisses.Add(1)
		if ci != nil {
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
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
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
