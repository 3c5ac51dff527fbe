// Package pubsub is a publish/subscribe bus shared by the nodes of an app:
// a message published on a topic reaches every subscriber of that topic,
// on this node and on every other node sharing the bus. Strata uses it for
// cross-node cache invalidation and for the chat app's live fan-out.
//
// [Bus] is the contract; [Local] is an in-process bus for one node (and for
// tests that simulate several nodes in one process), package redispubsub a
// bus over Redis or Redis Cluster PUBLISH/SUBSCRIBE, and package pgpubsub a
// bus over PostgreSQL LISTEN/NOTIFY. Package pubsubtest holds the contract
// tests every implementation passes.
//
// # Delivery
//
// Delivery is at most once. A message reaches the subscriptions that the
// server has confirmed by the time it is published (Subscribe returns once
// that is so), each message once, and the messages of one publisher in the
// order it published them (each Publish returns after the bus has accepted
// the message). Nothing is stored: a subscriber that is not there, or not
// connected, when a message is published never sees it.
//
// Whoever keeps state derived from messages therefore treats the bus as a
// fast path and the store as the source of truth, and listens for the two
// events that say when the fast path failed:
//
//   - [Lost]: the subscription's connection failed, or its handler fell
//     behind and its queue overflowed. Messages may be missed from now on.
//   - [Reset]: the subscription works again. Messages published between
//     Lost and Reset may be lost, so state derived from them must be
//     resynchronised now: a cache flushes, a chat client catches up from
//     the store. Every message that was lost was published before the
//     Reset was delivered.
//
// Lost and Reset alternate, Lost first. Messages may still arrive between
// them (those received before the failure, or since).
//
// # Bounds
//
// Each subscription has a queue of a bounded number of events (1024 by
// default) and its own goroutine calling its handler, one call at a time.
// Publishing and the bus's receiving never wait for a handler: when a
// queue is full, the message is dropped for that subscription, which gets
// Lost and, once it has delivered what was queued before the drop, Reset.
// A slow handler thus costs its own subscription messages, never another
// subscription's, and memory stays bounded by queue size × message size.
// Messages are limited in size by each implementation (MaxMessage).
//
// # Topics
//
// A topic is 1 to 63 bytes of ASCII letters, digits and "_.:-" (see
// [ValidateTopic]), so that it is a valid channel name everywhere,
// PostgreSQL included. Topics are matched exactly; there are no patterns.
//
// # Errors
//
// Errors wrap one of [ErrInvalid] (bad topic, nil handler, bad option),
// [ErrTooLarge] (a message over the limit; it also matches ErrInvalid) or
// [ErrClosed] (the bus is closed), tested with errors.Is; a context's error
// is kept, so errors.Is(err, context.Canceled) works too. No call panics on
// bad input.
package pubsub
