// Package driver defines the contract between Strata's portable layer
// (packages repo and schema) and the stores it runs on.
//
// Application code should use package repo; this package is for people who
// write adapters. It plays the part that database/sql/driver plays for
// database/sql and gocloud.dev/docstore/driver plays for docstore: the
// portable layer owns everything that is the same for every store
// (reflection, validation, defaults, timestamps, ID generation, merge
// semantics, error wrapping), and an adapter owns only what differs
// (encoding a record natively, running a query, and the store's own
// guarantees).
//
// # Collections and records
//
// Every call names a [Collection]: the store-side description of one schema
// (name, fields, primary key, indexes, version field, merge policies). The
// portable layer builds it once per Go type and passes the same pointer on
// every call, so an adapter may cache per-collection work keyed by the
// pointer or by [Collection.Name].
//
// A [Record] holds one value per field, in the order of
// [Collection.Fields]. Values are always one of the canonical Go types of
// [Kind] (see [Kind] for the table), or nil for NULL. Adapters must return
// values of the same canonical types; [Normalize] converts the common
// alternatives (int32, json.RawMessage, []any of strings, …) for adapters
// whose client libraries hand back something else.
//
// Records also carry store metadata ([Record.Meta]) such as Riak's causal
// context: the portable layer stores it on the user's struct when it reads a
// record and hands it back unchanged on the next update or delete of that
// record.
//
// # Writes
//
// A write ends in exactly one of three ways, as in Ecto:
//
//   - ok: the call returns the record as the store now holds it;
//   - invalid: a named constraint was violated; the adapter returns a
//     *[ConstraintError] naming the constraint (for unique indexes, the
//     [Index.Name] the portable layer declared), which the portable layer
//     maps to a changeset field error;
//   - stale: the expected version (or causal context) no longer matches;
//     the adapter returns an error wrapping [ErrStale].
//
// Any other failure is an error wrapping the store's own error, with the
// operation and collection in its message.
//
// # Errors
//
// Adapters report the kind of a failure by wrapping one of the sentinel
// errors of this package ([ErrNotFound], [ErrConflict], [ErrStale],
// [ErrUnsupported], [ErrInvalid]), e.g.
//
//	fmt.Errorf("riak: get %s/%s: %w", bucket, key, driver.ErrNotFound)
//
// Context errors are returned as they are (wrapped), so that
// errors.Is(err, context.Canceled) holds.
//
// # Capabilities
//
// An adapter declares what it can do in [Capabilities]. Operations that a
// store lacks entirely are optional interfaces ([Transactor], [Savepointer],
// [Aggregator], [BatchInserter], [Migrator]) discovered with type
// assertions, like database/sql/driver's optional interfaces. The portable
// layer checks both before it calls the adapter, so a caller gets
// [ErrUnsupported] with a message that names the missing capability, early
// and never half-way through an operation. An adapter may still return
// ErrUnsupported itself for a case only it can recognise.
//
// # Writing an adapter
//
//  1. Implement [Adapter] (and [Tx] if the store has transactions).
//  2. Register a URL scheme with repo.Register so that repo.Open finds it,
//     and export a constructor that returns *repo.Repo or the adapter.
//  3. Run the conformance suite (package conformance) against it; it
//     skips only what Capabilities say the adapter cannot do.
package driver
