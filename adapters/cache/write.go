package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-go/strata/repo/driver"
)

// l2DelTries is how many times a write tries to delete its keys from L2.
const l2DelTries = 3

// Writes go to the store first; then the written keys are dropped from
// this node's L1 and from L2, and an invalidation goes out on the bus for
// the other nodes' L1 — whatever the outcome of the write, since a write
// that failed (a timeout) may still have happened. The adapter does not
// write the new record into the tiers (write-through): without a version
// it could compare, it cannot tell which of two racing writes' records is
// the newer, and a cache that keeps the older one is stale until its TTL.

// Insert inserts the record and invalidates its key (and, for an upsert,
// the key of the record it updated).
func (a *Adapter) Insert(ctx context.Context, c *driver.Collection, rec driver.Record, opts driver.InsertOptions) (driver.Record, error) {
	if err := a.check("insert"); err != nil {
		return driver.Record{}, err
	}
	out, err := a.inner.Insert(ctx, c, rec, opts)
	if c != nil && err != nil && opts.OnConflict != nil && opts.OnConflict.Target != driver.PrimaryKeyConstraint {
		// An upsert on a unique index that failed (a timeout) may have
		// updated a record whose key the adapter does not know.
		a.flush(ctx, []string{c.Name})
		return out, err
	}
	if c != nil {
		keys := make([]any, 0, 2)
		if c.Key < len(rec.Values) {
			keys = append(keys, rec.Values[c.Key])
		}
		if err == nil && c.Key < len(out.Values) && out.Values[c.Key] != nil {
			keys = append(keys, out.Values[c.Key])
		}
		a.invalidate(ctx, c.Name, keys)
	}
	return out, err
}

// InsertAll inserts every record or none (when the store has
// CapBatchInsert) and invalidates their keys.
func (a *Adapter) InsertAll(ctx context.Context, c *driver.Collection, recs []driver.Record) ([]driver.Record, error) {
	if err := a.check("insert all"); err != nil {
		return nil, err
	}
	bi, ok := a.inner.(driver.BatchInserter)
	if !ok {
		return nil, fmt.Errorf("cache: insert all: %w: the store has no batch insert", driver.ErrUnsupported)
	}
	out, err := bi.InsertAll(ctx, c, recs)
	if c != nil {
		a.invalidate(ctx, c.Name, recordKeys(c, recs))
	}
	return out, err
}

// Update updates the record and invalidates its key.
func (a *Adapter) Update(ctx context.Context, c *driver.Collection, u driver.Update) (driver.Record, error) {
	if err := a.check("update"); err != nil {
		return driver.Record{}, err
	}
	out, err := a.inner.Update(ctx, c, u)
	if c != nil {
		a.invalidate(ctx, c.Name, []any{u.Key})
	}
	return out, err
}

// Delete deletes the record and invalidates its key.
func (a *Adapter) Delete(ctx context.Context, c *driver.Collection, d driver.Delete) error {
	if err := a.check("delete"); err != nil {
		return err
	}
	err := a.inner.Delete(ctx, c, d)
	if c != nil {
		a.invalidate(ctx, c.Name, []any{d.Key})
	}
	return err
}

// DeleteAll deletes the records q selects and drops the whole collection
// from every node's cache (the adapter does not know which keys went).
func (a *Adapter) DeleteAll(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	if err := a.check("delete all"); err != nil {
		return 0, err
	}
	n, err := a.inner.DeleteAll(ctx, c, q)
	if c != nil && (err != nil || n > 0) {
		a.flush(ctx, []string{c.Name})
	}
	return n, err
}

// recordKeys returns the primary keys of recs.
func recordKeys(c *driver.Collection, recs []driver.Record) []any {
	keys := make([]any, 0, len(recs))
	for _, r := range recs {
		if c.Key < len(r.Values) {
			keys = append(keys, r.Values[c.Key])
		}
	}
	return keys
}

// invalidate drops the keys of a collection from L2 and L1 and tells the
// other nodes — in that order: a Get on this node between the L1 and the
// L2 deletes would put L2's old record back into L1, where no message
// (a node ignores its own) would drop it again. Failures are logged and
// counted, not returned: the write they follow has happened, and the
// staleness they may leave is bounded by the TTLs (see the package doc).
func (a *Adapter) invalidate(ctx context.Context, coll string, keys []any) {
	cs := a.coll(coll)
	l1keys := make([]l1Key, 0, len(keys))
	seen := make(map[l1Key]bool, len(keys))
	for _, key := range keys {
		if k, ok := keyOf(coll, key); ok && !seen[k] {
			seen[k] = true
			l1keys = append(l1keys, k)
		}
	}
	if len(l1keys) == 0 {
		cs.qgen.Add(1)
		return
	}
	a.stats.invalidations.Add(uint64(len(l1keys)))
	// The deletes and the publication must happen even if the caller's
	// context ended as the write returned.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), invalidateTimeout)
	defer cancel()
	if a.l2 != nil {
		var err error
		for try := 0; try < l2DelTries; try++ {
			if err = a.l2.del(ctx, l1keys); err == nil {
				break
			}
		}
		if err != nil {
			a.stats.l2Errors.Add(1)
			a.log.Warn("strata cache: L2 delete failed; the keys stay stale in L2 until they expire", "collection", coll, "error", err)
		}
	}
	for _, k := range l1keys {
		a.l1.Invalidate(k)
	}
	cs.qgen.Add(1)
	a.publish(ctx, message{kind: msgKeys, coll: coll, keys: l1keys})
}

// invalidateTimeout bounds the L2 deletes and the publication of one
// write's invalidation.
const invalidateTimeout = 5 * time.Second

// flush drops every record of the collections from every node's cache:
// their L1 generation goes up here, their L2 epoch in L2, and a flush
// message tells the other nodes.
func (a *Adapter) flush(ctx context.Context, colls []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), invalidateTimeout)
	defer cancel()
	for _, name := range colls {
		cs := a.coll(name)
		var epoch uint64
		if a.l2 != nil {
			e, err := a.l2.bump(ctx, name, cs.epoch.Load())
			if err != nil {
				a.stats.l2Errors.Add(1)
				a.log.Warn("strata cache: L2 epoch bump failed; the collection stays stale in L2 until it expires", "collection", name, "error", err)
			} else {
				epoch = e + a.global.Load()
				a.learnEpoch(cs, epoch)
			}
		}
		cs.gen.Add(1)
		cs.qgen.Add(1)
		a.stats.flushes.Add(1)
		a.publish(ctx, message{kind: msgFlush, coll: name, epoch: epoch})
	}
}

// flushAll drops everything from every node's cache: the namespace's L2
// epoch goes up (every collection's with it, including those this node
// never touched), this node's L1 is dropped, and a message tells the
// others.
func (a *Adapter) flushAll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), invalidateTimeout)
	defer cancel()
	var epoch uint64
	if a.l2 != nil {
		e, err := a.l2.bump(ctx, allCollections, a.global.Load())
		if err != nil {
			a.stats.l2Errors.Add(1)
			a.log.Warn("strata cache: L2 epoch bump failed; L2 stays stale until it expires", "error", err)
		} else {
			epoch = e
			a.raiseGlobal(e)
		}
	}
	a.flushLocal()
	a.publish(ctx, message{kind: msgFlushAll, epoch: epoch})
}

// raiseGlobal notes a new namespace epoch: every collection's epoch must
// be read again.
func (a *Adapter) raiseGlobal(e uint64) {
	for {
		old := a.global.Load()
		if e <= old || a.global.CompareAndSwap(old, e) {
			break
		}
	}
	a.forgetEpochs()
}

// forgetEpochs makes every collection's epoch be read from L2 again.
func (a *Adapter) forgetEpochs() {
	a.colls.Range(func(_, v any) bool {
		v.(*collState).loaded.Store(false)
		return true
	})
}

// flushLocal drops this node's L1 and query cache.
func (a *Adapter) flushLocal() {
	a.flushGen.Add(1)
	a.stats.flushes.Add(1)
	a.l1.InvalidateAll()
	if a.queries != nil {
		a.queries.InvalidateAll()
	}
}
