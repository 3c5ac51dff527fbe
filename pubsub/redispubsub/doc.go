// Package redispubsub is a pubsub.Bus over Redis PUBLISH and SUBSCRIBE, on
// one server or a Redis Cluster (which carries classic pub/sub messages to
// every node, so a subscriber on any node hears a publisher on any other).
//
//	bus, err := redispubsub.Open(ctx, "redis://127.0.0.1:6379/0", redispubsub.Options{})
//	bus, err := redispubsub.Open(ctx, "redis+cluster://10.0.0.1:7000,10.0.0.2:7000", redispubsub.Options{Prefix: "chat:"})
//
// or New over a go-redis client of one's own.
//
// # Channels
//
// Topic t is the Redis channel Options.Prefix+t ("strata:" by default), so
// that several apps, or tests, share a server without hearing each other.
//
// # Connections
//
// A Bus has one subscription connection for all its topics (go-redis's
// *redis.PubSub), read by one goroutine that the Bus starts and Close
// stops; it dispatches each message to the queues of the subscriptions of
// its topic (see package pubsub for their bounds). Publish uses the
// client's connection pool.
//
// Subscribe sends SUBSCRIBE, then a PING with a token of its own, and
// returns once the PING's reply has come back: replies come in order, so
// the server had then subscribed the connection to the channel, and every
// message published afterwards is delivered.
//
// When nothing has been received for Options.HealthCheck (a second by
// default), the Bus sends a PING; no reply within another interval, a
// failed PING or any read error means the connection is lost: every
// subscription gets Lost, and go-redis connects again (the Bus retrying
// with a capped exponential backoff while the server is unreachable) and
// subscribes again to every channel. As the server confirms each channel,
// its subscriptions get Reset. A reconnection the Bus did not see fail
// (go-redis replaced the connection while a SUBSCRIBE or PING was being
// sent) shows as a confirmation nobody asked for, and makes Lost and Reset
// too, since messages may have been lost in between.
//
// Delivery is at most once: Redis keeps no message for a subscriber that
// is not connected, and drops the subscription connection of a client
// that reads too slowly (client-output-buffer-limit pubsub), which shows
// here as Lost and Reset.
package redispubsub
