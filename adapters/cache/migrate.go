package cache

import (
	"context"
	"fmt"

	"github.com/strata-go/strata/repo/driver"
)

// Migrate applies a schema operation to the store (when its adapter is a
// driver.Migrator) and then flushes the collections it touched from every
// node's cache — an Exec, whose effect is unknown, flushes everything.
// Records cached before a change of fields are never decoded as the new
// shape: L2 values carry a hash of the fields they were written under.
func (a *Adapter) Migrate(ctx context.Context, op driver.MigrationOp) error {
	if err := a.check("migrate"); err != nil {
		return err
	}
	m, ok := a.inner.(driver.Migrator)
	if !ok {
		return fmt.Errorf("cache: migrate: %w: the store's adapter (%T) cannot migrate", driver.ErrUnsupported, a.inner)
	}
	err := m.Migrate(ctx, op)
	names, all := affected(op)
	if all {
		a.flushAll(ctx)
	} else {
		a.flush(ctx, names)
	}
	return err
}

// affected returns the collections op changes, or all for an Exec.
func affected(op driver.MigrationOp) (names []string, all bool) {
	switch op := op.(type) {
	case driver.CreateCollection:
		if op.Collection != nil {
			return []string{op.Collection.Name}, false
		}
	case driver.DropCollection:
		return []string{op.Name}, false
	case driver.RenameCollection:
		return []string{op.From, op.To}, false
	case driver.AddField:
		return []string{op.Collection}, false
	case driver.DropField:
		return []string{op.Collection}, false
	case driver.RenameField:
		return []string{op.Collection}, false
	case driver.AlterField:
		return []string{op.Collection}, false
	case driver.CreateIndex:
		return []string{op.Collection}, false
	case driver.DropIndex:
		return []string{op.Collection}, false
	case driver.Exec:
		return nil, true
	}
	return nil, false
}
