package riaktest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/strata-go/strata/adapters/riak/pb"
	"github.com/stretchr/testify/require"
)

func (c *client) index(req *riak_kv.RpbIndexReq) *riak_kv.RpbIndexResp {
	c.t.Helper()
	var resp riak_kv.RpbIndexResp
	c.call(pb.CodeIndexReq, req, pb.CodeIndexResp, &resp)
	return &resp
}

// indexStream runs a streamed query and returns its frames.
func (c *client) indexStream(req *riak_kv.RpbIndexReq) []*riak_kv.RpbIndexResp {
	c.t.Helper()
	req.Stream = proto.Bool(true)
	var out []*riak_kv.RpbIndexResp
	for _, body := range c.stream(pb.CodeIndexReq, req, pb.CodeIndexResp, func(b []byte) bool {
		var m riak_kv.RpbIndexResp
		require.NoError(c.t, proto.Unmarshal(b, &m))
		return m.GetDone()
	}) {
		var m riak_kv.RpbIndexResp
		require.NoError(c.t, proto.Unmarshal(body, &m))
		out = append(out, &m)
	}
	return out
}

func strs(bs [][]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}

func TestSecondaryIndexes(t *testing.T) {
	c := Start(t, Options{})
	cl := dialNode(t, c, 0)
	var all []string
	for i := range 20 {
		key := fmt.Sprintf("k%02d", i)
		all = append(all, key)
		cl.put(&riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte(key), Content: &riak_kv.RpbContent{
			Value: []byte("v"),
			Indexes: []*riak.RpbPair{
				{Key: []byte("age_int"), Value: []byte(fmt.Sprint(i * 5))}, // 0, 5, ..., 95: numeric order differs from text
				{Key: []byte("group_bin"), Value: []byte(fmt.Sprint("g", i%2))},
			},
		}})
	}
	// A deleted key is not in any answer; an overwritten one has its new terms.
	cl.call(pb.CodeDelReq, &riak_kv.RpbDelReq{Bucket: []byte("b"), Key: []byte("k19")}, pb.CodeDelResp, nil)
	all = all[:19]

	q := func() *riak_kv.RpbIndexReq {
		return &riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("age_int"), Qtype: riak_kv.RpbIndexReq_range.Enum(),
			RangeMin: []byte("10"), RangeMax: []byte("45")}
	}
	// Each live key once, not once per replica.
	keys := strs(cl.index(q()).Keys)
	slices.Sort(keys)
	require.Equal(t, []string{"k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09"}, keys)

	bucket := strs(cl.index(&riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("$bucket"), Qtype: riak_kv.RpbIndexReq_eq.Enum(), Key: []byte("b")}).Keys)
	slices.Sort(bucket)
	require.Equal(t, all, bucket)

	eq := cl.index(&riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("age_int"), Qtype: riak_kv.RpbIndexReq_eq.Enum(), Key: []byte("0035")})
	require.Equal(t, []string{"k07"}, strs(eq.Keys))

	kr := strs(cl.index(&riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("$key"), Qtype: riak_kv.RpbIndexReq_range.Enum(), RangeMin: []byte("k05"), RangeMax: []byte("k07"), PaginationSort: proto.Bool(true)}).Keys)
	require.Equal(t, []string{"k05", "k06", "k07"}, kr)

	// return_terms, with numeric order, paged by 3.
	var pairs []string
	var cont []byte
	pages := 0
	for {
		req := q()
		req.ReturnTerms = proto.Bool(true)
		req.MaxResults = proto.Uint32(3)
		req.Continuation = cont
		resp := cl.index(req)
		pages++
		require.Nil(t, resp.Done)
		for _, p := range resp.Results {
			pairs = append(pairs, string(p.Key)+"="+string(p.Value))
		}
		if resp.Continuation == nil {
			require.Less(t, len(resp.Results), 3)
			break
		}
		require.Len(t, resp.Results, 3)
		cont = resp.Continuation
	}
	require.Equal(t, 3, pages)
	require.Equal(t, []string{"10=k02", "15=k03", "20=k04", "25=k05", "30=k06", "35=k07", "40=k08", "45=k09"}, pairs)

	// Streamed pages: frames then done carrying the continuation.
	var streamed []string
	cont = nil
	for {
		req := q()
		req.MaxResults = proto.Uint32(5)
		req.Continuation = cont
		frames := cl.indexStream(req)
		last := frames[len(frames)-1]
		require.True(t, last.GetDone())
		for _, f := range frames {
			streamed = append(streamed, strs(f.Keys)...)
		}
		if last.Continuation == nil {
			break
		}
		cont = last.Continuation
	}
	require.Equal(t, []string{"k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09"}, streamed)

	// Streamed without pagination: several frames, then done.
	frames := cl.indexStream(&riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("group_bin"), Qtype: riak_kv.RpbIndexReq_eq.Enum(), Key: []byte("g1")})
	require.Greater(t, len(frames), 2)
	var odd []string
	for _, f := range frames {
		odd = append(odd, strs(f.Keys)...)
	}
	slices.Sort(odd)
	require.Equal(t, []string{"k01", "k03", "k05", "k07", "k09", "k11", "k13", "k15", "k17"}, odd)

	// term_regex on a binary range.
	rx := cl.index(&riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("group_bin"), Qtype: riak_kv.RpbIndexReq_range.Enum(),
		RangeMin: []byte("a"), RangeMax: []byte("z"), TermRegex: []byte("0$"), ReturnTerms: proto.Bool(true)})
	require.Len(t, rx.Results, 10)

	// With a node down the query still answers every key once.
	c.NodeDown(1)
	bucket = strs(cl.index(&riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("$bucket"), Qtype: riak_kv.RpbIndexReq_eq.Enum(), Key: []byte("b")}).Keys)
	slices.Sort(bucket)
	require.Equal(t, all, bucket)
	c.NodeUp(1)

	require.Equal(t, "{unknown_field_type,<<\"foo\">>}", cl.callErr(pb.CodeIndexReq, &riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("foo"), Qtype: riak_kv.RpbIndexReq_eq.Enum(), Key: []byte("x")}))
	require.Equal(t, "Can not use term regular expressions on integer queries", cl.callErr(pb.CodeIndexReq, &riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("age_int"), Qtype: riak_kv.RpbIndexReq_range.Enum(), RangeMin: []byte("1"), RangeMax: []byte("2"), TermRegex: []byte("x")}))
}

func TestListing(t *testing.T) {
	c := Start(t, Options{})
	require.NoError(t, c.SetBucketType("t", nil))
	cl := dialNode(t, c, 1)
	for i := range 30 {
		cl.put(&riak_kv.RpbPutReq{Bucket: []byte(fmt.Sprint("b", i%3)), Key: []byte(fmt.Sprint("k", i)), Content: content("v")})
	}
	cl.put(&riak_kv.RpbPutReq{Type: []byte("t"), Bucket: []byte("other"), Key: []byte("k"), Content: content("v")})
	cl.call(pb.CodeDelReq, &riak_kv.RpbDelReq{Bucket: []byte("b0"), Key: []byte("k0")}, pb.CodeDelResp, nil)

	var keys []string
	for _, body := range cl.stream(pb.CodeListKeysReq, &riak_kv.RpbListKeysReq{Bucket: []byte("b0")}, pb.CodeListKeysResp, func(b []byte) bool {
		var m riak_kv.RpbListKeysResp
		require.NoError(t, proto.Unmarshal(b, &m))
		return m.GetDone()
	}) {
		var m riak_kv.RpbListKeysResp
		require.NoError(t, proto.Unmarshal(body, &m))
		keys = append(keys, strs(m.Keys)...)
	}
	slices.Sort(keys)
	require.Equal(t, []string{"k12", "k15", "k18", "k21", "k24", "k27", "k3", "k6", "k9"}, keys)

	var lb riak_kv.RpbListBucketsResp
	cl.call(pb.CodeListBucketsReq, nil, pb.CodeListBucketsResp, &lb)
	require.Equal(t, []string{"b0", "b1", "b2"}, strs(lb.Buckets))
	require.Nil(t, lb.Done)
	cl.call(pb.CodeListBucketsReq, &riak_kv.RpbListBucketsReq{Type: []byte("t")}, pb.CodeListBucketsResp, &lb)
	require.Equal(t, []string{"other"}, strs(lb.Buckets))
}

func TestBucketProps(t *testing.T) {
	c := Start(t, Options{})
	cl := dialNode(t, c, 0)
	var resp riak.RpbGetBucketResp
	cl.call(pb.CodeGetBucketReq, &riak.RpbGetBucketReq{Bucket: []byte("b")}, pb.CodeGetBucketResp, &resp)
	p := resp.Props
	require.Equal(t, uint32(3), p.GetNVal())
	require.False(t, p.GetAllowMult())
	require.Equal(t, pb.QuorumQuorum, p.GetR())
	require.True(t, p.GetNotfoundOk())

	cl.call(pb.CodeSetBucketReq, &riak.RpbSetBucketReq{Bucket: []byte("b"), Props: &riak.RpbBucketProps{NVal: proto.Uint32(1), AllowMult: proto.Bool(true)}}, pb.CodeSetBucketResp, nil)
	cl.call(pb.CodeGetBucketReq, &riak.RpbGetBucketReq{Bucket: []byte("b")}, pb.CodeGetBucketResp, &resp)
	require.Equal(t, uint32(1), resp.Props.GetNVal())
	require.True(t, resp.Props.GetAllowMult())
	cl.put(&riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Content: content("v")})
	require.Len(t, c.Replicas("default", "b", "k"), 1, "n_val=1")

	cl.call(pb.CodeResetBucketReq, &riak.RpbResetBucketReq{Bucket: []byte("b")}, pb.CodeResetBucketResp, nil)
	cl.call(pb.CodeGetBucketReq, &riak.RpbGetBucketReq{Bucket: []byte("b")}, pb.CodeGetBucketResp, &resp)
	require.Equal(t, uint32(3), resp.Props.GetNVal())

	require.Equal(t, "No bucket-type named 'maps'", cl.callErr(pb.CodeGetBucketTypeReq, &riak.RpbGetBucketTypeReq{Type: []byte("maps")}))
	cl.call(pb.CodeSetBucketTypeReq, &riak.RpbSetBucketTypeReq{Type: []byte("maps"), Props: &riak.RpbBucketProps{Datatype: []byte("map")}}, pb.CodeSetBucketResp, nil)
	cl.call(pb.CodeGetBucketTypeReq, &riak.RpbGetBucketTypeReq{Type: []byte("maps")}, pb.CodeGetBucketResp, &resp)
	require.Equal(t, "map", string(resp.Props.Datatype))
	require.True(t, resp.Props.GetAllowMult())
	cl.call(pb.CodeGetBucketReq, &riak.RpbGetBucketReq{Type: []byte("maps"), Bucket: []byte("x")}, pb.CodeGetBucketResp, &resp)
	require.Equal(t, "map", string(resp.Props.Datatype))
	require.Contains(t, cl.callErr(pb.CodeSetBucketReq, &riak.RpbSetBucketReq{Bucket: []byte("b"), Props: &riak.RpbBucketProps{NVal: proto.Uint32(0)}}), "n_val")
}
