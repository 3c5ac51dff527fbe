package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"sync"

	"github.com/uptrace/bun"
)

// Statements run through bun, which interpolates the arguments on the
// client (the package doc says how safely) — except on a SQLite file,
// where they run prepared, with their values as SQLite's parameters:
// modernc's driver parses a statement each time it runs one unprepared,
// and for the short statements of a store that parse is most of their
// cost (40% of the CPU of a chat message's send). database/sql keeps a
// prepared statement per connection; SQLite prepares it again itself
// after a schema change. (PostgreSQL's and MySQL's statements cross a
// network, which dwarfs their parse.)

// rowScanner is a row of QueryRow, or the error that kept it from being
// read.
type rowScanner interface{ Scan(dest ...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// runner runs SQL text: bun's handle, a transaction's or the pool's
// database/sql handle, which all have these methods.
type runner interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// statement returns how st runs: prepared (ps, with args), or as text q
// with args on run. Without a statement cache that is bun, which
// interpolates args into q; with one, q's values are parameters, and it
// runs unprepared only when the cache is full.
func (s store) statement(ctx context.Context, st *stmt) (ps *sql.Stmt, run runner, q string, args []any, err error) {
	if s.stmts == nil {
		return nil, s.db, st.String(), st.args, nil
	}
	q, args = st.render()
	ps, err = s.prepared(ctx, q)
	if s.sqltx != nil {
		return ps, s.sqltx, q, args, err
	}
	return ps, s.stmts.db, q, args, err
}

// exec runs a statement that returns no rows.
func (s store) exec(ctx context.Context, st *stmt) (sql.Result, error) {
	ps, run, q, args, err := s.statement(ctx, st)
	switch {
	case err != nil:
		return nil, err
	case ps != nil:
		return ps.ExecContext(ctx, args...)
	}
	return run.ExecContext(ctx, q, args...)
}

// query runs a statement that returns rows.
func (s store) query(ctx context.Context, st *stmt) (*sql.Rows, error) {
	ps, run, q, args, err := s.statement(ctx, st)
	switch {
	case err != nil:
		return nil, err
	case ps != nil:
		return ps.QueryContext(ctx, args...)
	}
	return run.QueryContext(ctx, q, args...)
}

// queryRow runs a statement that returns one row.
func (s store) queryRow(ctx context.Context, st *stmt) rowScanner {
	ps, run, q, args, err := s.statement(ctx, st)
	switch {
	case err != nil:
		return errRow{err}
	case ps != nil:
		return ps.QueryRowContext(ctx, args...)
	}
	return run.QueryRowContext(ctx, q, args...)
}

// prepared returns q prepared (on the store's transaction, if any), or
// nil when the cache is full (the caller runs q unprepared).
func (s store) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	ps, err := s.stmts.get(ctx, q)
	if ps == nil || err != nil || s.sqltx == nil {
		return ps, err
	}
	return s.sqltx.StmtContext(ctx, ps), nil // closed with the transaction
}

// render turns a statement into SQLite's SQL: its identifiers quoted in
// place, its values "?" parameters, sent apart from the SQL.
func (s *stmt) render() (string, []any) {
	text := s.b.String()
	var b strings.Builder
	b.Grow(len(text) + 8*len(s.args))
	args := make([]any, 0, len(s.args))
	n := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '?' {
			b.WriteByte(text[i])
			continue
		}
		a := s.args[n]
		n++
		if id, ok := a.(bun.Ident); ok {
			quoteIdent(&b, string(id))
			continue
		}
		args = append(args, a)
		b.WriteByte('?')
	}
	return b.String(), args
}

// quoteIdent writes a double-quoted identifier, its quotes doubled.
func quoteIdent(b *strings.Builder, name string) {
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(name, `"`, `""`))
	b.WriteByte('"')
}

// stmtCache keeps a SQLite file's prepared statements, by SQL, up to
// maxStmts of them; statements past that run unprepared.
//
// A statement missing inside a transaction is prepared on another of
// the pool's connections: the cache is only used where that cannot
// wait forever — a pool without a limit, and transactions that take
// turns at the gate, so that at most one connection is held by one.
type stmtCache struct {
	db *sql.DB

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// maxStmts bounds the cache: statements with lists of values (IN, a
// batch insert) vary with the lists' lengths.
const maxStmts = 512

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

// get returns q prepared, preparing it if needed; nil if the cache is
// full.
func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	ps, full := c.stmts[q], len(c.stmts) >= maxStmts
	c.mu.Unlock()
	if ps != nil || full {
		return ps, nil
	}
	ps, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.stmts[q]; prev != nil { // prepared meanwhile by another
		ps.Close()
		return prev, nil
	}
	c.stmts[q] = ps
	return ps, nil
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ps := range c.stmts {
		ps.Close()
	}
	clear(c.stmts)
}
