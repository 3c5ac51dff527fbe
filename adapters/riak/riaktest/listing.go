package riaktest

import (
	"maps"
	"slices"
	"time"

	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/strata-go/strata/adapters/riak/pb"
)

// Listing keys and 2i queries are coverage queries: the receiving node
// asks one reachable primary vnode for each preference list (see
// ring.coverage), so each live key is answered once, whatever its number
// of replicas. Each vnode answers with its matches in descending order (as
// a leveled fold accumulates them), and the vnodes answer in partition
// order.

// A coveredObject is a live object a coverage vnode answers with.
type coveredObject struct {
	key string
	obj *object
}

// cover runs a coverage query over bucket b from this session's node: for
// each vnode of the plan, in order, the live objects of b it answers for.
// With an ordinary 2i query q, they are those its index lists in q's
// range (which q.matches checks again), by ascending term; else (q nil,
// or on $bucket or $key) they are all, by descending key. Tombstones due
// are skipped, not reaped: a GET or a write reaps them.
func (s *session) cover(b bucketID, q *indexQuery) ([][]coveredObject, error) {
	c := s.node.c
	n := int(c.props(b).GetNVal())
	from := s.node.index
	plan, ok := c.ring.coverage(n, func(node int) bool { return c.reachable(from, node) })
	if !ok {
		return nil, rpcError("insufficient_vnodes_available")
	}
	now := time.Now()
	out := make([][]coveredObject, 0, len(plan))
	for _, cv := range plan {
		var objs []coveredObject
		var bk *bucketKeys
		if vn := c.vnodes[cv.vnodeID]; vn != nil {
			bk = vn.buckets[b]
		}
		if bk == nil {
			out = append(out, nil)
			continue
		}
		live := func(key string) *object {
			if !slices.Contains(cv.firsts, bk.first[key]) {
				return nil
			}
			if e := c.peek(cv.vnodeID, bkey{b.typ, b.bucket, key}, now); e != nil && e.obj.live() {
				return e.obj
			}
			return nil
		}
		if q != nil && q.ordinary() {
			// Each vnode folds its index from the range's start and,
			// with terms returned, from the continuation, stopping after
			// the page's worth of matches: each entry is then an answer
			// of its own. Without terms a key is answered once, at its
			// first term in the range, which may be before the
			// continuation: the whole range is read, and q.page drops
			// what the continuation passed.
			var after *indexEntry
			paged := q.returnTerms && q.maxResults > 0
			if paged {
				after = q.after
			}
			seen, matched := map[string]bool{}, 0
			bk.inRange(q, after, func(it termItem) bool {
				if _, ok := q.matchTerm(it.term); !ok {
					return true
				}
				if after != nil && q.compareAfter(indexEntry{term: it.term, n: it.n, key: it.key}) <= 0 {
					return true
				}
				obj := live(it.key)
				if obj == nil { // not this vnode's to answer, or due to be reaped
					return true
				}
				if !seen[it.key] {
					seen[it.key] = true
					objs = append(objs, coveredObject{it.key, obj})
				}
				matched++
				return !paged || matched < q.maxResults
			})
		} else {
			for _, key := range slices.Sorted(maps.Keys(bk.first)) {
				if obj := live(key); obj != nil {
					objs = append(objs, coveredObject{key, obj})
				}
			}
			slices.Reverse(objs)
		}
		out = append(out, objs)
	}
	return out, nil
}

// listKeys streams the keys of a bucket: one frame with every key, then a
// frame with done (the captured node sent its keys in one frame).
func (s *session) listKeys(body []byte) ([]frame, error) {
	var m riak_kv.RpbListKeysReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	b, err := s.node.c.checkBucket(m.Type, m.Bucket, noTypeKV)
	if err != nil {
		return nil, err
	}
	perVnode, err := s.cover(b, nil)
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	for _, objs := range slices.Backward(perVnode) {
		for _, o := range objs {
			keys = append(keys, []byte(o.key))
		}
	}
	var frames []frame
	if len(keys) > 0 {
		frames = append(frames, reply(pb.CodeListKeysResp, &riak_kv.RpbListKeysResp{Keys: keys}))
	}
	return append(frames, reply(pb.CodeListKeysResp, &riak_kv.RpbListKeysResp{Done: proto.Bool(true)})), nil
}

// listBuckets lists the buckets of a type that hold a live object on a
// vnode this node can reach, sorted. Streamed, each bucket has its frame
// and a frame with done ends the reply; otherwise one frame has them all.
func (s *session) listBuckets(body []byte) ([]frame, error) {
	var m riak_kv.RpbListBucketsReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	c := s.node.c
	typ, err := c.checkType(m.Type, noTypeKV)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	seen := map[string]bool{}
	for id, vn := range c.vnodes {
		if !c.reachable(s.node.index, id.node) {
			continue
		}
		for k := range vn.objects {
			if k.typ == typ && !seen[k.bucket] {
				if e := c.entry(id, k, now); e != nil && e.obj.live() {
					seen[k.bucket] = true
				}
			}
		}
	}
	var buckets [][]byte
	for _, b := range slices.Sorted(maps.Keys(seen)) {
		buckets = append(buckets, []byte(b))
	}
	if !m.GetStream() {
		return []frame{reply(pb.CodeListBucketsResp, &riak_kv.RpbListBucketsResp{Buckets: buckets})}, nil
	}
	frames := make([]frame, 0, len(buckets)+1)
	for _, b := range buckets {
		frames = append(frames, reply(pb.CodeListBucketsResp, &riak_kv.RpbListBucketsResp{Buckets: [][]byte{b}}))
	}
	return append(frames, reply(pb.CodeListBucketsResp, &riak_kv.RpbListBucketsResp{Done: proto.Bool(true)})), nil
}
