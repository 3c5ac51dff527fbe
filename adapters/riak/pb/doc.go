// Package pb is a client for Riak KV's Protocol Buffers API: the framing,
// the message codes, a connection that runs one request at a time under a
// context, the operations Strata needs, and a cluster of nodes with
// connection pools, health checks and failover.
//
// The messages are the generated types of github.com/basho/riak-go-client
// (packages rpb/riak, rpb/riak_kv, rpb/riak_dt), the official definitions.
// The rest is written here because riak-go-client's own client cannot be
// built (it needs a module the proxy refuses), predates context, and
// retries and pools in ways its issue tracker records as bugs (see
// ../shared/reference/riak_pb.md, section 7).
package pb
