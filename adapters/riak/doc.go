// Package riak is Strata's adapter for Riak KV, the AP store: records are
// Riak objects, concurrent writes become siblings, and the adapter merges
// siblings by the schema's merge policies, so that every reader sees what
// the policies define and nothing is lost.
//
// Import it for its side effect and open a repo by URL:
//
//	import _ "github.com/strata-go/strata/adapters/riak"
//
//	r, err := repo.Open(ctx, "riak://10.0.0.1:8087,10.0.0.2:8087?bucket_type=strata&n_val=3")
//
// The nodes are reached through package pb's Cluster (pools, health
// checks, failover); tests run against package riaktest, an in-process
// emulator of a Riak cluster.
//
// # Records and merging
//
// A collection is a bucket (namespace.collection); a record is an object
// whose key is the order-preserving encoding of its primary key and whose
// value is its state: every field with what merging needs (state.go):
// lww fields carry a hybrid-logical-clock stamp, counters each writer's
// totals, sets are observed-remove sets, max fields keep the greatest
// value, flags are enable-wins. A read merges the siblings it finds (it
// does not write: a delete that read the same vclock would lose to that
// write); an update reads, applies the changes to the merged state as one
// of the adapter's writers, and writes with that vclock, which collapses
// the siblings. A concurrent update
// then makes a sibling, which the next read merges: two increments both
// count, an element added concurrently with its removal stays, the later
// lww write wins everywhere.
//
// Each write in progress has its own writer (at most 64 per adapter): a
// writer's entries in a counter or a set are its running totals and
// dots, so its writes to a record must form a line, each starting from
// its previous one. A read need not hold the writer's last write (Riak's
// sloppy quorum may answer from replicas that missed what a fallback
// took), so each writer remembers its own entries in the records it last
// wrote and merges them into what it reads; when it forgets one, or a
// write fails (it may have been applied), it takes a new id (actor.go).
//
// # Queries
//
// Secondary indexes are 2i entries (layout.go): for each index, the
// encoded fields (ascending order, with the key) and the complemented
// fields and key (descending order), and the key's complement for keys
// in descending order. A query reads a range of the index its equality
// and range filters bind best, a page at a time, fetches the records
// (Options.Fetchers at a time), and checks every filter again: the
// newest 50 messages of a conversation, and the next page after a
// cursor, are one 2i range each. A query that no index answers needs
// FullScan (it reads the $key index); an order no index gives is sorted
// in memory.
//
// # Riak maps
//
// A collection named in Options.Maps (maps=rooms in the URL) is stored
// as Riak maps instead, Riak's own data type, merged by Riak with the
// vnodes as actors: counters, sets and flags are map fields of those
// types, other fields registers. Data types have no secondary indexes,
// so such a collection answers queries by key and full scans only, and
// has no max fields (see maps.go).
//
// Riak's secondary indexes need a backend that has them (leveled, the
// default of Riak 3, or eleveldb; not bitcask).
//
// # Migrations
//
// See Adapter.Migrate: collections and indexes are recorded in the bucket
// namespace._collections, an index is backfilled by rewriting every
// record, and Exec sets bucket and bucket-type properties.
//
// # What Riak does not give
//
// Transactions (ErrUnsupported: keep such data in a CP store and route
// it there with repo.Router), atomic conditional writes (an insert finds
// an existing key with if_none_match, and a version check reads then
// writes; concurrent ones become siblings), unique indexes and upserts.
// So two concurrent inserts of one key merge into one record, field by
// field (their counters add up), and an update concurrent with a delete
// wins over it (a tombstone sibling is ignored while another is live).
package riak
