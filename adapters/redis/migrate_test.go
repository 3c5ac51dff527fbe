package redis_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// gadget before and after its migrations: the second adds an index on
// color and a unique index on serial.
type gadgetV1 struct {
	_      struct{} `strata:"table=gadgets"`
	ID     int64    `strata:"id,pk"`
	Color  string   `strata:"color"`
	Serial *string  `strata:"serial"`
	Note   string   `strata:"note"`
}

type gadget struct {
	_      struct{} `strata:"table=gadgets"`
	ID     int64    `strata:"id,pk"`
	Color  string   `strata:"color,index"`
	Serial *string  `strata:"serial,unique"`
	Note   string   `strata:"note"`
}

// gadgetV2 is gadget after its note is renamed remark.
type gadgetV2 struct {
	_      struct{} `strata:"table=gadgets"`
	ID     int64    `strata:"id,pk"`
	Color  string   `strata:"color"`
	Remark *string  `strata:"remark"`
}

func collectionOf[T any](t *testing.T) *driver.Collection {
	t.Helper()
	s, err := schema.Of[T]()
	require.NoError(t, err)
	return s.Collection
}

func ptr[T any](v T) *T { return &v }

// CreateIndex backfills an index over the records stored before it, which
// queries then use; a unique index over duplicates fails with a
// ConstraintError and leaves no index behind; DropIndex and DropField
// remove what they name; RenameField moves values.
func TestMigrateIndexes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, url string }{
		{"standalone", testservers.RedisURL(t)},
		{"standalone sharded", withParam(testservers.RedisURL(t), "shards", "3")},
		{"cluster", testservers.RedisClusterURL(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			a, r := openURL(t, freshNamespace(t, admin(t, tc.url), tc.url))
			require.NoError(t, a.Migrate(ctx, driver.CreateCollection{Collection: collectionOf[gadgetV1](t)}))
			colors := []string{"red", "green", "blue"}
			for i := range int64(30) {
				g := gadgetV1{ID: i + 1, Color: colors[i%3], Note: "n"}
				if i < 2 {
					g.Serial = ptr("dup")
				}
				require.NoError(t, r.Insert(ctx, &g))
			}
			err := a.Migrate(ctx, driver.CreateIndex{Collection: "gadgets", Index: driver.Index{Name: "gadgets_color_idx", Fields: []string{"color"}}})
			require.NoError(t, err)
			reds, err := repo.All[gadget](ctx, r, repo.Where("color", repo.Eq, "red").OrderBy("-id"))
			require.NoError(t, err)
			require.Len(t, reds, 10, "the backfilled index finds every old record")
			require.Equal(t, int64(28), reds[0].ID)
			n, err := repo.Count[gadget](ctx, r, repo.Where("color", repo.In, []string{"green", "blue"}))
			require.NoError(t, err)
			require.EqualValues(t, 20, n)

			err = a.Migrate(ctx, driver.CreateIndex{Collection: "gadgets", Index: driver.Index{Name: "gadgets_serial_key", Fields: []string{"serial"}, Unique: true}})
			if tc.name != "standalone" {
				require.ErrorIs(t, err, repo.ErrUnsupported, "a unique index over shards")
			} else {
				var ce *driver.ConstraintError
				require.ErrorAs(t, err, &ce, "a unique index over duplicate values")
				require.Equal(t, "gadgets_serial_key", ce.Name)
			}
			require.ErrorIs(t, a.Migrate(ctx, driver.DropIndex{Collection: "gadgets", Name: "gadgets_serial_key"}), repo.ErrNotFound,
				"the failed index is not recorded")

			require.ErrorIs(t, a.Migrate(ctx, driver.CreateIndex{Collection: "gadgets", Index: driver.Index{Name: "gadgets_color_idx", Fields: []string{"color"}}}),
				repo.ErrConflict, "an index that exists")
			require.NoError(t, a.Migrate(ctx, driver.DropIndex{Collection: "gadgets", Name: "gadgets_color_idx"}))
			reds, err = repo.All[gadget](ctx, r, repo.Where("color", repo.Eq, "red"))
			require.NoError(t, err)
			require.Empty(t, reds, "a query through a dropped index finds nothing: the index is gone")

			require.ErrorIs(t, a.Migrate(ctx, driver.RenameField{Collection: "gadgets", From: "note", To: "color"}), repo.ErrConflict,
				"a rename onto an existing field")
			require.NoError(t, a.Migrate(ctx, driver.RenameField{Collection: "gadgets", From: "note", To: "remark"}))
			var got gadgetV2
			require.NoError(t, r.Get(ctx, &got, int64(7)))
			require.Equal(t, ptr("n"), got.Remark, "a renamed field keeps its value")
			require.NoError(t, a.Migrate(ctx, driver.DropField{Collection: "gadgets", Name: "remark"}))
			require.NoError(t, r.Get(ctx, &got, int64(7)))
			require.Nil(t, got.Remark, "a dropped field's values are gone")
			require.ErrorIs(t, a.Migrate(ctx, driver.DropField{Collection: "gadgets", Name: "remark"}), repo.ErrNotFound)
			require.ErrorIs(t, a.Migrate(ctx, driver.AlterField{Collection: "gadgets", Field: driver.Field{Name: "color", Kind: driver.KindInt}}),
				repo.ErrUnsupported, "a change of kind")
			require.NoError(t, a.Migrate(ctx, driver.DropCollection{Name: "gadgets"}))
			require.ErrorIs(t, r.Get(ctx, &got, int64(7)), repo.ErrNotFound)
			require.ErrorIs(t, a.Migrate(ctx, driver.DropCollection{Name: "gadgets"}), repo.ErrNotFound)
		})
	}
}
