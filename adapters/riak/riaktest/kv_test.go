package riaktest

import (
	"net"
	"testing"
	"time"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/strata-go/strata/adapters/riak/pb"
	"github.com/stretchr/testify/require"
)

func content(v string) *riak_kv.RpbContent {
	return &riak_kv.RpbContent{Value: []byte(v), ContentType: []byte("text/plain")}
}

func (c *client) put(req *riak_kv.RpbPutReq) *riak_kv.RpbPutResp {
	c.t.Helper()
	var resp riak_kv.RpbPutResp
	c.call(pb.CodePutReq, req, pb.CodePutResp, &resp)
	return &resp
}

func (c *client) get(req *riak_kv.RpbGetReq) *riak_kv.RpbGetResp {
	c.t.Helper()
	var resp riak_kv.RpbGetResp
	c.call(pb.CodeGetReq, req, pb.CodeGetResp, &resp)
	return &resp
}

func values(cs []*riak_kv.RpbContent) []string {
	var out []string
	for _, c := range cs {
		out = append(out, string(c.Value))
	}
	return out
}

func TestServerBasics(t *testing.T) {
	c := Start(t, Options{})
	require.Len(t, c.Addrs(), 3)
	for i := range 3 {
		cl := dialNode(t, c, i)
		cl.call(pb.CodePingReq, nil, pb.CodePingResp, nil)
		var info riak.RpbGetServerInfoResp
		cl.call(pb.CodeGetServerInfoReq, nil, pb.CodeGetServerInfoResp, &info)
		require.Equal(t, []string{"dev1@127.0.0.1", "dev2@127.0.0.1", "dev3@127.0.0.1"}[i], string(info.Node))
		require.Equal(t, "3.2.1", string(info.ServerVersion))
	}
	cl := dialNode(t, c, 0)
	require.Equal(t, "Unknown message code: 70", cl.callErr(70, nil))
	require.Equal(t, "Bucket cannot be zero-length", cl.callErr(pb.CodeGetReq, &riak_kv.RpbGetReq{Key: []byte("k")}))
	require.Equal(t, "Key cannot be zero-length", cl.callErr(pb.CodePutReq, &riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte{}, Content: content("v")}))
	require.Equal(t, "Type cannot be zero-length", cl.callErr(pb.CodeGetReq, &riak_kv.RpbGetReq{Type: []byte{}, Bucket: []byte("b"), Key: []byte("k")}))
	require.Equal(t, "Error no bucket type `<<\"nope\">>`", cl.callErr(pb.CodeGetReq, &riak_kv.RpbGetReq{Type: []byte("nope"), Bucket: []byte("b"), Key: []byte("k")}))
	require.Contains(t, cl.callErr(pb.CodeMapRedReq, &riak_kv.RpbMapRedReq{}), "not supported")
	// A bad body is an error, and the connection stays usable.
	cl.sendRaw(pb.AppendFrame(nil, pb.CodeGetReq, []byte{0xff, 0xff}))
	code, _ := cl.recv()
	require.Equal(t, pb.CodeErrorResp, code)
	cl.call(pb.CodePingReq, nil, pb.CodePingResp, nil)

	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
}

func TestPutGetMetadata(t *testing.T) {
	c := Start(t, Options{})
	cl := dialNode(t, c, 1)
	in := &riak_kv.RpbContent{
		Value: []byte("v"), ContentType: []byte("application/json"), Charset: []byte("utf-8"),
		ContentEncoding: []byte("gzip"),
		Links:           []*riak_kv.RpbLink{{Bucket: []byte("b"), Key: []byte("k2"), Tag: []byte("t")}},
		Usermeta:        []*riak.RpbPair{{Key: []byte("m"), Value: []byte("1")}},
		Indexes:         []*riak.RpbPair{{Key: []byte("age_int"), Value: []byte("007")}, {Key: []byte("n_bin"), Value: []byte("x")}},
	}
	resp := cl.put(&riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Content: in, ReturnBody: proto.Bool(true)})
	require.Len(t, resp.Content, 1)
	require.NotEmpty(t, resp.Vclock)
	require.Nil(t, resp.Key)
	got := cl.get(&riak_kv.RpbGetReq{Bucket: []byte("b"), Key: []byte("k")})
	require.Len(t, got.Content, 1)
	g := got.Content[0]
	require.Equal(t, "v", string(g.Value))
	require.Equal(t, "utf-8", string(g.Charset))
	require.Equal(t, "gzip", string(g.ContentEncoding))
	require.Equal(t, "application/json", string(g.ContentType))
	require.Equal(t, "k2", string(g.Links[0].Key))
	require.Equal(t, "1", string(g.Usermeta[0].Value))
	require.Equal(t, "7", string(g.Indexes[0].Value), "int terms are canonical")
	require.Len(t, g.Vtag, 22)
	require.InDelta(t, time.Now().Unix(), int64(g.GetLastMod()), 5)
	require.Nil(t, g.Deleted)
	require.Equal(t, resp.Vclock, got.Vclock)

	// if_modified with the current vclock: unchanged.
	un := cl.get(&riak_kv.RpbGetReq{Bucket: []byte("b"), Key: []byte("k"), IfModified: got.Vclock})
	require.True(t, un.GetUnchanged())
	require.Empty(t, un.Content)

	// head: metadata without the value.
	head := cl.get(&riak_kv.RpbGetReq{Bucket: []byte("b"), Key: []byte("k"), Head: proto.Bool(true)})
	require.Equal(t, "", string(head.Content[0].Value))
	require.Equal(t, "application/json", string(head.Content[0].ContentType))

	// return_head.
	rh := cl.put(&riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Vclock: got.Vclock, Content: content("w"), ReturnHead: proto.Bool(true)})
	require.Equal(t, []string{""}, values(rh.Content))

	// Generated keys.
	gen := cl.put(&riak_kv.RpbPutReq{Bucket: []byte("b"), Content: content("anon")})
	require.Len(t, gen.Key, 27)
	require.Equal(t, []string{"anon"}, values(cl.get(&riak_kv.RpbGetReq{Bucket: []byte("b"), Key: gen.Key}).Content))

	require.Equal(t, "{field_parsing_failed,{<<\"a_int\">>,<<\"x\">>}}", cl.callErr(pb.CodePutReq, &riak_kv.RpbPutReq{
		Bucket: []byte("b"), Key: []byte("k"), Content: &riak_kv.RpbContent{Value: []byte("v"), Indexes: []*riak.RpbPair{{Key: []byte("a_int"), Value: []byte("x")}}},
	}))
}

func TestSiblings(t *testing.T) {
	c := Start(t, Options{})
	require.NoError(t, c.SetBucketType("mult", nil))
	cl := dialNode(t, c, 0)
	cl2 := dialNode(t, c, 2)
	key := func() *riak_kv.RpbGetReq {
		return &riak_kv.RpbGetReq{Type: []byte("mult"), Bucket: []byte("b"), Key: []byte("k")}
	}
	put := func(cl *client, v string, vclock []byte) *riak_kv.RpbPutResp {
		return cl.put(&riak_kv.RpbPutReq{Type: []byte("mult"), Bucket: []byte("b"), Key: []byte("k"), Vclock: vclock, Content: content(v), ReturnBody: proto.Bool(true)})
	}
	put(cl, "one", nil)
	r := put(cl2, "two", nil) // blind put, another coordinator
	require.Equal(t, []string{"one", "two"}, values(r.Content))
	put(cl, "three", nil) // blind put, same coordinator
	got := cl.get(key())
	require.Equal(t, []string{"one", "two", "three"}, values(got.Content))
	for _, ct := range got.Content {
		require.Len(t, ct.Vtag, 22)
	}
	// Resolving with the fetched vclock replaces every sibling.
	r = put(cl2, "merged", got.Vclock)
	require.Equal(t, []string{"merged"}, values(r.Content))
	require.Equal(t, []string{"merged"}, values(cl.get(key()).Content))
	// A write with a stale vclock is concurrent with the resolution.
	put(cl, "stale", got.Vclock)
	require.Equal(t, []string{"merged", "stale"}, values(cl.get(key()).Content))

	// The default type keeps one value: a blind put overwrites.
	for _, v := range []string{"a", "b", "c"} {
		dialNode(t, c, len(v)%3).put(&riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Content: content(v)})
	}
	require.Equal(t, []string{"c"}, values(cl.get(&riak_kv.RpbGetReq{Bucket: []byte("b"), Key: []byte("k")}).Content))

	// last_write_wins on an allow_mult type.
	cl.call(pb.CodeSetBucketReq, &riak.RpbSetBucketReq{Type: []byte("mult"), Bucket: []byte("lww"), Props: &riak.RpbBucketProps{LastWriteWins: proto.Bool(true)}}, pb.CodeSetBucketResp, nil)
	for _, v := range []string{"x", "y"} {
		cl.put(&riak_kv.RpbPutReq{Type: []byte("mult"), Bucket: []byte("lww"), Key: []byte("k"), Content: content(v)})
	}
	require.Equal(t, []string{"y"}, values(cl.get(&riak_kv.RpbGetReq{Type: []byte("mult"), Bucket: []byte("lww"), Key: []byte("k")}).Content))
}

func TestConditionalPut(t *testing.T) {
	c := Start(t, Options{})
	cl := dialNode(t, c, 0)
	req := func(v string, vclock []byte) *riak_kv.RpbPutReq {
		return &riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Vclock: vclock, Content: content(v), ReturnBody: proto.Bool(true)}
	}
	inm := req("v0", nil)
	inm.IfNoneMatch = proto.Bool(true)
	r := cl.put(inm)
	require.Equal(t, "match_found", cl.callErr(pb.CodePutReq, inm))

	inm2 := req("v1", r.Vclock)
	inm2.IfNotModified = proto.Bool(true)
	r2 := cl.put(inm2)
	stale := req("v2", r.Vclock)
	stale.IfNotModified = proto.Bool(true)
	require.Equal(t, "modified", cl.callErr(pb.CodePutReq, stale))
	missing := &riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte("missing"), Vclock: r2.Vclock, Content: content("x"), IfNotModified: proto.Bool(true)}
	require.Equal(t, "notfound", cl.callErr(pb.CodePutReq, missing))
}

func TestDeleteAndTombstones(t *testing.T) {
	c := Start(t, Options{DeleteMode: 100 * time.Millisecond})
	cl := dialNode(t, c, 0)
	bk := func() *riak_kv.RpbGetReq { return &riak_kv.RpbGetReq{Bucket: []byte("b"), Key: []byte("k")} }
	r := cl.put(&riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Content: content("v"), ReturnBody: proto.Bool(true)})
	cl.call(pb.CodeDelReq, &riak_kv.RpbDelReq{Bucket: []byte("b"), Key: []byte("k"), Vclock: r.Vclock}, pb.CodeDelResp, nil)
	got := cl.get(bk())
	require.Empty(t, got.Content)
	require.Nil(t, got.Vclock)
	dv := bk()
	dv.Deletedvclock = proto.Bool(true)
	got = cl.get(dv)
	require.Empty(t, got.Content)
	require.NotEmpty(t, got.Vclock)
	reps := c.Replicas("default", "b", "k")
	require.Len(t, reps, 3)
	for _, rep := range reps {
		require.True(t, rep.Primary)
		require.Len(t, rep.Siblings, 1)
		require.True(t, rep.Siblings[0].Deleted)
	}
	// Deleting a key that never existed answers the same.
	cl.call(pb.CodeDelReq, &riak_kv.RpbDelReq{Bucket: []byte("b"), Key: []byte("never")}, pb.CodeDelResp, nil)
	require.Empty(t, c.Replicas("default", "b", "never"))

	// Reaped after DeleteMode.
	require.Eventually(t, func() bool { return len(c.Replicas("default", "b", "k")) == 0 }, 2*time.Second, 20*time.Millisecond)
	require.Nil(t, cl.get(dv).Vclock)
}

func TestDeleteConcurrentWithWrite(t *testing.T) {
	c := Start(t, Options{})
	require.NoError(t, c.SetBucketType("mult", nil))
	a, b := dialNode(t, c, 0), dialNode(t, c, 1)
	put := func(cl *client, v string, vclock []byte) *riak_kv.RpbPutResp {
		return cl.put(&riak_kv.RpbPutReq{Type: []byte("mult"), Bucket: []byte("b"), Key: []byte("k"), Vclock: vclock, Content: content(v), ReturnBody: proto.Bool(true)})
	}
	r := put(a, "v", nil)
	c.Partition([]int{0}, []int{1, 2})
	a.call(pb.CodeDelReq, &riak_kv.RpbDelReq{Type: []byte("mult"), Bucket: []byte("b"), Key: []byte("k"), Vclock: r.Vclock}, pb.CodeDelResp, nil)
	put(b, "w", r.Vclock)
	c.Heal()
	got := a.get(&riak_kv.RpbGetReq{Type: []byte("mult"), Bucket: []byte("b"), Key: []byte("k")})
	require.Len(t, got.Content, 2)
	deleted := 0
	for _, ct := range got.Content {
		if ct.GetDeleted() {
			deleted++
			require.Empty(t, ct.Value)
		} else {
			require.Equal(t, "w", string(ct.Value))
		}
	}
	require.Equal(t, 1, deleted)
	// Resolving with the vclock leaves the write alone.
	put(b, "w2", got.Vclock)
	require.Equal(t, []string{"w2"}, values(a.get(&riak_kv.RpbGetReq{Type: []byte("mult"), Bucket: []byte("b"), Key: []byte("k")}).Content))
}

func TestQuorumsWithNodesDown(t *testing.T) {
	c := Start(t, Options{})
	cl := dialNode(t, c, 0)
	cl.put(&riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Content: content("v")})
	c.NodeDown(1)
	c.NodeDown(2)

	// A down node refuses connections.
	_, err := net.DialTimeout("tcp", c.Addrs()[1], 5*time.Second)
	require.Error(t, err, "a down node refuses connections")

	get := &riak_kv.RpbGetReq{Bucket: []byte("b"), Key: []byte("k")}
	require.Equal(t, []string{"v"}, values(cl.get(get).Content), "sloppy quorum: fallbacks answer")
	get.Pr = proto.Uint32(pb.QuorumQuorum)
	require.Equal(t, "{pr_val_unsatisfied,2,1}", cl.callErr(pb.CodeGetReq, get))
	get.Pr = nil
	get.SloppyQuorum = proto.Bool(false)
	require.Equal(t, "{insufficient_vnodes,1,need,2}", cl.callErr(pb.CodeGetReq, get))
	get.R = proto.Uint32(pb.QuorumOne)
	require.Equal(t, []string{"v"}, values(cl.get(get).Content))
	get.R = proto.Uint32(4)
	require.Equal(t, "{n_val_violation,3}", cl.callErr(pb.CodeGetReq, get))

	put := &riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte("k2"), Content: content("x"), W: proto.Uint32(pb.QuorumAll)}
	cl.put(put) // fallbacks take the writes
	put.Pw = proto.Uint32(2)
	require.Equal(t, "{pw_val_unsatisfied,2,1}", cl.callErr(pb.CodePutReq, put))
	put.Pw = nil
	put.SloppyQuorum = proto.Bool(false)
	require.Equal(t, "{insufficient_vnodes,1,need,3}", cl.callErr(pb.CodePutReq, put))
	var fallbacks int
	for _, r := range c.Replicas("default", "b", "k2") {
		if !r.Primary {
			fallbacks++
			require.Equal(t, 0, r.Node)
		}
	}
	require.Equal(t, 2, fallbacks)

	// notfound_ok=false: fallbacks' notfounds do not count toward R.
	c.NodeUp(1)
	c.NodeUp(2)
	c.NodeDown(0)
	cl1 := dialNode(t, c, 1)
	// k2 is only on node 0's vnodes: the others answer notfound.
	nf := cl1.get(&riak_kv.RpbGetReq{Bucket: []byte("b"), Key: []byte("k2"), NotfoundOk: proto.Bool(false)})
	require.Empty(t, nf.Content)
	c.NodeUp(0)
	c.Converge()
	require.Equal(t, []string{"x"}, values(cl1.get(&riak_kv.RpbGetReq{Bucket: []byte("b"), Key: []byte("k2")}).Content))
	for _, r := range c.Replicas("default", "b", "k2") {
		require.True(t, r.Primary, "Converge hands fallbacks off")
	}
}

func TestNodeUpAcceptsAgain(t *testing.T) {
	c := Start(t, Options{Nodes: 2})
	c.NodeDown(0)
	c.NodeUp(0)
	dialNode(t, c, 0).call(pb.CodePingReq, nil, pb.CodePingResp, nil)
	conn, err := net.Dial("tcp", c.Addrs()[1])
	require.NoError(t, err)
	conn.Close()
}
