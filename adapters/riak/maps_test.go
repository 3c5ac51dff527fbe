package riak_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/golang/protobuf/proto"
	"github.com/stretchr/testify/require"

	riakadapter "github.com/strata-go/strata/adapters/riak"
	"github.com/strata-go/strata/adapters/riak/riaktest"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// room is stored as a Riak map (the adapter's maps option).
type room struct {
	_       struct{} `strata:"table=rooms"`
	ID      string   `strata:"id,pk"`
	Topic   string   `strata:"topic,index"`
	Members []string `strata:"members,merge=set"`
	Msgs    int64    `strata:"msgs,merge=counter"`
	Closed  bool     `strata:"closed,merge=flag"`
}

// openMaps opens a repo storing rooms as Riak maps, on some nodes.
func openMaps(t *testing.T, cluster *riaktest.Cluster, nodes ...int) (*riakadapter.Adapter, *repo.Repo) {
	t.Helper()
	return openURL(t, urlOn(cluster, "m", "&maps=rooms&map_type=maps", nodes...))
}

// A collection stored as Riak maps: CRUD, merges by Riak itself (no lost
// increment or set addition, concurrently or across a partition), and
// queries by key or full scan only.
func TestMaps(t *testing.T) {
	t.Parallel()
	cluster := riaktest.Start(t, riaktest.Options{Nodes: 3})
	require.NoError(t, cluster.SetBucketType("maps", &riak.RpbBucketProps{Datatype: []byte("map"), AllowMult: proto.Bool(true)}))
	ctx := context.Background()
	a, r := openMaps(t, cluster, 0, 1, 2)
	s, err := schema.Of[room]()
	require.NoError(t, err)
	require.NoError(t, a.Migrate(ctx, driver.CreateCollection{Collection: s.Collection}))

	lobby := room{ID: "lobby", Topic: "hello", Members: []string{"ann"}}
	require.NoError(t, r.Insert(ctx, &lobby))
	require.ErrorIs(t, r.Insert(ctx, &room{ID: "lobby"}), repo.ErrConflict)
	var got room
	require.NoError(t, r.Get(ctx, &got, "lobby"))
	require.Equal(t, lobby, got)

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			rm := room{ID: "lobby"}
			if err := r.Update(ctx, schema.NewChangeset(&rm).Increment("msgs", 1).AddToSet("members", fmt.Sprint("m", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	require.NoError(t, r.Get(ctx, &got, "lobby"))
	require.Equal(t, int64(8), got.Msgs, "no increment lost")
	require.Len(t, got.Members, 9, "no addition lost")
	require.NoError(t, r.Update(ctx, schema.NewChangeset(&got).RemoveFromSet("members", "ann").Put("topic", "news").Put("closed", true)))
	require.NoError(t, r.Get(ctx, &got, "lobby"))
	require.NotContains(t, got.Members, "ann")
	require.Equal(t, "news", got.Topic)
	require.True(t, got.Closed)

	// Queries: by key, or a full scan; no index.
	_, err = repo.All[room](ctx, r, repo.Where("topic", repo.Eq, "news"))
	require.ErrorIs(t, err, repo.ErrUnsupported)
	all, err := repo.All[room](ctx, r, repo.Where("topic", repo.Eq, "news").FullScan())
	require.NoError(t, err)
	require.Len(t, all, 1)
	byKey, err := repo.All[room](ctx, r, repo.Where("id", repo.In, []string{"lobby", "none"}))
	require.NoError(t, err)
	require.Len(t, byKey, 1)

	// Across a partition, Riak merges the map itself.
	cluster.Partition([]int{0}, []int{1, 2})
	_, left := openMaps(t, cluster, 0)
	_, right := openMaps(t, cluster, 1, 2)
	for i, side := range []*repo.Repo{left, right} {
		rm := room{ID: "lobby"}
		require.NoError(t, side.Update(ctx, schema.NewChangeset(&rm).Increment("msgs", 10).AddToSet("members", fmt.Sprint("side", i))))
	}
	cluster.Heal()
	require.NoError(t, r.Get(ctx, &got, "lobby"))
	require.Equal(t, int64(28), got.Msgs)
	require.Subset(t, got.Members, []string{"side0", "side1"})

	require.NoError(t, r.Delete(ctx, &got))
	require.ErrorIs(t, r.Get(ctx, &got, "lobby"), repo.ErrNotFound)
}

// A collection with a max field cannot be a Riak map.
func TestMapsRefuseMax(t *testing.T) {
	t.Parallel()
	cluster := riaktest.Start(t, riaktest.Options{Nodes: 1})
	type scores struct {
		_    struct{} `strata:"table=rooms"`
		ID   string   `strata:"id,pk"`
		Best int64    `strata:"best,merge=max"`
	}
	_, r := openMaps(t, cluster, 0)
	require.ErrorIs(t, r.Insert(context.Background(), &scores{ID: "x"}), repo.ErrUnsupported)
}
