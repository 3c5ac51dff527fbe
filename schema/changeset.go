package schema

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/strata-go/strata/repo/driver"
)

// FieldError is a validation error on one field of a changeset.
type FieldError struct {
	// Field is the stored field name ("" for an error about the whole
	// input, such as a body that is not a JSON object).
	Field string `json:"field"`
	// Message is a short, human-readable message: "can't be blank".
	Message string `json:"message"`
	// Rule names the check that failed: "required", "length", "format",
	// "inclusion", "number", "cast", "unique", or a custom name.
	Rule string `json:"rule"`
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + " " + e.Message
}

// ChangesetError is the error of an invalid changeset. It matches
// driver.ErrInvalid with errors.Is, and also ErrConflict when a unique
// constraint of the store made it invalid.
type ChangesetError struct {
	Schema string
	Errors []FieldError
	// Constraint is the store's constraint violation that was mapped to a
	// field error, if any.
	Constraint *driver.ConstraintError
}

func (e *ChangesetError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Error()
	}
	return fmt.Sprintf("invalid %s: %s", e.Schema, strings.Join(msgs, "; "))
}

// Unwrap returns driver.ErrInvalid and the constraint violation, if any.
func (e *ChangesetError) Unwrap() []error {
	if e.Constraint != nil {
		return []error{driver.ErrInvalid, e.Constraint}
	}
	return []error{driver.ErrInvalid}
}

// Change is one change a changeset will write.
type Change struct {
	Field *Field
	Op    driver.ChangeOp
	// Value is canonical: the new value for Set and SetMax, the int64
	// delta for Increment, the []string elements for Add and Remove.
	Value any
}

type constraint struct {
	field, message string
}

// Changeset is a set of validated changes to a schema struct, in the
// manner of Ecto's changesets. Build one with [NewChangeset] or [Cast],
// chain validations, and hand it to the repo's Insert or Update, which
// refuse it while it is invalid. A Changeset is not safe for concurrent
// use.
//
// A programming error (data that is not a pointer to a schema struct, a
// field name the schema lacks, Increment on a field that is not a
// counter…) is kept and returned by [Changeset.Err], and makes every later
// method a no-op.
type Changeset struct {
	s           *Schema
	data        reflect.Value // pointer to the struct
	changes     []Change
	errs        []FieldError
	constraints map[string]constraint // beyond the schema's uniques
	err         error
	cause       *driver.ConstraintError
	empty       map[*Field]bool // fields cast from null or ""
}

// NewChangeset starts a changeset on data, a pointer to a schema struct,
// with no changes.
func NewChangeset(data any) *Changeset {
	cs := &Changeset{}
	rv := reflect.ValueOf(data)
	if data == nil || rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		cs.err = fmt.Errorf("%w: changeset data must be a non-nil pointer to a schema struct, not %T", driver.ErrInvalid, data)
		return cs
	}
	s, err := ForType(rv.Type())
	if err != nil {
		cs.err = err
		return cs
	}
	cs.s, cs.data = s, rv
	return cs
}

// Schema returns the changeset's schema (nil after a programming error).
func (cs *Changeset) Schema() *Schema { return cs.s }

// Data returns the pointer the changeset was made on.
func (cs *Changeset) Data() any {
	if !cs.data.IsValid() {
		return nil
	}
	return cs.data.Interface()
}

// Changes returns the changes in the order they were made.
func (cs *Changeset) Changes() []Change { return slices.Clone(cs.changes) }

// Changed reports whether the changeset changes the field.
func (cs *Changeset) Changed(field string) bool {
	return slices.ContainsFunc(cs.changes, func(c Change) bool { return c.Field.Name == field })
}

// Valid reports whether the changeset has neither field errors nor a
// programming error.
func (cs *Changeset) Valid() bool { return cs.err == nil && len(cs.errs) == 0 }

// Errors returns the field errors.
func (cs *Changeset) Errors() []FieldError { return cs.errs }

// Err returns nil if the changeset is valid; the programming error if there
// is one; otherwise a *ChangesetError.
func (cs *Changeset) Err() error {
	switch {
	case cs.err != nil:
		return cs.err
	case cs.s == nil:
		return errZero
	case len(cs.errs) > 0:
		return &ChangesetError{Schema: cs.s.Name(), Errors: slices.Clone(cs.errs), Constraint: cs.cause}
	}
	return nil
}

var errZero = fmt.Errorf("%w: a zero Changeset: make one with NewChangeset or Cast", driver.ErrInvalid)

// AddError adds a field error with rule "custom".
func (cs *Changeset) AddError(field, message string) *Changeset {
	return cs.addError(field, message, "custom")
}

func (cs *Changeset) addError(field, message, rule string) *Changeset {
	cs.errs = append(cs.errs, FieldError{Field: field, Message: message, Rule: rule})
	return cs
}

// field looks up a field, recording a programming error if it is unknown.
func (cs *Changeset) field(name string) *Field {
	if cs.err != nil {
		return nil
	}
	if cs.s == nil {
		cs.err = errZero
		return nil
	}
	f := cs.s.byName[name]
	if f == nil {
		cs.err = fmt.Errorf("%w: %s has no field %q", driver.ErrInvalid, cs.s.Name(), name)
	}
	return f
}

// current returns the field's value in the data.
func (cs *Changeset) current(f *Field) any {
	v, err := f.Value(cs.data.Elem())
	if err != nil {
		return nil
	}
	return v
}

// Get returns the field's value as the changeset would write it: the
// value of its last Set change, else the data's value (merge operations
// are not folded in). Values are canonical (int64 for every integer,
// float64 for floats…).
func (cs *Changeset) Get(field string) any {
	f := cs.field(field)
	if f == nil {
		return nil
	}
	if c := cs.lastSet(f); c != nil {
		return c.Value
	}
	return cs.current(f)
}

func (cs *Changeset) lastSet(f *Field) *Change {
	for i := len(cs.changes) - 1; i >= 0; i-- {
		if c := &cs.changes[i]; c.Field == f && (c.Op == driver.Set || c.Op == driver.SetMax) {
			return c
		}
	}
	return nil
}

// Put sets a field to a Go value of its type. A value equal to the data's
// current value is no change. On a max field the change only ever raises
// the stored value.
func (cs *Changeset) Put(field string, value any) *Changeset {
	f := cs.field(field)
	if f == nil {
		return cs
	}
	v, err := f.Canonical(value)
	if err == nil {
		err = f.checkRange(v)
	}
	if err != nil {
		cs.err = err
		return cs
	}
	if v == nil && !f.Nullable {
		v = f.Zero()
	}
	cs.put(f, v)
	return cs
}

func (cs *Changeset) put(f *Field, v any) {
	delete(cs.empty, f)
	cs.changes = slices.DeleteFunc(cs.changes, func(c Change) bool { return c.Field == f })
	if same(v, cs.current(f)) {
		return
	}
	op := driver.Set
	if f.Merge == driver.MergeMax {
		op = driver.SetMax
	}
	cs.changes = append(cs.changes, Change{Field: f, Op: op, Value: v})
}

func same(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return reflect.DeepEqual(a, b)
}

func (cs *Changeset) mergeField(name string, want driver.MergePolicy, what string) *Field {
	f := cs.field(name)
	if f != nil && f.Merge != want {
		cs.err = fmt.Errorf("%w: %s: %s needs a merge=%s field", driver.ErrInvalid, f, what, want)
		return nil
	}
	return f
}

// Increment adds n (possibly negative) to a counter field, atomically in
// the store: concurrent increments never lose one another.
func (cs *Changeset) Increment(field string, n int64) *Changeset {
	if f := cs.mergeField(field, driver.MergeCounter, "Increment"); f != nil && n != 0 {
		cs.changes = append(cs.changes, Change{Field: f, Op: driver.Increment, Value: n})
	}
	return cs
}

// AddToSet adds elements to a set field; concurrent additions are never
// lost.
func (cs *Changeset) AddToSet(field string, elems ...string) *Changeset {
	return cs.setOp(field, driver.Add, "AddToSet", elems)
}

// RemoveFromSet removes elements from a set field.
func (cs *Changeset) RemoveFromSet(field string, elems ...string) *Changeset {
	return cs.setOp(field, driver.Remove, "RemoveFromSet", elems)
}

func (cs *Changeset) setOp(field string, op driver.ChangeOp, what string, elems []string) *Changeset {
	f := cs.mergeField(field, driver.MergeSet, what)
	if f == nil || len(elems) == 0 {
		return cs
	}
	v, err := f.Canonical(elems)
	if err != nil {
		cs.err = err
		return cs
	}
	cs.changes = append(cs.changes, Change{Field: f, Op: op, Value: v})
	return cs
}

// UniqueConstraint maps a violation of the named store constraint to the
// field error "has already been taken" on field. Without a name it is the
// schema's unique index on that field. Unique indexes declared in the
// schema (and the primary key) are mapped without this call; it is for
// constraints the store has beyond them.
func (cs *Changeset) UniqueConstraint(field string, name ...string) *Changeset {
	f := cs.field(field)
	if f == nil {
		return cs
	}
	n := cs.s.Name() + "_" + f.Name + "_key"
	if len(name) > 0 {
		n = name[0]
	}
	if cs.constraints == nil {
		cs.constraints = map[string]constraint{}
	}
	cs.constraints[n] = constraint{f.Name, "has already been taken"}
	return cs
}

// HandleConstraint turns a store constraint violation into a field error
// if the changeset maps the constraint, and reports whether it did. The
// repo calls it; an unmapped violation stays an error of its own.
func (cs *Changeset) HandleConstraint(err error) bool {
	var ce *driver.ConstraintError
	if cs.err != nil || cs.s == nil || !errors.As(err, &ce) || cs.cause == ce {
		return false
	}
	c, ok := cs.constraints[ce.Name]
	if !ok {
		field, known := cs.s.uniques[ce.Name]
		if !known {
			return false
		}
		c = constraint{field, "has already been taken"}
	}
	cs.cause = ce
	cs.addError(c.field, c.message, ce.Kind.String())
	return true
}

// Values returns the record the changeset would insert: the data's
// values with every change applied.
func (cs *Changeset) Values() ([]any, error) {
	if err := cs.Err(); err != nil {
		return nil, err
	}
	vals, err := cs.s.Encode(cs.data.Elem())
	if err != nil {
		return nil, err
	}
	for _, c := range cs.changes {
		v, err := driver.ApplyChange(vals[c.Field.Pos], c.Op, c.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Field, err)
		}
		vals[c.Field.Pos] = v
	}
	return vals, nil
}
