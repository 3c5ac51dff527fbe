package driver

import "context"

// Migrator is implemented by adapters whose stores need (or allow)
// schema changes: SQL stores run DDL, key-value stores build or drop
// secondary indexes, schemaless stores may accept the operations and do
// nothing. Package migrate drives it; the conformance suite uses it to
// create each fixture's collections.
//
// A Tx of a store whose schema changes are transactional (PostgreSQL,
// SQLite) may implement Migrator too: package migrate then applies each
// migration and its history record in one transaction, so a failed
// migration leaves nothing half-done.
type Migrator interface {
	// Migrate applies one operation. Operations a store has no use for
	// succeed without effect; operations it cannot perform are
	// ErrUnsupported. Creating a collection (or renaming one to a name)
	// that exists is ErrConflict, unless IfNotExists; an operation on a
	// collection or field that does not exist is ErrNotFound, unless
	// IfExists.
	Migrate(ctx context.Context, op MigrationOp) error
}

// MigrationOp is one schema operation: one of the types below, passed by
// value (not a pointer to one).
type MigrationOp interface{ migrationOp() }

// CreateCollection creates a collection with its fields and indexes.
type CreateCollection struct {
	Collection *Collection
	// IfNotExists makes it a no-op when the collection exists.
	IfNotExists bool
}

// DropCollection drops a collection and all its records.
type DropCollection struct {
	Name     string
	IfExists bool
}

// RenameCollection renames a collection.
type RenameCollection struct{ From, To string }

// AddField adds a field; existing records get NULL for a nullable field
// and otherwise the zero value of the kind ("", 0, false, the zero time,
// an empty list, empty bytes, JSON null).
type AddField struct {
	Collection string
	Field      Field
}

// DropField drops a field.
type DropField struct{ Collection, Name string }

// RenameField renames a field.
type RenameField struct{ Collection, From, To string }

// AlterField changes a field's kind, width or nullability.
type AlterField struct {
	Collection string
	Field      Field
}

// CreateIndex creates (and backfills) a secondary index.
type CreateIndex struct {
	Collection string
	Index      Index
}

// DropIndex drops a secondary index.
type DropIndex struct{ Collection, Name string }

// Exec runs a store-specific statement (raw SQL, say), with parameters.
type Exec struct {
	Statement string
	Args      []any
}

func (CreateCollection) migrationOp() {}
func (DropCollection) migrationOp()   {}
func (RenameCollection) migrationOp() {}
func (AddField) migrationOp()         {}
func (DropField) migrationOp()        {}
func (RenameField) migrationOp()      {}
func (AlterField) migrationOp()       {}
func (CreateIndex) migrationOp()      {}
func (DropIndex) migrationOp()        {}
func (Exec) migrationOp()             {}

// Locker is implemented by adapters that can hold a named, store-wide lock
// across processes (PostgreSQL's advisory locks, MariaDB's GET_LOCK, an
// exclusive transaction in SQLite, a leased key in Redis). Package migrate
// holds one while it migrates, so that two app nodes never migrate at once.
type Locker interface {
	// Lock blocks until it holds the lock or ctx ends (then it returns an
	// error wrapping ctx.Err()). The returned function releases the lock;
	// the lock is also released if the process dies.
	Lock(ctx context.Context, name string) (unlock func() error, err error)
}

// Planner is implemented by migrators that can tell what an operation
// would run (the SQL statements, say) without running it, for dry runs.
// Package migrate looks for one through wrappers (see Wrapper).
type Planner interface {
	Plan(op MigrationOp) ([]string, error)
}

// Wrapper is implemented by adapters that wrap another (a cache, say).
// Package migrate finds a Planner and a Locker under wrappers (see
// Find): planning only reads, and a lock is the store's. Everything else
// — record operations, Migrator, Transactor — goes through the wrapper,
// which must see the writes.
type Wrapper interface {
	Unwrap() Adapter
}

// Find returns v as a T, or the first adapter wrapped (through Wrapper)
// under it that is one.
func Find[T any](v any) (T, bool) {
	for range 16 { // no sane chain of wrappers is deeper
		if t, ok := v.(T); ok {
			return t, true
		}
		w, ok := v.(Wrapper)
		if !ok {
			break
		}
		v = w.Unwrap()
	}
	var zero T
	return zero, false
}
