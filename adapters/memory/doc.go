// Package memory is Strata's in-memory reference adapter: the contract of
// package driver written as code.
//
// It implements every optional interface of the contract and declares every
// capability ([driver.AllCapabilities]), and it checks its input strictly
// (every written value must be of its field's canonical type, and NULL only
// in nullable fields), so it serves three purposes:
//
//   - it is the specification: where the contract's prose leaves a question
//     open, what this adapter does is the intended answer, and the
//     conformance suite is first checked against it;
//   - it is a fast store for tests of code built on package repo;
//   - it is a store that needs no setup, for examples and development.
//
// Data lives in process memory and is lost on [Adapter.Close].
//
// # Storage
//
// A collection is created on first use (or by [Adapter.Migrate] with
// [driver.CreateCollection]) and is keyed by [driver.Collection.Name].
// Records are stored by field name, so a collection follows schema
// migrations (fields added, dropped, renamed or altered) without losing
// data; a field that a stored record lacks reads as NULL, or as the zero
// value of its kind when it is not nullable. Every value is copied on the
// way in and on the way out ([driver.Clone]), so a caller can never change
// stored data through a slice it passed or received.
//
// Primary keys and unique indexes are enforced with the SQL rules: a
// violation is a *[driver.ConstraintError] naming the constraint
// ([driver.PrimaryKeyConstraint] or the [driver.Index] name), and NULLs
// never collide in a unique index. A query without Order returns records in
// primary-key order (ints, then strings), and Order keys are tie-broken by
// the primary key, so every result order is deterministic.
//
// # Concurrency and isolation
//
// An [Adapter] is safe for concurrent use. Every call made outside a
// transaction is atomic and takes effect at one instant (the adapter holds
// one lock over all its collections), so those calls are linearizable.
// [Adapter.Query] takes a snapshot of the records it selects and yields them
// after releasing the lock: the loop body may write to the adapter, and the
// records it receives are those that matched when the loop started.
//
// A transaction ([Adapter.BeginTx]) gives read committed isolation with
// first-committer-wins write-conflict detection:
//
//   - its writes go to a private overlay, invisible to everyone else until
//     Commit applies them all at once;
//   - each of its reads and queries sees the data committed when it runs,
//     merged with the transaction's own writes (so there are no dirty reads,
//     but a repeated read may see another transaction's later commit);
//   - Commit fails with an error wrapping [driver.ErrSerialization], and
//     writes nothing, if any record the transaction wrote was changed or
//     deleted by someone else after the transaction first saw it (by
//     reading, querying or writing it), so no update is ever lost; it fails
//     with a *[driver.ConstraintError] if a key the transaction inserted was
//     inserted meanwhile, or a unique index now collides with committed
//     data.
//
// [driver.DefaultIsolation] and [driver.ReadCommitted] give this level;
// [driver.RepeatableRead] and [driver.Serializable] are refused with
// [driver.ErrUnsupported] rather than silently weakened. The context given
// to BeginTx bounds the whole transaction: once it is done, the transaction
// is rolled back and Commit fails.
package memory
