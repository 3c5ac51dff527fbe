package redis

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/repo/driver"
)

// Transactions are optimistic, as WATCH/MULTI is, but checked in one
// script: a Tx reads from Redis, remembering the "$rev" (the id of the
// last write) of every record it read (or that it was absent), and keeps
// its writes in memory; Commit runs one script that checks that none of
// those records changed and then writes every record and index entry, or
// writes nothing and fails with ErrSerialization. That is repeatable read:
// records read cannot change under the transaction, but new ones may
// appear (phantoms), so Serializable is refused. Reads see the
// transaction's own writes. On a cluster there are none: one script can
// only touch the keys of one slot.

// BeginTx starts a transaction (driver.Transactor), on a single server.
func (a *Adapter) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if a.cluster != nil {
		return nil, fmt.Errorf("%w: redis: transactions on a cluster: a transaction's keys may live on several masters", driver.ErrUnsupported)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if a.closed.Load() {
		return nil, fmt.Errorf("redis: begin: %w", driver.ErrClosed)
	}
	if opts.Isolation == driver.Serializable {
		return nil, fmt.Errorf("%w: redis: serializable transactions: a transaction notices when a record it read changed, not when one it would have read appeared (phantoms); use repeatable read", driver.ErrUnsupported)
	}
	return &tx{a: a, ctx: ctx, opts: opts, reads: map[string]string{}, writes: map[string]*txWrite{}}, nil
}

type tx struct {
	a      *Adapter
	ctx    context.Context
	opts   driver.TxOptions
	done   bool
	reads  map[string]string // record key -> "$rev" when read ("" absent)
	writes map[string]*txWrite
	order  []string // keys of writes, first write first
	saved  []savepoint
}

// txWrite is a record as the transaction leaves it (rec.Values nil:
// deleted).
type txWrite struct {
	col       *collection
	shard, pk string
	rec       driver.Record
}

type savepoint struct {
	name   string
	writes map[string]*txWrite
	order  []string
}

func (t *tx) check(ctx context.Context) error {
	if t.done {
		return driver.ErrTxDone
	}
	if err := t.ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", driver.ErrTxDone, err)
	}
	return ctx.Err()
}

// read returns the record at key as the transaction sees it.
func (t *tx) read(ctx context.Context, col *collection, shard, pk string) (driver.Record, bool, error) {
	key := shard + ":r:" + pk
	if w, ok := t.writes[key]; ok {
		if w.rec.Values == nil {
			return driver.Record{}, false, nil
		}
		return cloneRecord(w.rec), true, nil
	}
	var h map[string]string
	var err error
	if col.ttl > 0 {
		h, err = t.a.getLive(ctx, key)
	} else {
		h, err = t.a.client.HGetAll(ctx, key).Result()
	}
	if err != nil {
		return driver.Record{}, false, err
	}
	rev := h[revField]
	if prev, ok := t.reads[key]; ok && prev != rev && t.opts.Isolation != driver.ReadCommitted {
		return driver.Record{}, false, fmt.Errorf("%w: %s changed since the transaction read it", driver.ErrSerialization, col.Name)
	}
	if _, ok := t.reads[key]; !ok {
		t.reads[key] = rev
	}
	if len(h) == 0 {
		return driver.Record{}, false, nil
	}
	rec, _, err := decodeMap(col.Collection, h)
	return rec, true, err
}

func (t *tx) stage(col *collection, shard, pk string, rec driver.Record) {
	key := shard + ":r:" + pk
	if _, ok := t.writes[key]; !ok {
		t.order = append(t.order, key)
	}
	t.writes[key] = &txWrite{col: col, shard: shard, pk: pk, rec: rec}
}

// inserted reports whether the transaction writes the record at key where
// it read none.
func (t *tx) inserted(key string) bool {
	w, ok := t.writes[key]
	return ok && w.rec.Values != nil && t.reads[key] == ""
}

func cloneRecord(r driver.Record) driver.Record {
	vals := make([]any, len(r.Values))
	for i, v := range r.Values {
		vals[i] = driver.Clone(v)
	}
	return driver.Record{Values: vals, Meta: r.Meta}
}

func (t *tx) Get(ctx context.Context, c *driver.Collection, key any) (driver.Record, error) {
	if err := t.check(ctx); err != nil {
		return driver.Record{}, err
	}
	col, shard, pk, err := t.a.target(ctx, c, key, false)
	if err != nil {
		return driver.Record{}, err
	}
	rec, ok, err := t.read(ctx, col, shard, pk)
	if err != nil {
		return driver.Record{}, t.a.wrap("get", c.Name, err)
	}
	if !ok {
		return driver.Record{}, fmt.Errorf("redis: get %s %v: %w", c.Name, key, driver.ErrNotFound)
	}
	return rec, nil
}

func (t *tx) Insert(ctx context.Context, c *driver.Collection, rec driver.Record, opts driver.InsertOptions) (driver.Record, error) {
	if err := t.check(ctx); err != nil {
		return driver.Record{}, err
	}
	if err := driver.CheckRecord(c, rec); err != nil {
		return driver.Record{}, err
	}
	col, shard, pk, err := t.a.target(ctx, c, rec.Key(c), true)
	if err != nil {
		return driver.Record{}, err
	}
	out, err := t.insert(ctx, col, shard, pk, rec, opts)
	return out, t.a.wrap("insert", c.Name, err)
}

func (t *tx) insert(ctx context.Context, col *collection, shard, pk string, rec driver.Record, opts driver.InsertOptions) (driver.Record, error) {
	c := col.Collection
	var holder *driver.Record
	if oc := opts.OnConflict; oc != nil {
		var err error
		if holder, err = t.holder(ctx, col, shard, pk, rec, oc.Target); err != nil {
			return driver.Record{}, err
		}
	}
	if holder != nil {
		oc := opts.OnConflict
		if oc.DoNothing {
			return driver.Record{}, nil
		}
		next := cloneRecord(*holder)
		for _, i := range oc.Replace {
			if i != c.Key {
				next.Values[i] = driver.Clone(rec.Values[i])
			}
		}
		if c.Version >= 0 {
			v, err := driver.ApplyChange(next.Values[c.Version], driver.Increment, int64(1))
			if err != nil {
				return driver.Record{}, err
			}
			next.Values[c.Version] = v
		}
		hpk := string(valuecodec.AppendComponent(nil, next.Key(c)))
		l, err := t.a.layoutOf(ctx, col, true)
		if err != nil {
			return driver.Record{}, err
		}
		hshard := l.shardOf(hpk)
		if err := t.checkUnique(ctx, col, next); err != nil {
			return driver.Record{}, err
		}
		t.stage(col, hshard, hpk, next)
		return cloneRecord(next), nil
	}
	if _, exists, err := t.read(ctx, col, shard, pk); err != nil {
		return driver.Record{}, err
	} else if exists {
		return driver.Record{}, &driver.ConstraintError{Kind: driver.Unique, Collection: c.Name, Name: driver.PrimaryKeyConstraint}
	}
	if err := t.checkUnique(ctx, col, rec); err != nil {
		return driver.Record{}, err
	}
	t.stage(col, shard, pk, cloneRecord(rec))
	return rec, nil
}

// holder returns the record rec collides with on target, or nil.
func (t *tx) holder(ctx context.Context, col *collection, shard, pk string, rec driver.Record, target string) (*driver.Record, error) {
	if target == driver.PrimaryKeyConstraint {
		cur, ok, err := t.read(ctx, col, shard, pk)
		if !ok || err != nil {
			return nil, err
		}
		return &cur, nil
	}
	for _, ix := range col.indexes {
		if ix.name == target {
			others, err := t.holders(ctx, col, ix, rec)
			if err != nil || len(others) == 0 {
				return nil, err
			}
			return &others[0], nil
		}
	}
	return nil, fmt.Errorf("%w: %s has no unique index %s", driver.ErrInvalid, col.Name, target)
}

// holders returns the records that have rec's values of ix's fields (none
// if one is NULL).
func (t *tx) holders(ctx context.Context, col *collection, ix index, rec driver.Record) ([]driver.Record, error) {
	q := &driver.Query{}
	for _, f := range ix.fields {
		if rec.Values[f] == nil {
			return nil, nil
		}
		q.Filters = append(q.Filters, driver.Filter{Field: f, Op: driver.Eq, Value: rec.Values[f]})
	}
	return t.query(ctx, col.Collection, q)
}

// checkUnique returns a *driver.ConstraintError if rec collides with
// another record in a unique index (Commit checks again).
func (t *tx) checkUnique(ctx context.Context, col *collection, rec driver.Record) error {
	for _, ix := range col.indexes {
		if !ix.unique {
			continue
		}
		others, err := t.holders(ctx, col, ix, rec)
		if err != nil {
			return err
		}
		for _, o := range others {
			if driver.Compare(o.Key(col.Collection), rec.Key(col.Collection)) != 0 {
				return &driver.ConstraintError{Kind: driver.Unique, Collection: col.Name, Name: ix.name}
			}
		}
	}
	return nil
}

func (t *tx) Update(ctx context.Context, c *driver.Collection, u driver.Update) (driver.Record, error) {
	if err := t.check(ctx); err != nil {
		return driver.Record{}, err
	}
	col, shard, pk, err := t.a.target(ctx, c, u.Key, false)
	if err != nil {
		return driver.Record{}, err
	}
	out, err := t.update(ctx, col, shard, pk, u)
	return out, t.a.wrap("update", c.Name, err)
}

func (t *tx) update(ctx context.Context, col *collection, shard, pk string, u driver.Update) (driver.Record, error) {
	c := col.Collection
	if _, err := expectVersion(c, u.ExpectVersion); err != nil {
		return driver.Record{}, err
	}
	changes, err := driver.CheckChanges(c, u.Key, u.Changes)
	if err != nil {
		return driver.Record{}, err
	}
	cur, ok, err := t.read(ctx, col, shard, pk)
	if err != nil {
		return driver.Record{}, err
	}
	if !ok {
		return driver.Record{}, driver.ErrNotFound
	}
	if u.ExpectVersion != nil && driver.Compare(cur.Values[c.Version], *u.ExpectVersion) != 0 {
		return driver.Record{}, driver.ErrStale
	}
	next := cloneRecord(cur)
	uniqueChanged := false
	for _, ch := range changes {
		v, err := driver.ApplyChange(next.Values[ch.Field], ch.Op, driver.Clone(ch.Value))
		if err != nil {
			return driver.Record{}, err
		}
		next.Values[ch.Field] = v
		for _, ix := range col.indexes {
			uniqueChanged = uniqueChanged || (ix.unique && slices.Contains(ix.fields, ch.Field))
		}
	}
	if uniqueChanged {
		if err := t.checkUnique(ctx, col, next); err != nil {
			return driver.Record{}, err
		}
	}
	t.stage(col, shard, pk, next)
	return cloneRecord(next), nil
}

func (t *tx) Delete(ctx context.Context, c *driver.Collection, d driver.Delete) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	col, shard, pk, err := t.a.target(ctx, c, d.Key, false)
	if err != nil {
		return err
	}
	if _, err := expectVersion(c, d.ExpectVersion); err != nil {
		return t.a.wrap("delete", c.Name, err)
	}
	cur, ok, err := t.read(ctx, col, shard, pk)
	switch {
	case err != nil:
		return t.a.wrap("delete", c.Name, err)
	case !ok:
		return fmt.Errorf("redis: delete %s %v: %w", c.Name, d.Key, driver.ErrNotFound)
	case d.ExpectVersion != nil && driver.Compare(cur.Values[c.Version], *d.ExpectVersion) != 0:
		return fmt.Errorf("redis: delete %s %v: %w", c.Name, d.Key, driver.ErrStale)
	}
	t.stage(col, shard, pk, driver.Record{})
	return nil
}

// query returns the records q selects as the transaction sees them: the
// store's, less those it wrote, plus those it wrote that match, then
// sorted, paged and limited.
func (t *tx) query(ctx context.Context, c *driver.Collection, q *driver.Query) ([]driver.Record, error) {
	q = orEmpty(q)
	all := *q
	all.After, all.Offset, all.Limit, all.Fields = nil, 0, 0, nil
	s, err := t.a.newScan(ctx, c, &all, true)
	if err != nil {
		return nil, err
	}
	var recs []driver.Record
	var changed error
	err = s.each(ctx, func(e entry) bool {
		pk := string(valuecodec.AppendComponent(nil, e.rec.Key(c)))
		rkey := s.l.shardOf(pk) + ":r:" + pk
		if prev, ok := t.reads[rkey]; !ok {
			t.reads[rkey] = e.rev
		} else if prev != e.rev && t.opts.Isolation != driver.ReadCommitted {
			changed = fmt.Errorf("%w: %s changed since the transaction read it", driver.ErrSerialization, c.Name)
			return false
		}
		if _, ok := t.writes[rkey]; !ok {
			recs = append(recs, e.rec)
		}
		return true
	})
	if err == nil {
		err = changed
	}
	if err != nil {
		return nil, err
	}
	for _, key := range t.order {
		w := t.writes[key]
		if w.col.Name != c.Name || w.rec.Values == nil {
			continue
		}
		match := true
		for _, f := range q.Filters {
			match = match && f.Match(w.rec.Values[f.Field])
		}
		if match {
			recs = append(recs, cloneRecord(w.rec))
		}
	}
	slices.SortStableFunc(recs, func(x, y driver.Record) int {
		for _, o := range q.Order {
			n := driver.Compare(x.Values[o.Field], y.Values[o.Field])
			if o.Desc {
				n = -n
			}
			if n != 0 {
				return n
			}
		}
		return 0
	})
	out := recs[:0]
	skip := q.Offset
	for _, r := range recs {
		if q.After != nil && !q.AfterCursor(r.Values) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
		out = append(out, r)
	}
	return out, nil
}

func (t *tx) Query(ctx context.Context, c *driver.Collection, q *driver.Query) iter.Seq2[driver.Record, error] {
	return func(yield func(driver.Record, error) bool) {
		if err := t.check(ctx); err != nil {
			yield(driver.Record{}, err)
			return
		}
		recs, err := t.query(ctx, c, q)
		if err != nil {
			yield(driver.Record{}, t.a.wrap("query", c.Name, err))
			return
		}
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func (t *tx) Count(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	if err := t.check(ctx); err != nil {
		return 0, err
	}
	recs, err := t.query(ctx, c, q)
	return int64(len(recs)), t.a.wrap("count", c.Name, err)
}

func (t *tx) DeleteAll(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	if err := t.check(ctx); err != nil {
		return 0, err
	}
	recs, err := t.query(ctx, c, q)
	if err != nil {
		return 0, t.a.wrap("delete all", c.Name, err)
	}
	for _, r := range recs {
		if err := t.Delete(ctx, c, driver.Delete{Key: r.Key(c)}); err != nil {
			return 0, err
		}
	}
	return int64(len(recs)), nil
}

func (t *tx) Aggregate(ctx context.Context, c *driver.Collection, q *driver.Query, fn driver.AggFunc, field int) (any, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	if err := driver.CheckField(c, field, true); err != nil {
		return nil, err
	}
	recs, err := t.query(ctx, c, q)
	if err != nil {
		return nil, t.a.wrap("aggregate", c.Name, err)
	}
	var vals []any
	for _, r := range recs {
		if v := r.Values[field]; v != nil {
			vals = append(vals, v)
		}
	}
	return driver.AggregateValues(fn, c.Fields[field], vals)
}

// InsertAll inserts every record or, on error, none.
func (t *tx) InsertAll(ctx context.Context, c *driver.Collection, recs []driver.Record) ([]driver.Record, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	sp := t.snapshot("")
	out := make([]driver.Record, len(recs))
	for i, r := range recs {
		var err error
		if out[i], err = t.Insert(ctx, c, r, driver.InsertOptions{}); err != nil {
			t.restore(sp)
			return nil, err
		}
	}
	return out, nil
}

func (t *tx) snapshot(name string) savepoint {
	ws := make(map[string]*txWrite, len(t.writes))
	maps.Copy(ws, t.writes)
	return savepoint{name: name, writes: ws, order: slices.Clone(t.order)}
}

func (t *tx) restore(sp savepoint) {
	t.writes = make(map[string]*txWrite, len(sp.writes))
	maps.Copy(t.writes, sp.writes)
	t.order = slices.Clone(sp.order)
}

// Savepoint, RollbackTo and Release (driver.Savepointer) keep copies of
// the pending writes.
func (t *tx) Savepoint(ctx context.Context, name string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	t.saved = append(t.saved, t.snapshot(name))
	return nil
}

func (t *tx) find(name string) (int, error) {
	for i := len(t.saved) - 1; i >= 0; i-- {
		if t.saved[i].name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: redis: no savepoint %q", driver.ErrInvalid, name)
}

func (t *tx) RollbackTo(ctx context.Context, name string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	i, err := t.find(name)
	if err != nil {
		return err
	}
	t.restore(t.saved[i])
	t.saved = t.saved[:i+1]
	return nil
}

func (t *tx) Release(ctx context.Context, name string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	i, err := t.find(name)
	if err != nil {
		return err
	}
	t.saved = t.saved[:i]
	return nil
}

func (t *tx) Rollback() error {
	t.done = true
	return nil
}

// conflictError is a commit's failed check: the record at key changed.
type conflictError struct{ key string }

func (e *conflictError) Error() string {
	return "redis: commit: a record the transaction read has changed: " + driver.ErrSerialization.Error()
}

func (e *conflictError) Unwrap() error { return driver.ErrSerialization }

// Commit checks and writes in one script.
func (t *tx) Commit() error {
	if t.done {
		return driver.ErrTxDone
	}
	t.done = true
	if err := t.ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", driver.ErrTxDone, err)
	}
	id := t.a.writeID()
	var anchor string
	if len(t.order) == 0 {
		// Only reads: at repeatable read, check that none changed.
		if len(t.reads) == 0 || t.opts.Isolation == driver.ReadCommitted {
			return nil
		}
		id = ""
		for key := range t.reads {
			anchor = key
			break
		}
	} else {
		anchor = t.writes[t.order[0]].shard
	}
	args := []any{id, t.a.idTTL, len(t.reads)}
	for key, rev := range t.reads {
		args = append(args, key, rev)
	}
	descs := map[string]int{}
	var descList []any
	for _, key := range t.order {
		w := t.writes[key]
		if _, ok := descs[w.col.desc]; !ok {
			descList = append(descList, w.col.desc)
			descs[w.col.desc] = len(descList)
		}
	}
	args = append(args, len(descList))
	args = append(args, descList...)
	for _, key := range t.order {
		w := t.writes[key]
		op := "p"
		if w.rec.Values == nil {
			op = "d"
		}
		args = append(args, descs[w.col.desc], w.shard, w.pk, op)
		if op == "d" {
			args = append(args, 0, 0)
			continue
		}
		c := w.col.Collection
		at := len(args)
		args = append(args, 0)
		var n int
		var err error
		args, n, err = appendFields(args, c, w.rec)
		if err != nil {
			return fmt.Errorf("redis: commit: %w: %w", driver.ErrInvalid, err)
		}
		args[at] = n
		var nulls []any
		for i, f := range c.Fields {
			if w.rec.Values[i] == nil {
				nulls = append(nulls, f.Name)
			}
		}
		args = append(args, len(nulls))
		args = append(args, nulls...)
	}
	res, err := t.a.write(t.ctx, fnCommit, []string{anchor}, args...)
	if err != nil {
		return t.a.wrap("commit", "transaction", err)
	}
	status, rest := reply(res)
	switch status {
	case "ok", "dup":
		return nil
	case "conflict":
		key, _ := rest[0].(string)
		return &conflictError{key: key}
	case "unique":
		shard, _ := rest[0].(string)
		name, _ := rest[1].(string)
		coll := shard
		for _, w := range t.writes {
			if w.shard == shard {
				coll = w.col.Name
			}
		}
		return &driver.ConstraintError{Kind: driver.Unique, Collection: coll, Name: name}
	}
	return fmt.Errorf("redis: commit: unexpected reply %v", res)
}
