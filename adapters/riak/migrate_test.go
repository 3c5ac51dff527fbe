package riak_test

import (
	"testing"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/golang/protobuf/proto"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/riak/riaktest"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// Migrations: an index created over stored records serves queries; a
// renamed field keeps its values; bucket properties are set by Exec;
// dropping a collection deletes its records.
func TestMigrations(t *testing.T) {
	t.Parallel()
	cluster := riaktest.Start(t, riaktest.Options{Nodes: 3})
	ctx := t.Context()
	a, r := openOn(t, cluster, "mig", 0, 1, 2)
	type v1 struct {
		_     struct{} `strata:"table=things"`
		ID    int64    `strata:"id,pk"`
		Color string   `strata:"color"`
		Note  string   `strata:"note"`
	}
	type v2 struct {
		_      struct{} `strata:"table=things"`
		ID     int64    `strata:"id,pk"`
		Color  string   `strata:"color,index"`
		Remark string   `strata:"remark"`
	}
	s1, err := schema.Of[v1]()
	require.NoError(t, err)
	require.NoError(t, a.Migrate(ctx, driver.CreateCollection{Collection: s1.Collection}))
	require.ErrorIs(t, a.Migrate(ctx, driver.CreateCollection{Collection: s1.Collection}), repo.ErrConflict)
	for i := range int64(12) {
		require.NoError(t, r.Insert(ctx, &v1{ID: i + 1, Color: []string{"red", "blue", "green"}[i%3], Note: "n"}))
	}
	s2, err := schema.Of[v2]()
	require.NoError(t, err)
	require.NoError(t, a.Migrate(ctx, driver.CreateIndex{Collection: "things", Index: s2.Collection.Indexes[0]}))
	require.NoError(t, a.Migrate(ctx, driver.RenameField{Collection: "things", From: "note", To: "remark"}))
	reds, err := repo.All[v2](ctx, r, repo.Where("color", repo.Eq, "red").OrderBy("-id"))
	require.NoError(t, err)
	require.Len(t, reds, 4, "the backfilled index finds the old records")
	require.Equal(t, int64(10), reds[0].ID)
	require.Equal(t, "n", reds[0].Remark, "a renamed field keeps its value")

	require.NoError(t, a.Migrate(ctx, driver.Exec{Statement: "bucket_props", Args: []any{"things", &riak.RpbBucketProps{NVal: proto.Uint32(2)}}}))
	require.ErrorIs(t, a.Migrate(ctx, driver.Exec{Statement: "bucket_props"}), repo.ErrInvalid)
	require.ErrorIs(t, a.Migrate(ctx, driver.Exec{Statement: "bucket_props", Args: []any{"things", &riak.RpbBucketProps{AllowMult: proto.Bool(false)}}}),
		repo.ErrInvalid, "props that would drop siblings")
	require.ErrorIs(t, a.Migrate(ctx, driver.Exec{Statement: "bucket_type_props", Args: []any{&riak.RpbBucketProps{LastWriteWins: proto.Bool(true)}}}),
		repo.ErrInvalid, "props that would drop siblings")
	require.ErrorIs(t, a.Migrate(ctx, driver.Exec{Statement: "vacuum"}), repo.ErrUnsupported)

	require.NoError(t, a.Migrate(ctx, driver.DropCollection{Name: "things"}))
	n, err := repo.Count[v2](ctx, r, repo.Where("id", repo.Gte, int64(0)).FullScan())
	require.NoError(t, err)
	require.Zero(t, n, "a dropped collection has no records")
	require.ErrorIs(t, a.Migrate(ctx, driver.DropCollection{Name: "things"}), repo.ErrNotFound)
}
