package repo

import (
	"context"
	"fmt"
	"reflect"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// Update writes changes to a stored record and loads the record as stored
// afterwards into the struct.
//
// With a *schema.Changeset only the changed fields are written, merge
// operations (Increment, AddToSet, RemoveFromSet) apply atomically in the
// store, and a changeset with no changes writes nothing. With a pointer to
// a schema struct every field is written but the primary key, inserted_at,
// the version, and the counter and set fields: those change only through a
// changeset's Increment, AddToSet and RemoveFromSet, so that a whole-struct
// update can never undo a concurrent increment or addition.
//
// updated_at is set to the current time. If the schema has a version
// field, the update applies only if the stored version still equals the
// struct's, and fails with ErrStale otherwise. A missing record is
// ErrNotFound.
func (r *Repo) Update(ctx context.Context, v any) (err error) {
	cs, explicit := v.(*schema.Changeset)
	if !explicit {
		cs = schema.NewChangeset(v)
	} else if cs == nil {
		cs = new(schema.Changeset) // its Err says what is wrong
	}
	rows := 0
	ctx, obs := r.begin(ctx, "update", nameOf(cs.Schema()))
	defer obs.end(&rows, &err)
	if err := cs.Err(); err != nil {
		return wrap("update", nameOf(cs.Schema()), err)
	}
	s := cs.Schema()
	if err := r.checkUniques(s); err != nil {
		return wrap("update", s.Name(), err)
	}
	data := reflect.ValueOf(cs.Data()).Elem()
	var changes []schema.Change
	if explicit {
		changes = cs.Changes()
		if len(changes) == 0 {
			return nil
		}
	} else {
		for _, f := range s.Fields {
			if f == s.Key || f == s.InsertedAt || f == s.UpdatedAt || f == s.Version || f.Merge == driver.MergeCounter || f.Merge == driver.MergeSet {
				continue
			}
			val, err := f.Value(data)
			if err != nil {
				return wrap("update", s.Name(), err)
			}
			op := driver.Set
			if f.Merge == driver.MergeMax {
				op = driver.SetMax
			}
			changes = append(changes, schema.Change{Field: f, Op: op, Value: val})
		}
	}
	key, err := keyOf(s, data)
	if err != nil {
		return wrap("update", s.Name(), err)
	}
	u := driver.Update{Key: key, Meta: s.Meta(data)}
	stamped := false
	for _, c := range changes {
		switch c.Field {
		case s.Key:
			return wrap("update", s.Name(), fmt.Errorf("%w: the primary key %s cannot change", ErrInvalid, s.Key))
		case s.Version:
			return wrap("update", s.Name(), fmt.Errorf("%w: the version %s is the repo's to change", ErrInvalid, s.Version))
		case s.UpdatedAt:
			stamped = true
		}
		u.Changes = append(u.Changes, driver.Change{Field: c.Field.Pos, Op: c.Op, Value: c.Value})
	}
	if s.UpdatedAt != nil && !stamped {
		u.Changes = append(u.Changes, driver.Change{Field: s.UpdatedAt.Pos, Op: driver.Set, Value: r.timestamp()})
	}
	if s.Version != nil {
		ver, err := s.Version.Value(data)
		if err != nil {
			return wrap("update", s.Name(), err)
		}
		n := ver.(int64)
		u.ExpectVersion = &n
		u.Changes = append(u.Changes, driver.Change{Field: s.Version.Pos, Op: driver.Set, Value: n + 1})
	}
	var rec driver.Record
	if len(u.Changes) == 0 {
		// A whole-struct update of a schema whose only fields are the key
		// and merge fields has nothing to write: it reloads.
		rec, err = r.st.Get(ctx, s.Collection, key)
	} else {
		rec, err = r.st.Update(ctx, s.Collection, u)
	}
	if err != nil {
		if explicit && cs.HandleConstraint(err) {
			return wrap("update", s.Name(), cs.Err())
		}
		return wrap("update", s.Name(), err)
	}
	rows = 1
	return wrap("update", s.Name(), s.Decode(data, rec))
}

// Delete deletes the record v points to (found by its primary key). With
// a version field the delete applies only if the stored version still
// equals v's (else ErrStale). A missing record is ErrNotFound.
func (r *Repo) Delete(ctx context.Context, v any) (err error) {
	s, data, err := target("delete", v)
	rows := 0
	ctx, obs := r.begin(ctx, "delete", nameOf(s))
	defer obs.end(&rows, &err)
	if err != nil {
		return err
	}
	key, err := keyOf(s, data)
	if err != nil {
		return wrap("delete", s.Name(), err)
	}
	d := driver.Delete{Key: key, Meta: s.Meta(data)}
	if s.Version != nil {
		ver, err := s.Version.Value(data)
		if err != nil {
			return wrap("delete", s.Name(), err)
		}
		n := ver.(int64)
		d.ExpectVersion = &n
	}
	if err := r.st.Delete(ctx, s.Collection, d); err != nil {
		return wrap("delete", s.Name(), err)
	}
	rows = 1
	return nil
}

// DeleteAll deletes the records of schema T that match q's conditions and
// returns how many it deleted. As in Ecto, q may hold nothing but
// conditions. It is atomic where the store has a bulk delete (SQL), and
// deletes record by record elsewhere.
func DeleteAll[T any](ctx context.Context, r *Repo, q Query) (n int64, err error) {
	s, err := schema.Of[T]()
	if err != nil {
		return 0, fmt.Errorf("strata: delete_all: %w", err)
	}
	rows := 0
	ctx, obs := r.begin(ctx, "delete_all", s.Name())
	defer obs.end(&rows, &err)
	if q.limit != 0 || q.offset != 0 || q.orderBy != nil || q.fields != nil || q.after != "" {
		return 0, wrap("delete_all", s.Name(), fmt.Errorf("%w: DeleteAll takes conditions only (no order, limit, offset, select or cursor)", ErrInvalid))
	}
	dq, err := compile(s, r.capsOf(s.Collection), q, false)
	if err != nil {
		return 0, wrap("delete_all", s.Name(), err)
	}
	n, err = r.st.DeleteAll(ctx, s.Collection, dq)
	rows = int(n)
	return n, wrap("delete_all", s.Name(), err)
}
