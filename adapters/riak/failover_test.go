package riak_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/riak/riaktest"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// With a node down, the adapter's client fails over to the others and
// Riak's fallback replicas take the writes: nothing written before,
// during or after the outage is lost.
func TestNodeDown(t *testing.T) {
	t.Parallel()
	cluster := riaktest.Start(t, riaktest.Options{Nodes: 3})
	ctx := context.Background()
	a, r := openOn(t, cluster, "down", 0, 1, 2)
	s, err := schema.Of[post]()
	require.NoError(t, err)
	require.NoError(t, a.Migrate(ctx, driver.CreateCollection{Collection: s.Collection}))
	insert := func(from, to int64) {
		for id := from; id < to; id++ {
			require.NoError(t, r.Insert(ctx, &post{ID: id, Title: "p"}))
		}
	}
	insert(1, 21)
	cluster.NodeDown(0)
	insert(21, 41)
	all := func() []post {
		ps, err := repo.All[post](ctx, r, repo.Where("id", repo.Gte, int64(1)).FullScan())
		require.NoError(t, err)
		return ps
	}
	var got post
	for id := int64(1); id < 41; id++ {
		require.NoError(t, r.Get(ctx, &got, id), "record %d with node 0 down", id)
	}
	cluster.NodeUp(0)
	insert(41, 61)
	for id := int64(1); id < 61; id++ {
		require.NoError(t, r.Get(ctx, &got, id), "record %d after node 0 is back", id)
	}
	cluster.Converge()
	require.Len(t, all(), 60, "a full scan after anti-entropy finds every record")
}
