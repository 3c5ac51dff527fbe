// Package redis is Strata's adapter for Redis: a single server (with or
// without replicas) or a Redis Cluster, through go-redis v9.
//
// Import it for its side effect and open a repo by URL:
//
//	import _ "github.com/strata-go/strata/adapters/redis"
//
//	r, err := repo.Open(ctx, "redis://127.0.0.1:6379/0?namespace=chat")
//	r, err := repo.Open(ctx, "redis+cluster://10.0.0.1:7000,10.0.0.2:7000?replicas=1")
//
// or build one over a go-redis client with New.
//
// # Layout
//
// Every key of a collection starts with a hash tag, "{ns:coll}", or
// "{ns:coll:N}" for shard N of a sharded collection, so that a record and
// its index entries are always in one cluster slot and one Lua script can
// update them atomically. A shard holds:
//
//	{ns:coll}:r:<key>   a record: a hash of its non-NULL fields (internal/valuecodec)
//	{ns:coll}:k         the primary-key index: a sorted set of the keys
//	{ns:coll}:i:<name>  a secondary index: a sorted set of members
//	{ns:coll}:x         expiries, for a collection with a time to live
//	{ns:coll}:o:<id>    a write that was applied, kept for a few minutes
//
// and "{ns}:meta" records each collection's shard count, fields and
// indexes. <key> is the key's index component (below), so it orders as the
// key does.
//
// Sorted sets have all scores 0, so Redis keeps them in byte order (ZRANGE
// BYLEX). A member is one order-preserving component per indexed field,
// then the key: equality, ranges, prefixes and In on the leading fields
// are ranges of members; a composite index serves its leading fields; and
// reading members in order is reading records ordered by the index's
// fields and then the key, ascending or (ZRANGE REV) descending, NULL
// first or last as driver.Compare says. One structure thus serves
// equality, ranges and order; the design's plain sets for equality would
// need a sort for every ordered query.
//
// # Sharding and its trade-off
//
// On a cluster, a collection is spread over Options.Shards shards (16 by
// default) by a hash of its key; each shard has its own indexes. A write
// touches one shard, so it is one atomic script on one master; a query
// reads every shard (in one pipeline, then in batches) and merges their
// members in order, so it costs a round trip to each master however
// selective it is, and a query by primary key reads only its shard. A
// collection with a unique index has one shard, since Redis can check
// uniqueness atomically only within one slot: it lives on one master.
// Transactions and atomic InsertAll are not offered on a cluster, where
// their keys may be on several masters; on a single server every shard is
// on the one server and they are.
//
// # Queries
//
// A query is read from the index whose leading fields its filters bind
// best (equality and In before ranges), preferring one whose order is the
// query's; every filter is checked again on the records read, so any
// index gives the right answer. A batch is a ZRANGE BYLEX of members and
// a pipeline of their records (HGETALL, or HMGET of the selected fields),
// two round trips; a record whose member no longer matches its fields (it
// was written in between) is skipped, so none is returned twice. With a
// limit and an index in the query's order, the read stops when the limit
// is reached, and a keyset cursor becomes a bound of the range. Otherwise
// the records that match are sorted in memory. Count is ZLEXCOUNT when
// the index ranges select exactly what the filters do. A query that takes
// several batches is not a snapshot: a record written meanwhile may be
// missed, as SCAN may miss it.
//
// Filters and ordering on fields without an index need Query.FullScan
// (the capability CapUnindexedFilter is missing): the scan then reads the
// primary-key index in batches, which unlike SCAN sees each record once
// and needs no cluster-wide iteration.
//
// # Writes
//
// The adapter's Lua code is a Redis Functions library (so Redis 7 or later
// is needed), loaded on every master when the adapter opens and
// replicated with the data. Unlike EVAL scripts, whose shared definitions
// run again on every call, a library is set up once: an insert costs the
// server about half the time it did as a script (see BENCHMARKS.md).
//
// Each Insert, Update and Delete is one call of a Lua function that
// checks the primary key, the unique indexes and the expected version,
// applies the changes and keeps every index in step, so that no reader
// ever sees a record without its index entries or an entry without its
// record. Merge policies apply in the function: counters with exact int64 arithmetic on
// decimal strings (Lua has only doubles; overflow is ErrInvalid), sets as
// JSON lists kept in the hash (so a record is still one HGETALL, and
// elements keep their order), max by comparison in the field's order.
//
// go-redis retries a command whose connection failed, which for a write
// whose reply was lost would apply it twice. Every write therefore carries
// a unique id: an update, delete or upsert claims it (a key kept for
// Options.WriteIDTTL) and a retry that finds it claimed does nothing; a
// plain insert stamps it on the record ("$rev"), and its retry finds the
// record stamped. (If another client writes that record between the two
// attempts, the retry reports the key as taken: an error for a write that
// happened, never a write applied twice.)
//
// Redis replicates asynchronously: a master that dies loses the writes
// its replicas had not received. With Options.Replicas (replicas=1 in the
// URL) every write waits (WAIT, on the same connection) until that many
// replicas have it, and fails with ErrNotReplicated otherwise, retrying
// through redirections and failovers until its context ends: an
// acknowledged write then survives the failover of its master.
//
// # Ephemeral records
//
// A collection named in Options.TTL (ttl.presence=30s in the URL) has a
// time to live: each record expires that long after its last write and
// reads as deleted from then on, by the server's clock. Redis's own key
// expiry would drop the hash and leave its index entries behind, so the
// adapter keeps each shard's expiries in a sorted set, writes remove the
// expired records they meet, and a sweeper goroutine removes the rest
// with their index entries (see ttl.go).
//
// # Transactions
//
// On a single server, transactions are optimistic: reads go to Redis and
// remember the id of each record's last write; writes wait in memory; Commit is
// one script that checks that nothing read has changed and then writes
// everything, or writes nothing and fails with ErrSerialization. This is
// WATCH/MULTI's model without WATCH's connection pinning, and it gives
// repeatable read; Serializable is refused, since new records matching a
// transaction's query (phantoms) are not noticed. Savepoints copy the
// pending writes.
//
// # Migrations and locks
//
// Migrate (driver.Migrator) records collections, fields and indexes in the
// meta hash and builds, rebuilds or drops indexes in batches; see Migrate.
// Package migrate keeps its history as an ordinary collection. Lock
// (driver.Locker) is a leased key, renewed while held.
package redis
