package driver

import (
	"context"
	"fmt"
	"iter"
	"net/url"
)

// Store is the set of record operations an adapter provides, both outside
// and inside a transaction. Every method honours ctx: when it is done, the
// method returns promptly with an error wrapping ctx.Err().
//
// The portable layer validates and normalizes every value and query before
// it calls a Store (field indexes are in range, values are canonical, filter
// fields are scalar, capabilities are present), so a Store need not repeat
// those checks; it must still never panic. An In filter may list any
// number of values (a preload lists every key it loads): adapters whose
// stores limit parameters split the list.
type Store interface {
	// Insert stores a new record and returns it as stored (with Meta).
	// A duplicate primary key or unique index is a *ConstraintError (see
	// InsertOptions.OnConflict for upserts).
	Insert(ctx context.Context, c *Collection, rec Record, opts InsertOptions) (Record, error)

	// Get returns the record with the given primary key, or an error
	// wrapping ErrNotFound.
	Get(ctx context.Context, c *Collection, key any) (Record, error)

	// Update applies u atomically and returns the whole record as stored
	// afterwards. A missing record is ErrNotFound; a failed version check
	// is ErrStale; a unique violation is a *ConstraintError.
	Update(ctx context.Context, c *Collection, u Update) (Record, error)

	// Delete removes a record. A missing record is ErrNotFound; a failed
	// version check is ErrStale.
	Delete(ctx context.Context, c *Collection, d Delete) error

	// Query returns the records q selects. The sequence ends at the first
	// error it yields. Breaking out of the loop releases whatever the
	// query holds. Outside a transaction the loop body may call the
	// adapter; inside one it must not call the same Tx until the loop
	// ends (SQL stores run a transaction on one connection, busy while
	// rows stream).
	Query(ctx context.Context, c *Collection, q *Query) iter.Seq2[Record, error]

	// Count returns how many records q selects (q.Limit and q.Offset
	// apply).
	Count(ctx context.Context, c *Collection, q *Query) (int64, error)

	// DeleteAll removes the records that match q.Filters (the portable
	// layer sets nothing else) and returns how many. It is atomic where
	// the store's bulk delete is (one SQL statement); on stores without
	// one it deletes record by record, and an error may leave some
	// deleted.
	DeleteAll(ctx context.Context, c *Collection, q *Query) (int64, error)
}

// Adapter is a connection to one store (one database, bucket namespace or
// key prefix). It is safe for concurrent use.
type Adapter interface {
	Store
	// Capabilities tells what the adapter can do; it never changes.
	Capabilities() Capabilities
	// Close releases the adapter's resources.
	Close() error
}

// Opener opens an adapter from a URL; adapters register one per URL
// scheme with repo.Register.
type Opener func(ctx context.Context, u *url.URL) (Adapter, error)

// WrapOpener opens an adapter that wraps another (a cache), registered
// with repo.RegisterWrapper under a scheme prefix. It is given the whole
// URL ("cache+postgres://…") and an Opener for the wrapped adapter, which
// it calls with the URL of that adapter: the scheme without the prefix,
// and without the wrapper's own parameters. If the wrapper fails after
// opening the wrapped adapter, it closes it.
type WrapOpener func(ctx context.Context, u *url.URL, open Opener) (Adapter, error)

// Isolation is a transaction isolation level.
type Isolation uint8

// Isolation levels, weakest first.
const (
	// DefaultIsolation is the store's default level.
	DefaultIsolation Isolation = iota
	ReadCommitted
	RepeatableRead
	Serializable
)

func (l Isolation) String() string {
	switch l {
	case ReadCommitted:
		return "read committed"
	case RepeatableRead:
		return "repeatable read"
	case Serializable:
		return "serializable"
	case DefaultIsolation:
		return "default"
	}
	return fmt.Sprintf("Isolation(%d)", uint8(l))
}

// TxOptions are the options of a transaction.
type TxOptions struct {
	Isolation Isolation
	ReadOnly  bool
}

// Transactor is implemented by adapters with CapTransactions.
type Transactor interface {
	// BeginTx starts a transaction. An isolation level the store cannot
	// give is ErrUnsupported (never silently weakened). ctx bounds the
	// whole transaction, as in database/sql: when it ends before Commit,
	// the transaction is rolled back and Commit fails.
	BeginTx(ctx context.Context, opts TxOptions) (Tx, error)
}

// Tx is a transaction. Its writes are invisible to every other reader
// until Commit returns nil, and are discarded by Rollback. A Tx is used by
// one goroutine at a time.
//
// Merge-policy changes (Increment, Add, Remove, SetMax) are atomic at
// every isolation level. A read followed by a Set of what was read is
// protected from lost updates only where the isolation level says so
// (PostgreSQL's read committed does not; the memory adapter's does).
//
// After a call in a transaction fails (other than Get with ErrNotFound),
// the transaction may be unusable — PostgreSQL aborts it — so the only
// portable next step is Rollback; returning the error from a
// repo.Transaction function does that.
type Tx interface {
	Store
	// Commit makes the writes visible atomically. If the store detects a
	// conflict with a concurrent transaction, Commit fails with an error
	// wrapping ErrSerialization and nothing is written. Commit after
	// Commit or Rollback is ErrTxDone.
	Commit() error
	// Rollback discards the writes. After Commit or Rollback it does
	// nothing and returns nil.
	Rollback() error
}

// Savepointer is implemented by a Tx with CapSavepoints, for nested
// transactions.
type Savepointer interface {
	Savepoint(ctx context.Context, name string) error
	RollbackTo(ctx context.Context, name string) error
	Release(ctx context.Context, name string) error
}

// Aggregator is implemented by adapters (and their Tx) with
// CapAggregates.
type Aggregator interface {
	// Aggregate computes fn over field (an index into Fields) of the
	// records q selects, ignoring NULLs; see AggFunc for the result types.
	// The portable layer asks only for Sum and Avg of KindInt and
	// KindFloat fields, and Min and Max of those and of KindString and
	// KindTime. A Sum that overflows int64 is ErrInvalid.
	Aggregate(ctx context.Context, c *Collection, q *Query, fn AggFunc, field int) (any, error)
}

// BatchInserter is implemented by adapters (and their Tx) with
// CapBatchInsert.
type BatchInserter interface {
	// InsertAll inserts every record or none: on error nothing is stored.
	InsertAll(ctx context.Context, c *Collection, recs []Record) ([]Record, error)
}
