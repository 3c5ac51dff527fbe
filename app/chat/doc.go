// Package chat is the chat service of Strata's bundled app: apps and
// their signing keys, users, conversations and messages, over a Strata
// repo on any store.
//
// An integrating site's backend tells the chat who its user is with a
// Token it signs with one of its app's keys (ParseToken checks the
// algorithm, the expiry, the app and the key). A Service finds or
// creates the user and the conversation from it (Join), stores messages
// (Send: a retry with the same client message id returns the stored
// message, never a second one) and reads them back by position (Since,
// for catching up after a reconnect; History, newest first). See Service
// for how positions are made gap-free on stores with transactions and
// read with an overlap window on the others.
//
// Messages are tagged consistency=ap and the rest (apps, keys, users,
// conversations, members, bans) consistency=cp, so that behind a
// repo.Router the messages may live on Riak and the rest on PostgreSQL;
// the Service then reads positions with the overlap window (GapFree
// reports which).
//
// It knows nothing of HTTP, WebSocket or the bus between app nodes.
package chat
