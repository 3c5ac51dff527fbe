package riaktest

import (
	"bufio"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/strata-go/strata/adapters/riak/pb"
	"github.com/stretchr/testify/require"
)

// An exchange is one request and its reply frames captured from a real
// Riak 3.2.1 node (testdata/riak_wire_vectors.txt).
type exchange struct {
	title   string
	request []byte
	replies [][]byte
}

func readVectors(t testing.TB) []exchange {
	f, err := os.Open("testdata/riak_wire_vectors.txt")
	require.NoError(t, err)
	defer f.Close()
	var out []exchange
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "### "):
			out = append(out, exchange{title: strings.TrimPrefix(line, "### ")})
		case len(fields) >= 2 && fields[0] == "C->S":
			b, err := hex.DecodeString(fields[1])
			require.NoError(t, err)
			out[len(out)-1].request = b
		case len(fields) >= 2 && fields[0] == "S->C":
			b, err := hex.DecodeString(fields[1])
			require.NoError(t, err)
			out[len(out)-1].replies = append(out[len(out)-1].replies, b)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// unframe splits a captured frame into its code and body.
func unframe(t *testing.T, b []byte) (byte, []byte) {
	require.GreaterOrEqual(t, len(b), 5)
	return b[4], b[5:]
}

// normalize clears the fields of a reply that differ from run to run
// (vtags, modification times, vclocks, generated keys) and reports whether
// there was any.
func normalize(t *testing.T, code byte, body []byte) (proto.Message, bool) {
	var m proto.Message
	switch code {
	case pb.CodeGetResp:
		m = &riak_kv.RpbGetResp{}
	case pb.CodePutResp:
		m = &riak_kv.RpbPutResp{}
	default:
		return nil, false
	}
	require.NoError(t, proto.Unmarshal(body, m))
	changed := false
	clearContent := func(cs []*riak_kv.RpbContent) {
		for _, c := range cs {
			if c.Vtag != nil || c.LastMod != nil || c.LastModUsecs != nil {
				require.Len(t, c.Vtag, 22)
				changed = true
			}
			c.Vtag, c.LastMod, c.LastModUsecs = nil, nil, nil
		}
	}
	switch m := m.(type) {
	case *riak_kv.RpbGetResp:
		clearContent(m.Content)
		if m.Vclock != nil {
			changed, m.Vclock = true, nil
		}
	case *riak_kv.RpbPutResp:
		clearContent(m.Content)
		if m.Vclock != nil {
			changed, m.Vclock = true, nil
		}
		if m.Key != nil {
			require.Len(t, m.Key, 27)
			changed, m.Key = true, nil
		}
	}
	return m, changed
}

// TestWireVectors replays the captured exchanges against a one-node
// cluster (so that its node name is riak@127.0.0.1) and a three-node one:
// each reply must be the captured bytes, or decode to the same message
// once run-specific fields are cleared.
func TestWireVectors(t *testing.T) {
	vectors := readVectors(t)
	require.NotEmpty(t, vectors)
	for _, nodes := range []int{1, 3} {
		c := Start(t, Options{Nodes: nodes})
		cl := dialNode(t, c, nodes-1)
		replayed := 0
		for _, ex := range vectors {
			code, _ := unframe(t, ex.request)
			switch code {
			case pb.CodeDtFetchReq, pb.CodeDtUpdateReq, pb.CodeMapRedReq:
				continue // not emulated
			case pb.CodeGetServerInfoReq:
				if nodes != 1 {
					continue // the node name differs
				}
			}
			replayed++
			cl.sendRaw(ex.request)
			if code == pb.CodeListBucketsReq {
				checkListBuckets(t, cl, ex)
				continue
			}
			for i, want := range ex.replies {
				gotCode, gotBody := cl.recv()
				wantCode, wantBody := unframe(t, want)
				require.Equal(t, wantCode, gotCode, "%s: reply %d code", ex.title, i)
				wantMsg, changed := normalize(t, wantCode, wantBody)
				if !changed {
					require.Equal(t, hex.EncodeToString(wantBody), hex.EncodeToString(gotBody), "%s: reply %d", ex.title, i)
					continue
				}
				gotMsg, _ := normalize(t, gotCode, gotBody)
				require.True(t, proto.Equal(wantMsg, gotMsg), "%s: reply %d:\nwant %v\ngot  %v", ex.title, i, wantMsg, gotMsg)
			}
		}
		require.Equal(t, map[int]int{1: 24, 3: 23}[nodes], replayed)
	}
}

// checkListBuckets checks a streamed bucket list: the captured node held
// buckets from other runs, so the emulator's buckets must be among the
// captured ones, one per frame, and the stream must end with done.
func checkListBuckets(t *testing.T, cl *client, ex exchange) {
	want := map[string]bool{}
	for _, r := range ex.replies {
		_, body := unframe(t, r)
		var m riak_kv.RpbListBucketsResp
		require.NoError(t, proto.Unmarshal(body, &m))
		for _, b := range m.Buckets {
			want[string(b)] = true
		}
	}
	got := 0
	for {
		code, body := cl.recv()
		require.Equal(t, pb.CodeListBucketsResp, code)
		var m riak_kv.RpbListBucketsResp
		require.NoError(t, proto.Unmarshal(body, &m))
		if m.GetDone() {
			require.Empty(t, m.Buckets)
			require.Equal(t, []byte{0x10, 0x01}, body)
			break
		}
		require.Len(t, m.Buckets, 1)
		require.True(t, want[string(m.Buckets[0])], "bucket %q", m.Buckets[0])
		got++
	}
	require.Equal(t, 2, got) // tv and tv2
}
