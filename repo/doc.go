// Package repo is Strata's portable data-mapper API: one Repo over any
// store that has an adapter (memory, SQLite, PostgreSQL, MySQL, Redis,
// Riak), in the manner of Ecto's Repo.
//
// Open a repo by URL, with the adapter imported for its side effect:
//
//	import _ "github.com/strata-go/strata/adapters/memory"
//
//	r, err := repo.Open(ctx, "memory://")
//
// or build one from an adapter with [New].
//
// # Records
//
// Records are schema structs (see package schema). Insert, Get, Update,
// Delete and Reload take a pointer to one; Insert and Update also take a
// *schema.Changeset, which writes only what it changed and carries
// validation and constraint errors back as field errors. Reads that return
// many records are generic functions, typed by the schema: [All], [Stream],
// [Paginate], [Count], [Exists], [DeleteAll], [Aggregate].
//
// # Queries
//
// A [Query] is an immutable value built with Where, OrderBy, Limit,
// Offset, Select and After:
//
//	q := repo.Where("status", repo.Eq, "open").Where("age", repo.Gte, 18).OrderBy("-inserted_at")
//	people, err := repo.All[Person](ctx, r, q)
//
// Field names and value types are checked against the schema when the
// query runs. A query the store cannot answer efficiently (a filter on an
// unindexed field in Redis or Riak, an offset where only cursors work)
// fails early with ErrUnsupported, whose message says what to do; FullScan
// opts in to a scan where the store has one.
//
// # Errors
//
// Errors wrap one of the kinds [ErrNotFound], [ErrConflict], [ErrStale],
// [ErrUnsupported], [ErrInvalid], tested with errors.Is; a context's
// error is kept, so errors.Is(err, context.Canceled) works too. No call
// panics on bad input.
//
// # Concurrency and merging
//
// Fields declare merge policies (counter, set, max, flag, lww). Updates
// through changesets compile them to the store's atomic operations, so
// concurrent increments and set additions are never lost, on every store.
// A version field makes stale updates fail with ErrStale.
//
// # Transactions
//
// [Repo.Transaction] runs a function in a transaction on stores with
// CapTransactions and returns ErrUnsupported elsewhere: Strata never calls
// a sequence of independent writes a transaction.
//
// # Routing by consistency
//
// A [Router] is an adapter over several stores that sends each schema to
// the store of its consistency (the schema option consistency=ap or
// consistency=cp; untagged schemas go to the default store), so that one
// Repo serves AP schemas from Riak or Redis and CP ones from SQL:
//
//	r, err := repo.OpenRouter(ctx, repo.RouteURLs{AP: "riak://h1:8087", CP: "postgres://…"})
//
// Each call is checked against the capabilities of its schema's store. A
// transaction runs on the CP store and refuses AP schemas with
// ErrUnsupported; migrations create each collection on its store.
//
// # Observing
//
// [WithObserver] reports every call (operation, schema, duration, rows,
// error) for metrics and tracing; [WithLogger] logs them with log/slog.
package repo
