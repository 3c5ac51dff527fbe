// Package riaktest runs an in-process emulation of a Riak KV cluster that
// speaks Riak's Protocol Buffers API, for tests, as net/http/httptest does
// for HTTP.
//
//	c := riaktest.Start(t, riaktest.Options{}) // three nodes
//	addrs := c.Addrs()                         // one "127.0.0.1:port" per node
//
// Each node listens on its own port and coordinates the requests it
// receives. It answers as a Riak 3.2.1 node does: the same frames, the
// same message fields and the same error texts (RpbErrorResp with errcode
// 0), byte for byte where the answer is deterministic, as the tests check
// against frames captured from a real node.
//
// # Ring and replicas
//
// The ring has Options.RingSize partitions (64) owned round robin by the
// nodes, and keys hash onto it as with riak_core (SHA-1 of the Erlang
// encoding of {Bucket, Key}). Every vnode keeps its own copy of its
// objects. A request asks the n_val vnodes of the key's preference list
// that its node can reach and, for primaries it cannot reach, fallback
// vnodes on reachable nodes (sloppy quorum; sloppy_quorum=false turns them
// off). R, W, DW, PR, PW and RW, with their symbolic values one, quorum,
// all and default, are checked against what is reachable:
// {pr_val_unsatisfied,PR,Got}, {pw_val_unsatisfied,PW,Got},
// {insufficient_vnodes,Got,need,N} and {n_val_violation,N} as Riak sends
// them. notfound_ok and basic_quorum apply to gets.
//
// # Objects
//
// Objects carry a version vector whose actors are the vnodes that
// coordinated writes, and each sibling the dot of the write that made it
// (dotted version vectors). A put with a vclock replaces the siblings that
// vclock has seen; a put without one adds a sibling where allow_mult is
// true (custom bucket types by default) and overwrites where it is false
// (the "default" type), siblings being resolved by timestamp as Riak does;
// last_write_wins keeps the newest. Gets merge the replies of all the
// vnodes asked and repair those that were behind (read repair). Deletes
// write a tombstone; a get then answers not found, or the vclock alone
// with deletedvclock. A tombstone that reached every primary is reaped
// after Options.DeleteMode (3s, as Riak's delete_mode).
//
// # Data types
//
// DtFetchReq and DtUpdateReq serve buckets whose type has the datatype
// property counter, set or map, with riak_dt's state-based CRDTs whose
// actors are the coordinating vnodes: riak_dt_pncounter, riak_dt_orswot
// (add wins) and riak_dt_map, whose fields (named by name and type) are
// embedded counters, sets, lww registers, enable-wins flags and maps, with
// observed-remove-reset semantics (a field removed while concurrently
// updated stays, with the update). Each replica holds the CRDT as the one
// sibling of its object; merging replicas (on fetch, read repair and
// Converge) merges the CRDTs, so data types have no siblings and both
// sides of a partition keep their updates. The context is the CRDT's
// version vector; removes without one fail with
// {precondition,{not_present,...}} when the element or field is absent,
// removes with one remove only what it saw (or wait for it). Keys are
// generated when absent; return_body and include_context behave as
// Riak's, and a missing object is a DtFetchResp with its type and no
// value.
//
// # Faults
//
// NodeDown and NodeUp stop and restart a node (its connections are closed
// and new ones refused; its data is kept, and it listens again on the
// same address). Partition splits the nodes
// into groups that cannot reach each other's vnodes; Heal joins them.
// Writes succeed on both sides of a partition (through fallbacks); after
// Heal a get returns the siblings of both sides and repairs the replicas
// it read. Converge makes every replica agree at once, as hinted handoff
// and active anti-entropy would. Replicas shows each vnode's copy.
//
// # Where the emulator differs from Riak
//
//   - Every reachable vnode answers at once, and a get merges all their
//     replies: Riak answers after the first R, so with R below n_val it may
//     answer from fewer replicas than the emulator.
//   - Hinted handoff and active anti-entropy do not run by themselves; only
//     read repair and Converge move data between replicas. Until then,
//     writes taken by fallbacks are not in listings and 2i answers.
//   - Version vectors are dotted for every bucket, including those with
//     dvv_enabled=false; Riak's plain vclocks can make more siblings in
//     some interleavings. The vclock bytes are the emulator's own opaque
//     encoding, not Riak's; a vclock it did not make is refused with
//     "Error processing incoming message: bad vclock".
//   - Partition ownership is round robin, so with a ring size not a
//     multiple of the node count the preference lists that wrap around the
//     ring meet a node twice (Riak's claim tries to avoid that).
//   - Coverage queries (list keys, 2i) use a fixed coverage plan (vnodes
//     1, 1+n_val, ...; Riak picks a random offset), chosen so that the
//     answers match the captured ones. List keys sends all keys in one
//     frame, then done. Without return_terms a 2i answer names a key once
//     even when several of its terms match; paginated answers are sorted
//     by term then key, others arrive vnode by vnode. Each vnode keeps its
//     2i terms in order (a B-tree, as leveled keeps its index keys), so a
//     query reads the entries of its range, and with return_terms each
//     vnode stops after max_results of them; without return_terms it
//     reads the whole range (a key may match at several terms). One
//     request runs at a time in the whole emulated cluster, so a cheap
//     query matters to every other request.
//   - List buckets sorts the buckets (Riak's order depends on its folds)
//     and sees only vnodes the receiving node can reach.
//   - Secondary index names are kept as sent (exact duplicates dropped);
//     _int terms must fit an int64 and are stored in canonical decimal. A
//     malformed entry fails the put with {field_parsing_failed,...} or
//     {unknown_field_type,...}; Riak's texts for these may differ.
//   - RpbSetBucketTypeReq creates a type that does not exist (Riak creates
//     types only with `riak admin bucket-type create`); so does
//     Cluster.SetBucketType. Commit hooks are accepted and dropped. Bucket
//     property validation is limited to n_val > 0 and datatype names, with
//     error texts of the emulator's own ("Invalid bucket properties: ...").
//   - Errors for an unknown bucket type: "Error no bucket type `<<"x">>`"
//     for KV requests, "No bucket-type named 'x'" for bucket and bucket
//     type properties.
//   - A malformed request body is answered with "Error processing incoming
//     message: ..." and the connection stays open; a frame longer than
//     Options.MaxFrame, or of length 0, closes the connection.
//   - Data types: the stored CRDT and the context bytes are the emulator's
//     own encodings (a context it did not make is refused with "Error
//     processing incoming message: bad context"). An update is applied to
//     the merge of the reachable replicas (Riak applies it to the
//     coordinating vnode's copy, which may lag), and drops tombstone
//     siblings. Registers are stamped in microseconds, bumped past the
//     stamp they replace. A map update without the operation its field
//     type needs, or a DtOp without any, gets an error of the emulator's
//     own. DtFetchReq on the "default" type answers as Riak's legacy
//     counter path does for objects that are not counters (0, or not
//     found); DtUpdateReq there is not supported.
//   - Not emulated, and answered with an error saying so: MapReduce, HLL
//     and GSet data types, legacy counters, RpbCSBucketReq, 2i
//     return_body (answered as without it), AAE folds, next-generation
//     replication, security (AUTH and STARTTLS). timeout fields are
//     ignored; node_confirms is not decoded by the message types used.
//   - Node names are riak@127.0.0.1 for a one-node cluster and
//     dev1@127.0.0.1, dev2@127.0.0.1, ... otherwise (as Riak's devrel).
package riaktest
