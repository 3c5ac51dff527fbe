// Package conformance is the test suite every Strata adapter runs, ours and
// third parties': what testing/fstest.TestFS is to file systems and
// gocloud's drivertest is to docstore drivers.
//
// The suite drives an adapter only through the portable API (package repo
// and package schema), as an application would, so it checks the whole
// stack: an adapter passes when every user of Strata gets the same
// behaviour from it as from the memory adapter, the reference. (A few
// cases look further, through views of the adapter that declare less or
// end a context in the middle of a query, and by reading a record as
// stored to tell JSON null from NULL.)
//
// # Using it
//
// An adapter's test file gives the suite a [Harness], which opens a repo
// over a fresh, empty namespace for each case, and calls [Run]:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.HarnessFunc(func(t *testing.T, opts ...repo.Option) *repo.Repo {
//			db := createDatabase(t) // a database, schema, bucket or key prefix of its own
//			r, err := repo.New(mystore.New(db), opts...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { r.Close(); dropDatabase(db) })
//			return r
//		}))
//	}
//
// NewRepo must pass its options on to repo.New (or repo.Open): the suite
// observes calls through them (it counts the queries of a preload). Cases
// run in parallel, so NewRepo is called concurrently, and no two repos may
// share data. A case may close the repo itself (Lifecycle/Close), so the
// cleanup must work on a repo that is already closed: closing it again
// must not panic, and dropping the namespace must not need it.
//
// The suite creates the collections of its fixture schemas (see
// fixtures.go; their names start with "conformance_") in every new repo:
// through [driver.Migrator] with [driver.CreateCollection] (IfNotExists
// set) when the adapter implements it, and otherwise it expects
// collections to exist on first use. Only one fixture, Member, has unique
// indexes, and only the cases about unique indexes write it; its
// collection is created only where the adapter has unique-indexes (a
// store that lacks them may refuse to create one), so every other case
// runs on such a store.
//
// Run a part of the suite with go test's -run flag:
//
//	go test -run 'TestConformance/Queries'          # one area
//	go test -run 'TestConformance/Merge/Counter'    # cases by prefix
//
// # Consistency
//
// By default the suite expects strongly consistent reads: a read sees
// every write that returned before it began. A harness for a store whose
// queries may lag behind writes (secondary indexes updated asynchronously,
// reads from replicas) implements [Eventual] (or is wrapped with
// [WithEventually]); the suite then polls each query that reads what a case
// wrote until it shows the write, up to that bound, and never sleeps.
// Reads by primary key must still see the caller's own writes, and a few
// checks that only hold under strong consistency (exactly one winner among
// concurrent inserts of one key or updates of one version; a max field
// never read lower than before) are made only without it.
//
// # Partitions
//
// A harness that can partition its store (an AP store's emulator, such as
// the Riak adapter's riaktest) implements [Partitioner]; the Convergence
// area then writes to one record on both sides of a partition and checks
// that, once it heals, both sides read what the merge policies define:
// every increment counted once, every set addition kept (a removal loses
// to a concurrent re-add), the later lww write, the greater max, an
// enabled flag. Other harnesses skip it, saying why.
//
// # Capabilities
//
// [driver.Capabilities] decide what is skipped; the skip message names the
// missing capability ("adapter lacks capability transactions"):
//
//	transactions        Transactions/* except Unsupported; Context/CanceledInTransaction;
//	                    Upserts/DoNothingInTransaction
//	savepoints          Transactions/Savepoints
//	list-all,
//	unindexed-filter    queries without a condition on an indexed field, and
//	                    orders by unindexed fields, run with FullScan; without
//	                    list-all and full-scan, the cases that need them skip
//	                    (after running their indexed queries)
//	offset              the Offset part of Queries/LimitOffset
//	upsert              Upserts/Replace*, Upserts/NoConflictInserts; without it
//	                    Upserts/DoNothingInTransaction checks the refusal only
//	aggregates          Aggregates/* except Unsupported
//	batch-insert        the atomicity part of CRUD/InsertAllAtomic
//	unique-indexes      CRUD/DuplicateUnique, CRUD/DuplicateUniqueChangeset,
//	                    Upserts/DoNothingUnique, Upserts/DoNothingOtherConflict,
//	                    Upserts/ReplaceAllUniqueTarget,
//	                    Upserts/ReplaceFieldsUniqueTarget,
//	                    Upserts/ReplaceOtherConflict; without it the unique
//	                    parts of Upserts/DoNothingInTransaction and of the
//	                    rollbacks in Transactions/RollbackOnError,
//	                    RollbackOnPanic and Savepoints (a rolled-back insert
//	                    frees its unique values) are left out
//	conditional-writes  nothing skips; Locking/ConcurrentUpdates and
//	                    Locking/ConcurrentInserts check a weaker outcome:
//	                    instead of exactly one winner (and its write stored),
//	                    every racing write succeeds or is ErrStale
//	                    (ErrConflict), at least one succeeds, and every
//	                    reader then agrees on one successful write
//
// No other case writes a schema with a unique index, so all of them run on
// a store without unique-indexes; sequential duplicate-key and
// stale-version checks (CRUD/DuplicatePrimaryKey, Locking/Stale*, and the
// checks after each race) run without conditional-writes.
//
// The cases named Unsupported, CRUD/UniqueUnsupported and
// Queries/IndexedOrFullScan run on every adapter: an adapter that lacks the
// capability must refuse with ErrUnsupported (for unique-indexes: every
// write to a schema with a unique index, naming the index, before the
// store is called), and for one that has it the suite checks the portable
// layer's refusal through a view of the adapter that declares less.
//
// # Areas
//
// Every case gets a repo of its own, so cases never depend on one another
// or on their order, and a case added to the suite reaches every adapter.
//
//   - Harness: repos do not share data; NewRepo passes its options on.
//   - CRUD: insert and get (a generated snowflake ID, timestamps, version 1);
//     not found; duplicate primary keys and unique values are ErrConflict
//     (naming the unique index), and field errors ("has already been taken")
//     through a changeset, on insert and update; a deleted record's unique
//     values are free again; without unique-indexes, writes to a schema with
//     a unique index are ErrUnsupported; updates by
//     struct (a replacement) and by changeset (only the changed fields: two
//     changesets from one stale copy both survive); updates and deletes of
//     missing records; Reload, InsertAll (atomic with batch-insert), Exists,
//     GetBy (ErrNotFound, ErrMultipleResults), One; caller-set int and string
//     keys, including keys with separators, unicode and newlines.
//   - Types: every supported Go type round-trips — all integer sizes at their
//     limits, floats, bools, times (UTC, microseconds), []byte, []string,
//     named types, pointers as NULL (distinct from zero values), structs and
//     maps as JSON, an any and a map left nil (stored as JSON null, never
//     NULL, also when set back to nil), zero values, empty slices, unicode
//     (emoji, combining marks, right-to-left), 1 MiB values; and values no
//     store may hold (uint64 above MaxInt64, NaN and infinities, invalid
//     UTF-8, NUL bytes, years outside 1–9999, integers beyond a field's
//     type) are ErrInvalid with nothing stored, on insert and on update.
//   - Queries: each operator alone and on each scalar kind, combinations,
//     NULL semantics (Eq nil, Ne nil; Ne and other comparisons never match
//     NULL), Prefix without wildcards ('%', '_', '\'), ordering (ties broken
//     by further keys, NULL first ascending, strings byte for byte), limits
//     and offsets, Select, Count, DeleteAll, Stream (including breaking out
//     and writing from the loop body); unknown fields and values of the
//     wrong type are ErrInvalid and change nothing; queries without an
//     indexed condition need FullScan where the store cannot list cheaply.
//   - Paging: cursor pages in every order (descending, NULL keys, the
//     default order), with Select leaving the sort key out, after the
//     cursor's record is deleted, and over 1,000 records while another
//     goroutine inserts (each record present at the start seen exactly
//     once, no record twice, the order kept); a cursor continues its query
//     with another Limit; a cursor from another query (another filter
//     value, order or schema) or a malformed one is ErrInvalid.
//   - Locking: versions count updates; stale updates and deletes are
//     ErrStale and keep the newer data; of concurrent updates of one
//     version, and of concurrent inserts of one key, one wins (with
//     conditional-writes exactly one; see Capabilities), and afterwards the
//     version before the race is stale and the key taken.
//   - Merge: concurrent counter increments (8×200) add up exactly;
//     concurrent set additions and removals lose nothing; a max field keeps
//     the greatest value and never decreases; concurrent last-writer-wins
//     writes leave every reader agreeing on one writer's last value; flags;
//     changesets of different policies on one record at once; a
//     whole-struct update of a stale copy writes its plain fields but never
//     undoes counter increments or set additions.
//   - Transactions: commit; rollback on error and on panic (which
//     propagates); uncommitted writes invisible to other readers (two
//     goroutines ordered by channels); isolation levels given or refused,
//     never weakened; savepoints (an inner error rolls back only the inner
//     writes); concurrent transactions commit or fail with
//     ErrSerialization, and only the committed ones count; the Repo of a
//     transaction used after its function returned (committed or rolled
//     back) is ErrTxDone and writes nothing; Transaction without the
//     capability is ErrUnsupported.
//   - BadInput: nil, non-pointer and non-struct arguments, empty and zero
//     keys, unknown fields and wrong types in changesets, invalid
//     changesets, structs with bad tags (the error names the struct and the
//     field), unknown associations, bad conflict targets, a changed primary
//     key: each is ErrInvalid, never a panic, and writes nothing.
//   - Context: with a cancelled context or an expired deadline, every call
//     (Insert, Get, Update, Delete, All, Stream, Count, Paginate,
//     Transaction, …) fails promptly with the context's error and changes
//     nothing; a transaction whose context ends before it commits is
//     rolled back; a query over 500 records whose context is cancelled or
//     whose deadline passes in the middle (a Stream after its first
//     record; All and Paginate after the store's first record) ends
//     promptly with the context's error, before the end and with no
//     partial result.
//   - Lifecycle: after Close, every call is ErrClosed (a transaction's
//     function is not called); closing again does not panic.
//   - Associations: preloading belongs_to, has_many (in primary-key order)
//     and has_one, nested paths ("posts.comments", three levels), on a
//     struct and on []T, []*T and *[]T, with exactly one query per
//     association.
//   - Upserts: OnConflictDoNothing (on the key or a unique field: nil
//     error, existing record and argument kept; in a transaction the
//     duplicate is skipped and later writes and the commit succeed, and
//     without upsert it is ErrUnsupported), OnConflictReplaceAll and
//     OnConflictReplace (on the key or a unique field; the version
//     increments, inserted_at stays), and a conflict on another unique
//     index than the target is still ErrConflict.
//   - Aggregates: Sum, Avg, Min and Max with filters, over ints, floats,
//     times, strings and nullable fields (NULLs ignored); over nothing, Sum
//     is 0 and the others nil.
//   - Migrations: package migrate over the repo's store: a set that creates
//     a collection, adds a nullable field and indexes it is applied by Up (in
//     version order; a record with and without the field round-trips and is
//     found by the new index), Status shows each migration applied, a second
//     Up does nothing, Down of all rolls them back (highest first, the
//     collection and its records gone) and Up applies them again; four
//     Migrators over the same repo running Up at once apply each migration
//     exactly once between them, without error. The area skips where the
//     adapter is not a driver.Migrator; where it is not a driver.Locker, Up,
//     Down and Up run WithoutLock and the concurrent case skips.
package conformance
