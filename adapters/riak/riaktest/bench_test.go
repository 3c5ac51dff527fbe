package riaktest

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/stretchr/testify/require"
)

// BenchmarkIndexRange reads 100 entries of a 2i range from a bucket of n
// indexed objects, beside another bucket of n: the first page of 100 of
// the range over the upper half of the terms ("page"), and the range of
// the last 100 terms ("narrow", what a chat client's catch-up asks of a
// conversation).
func BenchmarkIndexRange(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run("objects="+strconv.Itoa(n), func(b *testing.B) {
			c := Start(b, Options{Nodes: 3})
			cl := dialNode(b, c, 0)
			for _, bucket := range []string{"other", "m"} {
				for i := range n {
					cl.put(&riak_kv.RpbPutReq{Bucket: []byte(bucket), Key: []byte(fmt.Sprintf("k%06d", i)), Content: &riak_kv.RpbContent{
						Value:   []byte("v"),
						Indexes: []*riak.RpbPair{{Key: []byte("pos_int"), Value: []byte(strconv.Itoa(i))}},
					}})
				}
			}
			for _, q := range []struct {
				name string
				lo   int
				max  uint32
			}{{"page", n / 2, 100}, {"narrow", n - 100, 0}} {
				req := &riak_kv.RpbIndexReq{Bucket: []byte("m"), Index: []byte("pos_int"), Qtype: riak_kv.RpbIndexReq_range.Enum(),
					RangeMin: []byte(strconv.Itoa(q.lo)), RangeMax: []byte(strconv.Itoa(n)), ReturnTerms: proto.Bool(true)}
				if q.max > 0 {
					req.MaxResults = proto.Uint32(q.max)
				}
				b.Run(q.name, func(b *testing.B) {
					for b.Loop() {
						resp := cl.index(req)
						require.Len(b, resp.Results, 100)
					}
				})
			}
		})
	}
}
