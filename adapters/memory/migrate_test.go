package memory

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

func TestMigrateCollections(t *testing.T) {
	ctx := context.Background()
	a, c := New(), users(t)

	require.NoError(t, a.Migrate(ctx, driver.CreateCollection{Collection: c}))
	require.ErrorIs(t, a.Migrate(ctx, driver.CreateCollection{Collection: c}), driver.ErrConflict)
	require.NoError(t, a.Migrate(ctx, driver.CreateCollection{Collection: c, IfNotExists: true}))
	require.ErrorIs(t, a.Migrate(ctx, driver.CreateCollection{}), driver.ErrInvalid)

	_, err := a.Insert(ctx, c, user(1, nil, "ann"), driver.InsertOptions{})
	require.NoError(t, err)
	require.NoError(t, a.Migrate(ctx, driver.CreateCollection{Collection: c, IfNotExists: true}))
	require.Equal(t, "ann", get(t, a, c, 1, fName), "IfNotExists keeps the data")

	// Rename moves the records.
	require.NoError(t, a.Migrate(ctx, driver.RenameCollection{From: "users", To: "people"}))
	_, err = a.Get(ctx, c, int64(1))
	require.ErrorIs(t, err, driver.ErrNotFound)
	people, err := driver.NewCollection("people", c.Fields, "id", "version", c.Indexes, driver.CP)
	require.NoError(t, err)
	require.Equal(t, "ann", get(t, a, people, 1, fName))
	require.ErrorIs(t, a.Migrate(ctx, driver.RenameCollection{From: "users", To: "x"}), driver.ErrNotFound)
	require.NoError(t, a.Migrate(ctx, driver.CreateCollection{Collection: c}))
	require.ErrorIs(t, a.Migrate(ctx, driver.RenameCollection{From: "people", To: "users"}), driver.ErrConflict)

	// Drop deletes them.
	require.NoError(t, a.Migrate(ctx, driver.DropCollection{Name: "people"}))
	_, err = a.Get(ctx, people, int64(1))
	require.ErrorIs(t, err, driver.ErrNotFound)
	require.ErrorIs(t, a.Migrate(ctx, driver.DropCollection{Name: "people"}), driver.ErrNotFound)
	require.NoError(t, a.Migrate(ctx, driver.DropCollection{Name: "people", IfExists: true}))
}

func TestMigrateFields(t *testing.T) {
	ctx := context.Background()
	a := New()
	v1, err := driver.NewCollection("t", []driver.Field{
		{Name: "id", Kind: driver.KindInt},
		{Name: "n", Kind: driver.KindString, Nullable: true},
	}, "id", "", nil, driver.CP)
	require.NoError(t, err)
	for id, n := range map[int64]any{1: "7", 2: nil} {
		_, err := a.Insert(ctx, v1, driver.Record{Values: []any{id, n}}, driver.InsertOptions{})
		require.NoError(t, err)
	}
	read := func(c *driver.Collection) [][]any {
		var out [][]any
		for _, r := range collect(t, a.Query(ctx, c, nil)) {
			out = append(out, r.Values)
		}
		return out
	}

	// Add a non-nullable field: existing records get its zero value.
	added := driver.Field{Name: "count", Kind: driver.KindInt}
	require.NoError(t, a.Migrate(ctx, driver.AddField{Collection: "t", Field: added}))
	v2, err := driver.NewCollection("t", append(v1.Fields[:2:2], driver.Field{Name: "count", Kind: driver.KindInt, Nullable: true}), "id", "", nil, driver.CP)
	require.NoError(t, err)
	require.Equal(t, [][]any{{int64(1), "7", int64(0)}, {int64(2), nil, int64(0)}}, read(v2),
		"backfilled with 0, which a later nullable declaration does not turn into NULL")

	// Rename a field.
	require.NoError(t, a.Migrate(ctx, driver.RenameField{Collection: "t", From: "n", To: "num"}))
	v3, err := driver.NewCollection("t", []driver.Field{
		{Name: "id", Kind: driver.KindInt},
		{Name: "num", Kind: driver.KindString, Nullable: true},
		{Name: "n", Kind: driver.KindString, Nullable: true},
	}, "id", "", nil, driver.CP)
	require.NoError(t, err)
	require.Equal(t, [][]any{{int64(1), "7", nil}, {int64(2), nil, nil}}, read(v3))

	// Alter its kind: values convert.
	require.NoError(t, a.Migrate(ctx, driver.AlterField{Collection: "t", Field: driver.Field{Name: "num", Kind: driver.KindInt, Nullable: true}}))
	v4, err := driver.NewCollection("t", []driver.Field{
		{Name: "id", Kind: driver.KindInt},
		{Name: "num", Kind: driver.KindInt, Nullable: true},
	}, "id", "", nil, driver.CP)
	require.NoError(t, err)
	require.Equal(t, [][]any{{int64(1), int64(7)}, {int64(2), nil}}, read(v4))
	sum, err := a.Aggregate(ctx, v4, nil, driver.AggSum, 1)
	require.NoError(t, err)
	require.Equal(t, int64(7), sum)

	// Altering to non-nullable fails on the NULL, and changes nothing.
	err = a.Migrate(ctx, driver.AlterField{Collection: "t", Field: driver.Field{Name: "num", Kind: driver.KindFloat}})
	require.ErrorIs(t, err, driver.ErrInvalid)
	require.Equal(t, [][]any{{int64(1), int64(7)}, {int64(2), nil}}, read(v4))
	// So does a value that does not convert.
	_, err = a.Insert(ctx, v3, driver.Record{Values: []any{int64(3), nil, "x"}}, driver.InsertOptions{})
	require.NoError(t, err)
	require.ErrorIs(t, a.Migrate(ctx, driver.AlterField{Collection: "t", Field: driver.Field{Name: "n", Kind: driver.KindBool}}), driver.ErrInvalid)

	// Drop a field: its values are gone, even if it comes back.
	require.NoError(t, a.Migrate(ctx, driver.DropField{Collection: "t", Name: "num"}))
	require.Equal(t, [][]any{{int64(1), nil}, {int64(2), nil}, {int64(3), nil}}, read(v4))

	for _, op := range []driver.MigrationOp{
		driver.AddField{Collection: "nope", Field: added},
		driver.DropField{Collection: "nope", Name: "x"},
		driver.RenameField{Collection: "nope", From: "x", To: "y"},
		driver.AlterField{Collection: "nope", Field: added},
		driver.CreateIndex{Collection: "nope", Index: driver.Index{Name: "i", Fields: []string{"x"}}},
		driver.DropIndex{Collection: "nope", Name: "i"},
	} {
		require.ErrorIs(t, a.Migrate(ctx, op), driver.ErrNotFound, "%T", op)
	}
}

func TestMigrateIndexes(t *testing.T) {
	ctx := context.Background()
	a, m := New(), members(t)
	for _, id := range []string{"1", "2"} {
		_, err := a.Insert(ctx, m, driver.Record{Values: []any{id, "lobby", nil}}, driver.InsertOptions{})
		require.NoError(t, err)
	}
	room := driver.Index{Name: "members_room", Fields: []string{"room"}, Unique: true}
	err := a.Migrate(ctx, driver.CreateIndex{Collection: "members", Index: room})
	requireConstraint(t, err, "members", "members_room")

	require.NoError(t, a.Migrate(ctx, driver.CreateIndex{Collection: "members", Index: driver.Index{Name: "by_room", Fields: []string{"room"}}}),
		"a non-unique index accepts duplicates")
	require.NoError(t, a.Migrate(ctx, driver.CreateIndex{Collection: "members", Index: driver.Index{Name: "by_user", Fields: []string{"user"}, Unique: true}}),
		"NULLs never collide")
	require.NoError(t, a.Migrate(ctx, driver.DropIndex{Collection: "members", Name: "members_room_user"}))
}

func TestMigrateUnsupported(t *testing.T) {
	ctx := context.Background()
	a := New()
	require.ErrorIs(t, a.Migrate(ctx, driver.Exec{Statement: "VACUUM"}), driver.ErrUnsupported)
	require.ErrorIs(t, a.Migrate(ctx, &driver.DropCollection{Name: "x"}), driver.ErrUnsupported)
	require.ErrorIs(t, a.Migrate(ctx, nil), driver.ErrInvalid)
}
