package repo

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// Update writes changes to a stored record and loads the record as stored
// afterwards into the struct.
//
// With a *schema.Changeset only the changed fields are written, merge
// operations (Increment, AddToSet, RemoveFromSet) apply atomically in the
// store, and a changeset with no changes writes nothing. With a pointer to
// a schema struct every field but the primary key and inserted_at is
// written (a last-writer-wins replacement: use a changeset for merges).
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
		return wrap("update", "", fmt.Errorf("%w: nil *schema.Changeset", ErrInvalid))
	}
	if err := cs.Err(); err != nil {
		return wrap("update", csName(cs), err)
	}
	s := cs.Schema()
	data := reflect.ValueOf(cs.Data()).Elem()
	var changes []schema.Change
	if explicit {
		changes = cs.Changes()
		if len(changes) == 0 {
			return nil
		}
	} else {
		for _, f := range s.Fields {
			if f == s.Key || f == s.InsertedAt || f == s.Version {
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
	rows := 0
	defer r.observe(ctx, "update", s.Name(), time.Now(), &rows, &err)
	key, err := keyOf(s, data)
	if err != nil {
		return wrap("update", s.Name(), err)
	}
	u := driver.Update{Key: key, Meta: s.Meta(data)}
	for _, c := range changes {
		if c.Field == s.Key {
			return wrap("update", s.Name(), fmt.Errorf("%w: the primary key %s cannot change", ErrInvalid, s.Key))
		}
		u.Changes = append(u.Changes, driver.Change{Field: c.Field.Pos, Op: c.Op, Value: c.Value})
	}
	if s.UpdatedAt != nil {
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
	rec, err := r.st.Update(ctx, s.Collection, u)
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
	if err != nil {
		return err
	}
	rows := 0
	defer r.observe(ctx, "delete", s.Name(), time.Now(), &rows, &err)
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

// DeleteAll deletes the records of schema T that q selects and returns how
// many it deleted.
func DeleteAll[T any](ctx context.Context, r *Repo, q Query) (n int64, err error) {
	s, err := schema.Of[T]()
	if err != nil {
		return 0, fmt.Errorf("strata: delete_all: %w", err)
	}
	rows := 0
	defer r.observe(ctx, "delete_all", s.Name(), time.Now(), &rows, &err)
	dq, err := compile(s, r.caps, q, false)
	if err != nil {
		return 0, wrap("delete_all", s.Name(), err)
	}
	n, err = r.st.DeleteAll(ctx, s.Collection, dq)
	rows = int(n)
	return n, wrap("delete_all", s.Name(), err)
}
