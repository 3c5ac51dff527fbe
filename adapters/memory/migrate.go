package memory

import (
	"context"
	"fmt"
	"maps"

	"github.com/strata-go/strata/repo/driver"
)

// Migrate applies one schema operation atomically:
//
//   - driver.CreateCollection creates an empty collection (an existing one
//     is driver.ErrConflict unless IfNotExists);
//   - driver.DropCollection deletes a collection and its records (a missing
//     one is driver.ErrNotFound unless IfExists);
//   - driver.RenameCollection moves the records to the new name (a missing
//     source is driver.ErrNotFound, an existing target driver.ErrConflict);
//   - driver.AddField gives the records that lack the field NULL, or the
//     zero value of its kind if it is not nullable;
//   - driver.DropField deletes the field's values;
//   - driver.RenameField moves the field's values to the new name;
//   - driver.AlterField converts the field's values to its new kind with
//     driver.Normalize; a value that does not convert, or a NULL in a field
//     that is no longer nullable, is driver.ErrInvalid;
//   - driver.CreateIndex of a unique index fails with a
//     *driver.ConstraintError if records already collide in it; indexes are
//     otherwise taken from the collection of each call, so it and
//     driver.DropIndex have no other effect;
//   - driver.Exec is driver.ErrUnsupported: there is no statement language.
//
// The operations other than CreateCollection and DropCollection fail with
// driver.ErrNotFound on a collection that does not exist (has never been
// created or written to).
func (a *Adapter) Migrate(ctx context.Context, op driver.MigrationOp) error {
	if err := live(ctx); err != nil {
		return fmt.Errorf("memory: migrate %T: %w", op, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("memory: migrate %T: %w", op, driver.ErrClosed)
	}
	if err := a.migrate(ctx, op); err != nil {
		return fmt.Errorf("memory: migrate %T: %w", op, err)
	}
	return nil
}

func (a *Adapter) migrate(ctx context.Context, op driver.MigrationOp) error {
	switch op := op.(type) {
	case driver.CreateCollection:
		if err := checkCollection(op.Collection); err != nil {
			return err
		}
		if a.tables[op.Collection.Name] != nil {
			if op.IfNotExists {
				return nil
			}
			return fmt.Errorf("%w: collection %s exists", driver.ErrConflict, op.Collection.Name)
		}
		a.table(op.Collection.Name)
		return nil
	case driver.DropCollection:
		if a.tables[op.Name] == nil && !op.IfExists {
			return fmt.Errorf("%w: collection %s does not exist", driver.ErrNotFound, op.Name)
		}
		delete(a.tables, op.Name)
		return nil
	case driver.RenameCollection:
		t, err := a.existing(op.From)
		if err != nil {
			return err
		}
		if a.tables[op.To] != nil {
			return fmt.Errorf("%w: collection %s exists", driver.ErrConflict, op.To)
		}
		delete(a.tables, op.From)
		a.tables[op.To] = t
		return nil
	case driver.AddField:
		return a.rewrite(ctx, op.Collection, func(vals map[string]any) (map[string]any, error) {
			if _, ok := vals[op.Field.Name]; ok {
				return nil, nil
			}
			return with(vals, op.Field.Name, zero(op.Field)), nil
		})
	case driver.DropField:
		return a.rewrite(ctx, op.Collection, func(vals map[string]any) (map[string]any, error) {
			if _, ok := vals[op.Name]; !ok {
				return nil, nil
			}
			next := maps.Clone(vals)
			delete(next, op.Name)
			return next, nil
		})
	case driver.RenameField:
		return a.rewrite(ctx, op.Collection, func(vals map[string]any) (map[string]any, error) {
			v, ok := vals[op.From]
			if !ok || op.From == op.To {
				return nil, nil
			}
			next := with(vals, op.To, v)
			delete(next, op.From)
			return next, nil
		})
	case driver.AlterField:
		return a.rewrite(ctx, op.Collection, func(vals map[string]any) (map[string]any, error) {
			v, err := driver.Normalize(op.Field.Kind, vals[op.Field.Name])
			if err == nil {
				err = checkValue(op.Field, v)
			}
			return with(vals, op.Field.Name, v), err
		})
	case driver.CreateIndex:
		return a.createIndex(ctx, op)
	case driver.DropIndex:
		t, err := a.existing(op.Collection)
		if err != nil {
			return err
		}
		maps.DeleteFunc(t.idx, func(_ string, u *uniqIndex) bool { return u.name == op.Name })
		return nil
	case driver.Exec:
		return fmt.Errorf("%w: the memory adapter runs no statements; use the other migration operations", driver.ErrUnsupported)
	case nil:
		return fmt.Errorf("%w: nil migration operation", driver.ErrInvalid)
	}
	return fmt.Errorf("%w: unknown migration operation %T (pass the driver operation types by value)", driver.ErrUnsupported, op)
}

// existing returns the named table, which must exist.
func (a *Adapter) existing(name string) (*table, error) {
	if t := a.tables[name]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("%w: collection %s does not exist", driver.ErrNotFound, name)
}

// rewrite replaces the values of every record of the named collection by
// what fn returns for them (nil: keep them), all or nothing.
func (a *Adapter) rewrite(ctx context.Context, name string, fn func(map[string]any) (map[string]any, error)) error {
	t, err := a.existing(name)
	if err != nil {
		return err
	}
	next := make(map[rowKey]map[string]any)
	n := 0
	for k, r := range t.rows {
		if err := tick(ctx, &n); err != nil {
			return err
		}
		vals, err := fn(r.vals)
		if err != nil {
			return fmt.Errorf("%s/%v: %w", name, k.value(), err)
		}
		if vals != nil {
			next[k] = vals
		}
	}
	for k, vals := range next {
		t.put(k, vals)
	}
	return nil
}

// with returns a copy of vals with name set to v.
func with(vals map[string]any, name string, v any) map[string]any {
	next := maps.Clone(vals)
	next[name] = v
	return next
}

// createIndex checks that the stored records do not collide in a new
// unique index.
func (a *Adapter) createIndex(ctx context.Context, op driver.CreateIndex) error {
	t, err := a.existing(op.Collection)
	if err != nil || !op.Index.Unique {
		return err
	}
	fields := make([]driver.Field, len(op.Index.Fields))
	for i, name := range op.Index.Fields {
		fields[i] = driver.Field{Name: name, Nullable: true}
	}
	taken := make(map[string]bool, len(t.rows))
	n := 0
	for _, r := range t.rows {
		if err := tick(ctx, &n); err != nil {
			return err
		}
		tu, ok := tuple(fields, r.vals)
		if !ok {
			continue
		}
		if taken[tu] {
			return &driver.ConstraintError{Kind: driver.Unique, Collection: op.Collection, Name: op.Index.Name}
		}
		taken[tu] = true
	}
	return nil
}
