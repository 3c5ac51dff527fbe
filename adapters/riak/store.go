package riak

import (
	"context"
	"errors"
	"fmt"

	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"

	"github.com/strata-go/strata/adapters/riak/pb"
	"github.com/strata-go/strata/repo/driver"
)

// contentType marks the adapter's objects.
const contentType = "application/x-strata-state"

// object is a record as read: its merged state and the causal context
// (vclock) a write of it must carry.
type object struct {
	st     *state
	vclock []byte
}

// fetch reads the object at key and merges its siblings by the merge
// policies. A read does not write the merge back: a delete that read the
// same vclock would become a sibling of that write, and the record would
// come back. The next update writes the merge, with the vclock read,
// which collapses the siblings. found is false for no object (or only
// tombstones).
func (a *Adapter) fetch(ctx context.Context, col *collection, key []byte) (object, bool, error) {
	resp, err := a.c.Get(ctx, &riak_kv.RpbGetReq{Bucket: col.bucket, Key: key, Type: col.typ})
	if err != nil {
		return object{}, false, err
	}
	var merged *state
	live := 0
	for _, content := range resp.GetContent() {
		if content.GetDeleted() {
			continue
		}
		st, err := decodeState(content.GetValue())
		if err != nil {
			return object{}, false, fmt.Errorf("%s: %w", col.Name, err)
		}
		live++
		if merged == nil {
			merged = st
		} else if merged, err = merge(col.Collection, merged, st); err != nil {
			return object{}, false, err
		}
	}
	if merged == nil {
		return object{vclock: resp.GetVclock()}, false, nil
	}
	a.observe(merged)
	obj := object{st: merged, vclock: resp.GetVclock()}
	return obj, true, nil
}

// observe moves the adapter's clock past the stamps of st.
func (a *Adapter) observe(st *state) {
	for _, fs := range st.fields {
		a.clock.observe(fs.stamp)
	}
}

// store writes obj's state under key with obj's vclock (none for a new
// object).
func (a *Adapter) store(ctx context.Context, col *collection, key []byte, obj object, vals []any, ifNoneMatch bool) error {
	req := &riak_kv.RpbPutReq{
		Bucket: col.bucket, Key: key, Type: col.typ, Vclock: obj.vclock,
		Content: &riak_kv.RpbContent{
			Value:       encodeState(obj.st),
			ContentType: []byte(contentType),
			Indexes:     indexEntries(col.Collection, vals),
		},
	}
	if ifNoneMatch {
		req.IfNoneMatch = proto.Bool(true)
	}
	_, err := a.c.Put(ctx, req)
	return err
}

// values returns the record's values in the order of c's fields.
func (s *state) values(c *driver.Collection) ([]any, error) {
	vals := make([]any, len(c.Fields))
	for i, f := range c.Fields {
		v, err := s.value(f)
		if err != nil {
			return nil, fmt.Errorf("riak: %s.%s: %w", c.Name, f.Name, err)
		}
		vals[i] = v
	}
	return vals, nil
}

// Insert stores a new record. A record with the key is found by the
// if_none_match put, which is not atomic against a concurrent insert of
// the same key (both then become siblings, merged on read).
func (a *Adapter) Insert(ctx context.Context, c *driver.Collection, rec driver.Record, opts driver.InsertOptions) (driver.Record, error) {
	if opts.OnConflict != nil {
		return driver.Record{}, fmt.Errorf("%w: riak: upserts are not atomic in Riak", driver.ErrUnsupported)
	}
	if err := driver.CheckRecord(c, rec); err != nil {
		return driver.Record{}, fmt.Errorf("riak: insert into %s: %w", c.Name, err)
	}
	if err := a.check(); err != nil {
		return driver.Record{}, err
	}
	if col := a.collectionOf(c); col.isMap {
		if col.bad != nil {
			return driver.Record{}, col.bad
		}
		return a.mapInsert(ctx, col, rec)
	}
	ac, done, err := a.actor(ctx)
	if err != nil {
		return driver.Record{}, err
	}
	w := writer{id: ac.id, now: a.clock.now}
	col := a.collectionOf(c)
	st := newState()
	for i, f := range c.Fields {
		if err := st.set(f, rec.Values[i], w); err != nil {
			done(false)
			return driver.Record{}, fmt.Errorf("riak: insert into %s: %w", c.Name, err)
		}
	}
	// The values are canonical, and are what the new state holds.
	vals := rec.Values
	key := keyOf(vals[c.Key])
	err = a.store(ctx, col, key, object{st: st}, vals, true)
	var re *pb.Error
	refused := errors.As(err, &re) // Riak's answer: nothing was written
	if err == nil {
		ac.remember(string(col.bucket)+"/"+string(key), st)
	}
	done(err != nil && !refused)
	if err != nil {
		if refused && re.Message == "match_found" {
			return driver.Record{}, &driver.ConstraintError{Kind: driver.Unique, Collection: c.Name, Name: driver.PrimaryKeyConstraint, Err: err}
		}
		return driver.Record{}, fmt.Errorf("riak: insert into %s: %w", c.Name, err)
	}
	return driver.Record{Values: vals}, nil
}

// Get reads a record, merging its siblings.
func (a *Adapter) Get(ctx context.Context, c *driver.Collection, key any) (driver.Record, error) {
	if err := a.check(); err != nil {
		return driver.Record{}, err
	}
	if err := driver.CheckKey(c, key); err != nil {
		return driver.Record{}, fmt.Errorf("riak: get %s: %w", c.Name, err)
	}
	vals, err := a.load(ctx, a.collectionOf(c), keyOf(key))
	if err != nil {
		return driver.Record{}, fmt.Errorf("riak: get %s/%v: %w", c.Name, key, err)
	}
	if vals == nil {
		return driver.Record{}, fmt.Errorf("riak: get %s/%v: %w", c.Name, key, driver.ErrNotFound)
	}
	return driver.Record{Values: vals}, nil
}

// load reads the record at key: its values, or nil if there is none.
func (a *Adapter) load(ctx context.Context, col *collection, key []byte) ([]any, error) {
	if col.isMap {
		if col.bad != nil {
			return nil, col.bad
		}
		vals, _, err := a.mapFetch(ctx, col, key)
		return vals, err
	}
	obj, found, err := a.fetch(ctx, col, key)
	if err != nil || !found {
		return nil, err
	}
	return obj.st.values(col.Collection)
}

// Update reads the record, applies the changes to its state and writes it
// back with the vclock it read: a concurrent update makes siblings, which
// the next read merges, so no increment or set element is lost. The
// version check is not atomic (no CapConditionalWrites).
func (a *Adapter) Update(ctx context.Context, c *driver.Collection, u driver.Update) (driver.Record, error) {
	if err := a.check(); err != nil {
		return driver.Record{}, err
	}
	if err := driver.CheckKey(c, u.Key); err != nil {
		return driver.Record{}, fmt.Errorf("riak: update %s: %w", c.Name, err)
	}
	if col := a.collectionOf(c); col.isMap {
		if col.bad != nil {
			return driver.Record{}, col.bad
		}
		return a.mapUpdateRecord(ctx, col, u)
	}
	ac, done, err := a.actor(ctx)
	if err != nil {
		return driver.Record{}, err
	}
	written, failed := false, false
	defer func() { done(failed && !written) }()
	w := writer{id: ac.id, now: a.clock.now}
	col := a.collectionOf(c)
	key := keyOf(u.Key)
	record := string(col.bucket) + "/" + string(key)
	obj, found, err := a.fetch(ctx, col, key)
	if err != nil {
		return driver.Record{}, fmt.Errorf("riak: update %s/%v: %w", c.Name, u.Key, err)
	}
	if !found {
		return driver.Record{}, fmt.Errorf("riak: update %s/%v: %w", c.Name, u.Key, driver.ErrNotFound)
	}
	if err := checkVersion(c, u.ExpectVersion, versionOf(c, obj.st)); err != nil {
		return driver.Record{}, fmt.Errorf("riak: update %s/%v: %w", c.Name, u.Key, err)
	}
	if obj.st, err = ac.recall(c, record, obj.st); err != nil {
		return driver.Record{}, fmt.Errorf("riak: update %s/%v: %w", c.Name, u.Key, err)
	}
	changes, err := driver.CheckChanges(c, u.Key, u.Changes)
	if err != nil {
		return driver.Record{}, fmt.Errorf("riak: update %s/%v: %w", c.Name, u.Key, err)
	}
	for _, ch := range changes {
		if err := apply(c, obj.st, ch, w); err != nil {
			return driver.Record{}, fmt.Errorf("riak: update %s/%v: %w", c.Name, u.Key, err)
		}
	}
	vals, err := obj.st.values(c)
	if err != nil {
		return driver.Record{}, err
	}
	if err := a.store(ctx, col, key, obj, vals, false); err != nil {
		var re *pb.Error
		failed = !errors.As(err, &re) // a connection failure: the write may have been applied
		return driver.Record{}, fmt.Errorf("riak: update %s/%v: %w", c.Name, u.Key, err)
	}
	written = true
	ac.remember(record, obj.st)
	return driver.Record{Values: vals}, nil
}

// apply applies one change, checked by driver.CheckChanges, to st: by the
// field's merge policy where it has the operation, else as an assignment
// of the changed value.
func apply(c *driver.Collection, st *state, ch driver.Change, w writer) error {
	f := c.Fields[ch.Field]
	switch {
	case ch.Op == driver.Set:
		return st.set(f, ch.Value, w)
	case ch.Op == driver.Increment && f.Merge == driver.MergeCounter:
		return st.increment(f, ch.Value.(int64), w)
	case ch.Op == driver.Add && f.Merge == driver.MergeSet:
		st.add(f, ch.Value.([]string), w)
		return nil
	case ch.Op == driver.Remove && f.Merge == driver.MergeSet:
		st.remove(f, ch.Value.([]string))
		return nil
	case ch.Op == driver.SetMax && f.Merge == driver.MergeMax:
		return st.setMax(f, ch.Value)
	}
	cur, err := st.value(f)
	if err != nil {
		return err
	}
	next, err := driver.ApplyChange(cur, ch.Op, ch.Value)
	if err != nil {
		return err
	}
	return st.set(f, next, w)
}

// checkVersion checks a record's version against expect; version
// returns it (it is read only if there is something to check).
func checkVersion(c *driver.Collection, expect *int64, version func() (any, error)) error {
	if expect == nil {
		return nil
	}
	if c.Version < 0 {
		return fmt.Errorf("%w: %s has no version field", driver.ErrInvalid, c.Name)
	}
	v, err := version()
	if err != nil {
		return err
	}
	if driver.Compare(v, *expect) != 0 {
		return driver.ErrStale
	}
	return nil
}

// versionOf returns a function reading the version field of st.
func versionOf(c *driver.Collection, st *state) func() (any, error) {
	return func() (any, error) { return st.value(c.Fields[c.Version]) }
}

// Delete reads the record (for its vclock and the version check) and
// deletes it.
func (a *Adapter) Delete(ctx context.Context, c *driver.Collection, d driver.Delete) error {
	if err := a.check(); err != nil {
		return err
	}
	if err := driver.CheckKey(c, d.Key); err != nil {
		return fmt.Errorf("riak: delete %s: %w", c.Name, err)
	}
	if col := a.collectionOf(c); col.isMap {
		if col.bad != nil {
			return col.bad
		}
		return a.mapDelete(ctx, col, d)
	}
	col := a.collectionOf(c)
	key := keyOf(d.Key)
	obj, found, err := a.fetch(ctx, col, key)
	if err != nil {
		return fmt.Errorf("riak: delete %s/%v: %w", c.Name, d.Key, err)
	}
	if !found {
		return fmt.Errorf("riak: delete %s/%v: %w", c.Name, d.Key, driver.ErrNotFound)
	}
	if err := checkVersion(c, d.ExpectVersion, versionOf(c, obj.st)); err != nil {
		return fmt.Errorf("riak: delete %s/%v: %w", c.Name, d.Key, err)
	}
	if err := a.c.Delete(ctx, &riak_kv.RpbDelReq{Bucket: col.bucket, Key: key, Type: col.typ, Vclock: obj.vclock}); err != nil {
		return fmt.Errorf("riak: delete %s/%v: %w", c.Name, d.Key, err)
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, driver.ErrNotFound) }
