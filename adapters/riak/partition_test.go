package riak_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/riak/riaktest"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// post has a field of every merge policy.
type post struct {
	_      struct{}  `strata:"table=posts"`
	ID     int64     `strata:"id,pk"`
	Title  string    `strata:"title"`
	Likes  int64     `strata:"likes,merge=counter"`
	Tags   []string  `strata:"tags,merge=set"`
	Best   int64     `strata:"best,merge=max"`
	Pinned bool      `strata:"pinned,merge=flag"`
	At     time.Time `strata:"at"`
}

// After a partition heals, reads merge the two sides' siblings (the
// merge policies are checked by the conformance suite's Convergence area)
// and the next update writes the merge: once anti-entropy has run, every
// replica holds one sibling, the merged record. (Reads do not write: a
// delete that read the same vclock would lose to such a write.)
func TestPartitionRepairsReplicas(t *testing.T) {
	t.Parallel()
	cluster := riaktest.Start(t, riaktest.Options{Nodes: 3})
	ctx := context.Background()
	a, all := openOn(t, cluster, "part", 0, 1, 2)
	s, err := schema.Of[post]()
	require.NoError(t, err)
	require.NoError(t, a.Migrate(ctx, driver.CreateCollection{Collection: s.Collection}))
	require.NoError(t, all.Insert(ctx, &post{ID: 1, Title: "orig"}))

	cluster.Partition([]int{0}, []int{1, 2})
	_, left := openOn(t, cluster, "part", 0)
	_, right := openOn(t, cluster, "part", 1, 2)
	for i, r := range []*repo.Repo{left, right} {
		p := post{ID: 1}
		require.NoError(t, r.Update(ctx, schema.NewChangeset(&p).Increment("likes", int64(i+1)).AddToSet("tags", fmt.Sprint(i))))
	}
	key := string([]byte{0x20, 0x81, '1'}) // the encoded key 1
	siblings := func() int {
		n := 0
		for _, rep := range cluster.Replicas("default", "part.posts", key) {
			n = max(n, len(rep.Siblings))
		}
		return n
	}
	cluster.Heal()
	cluster.Converge()
	require.Equal(t, 2, siblings(), "after the heal, the replicas hold both sides' writes as siblings")

	var got post
	require.NoError(t, all.Get(ctx, &got, int64(1)))
	require.Equal(t, int64(3), got.Likes)
	require.ElementsMatch(t, []string{"0", "1"}, got.Tags)
	cluster.Converge()
	require.Equal(t, 2, siblings(), "a read does not write")
	require.NoError(t, all.Update(ctx, schema.NewChangeset(&got).Put("title", "merged")))
	cluster.Converge()
	require.Equal(t, 1, siblings(), "the update wrote the merge: one sibling on every replica")
}
