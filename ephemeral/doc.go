// Package ephemeral is a key-value cache for short-lived application
// state — rate-limit counters, presence, sessions, typing indicators — in
// the manner of Elixir's Nebulex: byte values under string keys, each key
// with its own expiry.
//
// [Cache] is the API; it has two implementations:
//
//   - [Local] ([NewLocal]) keeps the keys in this process's memory, on
//     otter. Every app node has its own, so use it for state that is per
//     node (the sockets a node holds, a node's own throttles) or as a
//     cache in front of a slower store. It is bounded by
//     LocalOptions.MaxEntries: a key evicted when it is full behaves as an
//     absent key.
//   - [Redis] ([NewRedis]) keeps them in Redis, a standalone server or a
//     cluster, so that every node sees the same keys. Use it for state all
//     nodes must agree on: a per-user or per-app rate limit, who is online,
//     a session.
//
// A chat app typically has both: a Redis for the limits and presence that
// are global, a Local for what one node alone needs to know.
//
// # Atomicity
//
// Each method touches one key and is atomic with respect to every other
// method on that key, for all processes that share the store (one process
// for a Local): of concurrent SetNews of a key one succeeds, of concurrent
// Takes one gets the value, and concurrent Incrs never lose a count. No
// operation spans keys, so there are no transactions and no cross-slot
// concerns on a Redis Cluster.
//
// # Counters
//
// Incr stores its counter as the decimal text of an int64, as Redis does,
// so Get of a counter returns text such as "5", and Set of "41" followed
// by Incr of 1 gives 42. Its ttl applies only when the call creates the
// key, which makes a fixed-window rate limit one call:
//
//	n, err := c.Incr(ctx, "rate:"+userID, 1, time.Minute)
//	if err == nil && n > 100 {
//		// over 100 messages in this user's current minute
//	}
//
// # Expiry
//
// A ttl of 0 means no expiry; a negative ttl is ErrInvalid. Set replaces
// the expiry along with the value; Incr of an existing key keeps its
// expiry; Expire sets a new one (0 removes it). An expired key is never
// returned. A Local's expiry is exact to its clock's nanosecond (memory is
// freed by otter's clean-up about once a second); a Redis's has Redis's
// millisecond precision, each ttl rounded up to a whole millisecond.
//
// # Fetch
//
// Fetch reads a key or, on a miss, calls a load function and stores its
// result. Concurrent Fetches of one key in one process wait for a single
// load (stampede protection); across processes sharing a Redis each
// process may load once, and all return the first value stored. A load
// error is returned to every waiting Fetch and nothing is cached.
//
// # Errors and contexts
//
// Errors are [ErrNotFound], [ErrInvalid] and [ErrClosed], wrapped with the
// operation and the key ("ephemeral: get \"k\": not found"); test for them
// with errors.Is. Keys must be non-empty and at most [MaxKeyLen] bytes.
// Every method checks its context first, so a call with a context that
// has ended fails with an error that wraps ctx.Err(); a Redis call also
// passes the context to go-redis.
//
// Values are copied in and out: a caller may change a slice it passed to
// Set, or one it got from Get, without changing the cache.
package ephemeral
