package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-go/strata/repo/driver"
)

// upsert inserts rec or, on a collision on oc.Target, leaves the stored
// record (DoNothing: a Record with nil Values) or overwrites oc.Replace
// fields of it. PostgreSQL and SQLite do it in one INSERT … ON CONFLICT;
// MySQL's ON DUPLICATE KEY UPDATE fires on any unique key, not only the
// target, so there it is a locked read and an insert or update in one
// transaction.
func (s store) upsert(ctx context.Context, c *driver.Collection, rec driver.Record, oc *driver.OnConflict) (driver.Record, error) {
	target, err := conflictColumns(c, oc.Target)
	if err != nil {
		return driver.Record{}, err
	}
	if !oc.DoNothing && !replaces(c, oc.Replace) {
		// Nothing to overwrite: the stored record stays as it is.
		oc = &driver.OnConflict{Target: oc.Target, DoNothing: true}
	}
	if s.d == MySQL {
		return s.upsertMySQL(ctx, c, rec, oc, target)
	}
	var st stmt
	s.insertSQL(&st, c, [][]any{rec.Values})
	st.sql(" ON CONFLICT (").idents(target).sql(")")
	if oc.DoNothing {
		st.sql(" DO NOTHING")
	} else {
		st.sql(" DO UPDATE SET ")
		s.replaceSQL(&st, c, oc.Replace, func(col string) { st.sql("EXCLUDED.").ident(col) })
	}
	st.sql(" RETURNING ").idents(columns(c, nil))
	out, _, err := s.row(ctx, c, &st, nil) // no row: nothing inserted (Record{})
	return out, err
}

// replaces reports whether an upsert's update assigns anything.
func replaces(c *driver.Collection, replace []int) bool {
	if c.Version >= 0 {
		return true
	}
	for _, i := range replace {
		if i != c.Key {
			return true
		}
	}
	return false
}

// upsertMySQL runs upsertLocked in a transaction. Two of them racing to
// insert one new key can deadlock on InnoDB's gap locks; the loser is
// rolled back whole, so it is retried — unless it ran inside the caller's
// transaction, which the deadlock has ended.
func (s store) upsertMySQL(ctx context.Context, c *driver.Collection, rec driver.Record, oc *driver.OnConflict, target []string) (driver.Record, error) {
	for attempt := 1; ; attempt++ {
		var out driver.Record
		err := s.atomic(ctx, func(st store) error {
			var err error
			out, err = st.upsertLocked(ctx, c, rec, oc, target)
			return err
		})
		if err == nil || s.inTx() || attempt == 5 || !errors.Is(s.d.classify(c, err), driver.ErrSerialization) {
			return out, err
		}
	}
}

// replaceSQL appends the assignments of an upsert's update: each replaced
// column from the new row, and the version incremented.
func (s store) replaceSQL(st *stmt, c *driver.Collection, replace []int, newValue func(col string)) {
	n := 0
	for _, i := range replace {
		if i == c.Key || i == c.Version {
			continue
		}
		if n > 0 {
			st.sql(", ")
		}
		col := c.Fields[i].Name
		st.ident(col).sql(" = ")
		newValue(col)
		n++
	}
	if c.Version >= 0 {
		if n > 0 {
			st.sql(", ")
		}
		v := c.Fields[c.Version].Name
		st.ident(v).sql(" = ").ident(c.Name).sql(".").ident(v).sql(" + 1")
	}
}

// upsertLocked is the MySQL upsert, inside a transaction.
func (s store) upsertLocked(ctx context.Context, c *driver.Collection, rec driver.Record, oc *driver.OnConflict, target []string) (driver.Record, error) {
	for attempt := 0; ; attempt++ {
		q := &driver.Query{}
		nulls := false
		for _, col := range target {
			i := c.FieldIndex(col)
			nulls = nulls || rec.Values[i] == nil
			q.Filters = append(q.Filters, driver.Filter{Field: i, Op: driver.Eq, Value: rec.Values[i]})
		}
		var cur driver.Record
		var found bool
		var err error
		if !nulls { // NULLs never collide in a unique index
			if cur, found, err = s.one(ctx, c, q, true); err != nil {
				return driver.Record{}, err
			}
		}
		if found && oc.DoNothing {
			return driver.Record{}, nil
		}
		if found {
			var st stmt
			st.sql("UPDATE ").ident(c.Name).sql(" SET ")
			s.replaceSQL(&st, c, oc.Replace, func(col string) {
				i := c.FieldIndex(col)
				st.val(s.d.encode(c.Fields[i].Kind, rec.Values[i]))
			})
			key := cur.Values[c.Key]
			st.sql(" WHERE ").ident(c.KeyField().Name).sql(" = ").val(s.d.encode(c.KeyField().Kind, key))
			if _, err := s.exec(ctx, &st); err != nil {
				return driver.Record{}, err
			}
			out, _, err := s.one(ctx, c, &driver.Query{Filters: []driver.Filter{{Field: c.Key, Op: driver.Eq, Value: key}}}, false)
			return out, err
		}
		var st stmt
		s.insertSQL(&st, c, [][]any{rec.Values})
		_, err = s.exec(ctx, &st)
		var ce *driver.ConstraintError
		if err != nil && attempt == 0 && errors.As(s.d.classify(c, err), &ce) && ce.Name == oc.Target {
			continue // inserted meanwhile: now it is found
		}
		if err != nil {
			return driver.Record{}, err
		}
		return driver.Record{Values: rec.Values}, nil
	}
}

// conflictColumns returns the columns of the named constraint.
func conflictColumns(c *driver.Collection, name string) ([]string, error) {
	if name == driver.PrimaryKeyConstraint {
		return []string{c.KeyField().Name}, nil
	}
	for _, ix := range c.Indexes {
		if ix.Name == name && ix.Unique {
			return ix.Fields, nil
		}
	}
	return nil, fmt.Errorf("%w: no unique constraint %q on %s", driver.ErrInvalid, name, c.Name)
}
