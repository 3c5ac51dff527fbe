package repo

import (
	"errors"

	"github.com/strata-go/strata/repo/driver"
)

// The error kinds, checked with errors.Is. They are the values of package
// driver, so an adapter's error and the repo's wrapping of it match the
// same kind.
var (
	// ErrNotFound: no record has the key, or no record matched a query
	// that needed one. It is a value to test for, never logged as an error.
	ErrNotFound = driver.ErrNotFound
	// ErrConflict: a duplicate primary key or unique value. Retrying the
	// same write fails again.
	ErrConflict = driver.ErrConflict
	// ErrSerialization: a transaction lost a conflict with a concurrent
	// one and wrote nothing; retrying it may succeed.
	ErrSerialization = driver.ErrSerialization
	// ErrStale: the record changed since it was read (its version no
	// longer matches). A record deleted since is ErrNotFound.
	ErrStale = driver.ErrStale
	// ErrUnsupported: the store lacks what the call needs; the message
	// says which capability and what to do instead.
	ErrUnsupported = driver.ErrUnsupported
	// ErrInvalid: bad input: unknown field, wrong type, a value the store
	// cannot hold, a nil or non-pointer argument, an invalid changeset
	// (then errors.As finds a *schema.ChangesetError with field errors).
	ErrInvalid = driver.ErrInvalid
	// ErrClosed: the repo's adapter is closed.
	ErrClosed = driver.ErrClosed
	// ErrTxDone: a transaction's Repo used after its function returned.
	ErrTxDone = driver.ErrTxDone
	// ErrMultipleResults: GetBy matched more than one record.
	ErrMultipleResults = errors.New("more than one result")
)
