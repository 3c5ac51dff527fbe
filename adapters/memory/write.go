package memory

import (
	"fmt"
	"maps"

	"github.com/strata-go/strata/repo/driver"
)

// insert stores rec in v, or, for an upsert, updates the record it
// collides with on the target constraint. It returns the stored values.
func insert(v view, c *driver.Collection, rec driver.Record, opts driver.InsertOptions) (map[string]any, error) {
	k, vals, err := newRow(c, rec)
	if err != nil {
		return nil, err
	}
	if opts.OnConflict != nil {
		return upsert(v, c, k, vals, opts.OnConflict)
	}
	return vals, add(v, c, k, vals)
}

// add stores a new row, enforcing the primary key and the unique indexes.
func add(v view, c *driver.Collection, k rowKey, vals map[string]any) error {
	if v.get(k) != nil {
		return uniqueViolation(c, driver.PrimaryKeyConstraint)
	}
	if err := checkUnique(v, c, k, vals); err != nil {
		return err
	}
	v.put(k, vals)
	return nil
}

// upsert inserts the row (k, vals) or, if it collides on the target
// constraint of oc with a stored row, does nothing (returning nil values)
// or overwrites oc.Replace fields of that row and increments its version.
func upsert(v view, c *driver.Collection, k rowKey, vals map[string]any, oc *driver.OnConflict) (map[string]any, error) {
	for _, i := range oc.Replace {
		if err := checkField(c, i, "replaced"); err != nil {
			return nil, err
		}
	}
	target, found, err := conflicting(v, c, k, vals, oc.Target)
	if err != nil {
		return nil, err
	}
	if !found {
		return vals, add(v, c, k, vals)
	}
	if oc.DoNothing {
		return nil, nil
	}
	old := v.get(target)
	next := maps.Clone(old.vals)
	for _, i := range oc.Replace {
		if i != c.Key {
			name := c.Fields[i].Name
			next[name] = vals[name]
		}
	}
	if c.Version >= 0 {
		f := c.Fields[c.Version]
		n, err := intValue(f, fieldValue(old.vals, f))
		if err != nil {
			return nil, err
		}
		next[f.Name] = n + 1
	}
	if err := checkUnique(v, c, target, next); err != nil {
		return nil, err
	}
	v.put(target, next)
	return next, nil
}

// conflicting returns the key of the stored row that the row (k, vals)
// collides with on the named constraint, if any.
func conflicting(v view, c *driver.Collection, k rowKey, vals map[string]any, constraint string) (rowKey, bool, error) {
	if constraint == driver.PrimaryKeyConstraint {
		return k, v.get(k) != nil, nil
	}
	for _, ix := range c.Indexes {
		if ix.Name != constraint {
			continue
		}
		if !ix.Unique {
			return rowKey{}, false, fmt.Errorf("%w: upsert target %s is not a unique index", driver.ErrInvalid, constraint)
		}
		t, ok := tuple(indexFields(c, ix), vals)
		if !ok {
			return rowKey{}, false, nil
		}
		var target rowKey
		holders := v.holders(c, ix, t)
		for i, h := range holders {
			if i == 0 || compareKeys(h, target) < 0 {
				target = h
			}
		}
		return target, len(holders) > 0, nil
	}
	return rowKey{}, false, fmt.Errorf("%w: upsert target %q is neither %q nor a unique index of %s",
		driver.ErrInvalid, constraint, driver.PrimaryKeyConstraint, c.Name)
}

// update applies u to the stored row and returns its new values.
func update(v view, c *driver.Collection, u driver.Update) (map[string]any, error) {
	k, err := keyOf(c, u.Key)
	if err != nil {
		return nil, err
	}
	old := v.get(k)
	if old == nil {
		return nil, driver.ErrNotFound
	}
	if err := checkVersion(c, old, u.ExpectVersion); err != nil {
		return nil, err
	}
	next := maps.Clone(old.vals)
	for _, ch := range u.Changes {
		if err := apply(c, next, ch); err != nil {
			return nil, err
		}
	}
	if err := checkUnique(v, c, k, next); err != nil {
		return nil, err
	}
	v.put(k, next)
	return next, nil
}

// remove deletes the stored row d names.
func remove(v view, c *driver.Collection, d driver.Delete) error {
	k, err := keyOf(c, d.Key)
	if err != nil {
		return err
	}
	old := v.get(k)
	if old == nil {
		return driver.ErrNotFound
	}
	if err := checkVersion(c, old, d.ExpectVersion); err != nil {
		return err
	}
	v.put(k, nil)
	return nil
}

// insertAll inserts every record or, on error, none, and returns the
// stored values.
func insertAll(v view, c *driver.Collection, recs []driver.Record) ([]map[string]any, error) {
	batch := &overlay{base: v, own: newRowSet(nil, true)}
	out := make([]map[string]any, len(recs))
	for i, rec := range recs {
		k, vals, err := newRow(c, rec)
		if err == nil {
			err = add(batch, c, k, vals)
		}
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		out[i] = vals
	}
	batch.flush()
	return out, nil
}

// checkVersion fails with ErrStale unless want is nil or the version of
// stored row r is *want.
func checkVersion(c *driver.Collection, r *row, want *int64) error {
	if want == nil {
		return nil
	}
	if c.Version < 0 {
		return fmt.Errorf("%w: ExpectVersion set but %s has no version field", driver.ErrInvalid, c.Name)
	}
	have := fieldValue(r.vals, c.Fields[c.Version])
	if n, ok := have.(int64); !ok || n != *want {
		return fmt.Errorf("%w: version is %v, expected %d", driver.ErrStale, have, *want)
	}
	return nil
}

// intValue returns the int64 stored in field f; NULL counts as 0.
func intValue(f driver.Field, v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return x, nil
	}
	return 0, fmt.Errorf("%w: field %s holds a %T, not an int", driver.ErrInvalid, f.Name, v)
}
