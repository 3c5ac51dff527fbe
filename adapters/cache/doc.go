// Package cache is a Nebulex-like cache in front of any Strata store: a
// driver.Adapter that wraps another and keeps the records it reads in a
// local, in-process tier (L1), optionally in a shared Redis tier (L2), and
// keeps the L1s of every app node coherent through a bus.
//
// Wrap an adapter with New, or open one by URL with the "cache+" prefix on
// any registered scheme (after importing this package and the store's):
//
//	repo.Open(ctx, "cache+postgres://db/app?cache.size=100000&cache.l2=redis://r:6379&cache.bus=redis://r:6379")
//
// # Reads
//
// Get looks in L1, then L2, then the store, filling the tiers it missed
// (read-through). L1 is an otter cache (W-TinyLFU admission, bounded by
// Options.Size, each record living Options.TTL) of decoded records: a hit
// pays no decoding, and the caller gets a copy it may change. Concurrent
// misses of one key on one node load it once (otter's single flight); on
// L2, a miss takes a lease on the key, and other nodes missing it at the
// same moment wait a few milliseconds for the leaseholder's value before
// reading the store themselves. "Not found" is cached too when
// Options.Negative is set.
//
// With Options.Queries, the results of queries, counts and aggregates are
// cached in L1 as well, keyed by the exact query and the collection's
// write generation: any write to the collection, on any node, makes every
// cached result of it unreachable (table-level invalidation).
//
// Transactions read and write the store directly (no cache can hold a
// transaction's snapshot or its uncommitted writes); what they wrote is
// invalidated when they commit.
//
// # Writes and coherence
//
// A write goes to the store; then its keys are dropped from this node's
// L1 and from L2, and an invalidation (collection, keys, origin node and
// the origin's sequence number — never values) goes out on the bus
// (package pubsub: Redis pub/sub, PostgreSQL LISTEN/NOTIFY, or in-process)
// to the other nodes, which drop the keys from their L1. The new record is
// not written into the tiers: without a version to compare, a cache
// cannot tell which of two racing writes' records is the newer.
//
// A write deletes its keys from L2 before it drops them from L1, and a
// load fills L2 only if it still holds the lease it took before reading
// the store, so a write racing a load keeps the load's older record out
// (the leases of Facebook's memcache); a load that will not fill releases
// its lease. DeleteAll and migrations, which do not know their keys,
// flush whole collections: locally by a generation number, in L2 by an
// epoch — a counter key per collection plus one for the namespace (an
// Exec migration, whose effect is unknown, raises that one), stamped on
// every cached value, that only goes up (a bump takes at least the
// server's clock in milliseconds, so an evicted or lost counter does not
// bring old values back) — and on the other nodes by a flush message.
// Each node reads the epochs again every half L1 TTL, so a flush whose
// message was lost still reaches it within the TTL.
//
// The bound. After a write is acknowledged, another node may still serve
// the old record from its L1 for as long as the bus takes to deliver the
// invalidation — well under a millisecond on a LAN. Pub/sub is
// at-most-once: when a node's bus connection fails, the bus reports it
// (pubsub.Lost) and the node stops reading L1 (every Get goes to L2 or
// the store, reading the L2 epochs afresh) until the bus has reconnected
// (pubsub.Reset), when it drops its whole L1 and reads the L2 epochs
// again. Only a failure the bus has not noticed yet (a silently dead
// connection, noticed at the bus's next health check) can leave a node
// stale longer, and never longer than Options.TTL, after which every L1
// record is reloaded; negative entries and query results live at most
// Options.TTL too. So: stale reads end within the bus's delivery time
// while the bus works, and within Options.TTL whatever happens to it. A
// write whose L2 delete fails (Redis down) may leave L2 stale for
// Options.L2TTL; such failures are logged and counted (Stats.L2Errors).
// On an AP store, whose replicas converge after a partition without any
// write through the cache, a node's L1 may hold a pre-convergence record
// for up to Options.TTL.
//
// Without a bus, the adapter assumes it is the only node writing the
// store; writes that bypass it (another process, Unwrap, raw statements)
// are seen once the cached records expire.
//
// # Statistics
//
// Stats counts hits and misses per tier, store loads, evictions,
// invalidations, flushes and failures; Collector exports them to
// Prometheus. A repo.Observer sees where each read was served from in
// repo.Event.Source ("l1", "l2" or "store").
//
// # Why hand-written
//
// The tiers are otter (L1) and go-redis (L2), and the bus is package
// pubsub. What this package writes itself is what no library offers for a
// Strata adapter: keeping the tiers coherent with the store's writes
// (leases, epochs, generations) and with the other nodes (invalidation
// messages, degraded mode while the bus is down).
package cache
