package conformance

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

var convergenceCases = []testCase{
	{"PartitionMerges", convergencePartition},
}

// convergencePartition: under a partition, both sides update one record:
// increments, set additions and removals, lww writes, max and flag. Each
// side reads its own writes meanwhile; after the heal, both read the
// value the merge policies define, with nothing lost.
func convergencePartition(t *testing.T, s *suite) {
	p, ok := s.h.(Partitioner)
	if !ok {
		t.Skip("the harness does not implement conformance.Partitioner: its store cannot be partitioned here")
	}
	left, right, split, heal := p.NewPartitioned(t)
	ctx := t.Context()
	if m, ok := left.Driver().(driver.Migrator); ok {
		sc, err := schema.Of[Stats]()
		require.NoError(t, err)
		require.NoError(t, m.Migrate(ctx, driver.CreateCollection{Collection: sc.Collection, IfNotExists: true}))
	}
	base := Stats{ID: 1, Tags: []string{"a", "b"}, High: 5, Title: "orig"}
	require.NoError(t, left.Insert(ctx, &base))
	split()
	update := func(r *repo.Repo, build func(*schema.Changeset) *schema.Changeset) {
		t.Helper()
		st := Stats{ID: 1}
		require.NoError(t, r.Reload(ctx, &st))
		require.NoError(t, r.Update(ctx, build(schema.NewChangeset(&st))))
	}
	for range 3 {
		update(left, func(cs *schema.Changeset) *schema.Changeset { return cs.Increment("hits", 1) })
		update(right, func(cs *schema.Changeset) *schema.Changeset { return cs.Increment("hits", 2) })
	}
	update(left, func(cs *schema.Changeset) *schema.Changeset {
		return cs.AddToSet("tags", "left").RemoveFromSet("tags", "a")
	})
	update(right, func(cs *schema.Changeset) *schema.Changeset { return cs.AddToSet("tags", "right", "a") })
	update(left, func(cs *schema.Changeset) *schema.Changeset {
		return cs.Put("title", "from left").Put("high", int64(40))
	})
	time.Sleep(5 * time.Millisecond) // the right side's lww write is the later one
	update(right, func(cs *schema.Changeset) *schema.Changeset {
		return cs.Put("title", "from right").Put("high", int64(30)).Put("seen", true)
	})
	var l, r Stats
	require.NoError(t, left.Get(ctx, &l, int64(1)))
	require.NoError(t, right.Get(ctx, &r, int64(1)))
	require.Equal(t, int64(3), l.Hits, "each side reads its own writes during the partition")
	require.Equal(t, int64(6), r.Hits, "each side reads its own writes during the partition")

	heal()
	for _, side := range []*repo.Repo{left, right} {
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			var got Stats
			require.NoError(c, side.Get(ctx, &got, int64(1)))
			require.Equal(c, int64(9), got.Hits, "counter: no increment lost or doubled")
			require.ElementsMatch(c, []string{"a", "b", "left", "right"}, got.Tags, "set: every addition kept; a removal loses to a concurrent re-add")
			require.Equal(c, "from right", got.Title, "lww: the later write")
			require.Equal(c, int64(40), got.High, "max")
			require.True(c, got.Seen, "flag: enable wins")
		}, 10*time.Second, 20*time.Millisecond)
	}
}
