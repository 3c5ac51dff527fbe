package memory

import (
	"context"
	"fmt"
	"maps"

	"github.com/strata-go/strata/repo/driver"
)

// savepoint is a named copy of a transaction's buffered writes.
type savepoint struct {
	name string
	rows map[string]map[rowKey]*row
}

// Savepoint marks the current state of the transaction's writes with
// name. A name may be used again; the newest savepoint of a name hides the
// older ones until it is released.
func (tx *Tx) Savepoint(ctx context.Context, name string) error {
	return tx.control(ctx, "savepoint", name, func() error {
		rows := make(map[string]map[rowKey]*row, len(tx.tables))
		for n, ts := range tx.tables {
			rows[n] = maps.Clone(ts.rows.rows)
		}
		tx.savepoints = append(tx.savepoints, savepoint{name: name, rows: rows})
		return nil
	})
}

// RollbackTo restores the transaction's writes to the newest savepoint of
// that name, which stays in place, and forgets the savepoints made after
// it. An unknown name is driver.ErrInvalid.
func (tx *Tx) RollbackTo(ctx context.Context, name string) error {
	return tx.control(ctx, "rollback to savepoint", name, func() error {
		i, err := tx.find(name)
		if err != nil {
			return err
		}
		for n, ts := range tx.tables {
			ts.rows = newRowSet(maps.Clone(tx.savepoints[i].rows[n]), true)
		}
		tx.savepoints = tx.savepoints[:i+1]
		return nil
	})
}

// Release forgets the newest savepoint of that name and those made after
// it, keeping the writes. An unknown name is driver.ErrInvalid.
func (tx *Tx) Release(ctx context.Context, name string) error {
	return tx.control(ctx, "release savepoint", name, func() error {
		i, err := tx.find(name)
		if err == nil {
			tx.savepoints = tx.savepoints[:i]
		}
		return err
	})
}

// find returns the position of the newest savepoint named name.
func (tx *Tx) find(name string) (int, error) {
	for i := len(tx.savepoints) - 1; i >= 0; i-- {
		if tx.savepoints[i].name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: no such savepoint", driver.ErrInvalid)
}

// control runs fn, a savepoint operation, on a usable transaction.
func (tx *Tx) control(ctx context.Context, op, name string, fn func() error) error {
	if err := live(ctx); err != nil {
		return fmt.Errorf("memory: %s %q: %w", op, name, err)
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	err := tx.usable()
	if err == nil && name == "" {
		err = fmt.Errorf("%w: empty savepoint name", driver.ErrInvalid)
	}
	if err == nil {
		err = fn()
	}
	if err != nil {
		return fmt.Errorf("memory: %s %q: %w", op, name, err)
	}
	return nil
}
