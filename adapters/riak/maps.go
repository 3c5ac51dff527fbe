package riak

import (
	"context"
	"fmt"
	"slices"

	"github.com/basho/riak-go-client/rpb/riak_dt"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"

	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/repo/driver"
)

// A collection named in Options.Maps is stored as Riak maps, Riak's own
// data type, in Options.MapType (a bucket type with datatype=map): Riak
// merges concurrent writes itself, with the vnodes as actors, instead of
// the adapter's state. Each field is a map field:
//
//	counter   a counter
//	set       a set
//	flag      a flag (enable wins)
//	others    a register (last write wins), holding the value's text form
//
// A max field has no map counterpart, and is refused. Riak's data types
// have no secondary indexes, so such a collection answers only queries
// by key (Eq or In on the key) and full scans (FullScan, which lists the
// keys); any other query is ErrUnsupported. Sets come back in Riak's
// order (sorted), not in the order of their additions.

// mapField returns the map field of f.
func mapField(f driver.Field) *riak_dt.MapField {
	t := riak_dt.MapField_REGISTER
	switch f.Merge {
	case driver.MergeCounter:
		t = riak_dt.MapField_COUNTER
	case driver.MergeSet:
		t = riak_dt.MapField_SET
	case driver.MergeFlag:
		t = riak_dt.MapField_FLAG
	}
	return &riak_dt.MapField{Name: []byte(f.Name), Type: t.Enum()}
}

// checkMap refuses a collection that cannot be a Riak map.
func checkMap(c *driver.Collection) error {
	for _, f := range c.Fields {
		if f.Merge == driver.MergeMax {
			return fmt.Errorf("%w: riak: %s is stored as Riak maps, which have no max field (%s)", driver.ErrUnsupported, c.Name, f.Name)
		}
	}
	return nil
}

// mapFetch reads the map at key: its values (nil if there is none) and
// its context.
func (a *Adapter) mapFetch(ctx context.Context, col *collection, key []byte) ([]any, []byte, error) {
	resp, err := a.c.DtFetch(ctx, &riak_dt.DtFetchReq{Bucket: col.bucket, Key: key, Type: col.typ, IncludeContext: proto.Bool(true)})
	if err != nil {
		return nil, nil, err
	}
	if resp.GetValue() == nil {
		return nil, resp.GetContext(), nil
	}
	vals, err := mapValues(col.Collection, resp.GetValue().GetMapValue())
	return vals, resp.GetContext(), err
}

// mapValues decodes a map's entries into values of c's fields.
func mapValues(c *driver.Collection, entries []*riak_dt.MapEntry) ([]any, error) {
	vals := make([]any, len(c.Fields))
	for i, f := range c.Fields {
		want := mapField(f)
		j := slices.IndexFunc(entries, func(e *riak_dt.MapEntry) bool {
			return string(e.GetField().GetName()) == f.Name && e.GetField().GetType() == want.GetType()
		})
		if j < 0 {
			if !f.Nullable {
				vals[i] = driver.Zero(f.Kind)
			}
			continue
		}
		e := entries[j]
		switch want.GetType() {
		case riak_dt.MapField_COUNTER:
			vals[i] = e.GetCounterValue()
		case riak_dt.MapField_SET:
			set := make([]string, len(e.GetSetValue()))
			for k, b := range e.GetSetValue() {
				set[k] = string(b)
			}
			vals[i] = set
		case riak_dt.MapField_FLAG:
			vals[i] = e.GetFlagValue()
		default:
			v, err := valuecodec.Decode(f.Kind, string(e.GetRegisterValue()))
			if err != nil {
				return nil, fmt.Errorf("riak: %s.%s: %w", c.Name, f.Name, err)
			}
			vals[i] = v
		}
	}
	return vals, nil
}

// mapUpdate applies op to the map at key with context and returns the
// map's values afterwards.
func (a *Adapter) mapUpdate(ctx context.Context, col *collection, key, context []byte, op *riak_dt.MapOp) ([]any, error) {
	resp, err := a.c.DtUpdate(ctx, &riak_dt.DtUpdateReq{
		Bucket: col.bucket, Key: key, Type: col.typ, Context: context,
		Op: &riak_dt.DtOp{MapOp: op}, ReturnBody: proto.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return mapValues(col.Collection, resp.GetMapValue())
}

// mapSet adds to op the updates that give field f the value v, from cur.
func mapSet(op *riak_dt.MapOp, f driver.Field, cur, v any) error {
	field := mapField(f)
	switch f.Merge {
	case driver.MergeCounter:
		n, _ := v.(int64)
		c, _ := cur.(int64)
		if n != c {
			op.Updates = append(op.Updates, &riak_dt.MapUpdate{Field: field, CounterOp: &riak_dt.CounterOp{Increment: proto.Int64(n - c)}})
		}
	case driver.MergeSet:
		want, _ := v.([]string)
		have, _ := cur.([]string)
		var s riak_dt.SetOp
		for _, e := range want {
			if !slices.Contains(have, e) {
				s.Adds = append(s.Adds, []byte(e))
			}
		}
		for _, e := range have {
			if !slices.Contains(want, e) {
				s.Removes = append(s.Removes, []byte(e))
			}
		}
		if len(s.Adds)+len(s.Removes) > 0 {
			op.Updates = append(op.Updates, &riak_dt.MapUpdate{Field: field, SetOp: &s})
		}
	case driver.MergeFlag:
		flag := riak_dt.MapUpdate_DISABLE
		if on, _ := v.(bool); on {
			flag = riak_dt.MapUpdate_ENABLE
		}
		op.Updates = append(op.Updates, &riak_dt.MapUpdate{Field: field, FlagOp: flag.Enum()})
	default:
		if v == nil {
			if cur != nil {
				op.Removes = append(op.Removes, field)
			}
			return nil
		}
		text, err := valuecodec.Encode(f.Kind, v)
		if err != nil {
			return err
		}
		op.Updates = append(op.Updates, &riak_dt.MapUpdate{Field: field, RegisterOp: []byte(text)})
	}
	return nil
}

func (a *Adapter) mapInsert(ctx context.Context, col *collection, rec driver.Record) (driver.Record, error) {
	c := col.Collection
	key := keyOf(rec.Values[c.Key])
	vals, mctx, err := a.mapFetch(ctx, col, key)
	if err != nil {
		return driver.Record{}, fmt.Errorf("riak: insert into %s: %w", c.Name, err)
	}
	if vals != nil {
		return driver.Record{}, &driver.ConstraintError{Kind: driver.Unique, Collection: c.Name, Name: driver.PrimaryKeyConstraint}
	}
	op := &riak_dt.MapOp{}
	for i, f := range c.Fields {
		var zero any
		if f.Merge == driver.MergeCounter {
			zero = int64(0)
		}
		if err := mapSet(op, f, zero, rec.Values[i]); err != nil {
			return driver.Record{}, fmt.Errorf("riak: insert into %s: %w", c.Name, err)
		}
	}
	if _, err := a.mapUpdate(ctx, col, key, mctx, op); err != nil {
		return driver.Record{}, fmt.Errorf("riak: insert into %s: %w", c.Name, err)
	}
	return rec, nil
}

func (a *Adapter) mapUpdateRecord(ctx context.Context, col *collection, u driver.Update) (driver.Record, error) {
	c := col.Collection
	key := keyOf(u.Key)
	vals, mctx, err := a.mapFetch(ctx, col, key)
	if err != nil {
		return driver.Record{}, fmt.Errorf("riak: update %s/%v: %w", c.Name, u.Key, err)
	}
	if vals == nil {
		return driver.Record{}, fmt.Errorf("riak: update %s/%v: %w", c.Name, u.Key, driver.ErrNotFound)
	}
	if err := checkVersion(c, u.ExpectVersion, func() (any, error) { return vals[c.Version], nil }); err != nil {
		return driver.Record{}, fmt.Errorf("riak: update %s/%v: %w", c.Name, u.Key, err)
	}
	changes, err := driver.CheckChanges(c, u.Key, u.Changes)
	if err != nil {
		return driver.Record{}, fmt.Errorf("riak: update %s/%v: %w", c.Name, u.Key, err)
	}
	op := &riak_dt.MapOp{}
	for _, ch := range changes {
		f := c.Fields[ch.Field]
		switch {
		case ch.Op == driver.Increment && f.Merge == driver.MergeCounter:
			d, _ := ch.Value.(int64)
			op.Updates = append(op.Updates, &riak_dt.MapUpdate{Field: mapField(f), CounterOp: &riak_dt.CounterOp{Increment: proto.Int64(d)}})
			next, err := driver.ApplyChange(vals[ch.Field], driver.Increment, d)
			if err != nil {
				return driver.Record{}, err
			}
			vals[ch.Field] = next
		case (ch.Op == driver.Add || ch.Op == driver.Remove) && f.Merge == driver.MergeSet:
			elems, _ := ch.Value.([]string)
			var s riak_dt.SetOp
			for _, e := range elems {
				if ch.Op == driver.Add {
					s.Adds = append(s.Adds, []byte(e))
				} else if cur, _ := vals[ch.Field].([]string); slices.Contains(cur, e) {
					s.Removes = append(s.Removes, []byte(e)) // (Riak refuses to remove what it has not seen)
				}
			}
			if len(s.Adds)+len(s.Removes) > 0 {
				op.Updates = append(op.Updates, &riak_dt.MapUpdate{Field: mapField(f), SetOp: &s})
			}
			next, err := driver.ApplyChange(vals[ch.Field], ch.Op, elems)
			if err != nil {
				return driver.Record{}, err
			}
			vals[ch.Field] = next
		default:
			next, err := driver.ApplyChange(vals[ch.Field], ch.Op, ch.Value)
			if err != nil {
				return driver.Record{}, err
			}
			if err := mapSet(op, f, vals[ch.Field], next); err != nil {
				return driver.Record{}, err
			}
			vals[ch.Field] = next
		}
	}
	if len(op.Updates)+len(op.Removes) == 0 {
		return driver.Record{Values: vals}, nil
	}
	got, err := a.mapUpdate(ctx, col, key, mctx, op)
	if err != nil {
		return driver.Record{}, fmt.Errorf("riak: update %s/%v: %w", c.Name, u.Key, err)
	}
	return driver.Record{Values: got}, nil
}

func (a *Adapter) mapDelete(ctx context.Context, col *collection, d driver.Delete) error {
	c := col.Collection
	key := keyOf(d.Key)
	vals, _, err := a.mapFetch(ctx, col, key)
	if err != nil {
		return fmt.Errorf("riak: delete %s/%v: %w", c.Name, d.Key, err)
	}
	if vals == nil {
		return fmt.Errorf("riak: delete %s/%v: %w", c.Name, d.Key, driver.ErrNotFound)
	}
	if err := checkVersion(c, d.ExpectVersion, func() (any, error) { return vals[c.Version], nil }); err != nil {
		return fmt.Errorf("riak: delete %s/%v: %w", c.Name, d.Key, err)
	}
	return a.c.Delete(ctx, &riak_kv.RpbDelReq{Bucket: col.bucket, Key: key, Type: col.typ})
}
