package driver

import (
	"errors"
	"fmt"
)

// The error kinds of Strata. Adapters wrap them; callers test for them with
// errors.Is. Package repo re-exports the same values.
var (
	// ErrNotFound: no record has the given key, or no record matched.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a write collided with an existing record (duplicate
	// primary key or unique index). Retrying the same write fails again.
	ErrConflict = errors.New("conflict")
	// ErrSerialization: a transaction lost a conflict with a concurrent
	// one (a write-write conflict, a serialization failure, a deadlock)
	// and nothing of it was written. Retrying the transaction may succeed.
	ErrSerialization = errors.New("serialization failure")
	// ErrStale: an optimistic-lock check failed: the record changed since
	// it was read. (A record deleted since is ErrNotFound.)
	ErrStale = errors.New("stale")
	// ErrUnsupported: the store lacks a capability the call needs. The
	// wrapping message says which and what to do instead.
	ErrUnsupported = errors.New("unsupported")
	// ErrInvalid: bad input: unknown field, wrong type, a value the store
	// cannot hold, a nil or non-pointer argument, an invalid changeset.
	ErrInvalid = errors.New("invalid")
	// ErrClosed: the adapter (or the connection a call needed) is closed.
	ErrClosed = errors.New("closed")
	// ErrTxDone: a call on a transaction that was already committed or
	// rolled back (or whose context ended).
	ErrTxDone = errors.New("transaction has already been committed or rolled back")
)

// ConstraintKind is the kind of store constraint a write violated.
type ConstraintKind uint8

// Constraint kinds.
const (
	// Unique: a unique index or the primary key.
	Unique ConstraintKind = iota + 1
	// ForeignKey: a reference to a record that does not exist, or a delete
	// of a record that is still referenced.
	ForeignKey
	// Check: a check constraint.
	Check
)

func (k ConstraintKind) String() string {
	switch k {
	case Unique:
		return "unique"
	case ForeignKey:
		return "foreign_key"
	case Check:
		return "check"
	}
	return fmt.Sprintf("ConstraintKind(%d)", uint8(k))
}

// ConstraintError reports that a write violated a named store constraint.
// For a unique index, Name is the [Index.Name] of the collection; for the
// primary key it is [PrimaryKeyConstraint]. Unique violations match
// ErrConflict with errors.Is; the others match ErrInvalid.
type ConstraintError struct {
	Kind       ConstraintKind
	Collection string
	Name       string
	// Err is the store's own error, if any.
	Err error
}

// PrimaryKeyConstraint is the constraint name an adapter reports when an
// insert collides with an existing primary key.
const PrimaryKeyConstraint = "primary_key"

func (e *ConstraintError) Error() string {
	msg := fmt.Sprintf("%s constraint %q violated on %s", e.Kind, e.Name, e.Collection)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is the error kind of this violation.
func (e *ConstraintError) Is(target error) bool {
	if e.Kind == Unique {
		return target == ErrConflict
	}
	return target == ErrInvalid
}

// Unwrap returns the store's own error.
func (e *ConstraintError) Unwrap() error { return e.Err }
