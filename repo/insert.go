package repo

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// InsertOption modifies Insert.
type InsertOption func(*insertConfig)

type insertConfig struct {
	target  []string // conflict target fields; nil: the primary key
	nothing bool
	all     bool
	replace []string
	set     bool
}

// OnConflictDoNothing makes Insert succeed without writing when the record
// collides with an existing one on target (field names of the primary key
// or of a unique index; none means the primary key). v is then left as it
// was. A collision on another unique index is still an error.
func OnConflictDoNothing(target ...string) InsertOption {
	return func(c *insertConfig) { *c = insertConfig{target: target, nothing: true, set: true} }
}

// OnConflictReplaceAll makes Insert overwrite every field (but the primary
// key and inserted_at) of the existing record it collides with on target,
// and load the result into v.
func OnConflictReplaceAll(target ...string) InsertOption {
	return func(c *insertConfig) { *c = insertConfig{target: target, all: true, set: true} }
}

// OnConflictReplace makes Insert overwrite the listed fields of the
// existing record it collides with on target, and load the result into v.
func OnConflictReplace(target []string, fields ...string) InsertOption {
	return func(c *insertConfig) { *c = insertConfig{target: target, replace: fields, set: true} }
}

// constraintFor names the constraint whose fields are target.
func constraintFor(s *schema.Schema, target []string) (string, error) {
	if len(target) == 0 || (len(target) == 1 && target[0] == s.Key.Name) {
		return driver.PrimaryKeyConstraint, nil
	}
	for _, ix := range s.Collection.Indexes {
		if ix.Unique && slices.Equal(ix.Fields, target) {
			return ix.Name, nil
		}
	}
	return "", fmt.Errorf("%w: conflict target %v is neither the primary key nor a unique index of %s", ErrInvalid, target, s.Name())
}

// Insert stores a new record. v is a pointer to a schema struct, or a
// *schema.Changeset (whose data is then inserted with its changes). On
// success v holds the record as stored: an int primary key that was zero
// gets a snowflake ID, zero timestamps get the current time, a version
// field starts at 1.
//
// A duplicate primary key or unique value is an error wrapping
// ErrConflict; for a changeset it becomes a field error ("has already been
// taken") and the error is a *schema.ChangesetError that also matches
// ErrConflict. An invalid changeset is not written. (A generated key that
// collides — two processes sharing a node id — is replaced by a new one
// and the insert retried.)
func (r *Repo) Insert(ctx context.Context, v any, opts ...InsertOption) (err error) {
	cs, explicit := v.(*schema.Changeset)
	if !explicit {
		cs = schema.NewChangeset(v)
	} else if cs == nil {
		cs = new(schema.Changeset) // its Err says what is wrong
	}
	var rows int
	ctx, obs := r.begin(ctx, "insert", nameOf(cs.Schema()))
	defer obs.end(&rows, &err)
	if err := cs.Err(); err != nil {
		return wrap("insert", nameOf(cs.Schema()), err)
	}
	s := cs.Schema()
	var ic insertConfig
	for _, o := range opts {
		o(&ic)
	}
	if err := r.checkUniques(s); err != nil {
		return wrap("insert", s.Name(), err)
	}
	dopts, target, err := r.conflictOptions(s, ic)
	if err != nil {
		return wrap("insert", s.Name(), err)
	}
	vals, generated, err := r.newRecord(cs)
	if err != nil {
		return wrap("insert", s.Name(), err)
	}
	rec, err := r.st.Insert(ctx, s.Collection, driver.Record{Values: vals}, dopts)
	for attempt := 1; generated && attempt < maxKeyAttempts && isConstraint(err, driver.PrimaryKeyConstraint); attempt++ {
		if vals[s.Key.Pos], err = r.newKey(); err == nil {
			rec, err = r.st.Insert(ctx, s.Collection, driver.Record{Values: vals}, dopts)
		}
	}
	switch {
	case err == nil && rec.Values == nil: // an atomic do-nothing upsert
		return nil
	case err == nil:
		rows = 1
		return wrap("insert", s.Name(), s.Decode(reflect.ValueOf(cs.Data()).Elem(), rec))
	case ic.nothing && dopts.OnConflict == nil && isConstraint(err, target):
		return nil // do-nothing emulated outside a transaction
	case explicit && cs.HandleConstraint(err):
		return wrap("insert", s.Name(), cs.Err())
	}
	return wrap("insert", s.Name(), err)
}

// maxKeyAttempts bounds the retries of an insert whose generated key
// collided with another process's.
const maxKeyAttempts = 5

func isConstraint(err error, name string) bool {
	var ce *driver.ConstraintError
	return errors.As(err, &ce) && ce.Name == name
}

// checkUniques refuses writes to a schema with unique indexes on a store
// that cannot enforce them, rather than letting duplicates in.
func (r *Repo) checkUniques(s *schema.Schema) error {
	if r.capsOf(s.Collection).Has(driver.CapUniqueIndexes) {
		return nil
	}
	for _, ix := range s.Collection.Indexes {
		if ix.Unique {
			return fmt.Errorf("%w: this store cannot enforce the unique index %s; drop `unique` from the schema or route %s to a store that can",
				ErrUnsupported, ix.Name, s.Name())
		}
	}
	return nil
}

// conflictOptions turns Insert's options into the driver's, and names the
// conflict target. A do-nothing insert goes to the store as an atomic
// upsert where it has one; elsewhere it is an insert whose duplicate error
// is ignored, which is safe only outside a transaction (a failed statement
// can abort one).
func (r *Repo) conflictOptions(s *schema.Schema, ic insertConfig) (driver.InsertOptions, string, error) {
	if !ic.set {
		return driver.InsertOptions{}, "", nil
	}
	target, err := constraintFor(s, ic.target)
	if err != nil {
		return driver.InsertOptions{}, "", err
	}
	if !r.capsOf(s.Collection).Has(driver.CapUpsert) {
		if ic.nothing && r.tx == nil {
			return driver.InsertOptions{}, target, nil
		}
		return driver.InsertOptions{}, "", fmt.Errorf("%w: this store cannot upsert atomically (here, in a transaction, not even do-nothing)", ErrUnsupported)
	}
	oc := &driver.OnConflict{Target: target, DoNothing: ic.nothing}
	if !ic.nothing {
		if oc.Replace, err = replaceFields(s, ic); err != nil {
			return driver.InsertOptions{}, "", err
		}
	}
	return driver.InsertOptions{OnConflict: oc}, target, nil
}

func replaceFields(s *schema.Schema, ic insertConfig) ([]int, error) {
	var out []int
	if ic.all {
		for _, f := range s.Fields {
			if f != s.Key && f != s.InsertedAt && f != s.Version {
				out = append(out, f.Pos)
			}
		}
		return out, nil
	}
	for _, name := range ic.replace {
		f, err := s.LookupField(name)
		if err != nil {
			return nil, err
		}
		if f == s.Key {
			return nil, fmt.Errorf("%w: an upsert cannot replace the primary key", ErrInvalid)
		}
		out = append(out, f.Pos)
	}
	if s.UpdatedAt != nil && !slices.Contains(out, s.UpdatedAt.Pos) {
		out = append(out, s.UpdatedAt.Pos)
	}
	return out, nil
}

// newRecord builds the values of a record to insert from a changeset:
// data and changes, a generated key (generated reports it), timestamps and
// the first version.
func (r *Repo) newRecord(cs *schema.Changeset) (vals []any, generated bool, err error) {
	if vals, err = cs.Values(); err != nil {
		return nil, false, err
	}
	s := cs.Schema()
	if k, ok := vals[s.Key.Pos].(int64); ok && k == 0 {
		if vals[s.Key.Pos], err = r.newKey(); err != nil {
			return nil, false, err
		}
		generated = true
	}
	if _, err := checkKey(s, vals[s.Key.Pos]); err != nil {
		return nil, false, err
	}
	now := r.timestamp()
	for _, f := range []*schema.Field{s.InsertedAt, s.UpdatedAt} {
		if f != nil {
			if t, _ := vals[f.Pos].(time.Time); t.IsZero() {
				vals[f.Pos] = now
			}
		}
	}
	if s.Version != nil {
		vals[s.Version.Pos] = int64(1)
	}
	return vals, generated, nil
}

// newKey generates a primary key.
func (r *Repo) newKey() (any, error) {
	id, err := r.ids.Next()
	if err != nil {
		return nil, fmt.Errorf("generating a key: %w", err)
	}
	return int64(id), nil
}

// InsertAll inserts many records of one schema: v is a []T, []*T or *[]T
// of schema structs. With CapBatchInsert it is atomic (all or none);
// otherwise the records are inserted one by one and, on error, those
// before the failing one stay inserted. Each element is updated as Insert
// updates v.
func (r *Repo) InsertAll(ctx context.Context, v any) (err error) {
	elems, s, err := structsOf("insert_all", v)
	rows := 0
	ctx, obs := r.begin(ctx, "insert_all", nameOf(s))
	defer obs.end(&rows, &err)
	if err != nil {
		return err
	}
	if err := r.checkUniques(s); err != nil {
		return wrap("insert_all", s.Name(), err)
	}
	if len(elems) == 0 {
		return nil
	}
	recs := make([]driver.Record, len(elems))
	for i, e := range elems {
		vals, _, err := r.newRecord(schema.NewChangeset(e.Addr().Interface()))
		if err != nil {
			return wrap("insert_all", s.Name(), fmt.Errorf("element %d: %w", i, err))
		}
		recs[i] = driver.Record{Values: vals}
	}
	if bi, ok := r.st.(driver.BatchInserter); ok && r.capsOf(s.Collection).Has(driver.CapBatchInsert) {
		out, err := bi.InsertAll(ctx, s.Collection, recs)
		if err != nil {
			return wrap("insert_all", s.Name(), err)
		}
		for i, rec := range out {
			if err := s.Decode(elems[i], rec); err != nil {
				return wrap("insert_all", s.Name(), err)
			}
		}
		rows = len(out)
		return nil
	}
	for i, rec := range recs {
		out, err := r.st.Insert(ctx, s.Collection, rec, driver.InsertOptions{})
		if err != nil {
			return wrap("insert_all", s.Name(), fmt.Errorf("element %d (earlier ones are stored): %w", i, err))
		}
		if err := s.Decode(elems[i], out); err != nil {
			return wrap("insert_all", s.Name(), err)
		}
		rows++
	}
	return nil
}

// structsOf returns the addressable struct values of a []T, []*T, *[]T or
// *[]*T of one schema (nil pointers in the slice are an error), or of a
// single *T.
func structsOf(op string, v any) ([]reflect.Value, *schema.Schema, error) {
	rv := reflect.ValueOf(v)
	if v == nil {
		return nil, nil, fmt.Errorf("%w: %s needs a slice of schema structs, not nil", ErrInvalid, op)
	}
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, nil, fmt.Errorf("%w: %s: nil %T", ErrInvalid, op, v)
		}
		rv = rv.Elem()
	}
	s, err := schema.ForType(rv.Type())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if rv.Kind() == reflect.Struct {
		if !rv.CanAddr() { // a struct passed by value cannot be filled in
			return nil, nil, fmt.Errorf("%w: %s needs a pointer to a schema struct or a slice of them, not %T", ErrInvalid, op, v)
		}
		return []reflect.Value{rv}, s, nil
	}
	if rv.Kind() != reflect.Slice {
		return nil, nil, fmt.Errorf("%w: %s needs a slice of schema structs, not %T", ErrInvalid, op, v)
	}
	out := make([]reflect.Value, rv.Len())
	for i := range out {
		e := rv.Index(i)
		if e.Kind() == reflect.Pointer {
			if e.IsNil() {
				return nil, nil, fmt.Errorf("%w: %s: element %d is nil", ErrInvalid, op, i)
			}
			e = e.Elem()
		}
		out[i] = e
	}
	return out, s, nil
}
