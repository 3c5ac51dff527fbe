package riaktest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/stretchr/testify/require"
)

// siblingValues returns the sorted values of a replica.
func siblingValues(r Replica) []string {
	var out []string
	for _, s := range r.Siblings {
		out = append(out, string(s.Value))
	}
	slices.Sort(out)
	return out
}

// requireConverged checks that every primary replica of the key holds
// want, with the same vclock.
func requireConverged(t *testing.T, c *Cluster, typ, bucket, key string, want []string) {
	t.Helper()
	reps := c.Replicas(typ, bucket, key)
	primaries := 0
	var vclock []byte
	for _, r := range reps {
		if !r.Primary {
			continue
		}
		if primaries == 0 {
			vclock = r.VClock
		}
		primaries++
		require.Equal(t, want, siblingValues(r), "replica on node %d partition %d", r.Node, r.Partition)
		require.Equal(t, vclock, r.VClock)
	}
	require.Equal(t, 3, primaries)
}

// TestPartition partitions three nodes into {0} and {1,2}, writes the same
// keys on both sides, heals, and checks that reads return both sides'
// writes as siblings and that read repair, or Converge, makes every
// replica agree.
func TestPartition(t *testing.T) {
	for _, repair := range []string{"read repair", "converge"} {
		t.Run(repair, func(t *testing.T) {
			c := Start(t, Options{})
			require.NoError(t, c.SetBucketType("mult", nil))
			a, b := dialNode(t, c, 0), dialNode(t, c, 2)
			put := func(cl *client, key, v string, vclock []byte) *riak_kv.RpbPutResp {
				return cl.put(&riak_kv.RpbPutReq{Type: []byte("mult"), Bucket: []byte("b"), Key: []byte(key), Vclock: vclock, Content: content(v), ReturnBody: proto.Bool(true)})
			}
			get := func(cl *client, key string) *riak_kv.RpbGetResp {
				return cl.get(&riak_kv.RpbGetReq{Type: []byte("mult"), Bucket: []byte("b"), Key: []byte(key)})
			}
			keys := make([]string, 8)
			pre := map[string][]byte{}
			for i := range keys {
				keys[i] = fmt.Sprintf("key%d", i)
				pre[keys[i]] = put(a, keys[i], "before", nil).Vclock
			}

			c.Partition([]int{0}, []int{1, 2})
			for i, k := range keys {
				vclock := pre[k]
				if i%2 == 0 {
					vclock = nil // blind writes
				}
				put(a, k, "left", vclock)
				put(b, k, "right", vclock)
				// Each side sees its own write only (and, for blind
				// writes, the value from before).
				require.Contains(t, values(get(a, k).Content), "left")
				require.NotContains(t, values(get(a, k).Content), "right")
				require.NotContains(t, values(get(b, k).Content), "left")
			}
			c.Heal()

			for i, k := range keys {
				want := []string{"left", "right"}
				if i%2 == 0 {
					want = []string{"before", "left", "right"}
				}
				if repair == "read repair" {
					got := values(get(dialNode(t, c, i%3), k).Content)
					slices.Sort(got)
					require.Equal(t, want, got, k)
				} else {
					c.Converge()
				}
				requireConverged(t, c, "mult", "b", k, want)
				got := values(get(b, k).Content)
				slices.Sort(got)
				require.Equal(t, want, got, k)
			}

			// Resolving with the merged vclock leaves one value everywhere.
			for _, k := range keys {
				put(b, k, "resolved", get(a, k).Vclock)
				c.Converge()
				requireConverged(t, c, "mult", "b", k, []string{"resolved"})
			}
		})
	}
}

// TestPartitionDefaultType checks that on allow_mult=false the newest
// write wins after a partition heals.
func TestPartitionDefaultType(t *testing.T) {
	c := Start(t, Options{})
	a, b := dialNode(t, c, 0), dialNode(t, c, 1)
	a.put(&riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Content: content("before")})
	c.Partition([]int{0}, []int{1, 2})
	a.put(&riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Content: content("left")})
	b.put(&riak_kv.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Content: content("right")})
	c.Heal()
	require.Equal(t, []string{"right"}, values(a.get(&riak_kv.RpbGetReq{Bucket: []byte("b"), Key: []byte("k")}).Content))
	requireConverged(t, c, "default", "b", "k", []string{"right"})
}
