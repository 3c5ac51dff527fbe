package memory

import (
	"context"

	"github.com/strata-go/strata/repo/driver"
)

// runner runs an operation against a view of one collection, with the
// locking and bookkeeping of its owner: the Adapter (committed data) or a
// Tx (its overlay over the committed data). It checks ctx and c first, and
// wraps the error fn returns with op, the collection and key (if not nil).
type runner interface {
	read(ctx context.Context, op string, c *driver.Collection, key any, fn func(view) error) error
	write(ctx context.Context, op string, c *driver.Collection, key any, fn func(view) error) error
	// stream marks a query loop as running until done is called.
	stream() (done func())
}

// store implements the record operations (driver.Store, driver.Aggregator
// and driver.BatchInserter) once, for both Adapter and Tx, which embed it.
type store struct{ r runner }

// Insert stores a new record and returns a copy of it as stored. A
// duplicate primary key or unique-index value is a *driver.ConstraintError.
// With opts.OnConflict set it is an upsert: a collision on the target
// constraint overwrites the Replace fields of the stored record instead
// (and increments its version, if the collection has a version field), or
// with DoNothing leaves it and returns a Record with nil Values.
func (s store) Insert(ctx context.Context, c *driver.Collection, rec driver.Record, opts driver.InsertOptions) (driver.Record, error) {
	var out driver.Record
	err := s.r.write(ctx, "insert", c, recordKey(c, rec), func(v view) error {
		vals, err := insert(v, c, rec, opts)
		if err == nil && vals != nil {
			out = recordOf(c, vals)
		}
		return err
	})
	return out, err
}

// Get returns a copy of the record with the given primary key, or an error
// wrapping driver.ErrNotFound.
func (s store) Get(ctx context.Context, c *driver.Collection, key any) (driver.Record, error) {
	var out driver.Record
	err := s.r.read(ctx, "get", c, key, func(v view) error {
		k, err := keyOf(c, key)
		if err != nil {
			return err
		}
		r := v.get(k)
		if r == nil {
			return driver.ErrNotFound
		}
		out = recordOf(c, r.vals)
		return nil
	})
	return out, err
}

// Update applies the changes of u atomically and returns a copy of the
// whole record as stored afterwards. A missing record is
// driver.ErrNotFound, a failed version check driver.ErrStale, a unique
// violation a *driver.ConstraintError.
func (s store) Update(ctx context.Context, c *driver.Collection, u driver.Update) (driver.Record, error) {
	var out driver.Record
	err := s.r.write(ctx, "update", c, u.Key, func(v view) error {
		vals, err := update(v, c, u)
		if err == nil {
			out = recordOf(c, vals)
		}
		return err
	})
	return out, err
}

// Delete removes a record. A missing record is driver.ErrNotFound, a
// failed version check driver.ErrStale.
func (s store) Delete(ctx context.Context, c *driver.Collection, d driver.Delete) error {
	return s.r.write(ctx, "delete", c, d.Key, func(v view) error {
		return remove(v, c, d)
	})
}

// InsertAll inserts every record or, on error, none (a collision among the
// records themselves included), and returns copies of them as stored.
func (s store) InsertAll(ctx context.Context, c *driver.Collection, recs []driver.Record) ([]driver.Record, error) {
	var out []driver.Record
	err := s.r.write(ctx, "insert all", c, nil, func(v view) error {
		stored, err := insertAll(v, c, recs)
		if err != nil {
			return err
		}
		out = make([]driver.Record, len(stored))
		for i, vals := range stored {
			out[i] = recordOf(c, vals)
		}
		return nil
	})
	return out, err
}
