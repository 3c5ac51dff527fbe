package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"

	"github.com/uptrace/bun"

	"github.com/strata-go/strata/repo/driver"
)

// store implements the record operations once, for the Adapter (over the
// pool) and for a Tx (over its transaction).
type store struct {
	db       bun.IDB
	d        Dialect
	readOnly bool
	gate     gate       // the Adapter's, for its writes outside a transaction
	stmts    *stmtCache // SQLite's prepared statements (nil: through bun)
	sqltx    *sql.Tx    // the transaction's, in one
}

// errorf wraps a database error with the operation and table, classified.
func (s store) errorf(op string, c *driver.Collection, key any, err error) error {
	err = s.d.classify(c, err)
	if key != nil {
		return fmt.Errorf("sqlstore: %s %s/%v: %w", op, c.Name, key, err)
	}
	return fmt.Errorf("sqlstore: %s %s: %w", op, c.Name, err)
}

func (s store) writable(op string, c *driver.Collection) error {
	if s.readOnly {
		return fmt.Errorf("sqlstore: %s %s: %w: read-only transaction", op, c.Name, driver.ErrInvalid)
	}
	return nil
}

// atomic runs fn in a transaction: a new one over the pool, or a savepoint
// inside the caller's (so that a failed statement does not abort it).
func (s store) atomic(ctx context.Context, fn func(st store) error) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return fn(s.within(tx, s.readOnly))
	})
}

// within returns the store of transaction tx, begun from s (the pool's,
// or an enclosing transaction's for a savepoint).
func (s store) within(tx bun.Tx, readOnly bool) store {
	return store{db: tx, d: s.d, readOnly: readOnly, stmts: s.stmts, sqltx: tx.Tx}
}

// inTx reports whether s is a transaction's.
func (s store) inTx() bool { return s.sqltx != nil }

// Insert stores a record. It returns the record as given: every value was
// computed by the caller, none by the database.
func (s store) Insert(ctx context.Context, c *driver.Collection, rec driver.Record, opts driver.InsertOptions) (driver.Record, error) {
	key := rec.Key(c)
	if err := s.writable("insert", c); err != nil {
		return driver.Record{}, err
	}
	leave, err := s.gate.enter(ctx)
	if err != nil {
		return driver.Record{}, err
	}
	defer leave()
	if opts.OnConflict != nil {
		out, err := s.upsert(ctx, c, rec, opts.OnConflict)
		if err != nil {
			return driver.Record{}, s.errorf("upsert", c, key, err)
		}
		return out, nil
	}
	var st stmt
	s.insertSQL(&st, c, [][]any{rec.Values})
	if _, err := s.exec(ctx, &st); err != nil {
		return driver.Record{}, s.errorf("insert", c, key, err)
	}
	return driver.Record{Values: rec.Values}, nil
}

func (s store) insertSQL(st *stmt, c *driver.Collection, rows [][]any) {
	st.sql("INSERT INTO ").ident(c.Name).sql(" (").idents(columns(c, nil)).sql(") VALUES ")
	for i, vals := range rows {
		if i > 0 {
			st.sql(", ")
		}
		st.sql("(").list(s.encodeRow(c, vals)).sql(")")
	}
}

func (s store) encodeRow(c *driver.Collection, vals []any) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = s.d.encode(c.Fields[i].Kind, v)
	}
	return out
}

// InsertAll inserts the records in one transaction, in batches.
func (s store) InsertAll(ctx context.Context, c *driver.Collection, recs []driver.Record) ([]driver.Record, error) {
	if err := s.writable("insert_all", c); err != nil {
		return nil, err
	}
	leave, err := s.gate.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	const batch = 200
	err = s.atomic(ctx, func(st store) error {
		for i := 0; i < len(recs); i += batch {
			rows := make([][]any, 0, batch)
			for _, r := range recs[i:min(i+batch, len(recs))] {
				rows = append(rows, r.Values)
			}
			var q stmt
			st.insertSQL(&q, c, rows)
			if _, err := st.exec(ctx, &q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.errorf("insert_all", c, nil, err)
	}
	out := make([]driver.Record, len(recs))
	for i, r := range recs {
		out[i] = driver.Record{Values: r.Values}
	}
	return out, nil
}

// Get reads one record by primary key.
func (s store) Get(ctx context.Context, c *driver.Collection, key any) (driver.Record, error) {
	q := &driver.Query{Filters: []driver.Filter{{Field: c.Key, Op: driver.Eq, Value: key}}}
	rec, found, err := s.one(ctx, c, q, false)
	switch {
	case err != nil:
		return driver.Record{}, s.errorf("get", c, key, err)
	case !found:
		return driver.Record{}, fmt.Errorf("sqlstore: get %s/%v: %w", c.Name, key, driver.ErrNotFound)
	}
	return rec, nil
}

// one reads the first record q selects, locking it for update if asked
// (inside a transaction).
func (s store) one(ctx context.Context, c *driver.Collection, q *driver.Query, lock bool) (driver.Record, bool, error) {
	var st stmt
	s.selectSQL(&st, c, q)
	if lock && s.d != SQLite { // SQLite's transactions lock the whole database
		st.sql(" FOR UPDATE")
	}
	return s.row(ctx, c, &st, q.Fields)
}

// row runs a statement that returns at most one row (a SELECT, or a write
// with RETURNING) and reads it; found is false when it returns none.
func (s store) row(ctx context.Context, c *driver.Collection, st *stmt, fields []int) (rec driver.Record, found bool, err error) {
	rows, err := s.query(ctx, st)
	if err != nil {
		return driver.Record{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return driver.Record{}, false, rows.Err()
	}
	if rec, err = s.scan(rows, c, fields); err != nil {
		return driver.Record{}, false, err
	}
	return rec, true, rows.Close()
}

func (s store) selectSQL(st *stmt, c *driver.Collection, q *driver.Query) {
	st.sql("SELECT ").idents(columns(c, q.Fields)).sql(" FROM ").ident(c.Name)
	st.where(s.d, c, q)
	st.orderLimit(s.d, c, q)
}

// scan reads the current row into a record; fields not selected are nil.
func (s store) scan(rows *sql.Rows, c *driver.Collection, fields []int) (driver.Record, error) {
	n := len(c.Fields)
	if fields != nil {
		n = len(fields)
	}
	raw := make([]any, n)
	dest := make([]any, n)
	for i := range raw {
		dest[i] = &raw[i]
	}
	if err := rows.Scan(dest...); err != nil {
		return driver.Record{}, err
	}
	vals := make([]any, len(c.Fields))
	for i, r := range raw {
		pos := i
		if fields != nil {
			pos = fields[i]
		}
		v, err := s.d.decode(c.Fields[pos].Kind, r)
		if err != nil {
			return driver.Record{}, fmt.Errorf("field %s: %w", c.Fields[pos].Name, err)
		}
		vals[pos] = v
	}
	return driver.Record{Values: vals}, nil
}

// Query streams the records q selects.
func (s store) Query(ctx context.Context, c *driver.Collection, q *driver.Query) iter.Seq2[driver.Record, error] {
	return func(yield func(driver.Record, error) bool) {
		var st stmt
		s.selectSQL(&st, c, q)
		rows, err := s.query(ctx, &st)
		if err != nil {
			yield(driver.Record{}, s.errorf("query", c, nil, err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			if err := ctx.Err(); err != nil { // drivers may have the rows already
				yield(driver.Record{}, s.errorf("query", c, nil, err))
				return
			}
			rec, err := s.scan(rows, c, q.Fields)
			if err != nil {
				yield(driver.Record{}, s.errorf("query", c, nil, err))
				return
			}
			if !yield(rec, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(driver.Record{}, s.errorf("query", c, nil, err))
		}
	}
}

// Count counts the records q selects.
func (s store) Count(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	var st stmt
	s.countSQL(&st, c, q, "COUNT(*)")
	var n int64
	if err := s.queryRow(ctx, &st).Scan(&n); err != nil {
		return 0, s.errorf("count", c, nil, err)
	}
	return n, nil
}

// countSQL selects expr over the records q selects: over a subquery when
// a limit or offset applies.
func (s store) countSQL(st *stmt, c *driver.Collection, q *driver.Query, expr string, args ...any) {
	st.sql("SELECT " + expr)
	st.args = append(st.args, args...)
	if q.Limit == 0 && q.Offset == 0 {
		st.sql(" FROM ").ident(c.Name)
		st.where(s.d, c, q)
		return
	}
	st.sql(" FROM (SELECT * FROM ").ident(c.Name)
	st.where(s.d, c, q)
	st.orderLimit(s.d, c, q)
	st.sql(") sub")
}

// DeleteAll deletes the records that match q's filters.
func (s store) DeleteAll(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	if err := s.writable("delete_all", c); err != nil {
		return 0, err
	}
	leave, err := s.gate.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	var st stmt
	st.sql("DELETE FROM ").ident(c.Name)
	st.where(s.d, c, &driver.Query{Filters: q.Filters})
	res, err := s.exec(ctx, &st)
	if err != nil {
		return 0, s.errorf("delete_all", c, nil, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.errorf("delete_all", c, nil, err)
	}
	return n, nil
}

// Aggregate computes an aggregate in the database.
func (s store) Aggregate(ctx context.Context, c *driver.Collection, q *driver.Query, fn driver.AggFunc, field int) (any, error) {
	f := c.Fields[field]
	var expr string
	switch fn {
	case driver.AggSum:
		expr = "SUM(?)"
	case driver.AggAvg:
		switch s.d { // an average of integers in floating point, not DECIMAL
		case Postgres:
			expr = "AVG(CAST(? AS DOUBLE PRECISION))"
		case MySQL:
			expr = "AVG(CAST(? AS DOUBLE))"
		default:
			expr = "AVG(?)"
		}
	case driver.AggMin:
		expr = "MIN(?)"
	case driver.AggMax:
		expr = "MAX(?)"
	default:
		return nil, fmt.Errorf("sqlstore: aggregate %s: %w: %v", c.Name, driver.ErrInvalid, fn)
	}
	var st stmt
	s.countSQL(&st, c, q, expr, bun.Ident(f.Name))
	var raw any
	if err := s.queryRow(ctx, &st).Scan(&raw); err != nil {
		return nil, s.errorf("aggregate", c, nil, err)
	}
	kind := f.Kind
	switch {
	case fn == driver.AggAvg:
		kind = driver.KindFloat
	case raw == nil && fn == driver.AggSum && f.Kind == driver.KindInt:
		return int64(0), nil
	case raw == nil && fn == driver.AggSum:
		return 0.0, nil
	}
	v, err := s.d.decode(kind, raw)
	if err != nil {
		if fn == driver.AggSum && kind == driver.KindInt {
			return nil, fmt.Errorf("sqlstore: aggregate %s: %w: the sum does not fit int64", c.Name, driver.ErrInvalid)
		}
		return nil, s.errorf("aggregate", c, nil, err)
	}
	return v, nil
}

// Update applies changes in one statement, or — for set changes, which
// need the stored list — by reading the row under a lock and writing it
// back in one transaction.
func (s store) Update(ctx context.Context, c *driver.Collection, u driver.Update) (driver.Record, error) {
	if err := s.writable("update", c); err != nil {
		return driver.Record{}, err
	}
	leave, err := s.gate.enter(ctx)
	if err != nil {
		return driver.Record{}, err
	}
	defer leave()
	if err := checkUpdate(c, u.Changes, u.ExpectVersion); err != nil {
		return driver.Record{}, fmt.Errorf("sqlstore: update %s/%v: %w", c.Name, u.Key, err)
	}
	if len(u.Changes) == 0 && u.ExpectVersion == nil {
		return s.Get(ctx, c, u.Key) // nothing to write (and SQL has no empty SET)
	}
	var rec driver.Record
	if needsRead(u.Changes) || s.d == MySQL {
		err = s.atomic(ctx, func(st store) error {
			rec, err = st.updateLocked(ctx, c, u)
			return err
		})
	} else {
		rec, err = s.updateReturning(ctx, c, u)
	}
	if err != nil {
		return driver.Record{}, s.errorf("update", c, u.Key, err)
	}
	return rec, nil
}

func checkUpdate(c *driver.Collection, changes []driver.Change, expect *int64) error {
	if expect != nil && c.Version < 0 {
		return fmt.Errorf("%w: a version check on a collection without a version field", driver.ErrInvalid)
	}
	for _, ch := range changes {
		if ch.Field == c.Key {
			return fmt.Errorf("%w: the primary key cannot change", driver.ErrInvalid)
		}
	}
	return nil
}

// needsRead reports whether changes need the stored row: set changes do,
// and so do several changes of one field, which apply in order.
func needsRead(changes []driver.Change) bool {
	seen := make(map[int]bool, len(changes))
	for _, ch := range changes {
		if ch.Op == driver.Add || ch.Op == driver.Remove || seen[ch.Field] {
			return true
		}
		seen[ch.Field] = true
	}
	return false
}

// updateReturning runs one UPDATE … RETURNING (PostgreSQL, SQLite).
func (s store) updateReturning(ctx context.Context, c *driver.Collection, u driver.Update) (driver.Record, error) {
	var st stmt
	s.updateSQL(&st, c, u)
	st.sql(" RETURNING ").idents(columns(c, nil))
	rec, found, err := s.row(ctx, c, &st, nil)
	if err == nil && !found {
		err = s.whyNot(ctx, c, u.Key, u.ExpectVersion)
	}
	return rec, err
}

// updateLocked runs inside a transaction: it applies the changes with one
// UPDATE, or computes them from the row read FOR UPDATE, and returns the
// row as stored.
func (s store) updateLocked(ctx context.Context, c *driver.Collection, u driver.Update) (driver.Record, error) {
	keyQ := &driver.Query{Filters: []driver.Filter{{Field: c.Key, Op: driver.Eq, Value: u.Key}}}
	if needsRead(u.Changes) {
		cur, found, err := s.one(ctx, c, keyQ, true)
		if err != nil {
			return driver.Record{}, err
		}
		if !found {
			return driver.Record{}, driver.ErrNotFound
		}
		if u.ExpectVersion != nil && cur.Values[c.Version] != *u.ExpectVersion {
			return driver.Record{}, driver.ErrStale
		}
		next := append([]any(nil), cur.Values...)
		var sets []driver.Change
		for _, ch := range u.Changes {
			v, err := driver.ApplyChange(next[ch.Field], ch.Op, ch.Value)
			if err != nil {
				return driver.Record{}, err
			}
			next[ch.Field] = v
		}
		for _, ch := range u.Changes {
			if !slices.ContainsFunc(sets, func(x driver.Change) bool { return x.Field == ch.Field }) {
				sets = append(sets, driver.Change{Field: ch.Field, Op: driver.Set, Value: next[ch.Field]})
			}
		}
		var st stmt
		s.updateSQL(&st, c, driver.Update{Key: u.Key, Changes: sets})
		if _, err := s.exec(ctx, &st); err != nil {
			return driver.Record{}, err
		}
		return driver.Record{Values: next}, nil
	}
	var st stmt
	s.updateSQL(&st, c, u)
	res, err := s.exec(ctx, &st)
	if err != nil {
		return driver.Record{}, err
	}
	// (MySQL connections count matched rows, not changed ones: see open.go.)
	if n, err := res.RowsAffected(); err != nil {
		return driver.Record{}, err
	} else if n == 0 {
		return driver.Record{}, s.whyNot(ctx, c, u.Key, u.ExpectVersion)
	}
	rec, found, err := s.one(ctx, c, keyQ, false)
	if err == nil && !found {
		err = driver.ErrNotFound
	}
	return rec, err
}

// updateSQL builds UPDATE … SET … WHERE key (AND version) (AND no overflow).
func (s store) updateSQL(st *stmt, c *driver.Collection, u driver.Update) {
	st.sql("UPDATE ").ident(c.Name).sql(" SET ")
	var guards []func()
	for i, ch := range u.Changes {
		if i > 0 {
			st.sql(", ")
		}
		f := c.Fields[ch.Field]
		st.ident(f.Name).sql(" = ")
		switch ch.Op {
		case driver.Increment:
			d, _ := ch.Value.(int64)
			st.sql("COALESCE(").ident(f.Name).sql(", 0) + ").val(d)
			guards = append(guards, func() { s.noOverflow(st, f.Name, d) })
		case driver.SetMax:
			v := s.d.encode(f.Kind, ch.Value)
			st.sql("CASE WHEN ").ident(f.Name).sql(" IS NULL OR ").ident(f.Name).sql(" < ").val(v).
				sql(" THEN ").val(v).sql(" ELSE ").ident(f.Name).sql(" END")
		default:
			st.val(s.d.encode(f.Kind, ch.Value))
		}
	}
	st.sql(" WHERE ").ident(c.KeyField().Name).sql(" = ").val(s.d.encode(c.KeyField().Kind, u.Key))
	if u.ExpectVersion != nil {
		st.sql(" AND ").ident(c.Fields[c.Version].Name).sql(" = ").val(*u.ExpectVersion)
	}
	for _, g := range guards {
		g()
	}
}

// noOverflow appends the condition that adding d to col stays in int64:
// an update that would overflow matches no row (whyNot then says so).
func (s store) noOverflow(st *stmt, col string, d int64) {
	switch {
	case d > 0:
		st.sql(" AND COALESCE(").ident(col).sql(", 0) <= ").val(int64(math.MaxInt64) - d)
	case d < 0:
		st.sql(" AND COALESCE(").ident(col).sql(", 0) >= ").val(int64(math.MinInt64) - d)
	}
}

// errNoReason: the row exists and its version matches.
var errNoReason = errors.New("no reason")

// whyNot explains why a conditional write matched no row: the record is
// missing (ErrNotFound), its version differs (ErrStale), or an increment
// would overflow (ErrInvalid; errNoReason when no condition failed).
func (s store) whyNot(ctx context.Context, c *driver.Collection, key any, expect *int64) error {
	col := c.KeyField().Name
	if c.Version >= 0 {
		col = c.Fields[c.Version].Name
	}
	var st stmt
	st.sql("SELECT ").ident(col).sql(" FROM ").ident(c.Name).sql(" WHERE ").ident(c.KeyField().Name).
		sql(" = ").val(s.d.encode(c.KeyField().Kind, key))
	var raw any
	err := s.queryRow(ctx, &st).Scan(&raw)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return driver.ErrNotFound
	case err != nil:
		return err
	case expect != nil:
		if v, _ := s.d.decode(driver.KindInt, raw); v != *expect {
			return driver.ErrStale
		}
	}
	return fmt.Errorf("%w: the increment would overflow int64 (%w)", driver.ErrInvalid, errNoReason)
}

// Delete deletes one record, checking its version if asked.
func (s store) Delete(ctx context.Context, c *driver.Collection, del driver.Delete) error {
	if err := s.writable("delete", c); err != nil {
		return err
	}
	leave, err := s.gate.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := checkUpdate(c, nil, del.ExpectVersion); err != nil {
		return fmt.Errorf("sqlstore: delete %s/%v: %w", c.Name, del.Key, err)
	}
	var st stmt
	st.sql("DELETE FROM ").ident(c.Name).sql(" WHERE ").ident(c.KeyField().Name).sql(" = ").
		val(s.d.encode(c.KeyField().Kind, del.Key))
	if del.ExpectVersion != nil {
		st.sql(" AND ").ident(c.Fields[c.Version].Name).sql(" = ").val(*del.ExpectVersion)
	}
	res, err := s.exec(ctx, &st)
	if err != nil {
		return s.errorf("delete", c, del.Key, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.errorf("delete", c, del.Key, err)
	} else if n == 0 {
		err := s.whyNot(ctx, c, del.Key, del.ExpectVersion)
		if errors.Is(err, errNoReason) {
			err = driver.ErrNotFound // deleted between the two statements
		}
		return s.errorf("delete", c, del.Key, err)
	}
	return nil
}
