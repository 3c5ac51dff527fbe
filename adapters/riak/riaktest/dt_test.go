package riaktest

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_dt"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/strata-go/strata/adapters/riak/pb"
	"github.com/stretchr/testify/require"
)

// dtTypes creates the data type bucket types of the captured exchanges.
func dtTypes(t *testing.T, c *Cluster) {
	for name, dt := range map[string]string{"maps": "map", "counters": "counter", "sets": "set", "hlls": "hll", "gsets": "gset"} {
		require.NoError(t, c.SetBucketType(name, &riak.RpbBucketProps{Datatype: []byte(dt)}))
	}
	require.NoError(t, c.SetBucketType("plain", nil))
}

// normalizeDT decodes a data type reply and clears its context and
// generated key, reporting whether each was present.
func normalizeDT(t *testing.T, code byte, body []byte) (m proto.Message, ctx, key bool) {
	switch code {
	case pb.CodeDtFetchResp:
		r := &riak_dt.DtFetchResp{}
		require.NoError(t, proto.Unmarshal(body, r))
		ctx, r.Context = r.Context != nil, nil
		return r, ctx, false
	case pb.CodeDtUpdateResp:
		r := &riak_dt.DtUpdateResp{}
		require.NoError(t, proto.Unmarshal(body, r))
		if r.Key != nil {
			require.Len(t, r.Key, 27)
		}
		ctx, key, r.Context, r.Key = r.Context != nil, r.Key != nil, nil, nil
		return r, ctx, key
	}
	return nil, false, false
}

// TestDTWireVectors replays the captured data type exchanges. HLL and
// GSet are not emulated and get an error reply.
func TestDTWireVectors(t *testing.T) {
	for _, nodes := range []int{1, 3} {
		c := Start(t, Options{Nodes: nodes})
		dtTypes(t, c)
		cl := dialNode(t, c, nodes-1)
		cl.put(&riak_kv.RpbPutReq{Bucket: []byte("tv"), Key: []byte("k1"), Content: content("v-k1")})
		replayed := 0
		for _, ex := range readVectors(t) {
			code, _ := unframe(t, ex.request)
			if code != pb.CodeDtFetchReq && code != pb.CodeDtUpdateReq {
				continue
			}
			replayed++
			cl.sendRaw(ex.request)
			require.Len(t, ex.replies, 1)
			gotCode, gotBody := cl.recv()
			wantCode, wantBody := unframe(t, ex.replies[0])
			if strings.Contains(ex.title, "hll") || strings.Contains(ex.title, "gset") {
				require.Equal(t, pb.CodeErrorResp, gotCode, ex.title)
				continue
			}
			require.Equal(t, wantCode, gotCode, "%s: %q", ex.title, gotBody)
			if wantCode == pb.CodeErrorResp {
				require.Equal(t, hex.EncodeToString(wantBody), hex.EncodeToString(gotBody), ex.title)
				continue
			}
			wantMsg, wantCtx, wantKey := normalizeDT(t, wantCode, wantBody)
			gotMsg, gotCtx, gotKey := normalizeDT(t, gotCode, gotBody)
			require.Equal(t, wantCtx, gotCtx, ex.title)
			require.Equal(t, wantKey, gotKey, ex.title)
			require.True(t, proto.Equal(wantMsg, gotMsg), "%s:\nwant %v\ngot  %v", ex.title, wantMsg, gotMsg)
			if !wantCtx && !wantKey {
				require.Equal(t, hex.EncodeToString(wantBody), hex.EncodeToString(gotBody), ex.title)
			}
		}
		require.Equal(t, 11, replayed)
	}
}

func (c *client) dtFetch(typ, bucket, key string) *riak_dt.DtFetchResp {
	c.t.Helper()
	var resp riak_dt.DtFetchResp
	c.call(pb.CodeDtFetchReq, &riak_dt.DtFetchReq{Type: []byte(typ), Bucket: []byte(bucket), Key: []byte(key)}, pb.CodeDtFetchResp, &resp)
	return &resp
}

func (c *client) dtUpdate(typ, bucket, key string, ctx []byte, op *riak_dt.DtOp) *riak_dt.DtUpdateResp {
	c.t.Helper()
	var resp riak_dt.DtUpdateResp
	c.call(pb.CodeDtUpdateReq, &riak_dt.DtUpdateReq{Type: []byte(typ), Bucket: []byte(bucket), Key: []byte(key),
		Context: ctx, Op: op, ReturnBody: proto.Bool(true)}, pb.CodeDtUpdateResp, &resp)
	return &resp
}

func counterOp(n int64) *riak_dt.DtOp {
	return &riak_dt.DtOp{CounterOp: &riak_dt.CounterOp{Increment: proto.Int64(n)}}
}

func setOp(adds, removes []string) *riak_dt.DtOp {
	return &riak_dt.DtOp{SetOp: rawSetOp(adds, removes)}
}

func rawSetOp(adds, removes []string) *riak_dt.SetOp {
	op := &riak_dt.SetOp{}
	for _, a := range adds {
		op.Adds = append(op.Adds, []byte(a))
	}
	for _, r := range removes {
		op.Removes = append(op.Removes, []byte(r))
	}
	return op
}

func field(name string, typ riak_dt.MapField_MapFieldType) *riak_dt.MapField {
	return &riak_dt.MapField{Name: []byte(name), Type: typ.Enum()}
}

func dtStrs(bs [][]byte) []string {
	out := []string{}
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}

// mapValue flattens map entries to name -> value for checks.
func mapValue(es []*riak_dt.MapEntry) map[string]any {
	out := map[string]any{}
	for _, e := range es {
		name := string(e.Field.Name)
		switch e.Field.GetType() {
		case riak_dt.MapField_COUNTER:
			out[name] = e.GetCounterValue()
		case riak_dt.MapField_SET:
			out[name] = dtStrs(e.SetValue)
		case riak_dt.MapField_REGISTER:
			out[name] = string(e.RegisterValue)
		case riak_dt.MapField_FLAG:
			out[name] = e.GetFlagValue()
		case riak_dt.MapField_MAP:
			out[name] = mapValue(e.MapValue)
		}
	}
	return out
}

func TestDTErrors(t *testing.T) {
	c := Start(t, Options{})
	dtTypes(t, c)
	cl := dialNode(t, c, 0)
	up := func(typ string, op *riak_dt.DtOp) string {
		return cl.callErr(pb.CodeDtUpdateReq, &riak_dt.DtUpdateReq{Type: []byte(typ), Bucket: []byte("b"), Key: []byte("k"), Op: op})
	}
	require.Equal(t, "Operation type is `counter` but  bucket type is `map`.", up("maps", counterOp(1)))
	require.Equal(t, "Operation type is `set` but  bucket type is `counter`.", up("counters", setOp([]string{"a"}, nil)))
	require.Equal(t, "Error no bucket type `<<\"x\">>`", up("x", counterOp(1)))
	require.Equal(t, "Bucket datatype `undefined` is not a supported type", up("plain", counterOp(1)))
	require.Equal(t, "{precondition,{not_present,<<\"zzz\">>}}", up("sets", setOp(nil, []string{"zzz"})))
	require.Equal(t, "{precondition,{not_present,{<<\"f\">>,riak_dt_emcntr}}}",
		up("maps", &riak_dt.DtOp{MapOp: &riak_dt.MapOp{Removes: []*riak_dt.MapField{field("f", riak_dt.MapField_COUNTER)}}}))
	require.Equal(t, "Error no bucket type `<<\"x\">>`",
		cl.callErr(pb.CodeDtFetchReq, &riak_dt.DtFetchReq{Type: []byte("x"), Bucket: []byte("b"), Key: []byte("k")}))
	require.Equal(t, "`undefined` is not a supported type",
		cl.callErr(pb.CodeDtFetchReq, &riak_dt.DtFetchReq{Type: []byte("plain"), Bucket: []byte("b"), Key: []byte("k")}))
	// A failed update stores nothing.
	require.Nil(t, cl.dtFetch("sets", "b", "k").Value)
	// Not found: the type and no value.
	cl.send(pb.CodeDtFetchReq, &riak_dt.DtFetchReq{Type: []byte("counters"), Bucket: []byte("b"), Key: []byte("k")})
	code, body := cl.recv()
	require.Equal(t, pb.CodeDtFetchResp, code)
	require.Equal(t, []byte{0x10, 0x01}, body)
}

func TestDTCounterSetMap(t *testing.T) {
	c := Start(t, Options{})
	dtTypes(t, c)
	a, b := dialNode(t, c, 0), dialNode(t, c, 1)

	// Counters: absent increment is +1, negative decrements.
	require.Equal(t, int64(5), a.dtUpdate("counters", "c", "k", nil, counterOp(5)).GetCounterValue())
	require.Equal(t, int64(3), b.dtUpdate("counters", "c", "k", nil, counterOp(-2)).GetCounterValue())
	r := a.dtUpdate("counters", "c", "k", nil, &riak_dt.DtOp{CounterOp: &riak_dt.CounterOp{}})
	require.Equal(t, int64(4), r.GetCounterValue())
	require.Nil(t, r.Context)
	f := b.dtFetch("counters", "c", "k")
	require.Equal(t, int64(4), f.Value.GetCounterValue())
	require.Nil(t, f.Context)

	// Sets: remove without context of a present element; remove with a
	// context removes only what the context saw.
	r = a.dtUpdate("sets", "s", "k", nil, setOp([]string{"a", "b", "c"}, nil))
	require.Equal(t, []string{"a", "b", "c"}, dtStrs(r.SetValue))
	require.Equal(t, []string{"a", "c"}, dtStrs(b.dtUpdate("sets", "s", "k", nil, setOp(nil, []string{"b"})).SetValue))
	ctx := a.dtFetch("sets", "s", "k").Context
	require.NotEmpty(t, ctx)
	b.dtUpdate("sets", "s", "k", nil, setOp([]string{"a"}, nil)) // re-add a, unseen by ctx
	r = a.dtUpdate("sets", "s", "k", ctx, setOp(nil, []string{"a", "c", "zzz"}))
	require.Equal(t, []string{"a"}, dtStrs(r.SetValue))
	require.Equal(t, []string{"a"}, dtStrs(b.dtFetch("sets", "s", "k").Value.SetValue))

	// Maps.
	op := &riak_dt.DtOp{MapOp: &riak_dt.MapOp{Updates: []*riak_dt.MapUpdate{
		{Field: field("cnt", riak_dt.MapField_COUNTER), CounterOp: &riak_dt.CounterOp{Increment: proto.Int64(2)}},
		{Field: field("reg", riak_dt.MapField_REGISTER), RegisterOp: []byte("v1")},
		{Field: field("flg", riak_dt.MapField_FLAG), FlagOp: riak_dt.MapUpdate_ENABLE.Enum()},
		{Field: field("st", riak_dt.MapField_SET), SetOp: rawSetOp([]string{"x", "y"}, nil)},
		{Field: field("sub", riak_dt.MapField_MAP), MapOp: &riak_dt.MapOp{Updates: []*riak_dt.MapUpdate{
			{Field: field("in", riak_dt.MapField_COUNTER)},
		}}},
	}}}
	op.MapOp.Updates[4].MapOp.Updates[0].CounterOp = &riak_dt.CounterOp{} // +1
	r = a.dtUpdate("maps", "m", "k", nil, op)
	want := map[string]any{"cnt": int64(2), "reg": "v1", "flg": true, "st": []string{"x", "y"}, "sub": map[string]any{"in": int64(1)}}
	require.Equal(t, want, mapValue(r.MapValue))
	f = b.dtFetch("maps", "m", "k")
	require.Equal(t, want, mapValue(f.Value.MapValue))

	// Remove a field and a nested set element with the context, update
	// others.
	r = b.dtUpdate("maps", "m", "k", f.Context, &riak_dt.DtOp{MapOp: &riak_dt.MapOp{
		Removes: []*riak_dt.MapField{field("sub", riak_dt.MapField_MAP)},
		Updates: []*riak_dt.MapUpdate{
			{Field: field("flg", riak_dt.MapField_FLAG), FlagOp: riak_dt.MapUpdate_DISABLE.Enum()},
			{Field: field("st", riak_dt.MapField_SET), SetOp: rawSetOp(nil, []string{"x"})},
			{Field: field("reg", riak_dt.MapField_REGISTER), RegisterOp: []byte("v2")},
		},
	}})
	want = map[string]any{"cnt": int64(2), "reg": "v2", "flg": false, "st": []string{"y"}}
	require.Equal(t, want, mapValue(r.MapValue))
	require.Equal(t, want, mapValue(a.dtFetch("maps", "m", "k").Value.MapValue))

	// Generated keys.
	var resp riak_dt.DtUpdateResp
	a.call(pb.CodeDtUpdateReq, &riak_dt.DtUpdateReq{Type: []byte("sets"), Bucket: []byte("s"), Op: setOp([]string{"q"}, nil)}, pb.CodeDtUpdateResp, &resp)
	require.Len(t, resp.Key, 27)
	require.Nil(t, resp.SetValue)
	require.Equal(t, []string{"q"}, dtStrs(b.dtFetch("sets", "s", string(resp.Key)).Value.SetValue))
}

// dtReplicaValues returns the stored CRDT of every primary replica.
func dtReplicaValues(t *testing.T, c *Cluster, typ, key string) [][]byte {
	var out [][]byte
	for _, r := range c.Replicas(typ, "b", key) {
		if !r.Primary {
			continue
		}
		require.Len(t, r.Siblings, 1)
		_, ok := decodeDT(r.Siblings[0].Value)
		require.True(t, ok)
		out = append(out, r.Siblings[0].Value)
	}
	return out
}

// TestDTPartition updates the same data types on both sides of a
// partition and checks that after Heal a fetch returns the merge, and
// that after Converge every replica holds the same CRDT.
func TestDTPartition(t *testing.T) {
	for _, repair := range []string{"fetch", "converge"} {
		t.Run(repair, func(t *testing.T) {
			c := Start(t, Options{})
			dtTypes(t, c)
			a, b := dialNode(t, c, 0), dialNode(t, c, 2)
			a.dtUpdate("counters", "b", "k", nil, counterOp(10))
			a.dtUpdate("sets", "b", "k", nil, setOp([]string{"old", "gone"}, nil))
			a.dtUpdate("maps", "b", "k", nil, &riak_dt.DtOp{MapOp: &riak_dt.MapOp{Updates: []*riak_dt.MapUpdate{
				{Field: field("cnt", riak_dt.MapField_COUNTER), CounterOp: &riak_dt.CounterOp{Increment: proto.Int64(1)}},
				{Field: field("tags", riak_dt.MapField_SET), SetOp: rawSetOp([]string{"t1"}, nil)},
				{Field: field("reg", riak_dt.MapField_REGISTER), RegisterOp: []byte("before")},
			}}})
			setCtx := a.dtFetch("sets", "b", "k").Context
			mapCtx := a.dtFetch("maps", "b", "k").Context

			c.Partition([]int{0}, []int{1, 2})
			// Left: increments, removes "old" (seen) and the tags field.
			a.dtUpdate("counters", "b", "k", nil, counterOp(1))
			a.dtUpdate("counters", "b", "k", nil, counterOp(2))
			a.dtUpdate("sets", "b", "k", setCtx, setOp([]string{"left"}, []string{"old", "gone"}))
			a.dtUpdate("maps", "b", "k", mapCtx, &riak_dt.DtOp{MapOp: &riak_dt.MapOp{
				Removes: []*riak_dt.MapField{field("tags", riak_dt.MapField_SET)},
				Updates: []*riak_dt.MapUpdate{{Field: field("reg", riak_dt.MapField_REGISTER), RegisterOp: []byte("left")}},
			}})
			// Right: concurrently re-adds "old", adds to tags, writes reg
			// last.
			b.dtUpdate("counters", "b", "k", nil, counterOp(-4))
			b.dtUpdate("sets", "b", "k", nil, setOp([]string{"old", "right"}, nil))
			r := b.dtUpdate("maps", "b", "k", nil, &riak_dt.DtOp{MapOp: &riak_dt.MapOp{Updates: []*riak_dt.MapUpdate{
				{Field: field("tags", riak_dt.MapField_SET), SetOp: rawSetOp([]string{"t2"}, nil)},
				{Field: field("cnt", riak_dt.MapField_COUNTER), CounterOp: &riak_dt.CounterOp{Increment: proto.Int64(5)}},
				{Field: field("reg", riak_dt.MapField_REGISTER), RegisterOp: []byte("right")},
			}}})
			require.Equal(t, map[string]any{"cnt": int64(6), "tags": []string{"t1", "t2"}, "reg": "right"}, mapValue(r.MapValue))
			require.Equal(t, int64(13), a.dtFetch("counters", "b", "k").Value.GetCounterValue())
			require.Equal(t, int64(6), b.dtFetch("counters", "b", "k").Value.GetCounterValue())
			c.Heal()
			if repair == "converge" {
				c.Converge()
			}

			cl := dialNode(t, c, 1)
			require.Equal(t, int64(9), cl.dtFetch("counters", "b", "k").Value.GetCounterValue())
			require.Equal(t, []string{"left", "old", "right"}, dtStrs(cl.dtFetch("sets", "b", "k").Value.SetValue))
			// The removed tags field stays with the concurrent add only;
			// the right register was written last.
			require.Equal(t, map[string]any{"cnt": int64(6), "tags": []string{"t2"}, "reg": "right"},
				mapValue(cl.dtFetch("maps", "b", "k").Value.MapValue))

			c.Converge()
			for _, typ := range []string{"counters", "sets", "maps"} {
				vals := dtReplicaValues(t, c, typ, "k")
				require.Len(t, vals, 3)
				require.Equal(t, vals[0], vals[1], typ)
				require.Equal(t, vals[0], vals[2], typ)
				require.Len(t, c.Replicas(typ, "b", "k"), 3) // fallbacks handed off
			}
			// A KV get shows one sibling.
			g := a.get(&riak_kv.RpbGetReq{Type: []byte("maps"), Bucket: []byte("b"), Key: []byte("k")})
			require.Len(t, g.Content, 1)
			require.Equal(t, "application/riak_map", string(g.Content[0].ContentType))
		})
	}
}
