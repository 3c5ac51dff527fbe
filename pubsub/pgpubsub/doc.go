// Package pgpubsub is a pubsub.Bus over PostgreSQL LISTEN and NOTIFY, with
// pgx: an app that already has PostgreSQL needs no other server for its
// nodes to talk.
//
//	bus, err := pgpubsub.New(ctx, "postgres://app@db/app", pgpubsub.Options{})
//
// # Channels and payloads
//
// Topic t is the PostgreSQL channel Options.Prefix+t ("strata:" by
// default). A channel name is an identifier of at most 63 bytes; when the
// prefix and the topic are longer together, the channel is the prefix,
// the topic's beginning, "~" and 16 hexadecimal digits of the topic's
// SHA-256, which no topic can spell, since topics have no "~".
//
// NOTIFY payloads are text of less than 8000 bytes, so a message travels
// in standard base64, which limits it to MaxMessage (5997) bytes. A
// notification on the bus's channel whose payload is not base64 (someone
// else's NOTIFY) is dropped.
//
// # Connections
//
// A Bus has one connection of its own for listening, held by one goroutine
// that New starts and Close stops. It runs LISTEN and UNLISTEN as
// subscriptions come and go (Subscribe returns once its LISTEN has
// committed, so that every notification committed afterwards is
// delivered), waits for notifications and dispatches them to the queues
// of the subscriptions of their topic (see package pubsub for their
// bounds). Publish runs SELECT pg_notify($1, $2) on a small pool of other
// connections, so the notification is sent when that statement commits,
// and notifications of one publisher arrive in the order of its calls.
//
// When nothing has been received for Options.HealthCheck (a second by
// default) the listener pings its connection. A failed ping or any
// connection error means the connection is lost: every subscription gets
// Lost, and the listener connects again (retrying with a capped
// exponential backoff while the server is unreachable), listens on every
// channel again, and then gives every subscription Reset.
//
// Delivery is at most once: PostgreSQL keeps no notification for a
// session that was not listening when it was committed.
package pgpubsub
