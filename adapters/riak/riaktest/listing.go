package riaktest

import (
	"maps"
	"slices"
	"strings"
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
// each vnode of the plan, in order, the live objects of b it answers for,
// by descending key.
func (s *session) cover(b bucketID) ([][]coveredObject, error) {
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
		vn := c.vnodes[cv.vnodeID]
		if vn == nil {
			out = append(out, nil)
			continue
		}
		var objs []coveredObject
		for k := range vn.objects {
			if k.bucketID() != b || !slices.Contains(cv.firsts, c.ring.firstPartition(k.typ, k.bucket, k.key)) {
				continue
			}
			if e := c.entry(cv.vnodeID, k, now); e != nil && e.obj.live() {
				objs = append(objs, coveredObject{k.key, e.obj})
			}
		}
		slices.SortFunc(objs, func(a, b coveredObject) int { return strings.Compare(b.key, a.key) })
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
	perVnode, err := s.cover(b)
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
