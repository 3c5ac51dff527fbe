package riak_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/riak"
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

// openOn opens a repo on some nodes of cluster, in namespace ns.
func openOn(t *testing.T, cluster *riaktest.Cluster, ns string, nodes ...int) (*riak.Adapter, *repo.Repo) {
	t.Helper()
	addrs := ""
	for i, n := range nodes {
		if i > 0 {
			addrs += ","
		}
		addrs += cluster.Addrs()[n]
	}
	a, err := riak.Open(t.Context(), fmt.Sprintf("riak://%s?namespace=%s&n_val=3", addrs, ns))
	require.NoError(t, err)
	r, err := repo.New(a)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return a, r
}

// Under a partition, both sides take writes to one record: increments,
// set additions and removals, lww writes, max and flag. After the heal,
// every reader sees the value the merge policies define, with nothing
// lost, and the replicas converge.
func TestPartitionConverges(t *testing.T) {
	t.Parallel()
	cluster := riaktest.Start(t, riaktest.Options{Nodes: 3})
	ctx := context.Background()
	a, all := openOn(t, cluster, "part", 0, 1, 2)
	s, err := schema.Of[post]()
	require.NoError(t, err)
	require.NoError(t, a.Migrate(ctx, driver.CreateCollection{Collection: s.Collection}))
	base := post{ID: 1, Title: "orig", Tags: []string{"a", "b"}, Best: 5}
	require.NoError(t, all.Insert(ctx, &base))

	cluster.Partition([]int{0}, []int{1, 2})
	_, left := openOn(t, cluster, "part", 0)
	_, right := openOn(t, cluster, "part", 1, 2)
	change := func(r *repo.Repo, f func(*schema.Changeset) *schema.Changeset) {
		t.Helper()
		p := post{ID: 1}
		require.NoError(t, r.Reload(ctx, &p))
		require.NoError(t, r.Update(ctx, f(schema.NewChangeset(&p))))
	}
	for range 3 {
		change(left, func(c *schema.Changeset) *schema.Changeset { return c.Increment("likes", 1) })
		change(right, func(c *schema.Changeset) *schema.Changeset { return c.Increment("likes", 2) })
	}
	change(left, func(c *schema.Changeset) *schema.Changeset {
		return c.AddToSet("tags", "left").RemoveFromSet("tags", "a")
	})
	change(right, func(c *schema.Changeset) *schema.Changeset { return c.AddToSet("tags", "right", "a") })
	change(left, func(c *schema.Changeset) *schema.Changeset { return c.Put("title", "from left").Put("best", int64(40)) })
	time.Sleep(2 * time.Millisecond) // the right side's write is the later one
	change(right, func(c *schema.Changeset) *schema.Changeset {
		return c.Put("title", "from right").Put("best", int64(30)).Put("pinned", true)
	})

	var l, r post
	require.NoError(t, left.Get(ctx, &l, int64(1)))
	require.NoError(t, right.Get(ctx, &r, int64(1)))
	require.Equal(t, int64(3), l.Likes, "the left side sees its own increments")
	require.Equal(t, int64(6), r.Likes, "the right side sees its own increments")

	cluster.Heal()
	want := func(t require.TestingT, got post) {
		require.Equal(t, int64(9), got.Likes, "no increment lost or doubled")
		require.ElementsMatch(t, []string{"b", "left", "right", "a"}, got.Tags, "every addition kept; a removal loses to a concurrent re-add")
		require.Equal(t, "from right", got.Title, "lww: the later write")
		require.Equal(t, int64(40), got.Best, "max")
		require.True(t, got.Pinned, "flag: enable wins")
	}
	for _, r := range []*repo.Repo{all, left, right} {
		var got post
		require.NoError(t, r.Get(ctx, &got, int64(1)))
		want(t, got)
	}
	// Read repair and anti-entropy leave every replica with one merged
	// value.
	cluster.Converge()
	for _, rep := range cluster.Replicas("default", "part.posts", string([]byte{0x20, 0x81, '1'})) {
		require.Len(t, rep.Siblings, 1, "replica %d/%d holds the merged record only", rep.Node, rep.Partition)
	}
}
