package riaktest

import (
	"time"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/strata-go/strata/adapters/riak/pb"
)

// Get, put and delete. The node that receives a request coordinates it:
// it asks the key's preference list as it sees it (reachable primaries,
// then fallbacks on reachable nodes unless sloppy_quorum is false), checks
// the quorums against what it can reach, and every vnode it can reach
// answers at once. A write is applied first by a coordinating vnode (one
// on the receiving node if the preference list has one), which stamps it
// with a new dot in its own name, then merged into the other vnodes.

// A kvRequest is what get, put and delete share once their bucket and key
// are checked.
type kvRequest struct {
	k     bkey
	props *riak.RpbBucketProps
	n     int
	multi bool // siblings are kept: allow_mult and not last_write_wins
}

// kvRequest checks a request's type, bucket, key and n_val.
func (s *session) kvRequest(typ, bucket, key []byte, nval *uint32) (kvRequest, error) {
	c := s.node.c
	b, err := c.checkBucket(typ, bucket, noTypeKV)
	if err != nil {
		return kvRequest{}, err
	}
	if len(key) == 0 {
		return kvRequest{}, rpcError("Key cannot be zero-length")
	}
	props := c.props(b)
	n := int(props.GetNVal())
	if nval != nil && *nval != 0 {
		if int64(*nval) > int64(n) {
			return kvRequest{}, rpcErrorf("{n_val_violation,%d}", n)
		}
		n = int(*nval)
	}
	return kvRequest{
		k:     bkey{b.typ, b.bucket, string(key)},
		props: props,
		n:     n,
		multi: props.GetAllowMult() && !props.GetLastWriteWins(),
	}, nil
}

// targets returns the vnodes this session's node uses for key k.
func (s *session) targets(k bkey, n int, sloppy bool) []target {
	c := s.node.c
	from := s.node.index
	return c.ring.targets(c.ring.firstPartition(k.typ, k.bucket, k.key), n, sloppy,
		func(node int) bool { return c.reachable(from, node) })
}

// quorum returns the count a quorum value stands for: a request's value if
// set, else the bucket's, with Riak's symbolic values resolved for n
// replicas. A count larger than n is returned as is, for the caller to
// refuse.
func quorum(req *uint32, prop uint32, n int) int {
	v := prop
	if req != nil && *req != pb.QuorumDefault {
		v = *req
	}
	switch v {
	case pb.QuorumOne:
		return 1
	case pb.QuorumQuorum, pb.QuorumDefault:
		return n/2 + 1
	case pb.QuorumAll:
		return n
	}
	if int64(v) > int64(n) {
		return n + 1
	}
	return int(v)
}

func sloppy(b *bool) bool { return b == nil || *b }

func countPrimaries(ts []target) int {
	n := 0
	for _, t := range ts {
		if t.primary {
			n++
		}
	}
	return n
}

// gather merges the replies of the vnodes ts for k, counting the vnodes
// that held the object (tombstones included) and those that did not.
func (c *Cluster) gather(ts []target, k bkey, multi bool, now time.Time) (merged *object, found, notfound int) {
	for _, t := range ts {
		if e := c.entry(t.vnodeID, k, now); e != nil {
			found++
			merged = mergeObjects(merged, e.obj, multi)
		} else {
			notfound++
		}
	}
	return merged, found, notfound
}

// store puts obj on vnode t for k, unless it holds it already. With reap,
// a tombstone is reaped after the delete delay.
func (c *Cluster) store(t target, k bkey, obj *object, reap bool, now time.Time) {
	var reapAt time.Time
	if reap && !obj.live() && c.opts.DeleteMode >= 0 {
		reapAt = now.Add(c.opts.DeleteMode)
	}
	old := c.entry(t.vnodeID, k, now)
	if old != nil && sameState(old.obj, obj) && (!old.reapAt.IsZero() || reapAt.IsZero()) {
		return
	}
	c.vnode(t.vnodeID).put(k, &entry{obj: obj, reapAt: reapAt}, c.ring.firstPartition(k.typ, k.bucket, k.key))
}

// wholePrimaries reports whether ts is the whole primary preference list
// of n vnodes, which a tombstone must reach to be reaped (as Riak reaps
// only when every primary acknowledged the delete).
func wholePrimaries(ts []target, n int) bool {
	return len(ts) == n && countPrimaries(ts) == n
}

func (s *session) get(body []byte) ([]frame, error) {
	var m riak_kv.RpbGetReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	req, err := s.kvRequest(m.Type, m.Bucket, m.Key, m.NVal)
	if err != nil {
		return nil, err
	}
	c := s.node.c
	r := quorum(m.R, req.props.GetR(), req.n)
	pr := quorum(m.Pr, req.props.GetPr(), req.n)
	if r > req.n || pr > req.n {
		return nil, rpcErrorf("{n_val_violation,%d}", req.n)
	}
	r = max(r, 1)
	ts := s.targets(req.k, req.n, sloppy(m.SloppyQuorum))
	if p := countPrimaries(ts); p < pr {
		return nil, rpcErrorf("{pr_val_unsatisfied,%d,%d}", pr, p)
	}
	if len(ts) < r {
		return nil, rpcErrorf("{insufficient_vnodes,%d,need,%d}", len(ts), r)
	}
	notfoundOK := req.props.GetNotfoundOk()
	if m.NotfoundOk != nil {
		notfoundOK = *m.NotfoundOk
	}
	basicQuorum := req.props.GetBasicQuorum()
	if m.BasicQuorum != nil {
		basicQuorum = *m.BasicQuorum
	}

	now := time.Now()
	merged, found, notfound := c.gather(ts, req.k, req.multi, now)
	if merged != nil { // read repair
		for _, t := range ts {
			c.store(t, req.k, merged, wholePrimaries(ts, req.n), now)
		}
	}
	ok := found
	if notfoundOK {
		ok += notfound
	} else if basicQuorum && notfound >= req.n/2+1 {
		ok = 0
	}
	var resp riak_kv.RpbGetResp
	switch {
	case ok < r || merged == nil:
	case !merged.live():
		if m.GetDeletedvclock() {
			resp.Vclock = merged.clock.encode()
		}
	case m.IfModified != nil && clockEquals(m.IfModified, merged.clock):
		resp.Unchanged = proto.Bool(true)
	default:
		resp.Content = wireContents(merged, m.GetHead())
		resp.Vclock = merged.clock.encode()
	}
	return []frame{reply(pb.CodeGetResp, &resp)}, nil
}

// clockEquals reports whether b encodes the vclock v.
func clockEquals(b []byte, v vclock) bool {
	w, ok := decodeVClock(b)
	return ok && w.descends(v) && v.descends(w)
}

// writeRequest checks the write quorums of a put or delete and returns the
// vnodes to write to.
func (s *session) writeRequest(req kvRequest, w, dw, pw *uint32, sloppyQ *bool) ([]target, error) {
	p := req.props
	wn := quorum(w, p.GetW(), req.n)
	dwn := quorum(dw, p.GetDw(), req.n)
	pwn := quorum(pw, p.GetPw(), req.n)
	if wn > req.n || dwn > req.n || pwn > req.n {
		return nil, rpcErrorf("{n_val_violation,%d}", req.n)
	}
	need := max(wn, dwn, 1)
	ts := s.targets(req.k, req.n, sloppy(sloppyQ))
	if p := countPrimaries(ts); p < pwn {
		return nil, rpcErrorf("{pw_val_unsatisfied,%d,%d}", pwn, p)
	}
	if len(ts) < need {
		return nil, rpcErrorf("{insufficient_vnodes,%d,need,%d}", len(ts), need)
	}
	return ts, nil
}

// write applies a write of content with causal context ctx to the vnodes
// ts and returns the merge of their resulting objects.
func (s *session) write(ts []target, req kvRequest, ctx vclock, content *riak_kv.RpbContent, now time.Time) *object {
	c := s.node.c
	coord := ts[0]
	for _, t := range ts {
		if t.node == s.node.index {
			coord = t
			break
		}
	}
	vn := c.vnode(coord.vnodeID)
	var local *object
	if e := c.entry(coord.vnodeID, req.k, now); e != nil {
		local = e.obj
	}
	clock := vclock{}
	var sibs []sibling
	if local != nil {
		clock = mergeClocks(local.clock, ctx)
		if req.multi {
			for _, sib := range local.siblings {
				if !ctx.covers(sib.dot) {
					sibs = append(sibs, sib)
				}
			}
		}
	} else {
		clock = mergeClocks(clock, ctx)
	}
	actor := actorOf(coord.vnodeID)
	vn.seq = max(vn.seq, clock[actor]) + 1
	clock[actor] = vn.seq
	sibs = append(sibs, sibling{dot: dot{actor, vn.seq}, modified: now, content: content})
	written := newObject(clock, sibs, req.multi)

	result := written
	reap := wholePrimaries(ts, req.n)
	for _, t := range ts {
		obj := written
		if t != coord {
			if e := c.entry(t.vnodeID, req.k, now); e != nil {
				obj = mergeObjects(e.obj, written, req.multi)
			}
			result = mergeObjects(result, obj, req.multi)
		}
		c.store(t, req.k, obj, reap, now)
	}
	return result
}

func (s *session) put(body []byte) ([]frame, error) {
	var m riak_kv.RpbPutReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	var genKey []byte
	if m.Key == nil {
		genKey = []byte(randomBase62(27))
		m.Key = genKey
	}
	req, err := s.kvRequest(m.Type, m.Bucket, m.Key, m.NVal)
	if err != nil {
		return nil, err
	}
	if m.Content == nil {
		return nil, rpcError("Error processing incoming message: RpbPutReq without content")
	}
	ctx, ok := decodeVClock(m.Vclock)
	if !ok {
		return nil, rpcError("Error processing incoming message: bad vclock")
	}
	ts, err := s.writeRequest(req, m.W, m.Dw, m.Pw, m.SloppyQuorum)
	if err != nil {
		return nil, err
	}
	c := s.node.c
	now := time.Now()
	if m.GetIfNoneMatch() || m.GetIfNotModified() {
		cur, _, _ := c.gather(ts, req.k, req.multi, now)
		switch {
		case m.GetIfNoneMatch() && cur.live():
			return nil, rpcError("match_found")
		case m.GetIfNotModified() && !cur.live():
			return nil, rpcError("notfound")
		case m.GetIfNotModified() && !clockEquals(m.Vclock, cur.clock):
			return nil, rpcError("modified")
		}
	}
	content, err := newContent(m.Content, now, false)
	if err != nil {
		return nil, err
	}
	result := s.write(ts, req, ctx, content, now)
	resp := riak_kv.RpbPutResp{Key: genKey}
	if m.GetReturnBody() || m.GetReturnHead() {
		resp.Content = wireContents(result, !m.GetReturnBody())
		resp.Vclock = result.clock.encode()
	}
	return []frame{reply(pb.CodePutResp, &resp)}, nil
}

// del writes a tombstone. Without a vclock it first reads the object, as
// Riak does, and deletes what it read; an object no vnode holds is left
// alone.
func (s *session) del(body []byte) ([]frame, error) {
	var m riak_kv.RpbDelReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	req, err := s.kvRequest(m.Type, m.Bucket, m.Key, m.NVal)
	if err != nil {
		return nil, err
	}
	ctx, ok := decodeVClock(m.Vclock)
	if !ok {
		return nil, rpcError("Error processing incoming message: bad vclock")
	}
	w := m.W
	if w == nil {
		w = m.Rw
	}
	ts, err := s.writeRequest(req, w, m.Dw, m.Pw, m.SloppyQuorum)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if len(m.Vclock) == 0 {
		cur, _, _ := s.node.c.gather(ts, req.k, req.multi, now)
		if cur == nil {
			return []frame{{code: pb.CodeDelResp}}, nil
		}
		ctx = cur.clock
	}
	tomb, _ := newContent(nil, now, true)
	s.write(ts, req, ctx, tomb, now)
	return []frame{{code: pb.CodeDelResp}}, nil
}
