package riaktest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
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

// The 2i index follows every change of the objects: overwrites that move
// a key to other terms, siblings (whose terms are all listed), deletes,
// writes to fallbacks while a node is down, and the handoff after. After
// each round, every query's answer is what GETs of every key say it must
// be: the terms of the live siblings, each (term, key) once.
func TestIndexFollowsWrites(t *testing.T) {
	c := Start(t, Options{Nodes: 3, DeleteMode: -1})
	cl := dialNode(t, c, 0)
	cl.call(pb.CodeSetBucketReq, &riak.RpbSetBucketReq{Bucket: []byte("b"), Props: &riak.RpbBucketProps{AllowMult: proto.Bool(true)}}, pb.CodeSetBucketResp, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	const keys = 40
	for round := range 12 {
		switch round {
		case 4:
			c.NodeDown(2)
		case 8:
			c.NodeUp(2)
			c.Converge()
		}
		for range 30 {
			key := []byte(fmt.Sprintf("k%02d", rng.IntN(keys)))
			if rng.IntN(6) == 0 {
				cl.call(pb.CodeDelReq, &riak_kv.RpbDelReq{Bucket: []byte("b"), Key: key}, pb.CodeDelResp, nil)
				continue
			}
			put := &riak_kv.RpbPutReq{Bucket: []byte("b"), Key: key, Content: &riak_kv.RpbContent{Value: []byte("v"),
				Indexes: []*riak.RpbPair{{Key: []byte("n_int"), Value: []byte(fmt.Sprint(rng.IntN(20)))}}}}
			if rng.IntN(2) == 0 { // read first, else a sibling of what is there
				put.Vclock = cl.get(&riak_kv.RpbGetReq{Bucket: []byte("b"), Key: key}).Vclock
			}
			cl.put(put)
		}
		checkIndex(t, c)
		// What the index must say, from the objects.
		var want []string
		for k := range keys {
			key := fmt.Sprintf("k%02d", k)
			terms := map[string]bool{}
			for _, sib := range cl.get(&riak_kv.RpbGetReq{Bucket: []byte("b"), Key: []byte(key)}).Content {
				for _, p := range sib.Indexes {
					if !sib.GetDeleted() {
						terms[string(p.Value)] = true
					}
				}
			}
			for term := range terms {
				want = append(want, fmt.Sprintf("%02s=%s", term, key))
			}
		}
		slices.Sort(want)
		// What it says, a page of 7 at a time over the whole range.
		var got []string
		var cont []byte
		for {
			resp := cl.index(&riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("n_int"), Qtype: riak_kv.RpbIndexReq_range.Enum(),
				RangeMin: []byte("0"), RangeMax: []byte("19"), ReturnTerms: proto.Bool(true), MaxResults: proto.Uint32(7), Continuation: cont})
			for _, p := range resp.Results {
				got = append(got, fmt.Sprintf("%02s=%s", p.Key, p.Value))
			}
			if cont = resp.Continuation; cont == nil {
				break
			}
		}
		require.Equal(t, want, got, "round %d: the paged range", round)
		// Keys only, paged: each key once (siblings give a key several
		// terms).
		wantKeys := map[string]bool{}
		for _, e := range want {
			wantKeys[e[strings.IndexByte(e, '=')+1:]] = true
		}
		gotKeys := map[string]bool{}
		cont = nil
		for {
			resp := cl.index(&riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("n_int"), Qtype: riak_kv.RpbIndexReq_range.Enum(),
				RangeMin: []byte("0"), RangeMax: []byte("19"), MaxResults: proto.Uint32(5), Continuation: cont})
			for _, k := range strs(resp.Keys) {
				require.False(t, gotKeys[k], "round %d: key %s answered twice", round, k)
				gotKeys[k] = true
			}
			if cont = resp.Continuation; cont == nil {
				break
			}
		}
		require.Equal(t, wantKeys, gotKeys, "round %d: the keys, paged", round)
		// And by term, keys only.
		for term := range 20 {
			resp := cl.index(&riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("n_int"), Qtype: riak_kv.RpbIndexReq_eq.Enum(), Key: []byte(fmt.Sprint(term))})
			var byTerm, wantTerm []string
			for _, k := range resp.Keys {
				byTerm = append(byTerm, fmt.Sprintf("%02d=%s", term, k))
			}
			for _, s := range want {
				if strings.HasPrefix(s, fmt.Sprintf("%02d=", term)) {
					wantTerm = append(wantTerm, s)
				}
			}
			slices.Sort(byTerm)
			require.Equal(t, wantTerm, byTerm, "round %d: term %d", round, term)
		}
	}
}

// checkIndex asserts that every vnode's index holds exactly the keys and
// 2i entries of its objects.
func checkIndex(t *testing.T, c *Cluster) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, vn := range c.vnodes {
		want := map[bucketID]map[string]int{}
		wantTerms := map[bucketID][]termItem{}
		for k, e := range vn.objects {
			b := k.bucketID()
			if want[b] == nil {
				want[b] = map[string]int{}
			}
			want[b][k.key] = c.ring.firstPartition(k.typ, k.bucket, k.key)
			(&bucketKeys{}).each(k.key, e.obj, func(it termItem) { wantTerms[b] = append(wantTerms[b], it) })
		}
		require.Len(t, vn.buckets, len(want), "vnode %v: buckets", id)
		for b, bk := range vn.buckets {
			require.Equal(t, want[b], bk.first, "vnode %v bucket %v: keys", id, b)
			var got []termItem
			bk.terms.Ascend(func(it termItem) bool { got = append(got, it); return true })
			ws := wantTerms[b]
			slices.SortFunc(ws, func(x, y termItem) int {
				if termLess(x, y) {
					return -1
				}
				if termLess(y, x) {
					return 1
				}
				return 0
			})
			require.Equal(t, slices.CompactFunc(ws, func(x, y termItem) bool { return x == y }), got, "vnode %v bucket %v: 2i entries", id, b)
		}
	}
}

// Paged without return_terms, a key is answered once, at its first term
// in the range, even when it has another after the continuation; a
// continuation without max_results is ignored, as Riak ignores it.
func TestIndexPagesWithoutTerms(t *testing.T) {
	c := Start(t, Options{Nodes: 1, RingSize: 1})
	cl := dialNode(t, c, 0)
	cl.call(pb.CodeSetBucketReq, &riak.RpbSetBucketReq{Bucket: []byte("b"), Props: &riak.RpbBucketProps{NVal: proto.Uint32(1)}}, pb.CodeSetBucketResp, nil)
	for key, terms := range map[string][]string{"k": {"3", "7"}, "j": {"4"}} {
		var idx []*riak.RpbPair
		for _, term := range terms {
			idx = append(idx, &riak.RpbPair{Key: []byte("n_int"), Value: []byte(term)})
		}
		cl.put(&riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte(key), Content: &riak_kv.RpbContent{Value: []byte("v"), Indexes: idx}})
	}
	q := func(max uint32, cont []byte) *riak_kv.RpbIndexResp {
		req := &riak_kv.RpbIndexReq{Bucket: []byte("b"), Index: []byte("n_int"), Qtype: riak_kv.RpbIndexReq_range.Enum(),
			RangeMin: []byte("0"), RangeMax: []byte("10"), Continuation: cont}
		if max > 0 {
			req.MaxResults = proto.Uint32(max)
		}
		return cl.index(req)
	}
	first := q(2, nil)
	require.Equal(t, []string{"k", "j"}, strs(first.Keys))
	require.NotNil(t, first.Continuation)
	require.Empty(t, q(2, first.Continuation).Keys, "k, at 7 too, was answered at 3")
	all := strs(q(0, first.Continuation).Keys)
	slices.Sort(all)
	require.Equal(t, []string{"j", "k"}, all, "without max_results the continuation is ignored")
}
