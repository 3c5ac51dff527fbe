package pb

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_dt"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/stretchr/testify/require"
)

func dialTest(t testing.TB, addr string, opts ConnOptions) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), addr, opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func vectorReq(t testing.TB, name string) string {
	for _, v := range vectors {
		if v.name == name {
			return v.req
		}
	}
	t.Fatalf("no vector %q", name)
	return ""
}

func requireRiakError(t testing.TB, err error, msg string) {
	t.Helper()
	var re *Error
	require.True(t, errors.As(err, &re), "want a *Error, got %v", err)
	require.Equal(t, msg, re.Message)
	require.Equal(t, uint32(0), re.Code)
}

// opCases are operations whose request must be byte for byte the one the
// real node received, and whose reply must decode to what the node meant.
var opCases = []struct {
	vector string
	run    func(t *testing.T, ctx context.Context, c Client)
}{
	{"ping", func(t *testing.T, ctx context.Context, c Client) {
		require.NoError(t, c.Ping(ctx))
	}},
	{"server info", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.ServerInfo(ctx)
		require.NoError(t, err)
		require.Equal(t, "riak@127.0.0.1", string(r.GetNode()))
		require.Equal(t, "3.2.1", string(r.GetServerVersion()))
	}},
	{"get not found", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.Get(ctx, &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("missing")})
		require.NoError(t, err)
		require.True(t, IsNotFound(r))
		require.False(t, IsTombstone(r))
		require.Empty(t, r.GetContent())
		require.Nil(t, r.GetVclock())
	}},
	{"get zero-length key", func(t *testing.T, ctx context.Context, c Client) {
		_, err := c.Get(ctx, &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte{}})
		requireRiakError(t, err, "Key cannot be zero-length")
		require.Contains(t, err.Error(), "riak: get tv/: ")
	}},
	{"put 2i", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.Put(ctx, &riak_kv.RpbPutReq{
			Bucket: []byte("tv"),
			Key:    []byte("k1"),
			Content: &riak_kv.RpbContent{
				Value:       []byte("v-k1"),
				ContentType: []byte("text/plain"),
				Indexes:     []*riak.RpbPair{{Key: []byte("idx_bin"), Value: []byte("x-k1")}},
			},
		})
		require.NoError(t, err)
		require.Empty(t, r.GetContent())
		require.Nil(t, r.GetKey())
	}},
	{"put server key", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.Put(ctx, &riak_kv.RpbPutReq{Bucket: []byte("tv2"), Content: &riak_kv.RpbContent{Value: []byte("anon")}})
		require.NoError(t, err)
		require.Equal(t, "UVz0VxUgPoJuPlkqvb7Np7JPPv7", string(r.GetKey()))
	}},
	{"get found", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.Get(ctx, &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("k1")})
		require.NoError(t, err)
		require.False(t, IsNotFound(r))
		require.Len(t, r.GetContent(), 1)
		ct := r.GetContent()[0]
		require.Equal(t, "v-k1", string(ct.GetValue()))
		require.Equal(t, "text/plain", string(ct.GetContentType()))
		require.Equal(t, "4X3Ms23fZbSUFevE8ij0l5", string(ct.GetVtag()))
		require.NotZero(t, ct.GetLastMod())
		require.Equal(t, "idx_bin", string(ct.GetIndexes()[0].GetKey()))
		require.Equal(t, "x-k1", string(ct.GetIndexes()[0].GetValue()))
		require.Len(t, r.GetVclock(), 39)
	}},
	{"get head", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.Get(ctx, &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("k1"), Head: proto.Bool(true)})
		require.NoError(t, err)
		require.Len(t, r.GetContent(), 1)
		require.Empty(t, r.GetContent()[0].GetValue())
		require.Equal(t, "text/plain", string(r.GetContent()[0].GetContentType()))
	}},
	{"index eq", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.Index(ctx, IndexEq("tv", "idx_bin", "x-k2"))
		require.NoError(t, err)
		require.Equal(t, [][]byte{[]byte("k2")}, r.GetKeys())
		require.Nil(t, r.GetContinuation())
	}},
	{"index range terms page", func(t *testing.T, ctx context.Context, c Client) {
		req := IndexRange("tv", "idx_bin", "x-", "x-z")
		req.ReturnTerms = proto.Bool(true)
		req.MaxResults = proto.Uint32(2)
		r, err := c.Index(ctx, req)
		require.NoError(t, err)
		require.Len(t, r.GetResults(), 2)
		require.Equal(t, "x-k1", string(r.GetResults()[0].GetKey()))
		require.Equal(t, "k1", string(r.GetResults()[0].GetValue()))
		require.Equal(t, "x-k2", string(r.GetResults()[1].GetKey()))
		require.Equal(t, "k2", string(r.GetResults()[1].GetValue()))
		require.Equal(t, "g2gCbQAAAAR4LWsybQAAAAJrMg==", string(r.GetContinuation()))
	}},
	{"index stream", func(t *testing.T, ctx context.Context, c Client) {
		req := IndexRange("tv", "idx_bin", "x-", "x-z")
		req.Stream = proto.Bool(true)
		var frames []*riak_kv.RpbIndexResp
		require.NoError(t, c.IndexStream(ctx, req, func(r *riak_kv.RpbIndexResp) error {
			frames = append(frames, r)
			return nil
		}))
		require.Len(t, frames, 3)
		require.Equal(t, [][]byte{[]byte("k2"), []byte("k1")}, frames[0].GetKeys())
		require.Equal(t, [][]byte{[]byte("k3")}, frames[1].GetKeys())
		require.True(t, frames[2].GetDone())
		require.Empty(t, frames[2].GetKeys())
	}},
	{"index stream", func(t *testing.T, ctx context.Context, c Client) {
		req := IndexRange("tv", "idx_bin", "x-", "x-z")
		req.Stream = proto.Bool(true)
		r, err := c.Index(ctx, req)
		require.NoError(t, err)
		require.Equal(t, [][]byte{[]byte("k2"), []byte("k1"), []byte("k3")}, r.GetKeys())
		require.True(t, r.GetDone())
	}},
	{"index $bucket", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.Index(ctx, IndexEq("tv", IndexBucket, "tv"))
		require.NoError(t, err)
		require.Equal(t, [][]byte{[]byte("k3"), []byte("k2"), []byte("k1")}, r.GetKeys())
	}},
	{"list keys", func(t *testing.T, ctx context.Context, c Client) {
		var keys []string
		require.NoError(t, c.ListKeys(ctx, &riak_kv.RpbListKeysReq{Bucket: []byte("tv")}, func(ks [][]byte) error {
			for _, k := range ks {
				keys = append(keys, string(k))
			}
			return nil
		}))
		require.Equal(t, []string{"k3", "k2", "k1"}, keys)
	}},
	{"list buckets stream", func(t *testing.T, ctx context.Context, c Client) {
		var batches [][]string
		require.NoError(t, c.ListBuckets(ctx, &riak_kv.RpbListBucketsReq{Stream: proto.Bool(true)}, func(bs [][]byte) error {
			var b []string
			for _, k := range bs {
				b = append(b, string(k))
			}
			batches = append(batches, b)
			return nil
		}))
		require.Equal(t, [][]string{{"tv"}, {"b"}, {"b2"}, {"tv2"}}, batches)
	}},
	{"delete", func(t *testing.T, ctx context.Context, c Client) {
		require.NoError(t, c.Delete(ctx, &riak_kv.RpbDelReq{Bucket: []byte("tv"), Key: []byte("k3")}))
	}},
	{"get deletedvclock", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.Get(ctx, &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("k3"), Deletedvclock: proto.Bool(true)})
		require.NoError(t, err)
		require.True(t, IsNotFound(r))
		require.True(t, IsTombstone(r))
	}},
	{"set bucket", func(t *testing.T, ctx context.Context, c Client) {
		require.NoError(t, c.SetBucket(ctx, &riak.RpbSetBucketReq{Bucket: []byte("sib"), Props: &riak.RpbBucketProps{AllowMult: proto.Bool(true)}}))
	}},
	{"put sibling return body", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.Put(ctx, &riak_kv.RpbPutReq{Bucket: []byte("sib"), Key: []byte("s"), Content: &riak_kv.RpbContent{Value: []byte("two")}, ReturnBody: proto.Bool(true)})
		require.NoError(t, err)
		require.Len(t, r.GetContent(), 2)
		require.Equal(t, "one", string(r.GetContent()[0].GetValue()))
		require.Equal(t, "two", string(r.GetContent()[1].GetValue()))
		require.NotEmpty(t, r.GetVclock())
	}},
	{"get bucket", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.GetBucket(ctx, &riak.RpbGetBucketReq{Bucket: []byte("sib")})
		require.NoError(t, err)
		p := r.GetProps()
		require.Equal(t, uint32(3), p.GetNVal())
		require.True(t, p.GetAllowMult())
		require.Equal(t, QuorumQuorum, p.GetR())
		require.Equal(t, QuorumQuorum, p.GetW())
		require.Equal(t, uint32(0), p.GetPr())
		require.True(t, p.GetNotfoundOk())
		require.Equal(t, riak.RpbBucketProps_TRUE, p.GetRepl())
		require.Equal(t, "chash_std_keyfun", string(p.GetChashKeyfun().GetFunction()))
	}},
	{"dt fetch not found", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.DtFetch(ctx, &riak_dt.DtFetchReq{Bucket: []byte("m"), Key: []byte("nf"), Type: []byte("maps")})
		require.NoError(t, err)
		require.True(t, DtNotFound(r))
		require.Equal(t, riak_dt.DtFetchResp_MAP, r.GetType())
	}},
	{"dt update map", func(t *testing.T, ctx context.Context, c Client) {
		field := func(n string, ty riak_dt.MapField_MapFieldType) *riak_dt.MapField {
			return &riak_dt.MapField{Name: []byte(n), Type: ty.Enum()}
		}
		r, err := c.DtUpdate(ctx, &riak_dt.DtUpdateReq{
			Bucket: []byte("m"), Key: []byte("tv1"), Type: []byte("maps"),
			Op: &riak_dt.DtOp{MapOp: &riak_dt.MapOp{Updates: []*riak_dt.MapUpdate{
				{Field: field("cnt", riak_dt.MapField_COUNTER), CounterOp: &riak_dt.CounterOp{Increment: proto.Int64(3)}},
				{Field: field("reg", riak_dt.MapField_REGISTER), RegisterOp: []byte("hello")},
				{Field: field("flg", riak_dt.MapField_FLAG), FlagOp: riak_dt.MapUpdate_ENABLE.Enum()},
				{Field: field("st", riak_dt.MapField_SET), SetOp: &riak_dt.SetOp{Adds: [][]byte{[]byte("a"), []byte("b")}}},
				{Field: field("sub", riak_dt.MapField_MAP), MapOp: &riak_dt.MapOp{Updates: []*riak_dt.MapUpdate{
					{Field: field("inner_reg", riak_dt.MapField_REGISTER), RegisterOp: []byte("iv")},
				}}},
			}}},
			ReturnBody: proto.Bool(true),
		})
		require.NoError(t, err)
		require.Len(t, r.GetContext(), 28)
		requireMap(t, r.GetMapValue())
	}},
	{"dt fetch map", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.DtFetch(ctx, &riak_dt.DtFetchReq{Bucket: []byte("m"), Key: []byte("tv1"), Type: []byte("maps")})
		require.NoError(t, err)
		require.False(t, DtNotFound(r))
		require.Equal(t, riak_dt.DtFetchResp_MAP, r.GetType())
		requireMap(t, r.GetValue().GetMapValue())
	}},
	{"dt update counter", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.DtUpdate(ctx, &riak_dt.DtUpdateReq{Bucket: []byte("c"), Type: []byte("counters"),
			Op: &riak_dt.DtOp{CounterOp: &riak_dt.CounterOp{Increment: proto.Int64(5)}}})
		require.NoError(t, err)
		require.Equal(t, "M9XK8714EbmjpmbJaWj3QWmKgh3", string(r.GetKey()))
	}},
	{"dt fetch hll", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.DtFetch(ctx, &riak_dt.DtFetchReq{Bucket: []byte("h"), Key: []byte("tv1"), Type: []byte("hlls")})
		require.NoError(t, err)
		// riak-go-client v1.7.0's riak_dt predates HLL and GSet: the type
		// (4) has no name and hll_value is an unknown field, kept only as
		// raw bytes.
		require.Equal(t, riak_dt.DtFetchResp_DataType(4), r.GetType())
		require.False(t, DtNotFound(r))
		require.Equal(t, []byte{0x20, 0x02}, r.GetValue().XXX_unrecognized)
	}},
	{"dt set remove precondition", func(t *testing.T, ctx context.Context, c Client) {
		_, err := c.DtUpdate(ctx, &riak_dt.DtUpdateReq{Bucket: []byte("s"), Key: []byte("tv1"), Type: []byte("sets"),
			Op: &riak_dt.DtOp{SetOp: &riak_dt.SetOp{Removes: [][]byte{[]byte("zzz")}}}})
		requireRiakError(t, err, `{precondition,{not_present,<<"zzz">>}}`)
		require.Contains(t, err.Error(), "riak: update sets/s/tv1: ")
	}},
	{"dt fetch legacy counter", func(t *testing.T, ctx context.Context, c Client) {
		r, err := c.DtFetch(ctx, &riak_dt.DtFetchReq{Bucket: []byte("tv"), Key: []byte("k1"), Type: []byte("default")})
		require.NoError(t, err)
		require.Equal(t, riak_dt.DtFetchResp_COUNTER, r.GetType())
		require.False(t, DtNotFound(r))
		require.Equal(t, int64(0), r.GetValue().GetCounterValue())
	}},
}

func requireMap(t *testing.T, entries []*riak_dt.MapEntry) {
	t.Helper()
	got := map[string]*riak_dt.MapEntry{}
	for _, e := range entries {
		got[string(e.GetField().GetName())] = e
	}
	require.Len(t, got, 5)
	require.Equal(t, int64(3), got["cnt"].GetCounterValue())
	require.Equal(t, "hello", string(got["reg"].GetRegisterValue()))
	require.True(t, got["flg"].GetFlagValue())
	require.Equal(t, [][]byte{[]byte("a"), []byte("b")}, got["st"].GetSetValue())
	sub := got["sub"].GetMapValue()
	require.Len(t, sub, 1)
	require.Equal(t, "inner_reg", string(sub[0].GetField().GetName()))
	require.Equal(t, "iv", string(sub[0].GetRegisterValue()))
}

// TestOpsVectors runs every case on one Conn, then on a Cluster, against a
// server replaying the captured frames.
func TestOpsVectors(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	conn := dialTest(t, s.addr, ConnOptions{})
	cl, err := NewCluster([]string{s.addr}, ClusterOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })

	for _, client := range []struct {
		name string
		c    Client
	}{{"conn", conn}, {"cluster", cl}} {
		for _, tc := range opCases {
			t.Run(client.name+"/"+tc.vector, func(t *testing.T) {
				before := len(s.requests())
				tc.run(t, testCtx(t), client.c)
				reqs := s.requests()[before:]
				require.Equal(t, []string{vectorReq(t, tc.vector)}, reqs, "request bytes")
			})
		}
	}
	require.False(t, conn.Broken(), "Riak errors leave the connection usable")
	require.Equal(t, 2, s.acceptCount(), "one connection for the Conn, one reused by the Cluster")
}

func TestUnknownCode(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	c := dialTest(t, s.addr, ConnOptions{})
	err := c.Do(testCtx(t), 99, nil, 100, nil)
	requireRiakError(t, err, "Unknown message code: 99")
	require.Equal(t, "riak: Unknown message code: 99", err.Error())
	require.NoError(t, c.Ping(testCtx(t)), "still usable")
	require.Equal(t, []string{"0000000163", "0000000101"}, s.requests())
}

func TestListBucketsNotStreamed(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", func(req []byte) reply {
		if req[4] != CodeListBucketsReq {
			return replayVectors(req)
		}
		// Without stream, one frame without done.
		b, _ := proto.Marshal(&riak_kv.RpbListBucketsResp{Buckets: [][]byte{[]byte("a"), []byte("b")}})
		return reply{frames: AppendFrame(nil, CodeListBucketsResp, b)}
	})
	c := dialTest(t, s.addr, ConnOptions{})
	var got [][]byte
	require.NoError(t, c.ListBuckets(testCtx(t), nil, func(b [][]byte) error { got = append(got, b...); return nil }))
	require.Equal(t, [][]byte{[]byte("a"), []byte("b")}, got)
	require.Equal(t, []string{"000000010f"}, s.requests(), "a nil request is a bare code")
	require.NoError(t, c.Ping(testCtx(t)))
}

func TestEmptyBodies(t *testing.T) {
	// Riak sends a message with every field unset as a bare code, even
	// when the message has required fields.
	s := newFakeServer(t, "127.0.0.1:0", func(req []byte) reply {
		switch req[4] {
		case CodeGetBucketReq:
			return reply{frames: AppendFrame(nil, CodeGetBucketResp, nil)}
		case CodeDtFetchReq:
			return reply{frames: AppendFrame(nil, CodeDtFetchResp, nil)}
		}
		return reply{frames: AppendFrame(nil, CodeErrorResp, nil)}
	})
	c := dialTest(t, s.addr, ConnOptions{})
	r, err := c.GetBucket(testCtx(t), &riak.RpbGetBucketReq{Bucket: []byte("b")})
	require.NoError(t, err)
	require.Nil(t, r.GetProps())
	f, err := c.DtFetch(testCtx(t), &riak_dt.DtFetchReq{Bucket: []byte("b"), Key: []byte("k"), Type: []byte("t")})
	require.NoError(t, err)
	require.True(t, DtNotFound(f))
	err = c.Ping(testCtx(t))
	requireRiakError(t, err, "")
	require.False(t, c.Broken())
}

func TestEncodeErrorLeavesConnUsable(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	c := dialTest(t, s.addr, ConnOptions{})
	_, err := c.Get(testCtx(t), &riak_kv.RpbGetReq{Bucket: []byte("tv")}) // key is required
	require.ErrorContains(t, err, "riak: get tv: riak: encode")
	require.False(t, c.Broken())
	require.Empty(t, s.requests(), "nothing sent")
	require.NoError(t, c.Ping(testCtx(t)))
}

func TestNameFormatting(t *testing.T) {
	require.Equal(t, "b/k", name(nil, []byte("b"), []byte("k")))
	require.Equal(t, "b/k", name([]byte("default"), []byte("b"), []byte("k")))
	require.Equal(t, "t/b/k", name([]byte("t"), []byte("b"), []byte("k")))
	require.Equal(t, "b", name(nil, []byte("b"), nil))
	require.Equal(t, `b/"\xff"`, name(nil, []byte("b"), []byte{0xff}))
	require.Equal(t, `b/"a/b"`, name(nil, []byte("b"), []byte("a/b")))
}
