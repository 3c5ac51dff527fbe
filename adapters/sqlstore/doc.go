// Package sqlstore is Strata's adapter for SQL databases, on bun: SQLite
// (pure Go, through modernc.org/sqlite: the embedded default),
// PostgreSQL (through pgx) and MySQL/MariaDB (through go-sql-driver).
//
// Import it for its side effect and open a repo by URL:
//
//	import _ "github.com/strata-go/strata/adapters/sqlstore"
//
//	r, err := repo.Open(ctx, "sqlite:///var/lib/app/app.db")
//	r, err := repo.Open(ctx, "postgres://app@db:5432/app?sslmode=disable&max_open_conns=20")
//	r, err := repo.Open(ctx, "mysql://app:secret@db:3306/app")
//
// or build one over a *bun.DB with New. (The package is not named "sql",
// as the design first said, so that it never shadows database/sql.)
//
// # SQL
//
// Every statement is built from fixed SQL keywords and "?" placeholders:
// identifiers are bun.Ident arguments and values are arguments, which bun
// interpolates on the client with the dialect's quoting and escaping; this
// package never concatenates a value or a name into SQL. On a SQLite file
// the values go as SQLite's own parameters instead, and the statements
// are prepared once (see exec.go: modernc's parse was most of a short
// statement's cost); writers of a SQLite file take turns at a gate in the
// adapter rather than in SQLite's busy handler (see gate.go). (MySQL sessions
// run in strict mode with backslash escapes, which bun's quoting relies
// on.) Strings compare and sort by code point in every dialect
// (PostgreSQL's "C" collation, MariaDB's utf8mb4_nopad_bin — so 'a' and
// 'a ' differ there too —, SQLite's BINARY), as driver.Compare does; NULLs
// sort first ascending and last descending (PostgreSQL is told so).
//
// Columns: strings are TEXT (VARCHAR(n) with size=n; on MySQL an indexed
// string without a size is VARCHAR(255), since MySQL cannot index TEXT, so
// a longer value there is ErrInvalid: give indexed strings a size), integers BIGINT, floats DOUBLE,
// times TIMESTAMP(6)/DATETIME(6) in UTC (SQLite: fixed-width text), lists
// and nested values JSON text.
//
// Merge policies compile to single statements where SQL has one: counter
// "col = COALESCE(col, 0) + ?" with an overflow guard in the WHERE clause,
// max "CASE WHEN col IS NULL OR col < ? THEN ? ELSE col END". Set
// additions and removals, and several changes of one field, read the row
// under a lock (SELECT … FOR UPDATE; SQLite's write transaction) and
// write it back in one transaction. Optimistic locking is
// "UPDATE … WHERE id = ? AND version = ?": no row matched is then
// ErrNotFound or ErrStale, told apart by one more read.
//
// # Capabilities
//
// Every capability of the contract. Transactions take the isolation level
// asked for on PostgreSQL and MySQL; SQLite runs every transaction
// serializably and takes the write lock when a transaction begins
// (immediate transactions), so it never fails half-way for another's
// commit. Nested transactions are savepoints. Schema changes run inside
// transactions on PostgreSQL and SQLite (the Tx implements
// driver.Migrator); MySQL commits before each schema change, so package
// migrate records its history after the change there.
//
// Upserts are one INSERT … ON CONFLICT on PostgreSQL and SQLite. MySQL's
// ON DUPLICATE KEY UPDATE fires on any unique key, not only the target, so
// there an upsert is a locked read and an insert or update in one
// transaction.
//
// # Locks
//
// Lock (driver.Locker, for package migrate) is a session advisory lock on
// PostgreSQL, GET_LOCK on MySQL, and an flock(2) on a file beside the
// database for SQLite (a lock in the process for :memory:); each is
// released if the process dies.
//
// # SQLite
//
// The SQLite database runs in WAL mode (readers never wait for the
// writer) with a busy timeout of 10 s (writers queue), foreign keys on,
// and case-sensitive LIKE. A ":memory:" database lives in one connection,
// so its calls run one at a time.
package sqlstore
