// Package migrate changes the schema of a Strata store in versioned steps,
// as Ecto's migrations do, on every adapter: each operation runs through
// the adapter's [driver.Migrator] (DDL on SQL stores; index and key-space
// changes, or nothing, on key-value stores).
//
// # Migrations
//
// A [Migration] is a Go value: a version (by convention the UTC time it was
// written, YYYYMMDDhhmmss), a name, and the operations that apply it (Up)
// and undo it (Down). Operations are built with small functions —
// [CreateTableFor], [CreateTable], [AddColumn], [RenameColumn],
// [CreateIndex], [SQL], … — or wrap a driver operation with [Raw]:
//
//	var All migrate.Migrations
//
//	var _ = All.Add(migrate.Migration{
//		Version: 20260101120000,
//		Name:    "create_users",
//		Up:      []migrate.Op{migrate.CreateTableFor[User]()},
//		Down:    []migrate.Op{migrate.DropTableFor[User]()},
//	})
//
// A [Migrations] set keeps them in version order. Add refuses a version
// that is not positive or is taken, a migration without Up, and an
// operation that could not be built (a bad schema tag, an unknown index),
// so a mistake shows when the program starts, not halfway through a
// migration; the set remembers the error, and a [Migrator] refuses a set
// that has one. A migration without Down cannot be rolled back; [Reverse]
// derives Down from creations and renames, and [Nothing] says there is
// nothing to undo.
//
// [CreateTableFor] takes the collection from the struct as it is when the
// program runs. Once a later migration changes that collection, freeze
// the first one (a copy of the old struct, or [CreateTable] with the
// collection spelled out), or a store migrated from scratch gets the later
// change twice.
//
// # History
//
// A store records its applied migrations in its own collection,
// [HistoryTable] ("strata_migrations": version, name, applied_at), a
// schema written through the repo (or, inside a migration's transaction,
// through the adapter's Tx), and created, if missing, when a [Migrator]
// first migrates; Status and dry runs, which only read, take a missing
// history for an empty one. [Migrator.Up] applies the pending migrations
// in version order (one older than the newest applied too, as when
// branches merge), [Migrator.Down] rolls back the n of highest version,
// [Migrator.To] goes up or down to exactly a version, and
// [Migrator.Status] lists each migration, applied (when) or pending, and
// the applied ones the program does not know. With [DryRun] they return
// what they would run — the adapter's statements where it is a
// [driver.Planner], a description of each operation otherwise — and change
// nothing.
//
// # Locking
//
// Several app nodes may start at once and each try to migrate. A run
// (Up, Down, To) therefore holds the store's lock named [HistoryTable]
// through [driver.Locker] (an advisory lock on PostgreSQL, GET_LOCK on
// MariaDB, a per-adapter lock in the memory adapter) from before it reads
// the history until it has taken its last step, and reads the history
// only once it holds the lock, so that it sees what another node migrated
// while it waited: of two concurrent runs, one applies each migration and
// the other finds nothing left to do. Waiting for the lock ends with the
// run's context. A store whose adapter is not a Locker is refused with
// ErrUnsupported, unless the Migrator is built with [WithoutLock], which
// is for stores only one process ever migrates (an embedded database, a
// test).
//
// # Transactions
//
// Where the store's schema changes are transactional (PostgreSQL, SQLite:
// the adapter's [driver.Tx] implements [driver.Migrator] too), each
// migration runs in its own transaction together with its history record:
// a migration that fails leaves nothing of itself, and is applied again,
// whole, by the next run.
//
// Elsewhere (MariaDB, whose DDL commits implicitly; Redis; Riak; the
// memory adapter) a migration's operations run one after another, each
// atomic on its own, and the history is written after the last one. If
// operation k fails, operations 1…k-1 stay applied and the migration is
// not recorded; if the history write fails, all of them stay applied
// unrecorded. Either way the run stops, and its error names the migration
// and says so: undo the applied operations (or record the migration) by
// hand before migrating again. Keeping such migrations to one operation
// each makes that case impossible.
//
// # Errors
//
// Errors name the run and the migration, as in
//
//	migrate: up 20260101120000 create_users: op 1 of 2 (create collection users): memory: migrate driver.CreateCollection: conflict: collection users exists
//
// and wrap the error kinds of package driver (re-exported by package repo),
// tested with errors.Is: ErrInvalid for a bad migration or argument,
// ErrNotFound for an unknown version, ErrUnsupported for a missing
// capability (no Migrator, no Locker, an irreversible migration), and the
// store's own kinds for what the store refused. A run that fails returns
// the steps it completed before.
//
// # The command line
//
// A command line tool cannot know an app's migrations unless they are
// compiled into it, so the tool is a function, [Main], that an app calls
// from its own command with its set, after importing the adapters of the
// stores it migrates:
//
//	// cmd/migrate/main.go
//	package main
//
//	import (
//		"os"
//
//		_ "github.com/strata-go/strata/adapters/memory" // and sql, redis, …
//		"github.com/strata-go/strata/migrate"
//
//		"example.com/app/migrations"
//	)
//
//	func main() { os.Exit(migrate.Main(os.Args[1:], &migrations.All, os.Stdout, os.Stderr)) }
//
// Then
//
//	go run ./cmd/migrate --url postgres://… status
//	go run ./cmd/migrate --url postgres://… --dry-run up
//	go run ./cmd/migrate --url postgres://… down 2
//	go run ./cmd/migrate new add_bio --dir migrations
//
// The last prints (or, with --dir, writes) a Go file for a new migration,
// versioned with the time now, which registers itself in the package's
// All. Package strata-migrate (migrate/cmd/strata-migrate) is such a
// command with a demonstration set.
package migrate
