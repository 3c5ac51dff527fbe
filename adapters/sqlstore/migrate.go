package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"github.com/strata-go/strata/repo/driver"
)

// Migrate applies a schema change.
func (a *Adapter) Migrate(ctx context.Context, op driver.MigrationOp) error {
	return migrate(ctx, a.db, a.d, op)
}

// Plan returns the SQL a schema change runs, for dry runs.
func (a *Adapter) Plan(op driver.MigrationOp) ([]string, error) {
	stmts, err := plan(a.d, op)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(stmts))
	for i, st := range stmts {
		out[i] = a.db.NewRaw(st.String(), st.args...).String()
	}
	return out, nil
}

func migrate(ctx context.Context, db bun.IDB, d Dialect, op driver.MigrationOp) error {
	stmts, err := plan(d, op)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err := db.ExecContext(ctx, st.String(), st.args...); err != nil {
			return fmt.Errorf("sqlstore: migrate %T: %w", op, d.classify(nil, err))
		}
	}
	return nil
}

// plan compiles a migration operation to statements.
func plan(d Dialect, op driver.MigrationOp) ([]*stmt, error) {
	one := func(st *stmt) ([]*stmt, error) { return []*stmt{st}, nil }
	switch op := op.(type) {
	case driver.CreateCollection:
		return createTable(d, op)
	case driver.DropCollection:
		st := new(stmt).sql("DROP TABLE ")
		if op.IfExists {
			st.sql("IF EXISTS ")
		}
		return one(st.ident(op.Name))
	case driver.RenameCollection:
		return one(new(stmt).sql("ALTER TABLE ").ident(op.From).sql(" RENAME TO ").ident(op.To))
	case driver.AddField:
		st := new(stmt).sql("ALTER TABLE ").ident(op.Collection).sql(" ADD COLUMN ")
		columnDef(st, d, op.Field, false)
		if !op.Field.Nullable {
			st.sql(" DEFAULT ").val(d.encode(op.Field.Kind, driver.Zero(op.Field.Kind)))
		}
		return one(st)
	case driver.DropField:
		return one(new(stmt).sql("ALTER TABLE ").ident(op.Collection).sql(" DROP COLUMN ").ident(op.Name))
	case driver.RenameField:
		return one(new(stmt).sql("ALTER TABLE ").ident(op.Collection).sql(" RENAME COLUMN ").ident(op.From).sql(" TO ").ident(op.To))
	case driver.AlterField:
		return alterColumn(d, op)
	case driver.CreateIndex:
		return one(createIndex(d, op.Collection, op.Index, false))
	case driver.DropIndex:
		st := new(stmt).sql("DROP INDEX ").ident(op.Name)
		if d == MySQL {
			st.sql(" ON ").ident(op.Collection)
		}
		return one(st)
	case driver.Exec:
		st := new(stmt).sql(op.Statement)
		st.args = op.Args
		return one(st)
	}
	return nil, fmt.Errorf("%w: sqlstore: migration operation %T (pass the operation's value, not a pointer)", driver.ErrUnsupported, op)
}

func createTable(d Dialect, op driver.CreateCollection) ([]*stmt, error) {
	c := op.Collection
	if c == nil {
		return nil, fmt.Errorf("%w: sqlstore: CreateCollection without a collection", driver.ErrInvalid)
	}
	st := new(stmt).sql("CREATE TABLE ")
	if op.IfNotExists {
		st.sql("IF NOT EXISTS ")
	}
	st.ident(c.Name).sql(" (")
	for i, f := range c.Fields {
		if i > 0 {
			st.sql(", ")
		}
		columnDef(st, d, f, i == c.Key || indexed(c, f.Name))
	}
	st.sql(", ")
	if d == Postgres {
		st.sql("CONSTRAINT ").ident(pkeyName(c.Name)).sql(" ")
	}
	st.sql("PRIMARY KEY (").ident(c.KeyField().Name).sql("))")
	out := []*stmt{st}
	for _, ix := range c.Indexes {
		out = append(out, createIndex(d, c.Name, ix, op.IfNotExists))
	}
	return out, nil
}

func indexed(c *driver.Collection, field string) bool {
	for _, ix := range c.Indexes {
		if slices.Contains(ix.Fields, field) {
			return true
		}
	}
	return false
}

func columnDef(st *stmt, d Dialect, f driver.Field, indexed bool) {
	st.ident(f.Name).sql(" " + d.columnType(f, indexed))
	if !f.Nullable {
		st.sql(" NOT NULL")
	}
}

func createIndex(d Dialect, table string, ix driver.Index, ifNotExists bool) *stmt {
	st := new(stmt).sql("CREATE ")
	if ix.Unique {
		st.sql("UNIQUE ")
	}
	st.sql("INDEX ")
	if ifNotExists {
		st.sql("IF NOT EXISTS ")
	}
	return st.ident(ix.Name).sql(" ON ").ident(table).sql(" (").idents(ix.Fields).sql(")")
}

func alterColumn(d Dialect, op driver.AlterField) ([]*stmt, error) {
	f := op.Field
	switch d {
	case Postgres:
		st := new(stmt).sql("ALTER TABLE ").ident(op.Collection).sql(" ALTER COLUMN ").ident(f.Name).
			sql(" TYPE " + d.columnType(f, false) + ", ALTER COLUMN ").ident(f.Name)
		if f.Nullable {
			st.sql(" DROP NOT NULL")
		} else {
			st.sql(" SET NOT NULL")
		}
		return []*stmt{st}, nil
	case MySQL:
		st := new(stmt).sql("ALTER TABLE ").ident(op.Collection).sql(" MODIFY COLUMN ")
		columnDef(st, d, f, true)
		return []*stmt{st}, nil
	}
	return nil, fmt.Errorf("%w: sqlstore: SQLite cannot alter a column; add a new one, copy, drop the old one", driver.ErrUnsupported)
}
