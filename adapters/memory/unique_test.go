package memory

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

func TestUniqueOnInsert(t *testing.T) {
	ctx := context.Background()
	a, c := New(), users(t)
	_, err := a.Insert(ctx, c, user(1, "a@x", "ann"), driver.InsertOptions{})
	require.NoError(t, err)

	_, err = a.Insert(ctx, c, user(2, "a@x", "bob"), driver.InsertOptions{})
	requireConstraint(t, err, "users", "users_email")
	_, err = a.Get(ctx, c, int64(2))
	require.ErrorIs(t, err, driver.ErrNotFound)

	// NULLs never collide; a non-unique index never rejects.
	for id := int64(3); id <= 5; id++ {
		_, err = a.Insert(ctx, c, user(id, nil, "same name"), driver.InsertOptions{})
		require.NoError(t, err)
	}
	// Unique values compare by Compare: case matters.
	_, err = a.Insert(ctx, c, user(6, "A@x", "cy"), driver.InsertOptions{})
	require.NoError(t, err)
}

func TestUniqueCompositeIndex(t *testing.T) {
	ctx := context.Background()
	a, m := New(), members(t)
	rec := func(id, room string, user any) driver.Record { return driver.Record{Values: []any{id, room, user}} }
	for _, r := range []driver.Record{
		rec("1", "lobby", int64(1)),
		rec("2", "lobby", int64(2)),
		rec("3", "den", int64(1)),
		rec("4", "lobby", nil), // a NULL in any field: no collision
		rec("5", "lobby", nil),
	} {
		_, err := a.Insert(ctx, m, r, driver.InsertOptions{})
		require.NoError(t, err)
	}
	_, err := a.Insert(ctx, m, rec("6", "lobby", int64(2)), driver.InsertOptions{})
	requireConstraint(t, err, "members", "members_room_user")
}

func TestUniqueOnUpdate(t *testing.T) {
	ctx := context.Background()
	a, c := New(), users(t)
	for id, email := range []string{"a@x", "b@x"} {
		_, err := a.Insert(ctx, c, user(int64(id+1), email, "x"), driver.InsertOptions{})
		require.NoError(t, err)
	}
	setEmail := func(id int64, email any) error {
		_, err := a.Update(ctx, c, driver.Update{Key: id, Changes: []driver.Change{{Field: fEmail, Op: driver.Set, Value: email}}})
		return err
	}
	requireConstraint(t, setEmail(2, "a@x"), "users", "users_email")
	require.Equal(t, "b@x", get(t, a, c, 2, fEmail))

	require.NoError(t, setEmail(1, "a@x"), "a record does not collide with itself")
	require.NoError(t, setEmail(1, nil))
	require.NoError(t, setEmail(2, "a@x"), "the old value is free after an update")
	require.NoError(t, setEmail(1, "b@x"))
	requireConstraint(t, setEmail(1, "a@x"), "users", "users_email")
}

func TestUniqueOnBatch(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		recs []driver.Record
		want string // constraint violated, or "" for success
	}{
		{"ok", []driver.Record{user(2, "b@x", "b"), user(3, "c@x", "c"), user(4, nil, "d"), user(5, nil, "e")}, ""},
		{"empty", nil, ""},
		{"key taken", []driver.Record{user(2, "b@x", "b"), user(1, "c@x", "c")}, driver.PrimaryKeyConstraint},
		{"email taken", []driver.Record{user(2, "b@x", "b"), user(3, "a@x", "c")}, "users_email"},
		{"key twice in the batch", []driver.Record{user(2, "b@x", "b"), user(2, "c@x", "c")}, driver.PrimaryKeyConstraint},
		{"email twice in the batch", []driver.Record{user(2, "b@x", "b"), user(3, "b@x", "c")}, "users_email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, c := New(), users(t)
			_, err := a.Insert(ctx, c, user(1, "a@x", "a"), driver.InsertOptions{})
			require.NoError(t, err)

			out, err := a.InsertAll(ctx, c, tt.recs)
			n, cerr := a.Count(ctx, c, nil)
			require.NoError(t, cerr)
			if tt.want != "" {
				requireConstraint(t, err, "users", tt.want)
				require.Nil(t, out)
				require.Equal(t, int64(1), n, "nothing of the batch is stored")
				return
			}
			require.NoError(t, err)
			require.Len(t, out, len(tt.recs))
			for i, rec := range tt.recs {
				require.Equal(t, rec.Values, out[i].Values)
			}
			require.Equal(t, int64(1+len(tt.recs)), n)
		})
	}
}

func TestBatchInvalidRecordStoresNothing(t *testing.T) {
	a, c := New(), users(t)
	_, err := a.InsertAll(context.Background(), c, []driver.Record{user(1, nil, "a"), withValue(user(2, nil, "b"), fAge, "old")})
	require.ErrorIs(t, err, driver.ErrInvalid)
	require.ErrorContains(t, err, "record 1")
	n, err := a.Count(context.Background(), c, nil)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestUpsert(t *testing.T) {
	ctx := context.Background()
	replaceName := func(target string) driver.InsertOptions {
		return driver.InsertOptions{OnConflict: &driver.OnConflict{Target: target, Replace: []int{fName, fAge}}}
	}
	tests := []struct {
		name     string
		rec      driver.Record
		opts     driver.InsertOptions
		wantErr  string // constraint name
		wantID   int64  // record returned and stored
		wantName string
		wantVer  int64
		count    int64
	}{
		{"no conflict inserts", user(2, "b@x", "bob"), replaceName(driver.PrimaryKeyConstraint), "", 2, "bob", 1, 2},
		{"key conflict replaces", withValue(user(1, "z@x", "new"), fVersion, int64(50)), replaceName(driver.PrimaryKeyConstraint), "", 1, "new", 8, 1},
		{"email conflict replaces the holder", user(9, "a@x", "new"), replaceName("users_email"), "", 1, "new", 8, 1},
		{"key conflict with email target is a key violation", user(1, "z@x", "new"), replaceName("users_email"), driver.PrimaryKeyConstraint, 0, "", 0, 1},
		{"email conflict with key target is an email violation", user(2, "a@x", "new"), replaceName(driver.PrimaryKeyConstraint), "users_email", 0, "", 0, 1},
		{"NULL email never conflicts", user(2, nil, "bob"), replaceName("users_email"), "", 2, "bob", 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, c := New(), users(t)
			first := withValue(withValue(user(1, "a@x", "ann"), fVersion, int64(7)), fLikes, int64(3))
			_, err := a.Insert(ctx, c, first, driver.InsertOptions{})
			require.NoError(t, err)

			got, err := a.Insert(ctx, c, withValue(tt.rec, fAge, int64(40)), tt.opts)
			n, cerr := a.Count(ctx, c, nil)
			require.NoError(t, cerr)
			require.Equal(t, tt.count, n)
			if tt.wantErr != "" {
				requireConstraint(t, err, "users", tt.wantErr)
				require.Equal(t, "ann", get(t, a, c, 1, fName))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantID, got.Values[fID])
			require.Equal(t, tt.wantName, got.Values[fName])
			require.Equal(t, int64(40), got.Values[fAge])
			require.Equal(t, tt.wantVer, got.Values[fVersion])
			stored, err := a.Get(ctx, c, tt.wantID)
			require.NoError(t, err)
			require.Equal(t, got.Values, stored.Values)
			if tt.wantID == 1 {
				require.Equal(t, "a@x", stored.Values[fEmail], "fields not in Replace are kept")
				require.Equal(t, int64(3), stored.Values[fLikes])
			}
		})
	}
}

func TestUpsertReplaceCausingOtherViolation(t *testing.T) {
	ctx := context.Background()
	a, c := New(), users(t)
	for id, email := range []string{"a@x", "b@x"} {
		_, err := a.Insert(ctx, c, user(int64(id+1), email, "x"), driver.InsertOptions{})
		require.NoError(t, err)
	}
	// Upserting key 1 with Replace of email to b@x collides with record 2.
	_, err := a.Insert(ctx, c, user(1, "b@x", "y"), driver.InsertOptions{
		OnConflict: &driver.OnConflict{Target: driver.PrimaryKeyConstraint, Replace: []int{fEmail, fName}},
	})
	requireConstraint(t, err, "users", "users_email")
	require.Equal(t, "a@x", get(t, a, c, 1, fEmail))
}

func TestUpsertKeyIsNeverReplaced(t *testing.T) {
	ctx := context.Background()
	a, c := New(), users(t)
	_, err := a.Insert(ctx, c, user(1, "a@x", "ann"), driver.InsertOptions{})
	require.NoError(t, err)
	got, err := a.Insert(ctx, c, user(2, "a@x", "bob"), driver.InsertOptions{
		OnConflict: &driver.OnConflict{Target: "users_email", Replace: []int{fID, fName}},
	})
	require.NoError(t, err)
	require.Equal(t, int64(1), got.Values[fID])
	require.Equal(t, "bob", got.Values[fName])
	_, err = a.Get(ctx, c, int64(2))
	require.ErrorIs(t, err, driver.ErrNotFound)
}

func TestUpsertInvalid(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann")
	for name, oc := range map[string]*driver.OnConflict{
		"unknown target":         {Target: "nope", Replace: []int{fName}},
		"non-unique target":      {Target: "users_name", Replace: []int{fName}},
		"replace out of range":   {Target: driver.PrimaryKeyConstraint, Replace: []int{99}},
		"replace negative field": {Target: driver.PrimaryKeyConstraint, Replace: []int{-1}},
	} {
		_, err := a.Insert(ctx, c, user(1, nil, "x"), driver.InsertOptions{OnConflict: oc})
		require.ErrorIs(t, err, driver.ErrInvalid, name)
	}
	require.Equal(t, "ann", get(t, a, c, 1, fName))
}

func TestUniqueIndexDeclaredLater(t *testing.T) {
	// Records stored before a collection declares a unique index may hold
	// duplicates; the index then rejects new collisions, and frees a value
	// only when no record holds it any more.
	ctx := context.Background()
	a := New()
	plain, err := driver.NewCollection("t", []driver.Field{{Name: "id", Kind: driver.KindInt}, {Name: "u", Kind: driver.KindString}}, "id", "", nil, driver.CP)
	require.NoError(t, err)
	uniq, err := driver.NewCollection("t", plain.Fields, "id", "", []driver.Index{{Name: "t_u", Fields: []string{"u"}, Unique: true}}, driver.CP)
	require.NoError(t, err)
	for id := int64(1); id <= 2; id++ {
		_, err := a.Insert(ctx, plain, driver.Record{Values: []any{id, "dup"}}, driver.InsertOptions{})
		require.NoError(t, err)
	}
	_, err = a.Insert(ctx, uniq, driver.Record{Values: []any{int64(3), "dup"}}, driver.InsertOptions{})
	requireConstraint(t, err, "t", "t_u")
	require.NoError(t, a.Delete(ctx, uniq, driver.Delete{Key: int64(1)}))
	_, err = a.Insert(ctx, uniq, driver.Record{Values: []any{int64(3), "dup"}}, driver.InsertOptions{})
	requireConstraint(t, err, "t", "t_u")
	require.NoError(t, a.Delete(ctx, uniq, driver.Delete{Key: int64(2)}))
	_, err = a.Insert(ctx, uniq, driver.Record{Values: []any{int64(3), "dup"}}, driver.InsertOptions{})
	require.NoError(t, err)
}

func TestUniqueEveryKind(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 123000, time.UTC)
	tests := []struct {
		kind              driver.Kind
		first, same, diff any // same collides with first, diff with neither
	}{
		{driver.KindString, "a", "a", "A"},
		{driver.KindInt, int64(1), int64(1), int64(-1)},
		{driver.KindFloat, 0.0, math.Copysign(0, -1), 0.5},
		{driver.KindBool, true, true, false},
		{driver.KindTime, t0, t0.In(time.FixedZone("x", 3600)), t0.Add(time.Microsecond)},
		{driver.KindBytes, []byte("ab"), []byte("ab"), []byte("a")},
		{driver.KindStrings, []string{"a", "b"}, []string{"a", "b"}, []string{"ab"}},
		{driver.KindJSON, json.RawMessage(`{"a":1}`), json.RawMessage(`{"a":1}`), json.RawMessage(`{"a":2}`)},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			c, err := driver.NewCollection("k", []driver.Field{
				{Name: "id", Kind: driver.KindInt},
				{Name: "v", Kind: tt.kind},
			}, "id", "", []driver.Index{{Name: "k_v", Fields: []string{"v"}, Unique: true}}, driver.CP)
			require.NoError(t, err)
			a := New()
			insert := func(id int64, v any) error {
				_, err := a.Insert(ctx, c, driver.Record{Values: []any{id, v}}, driver.InsertOptions{})
				return err
			}
			require.NoError(t, insert(1, tt.first))
			requireConstraint(t, insert(2, tt.same), "k", "k_v")
			require.NoError(t, insert(3, tt.diff))
			requireConstraint(t, insert(4, tt.diff), "k", "k_v")
		})
	}
}

func TestUniqueCompositeValuesDoNotRunTogether(t *testing.T) {
	// ("ab", "c") and ("a", "bc") must not collide: encodings are
	// length-prefixed.
	ctx := context.Background()
	c, err := driver.NewCollection("p", []driver.Field{
		{Name: "id", Kind: driver.KindInt}, {Name: "x", Kind: driver.KindString}, {Name: "y", Kind: driver.KindString},
	}, "id", "", []driver.Index{{Name: "p_xy", Fields: []string{"x", "y"}, Unique: true}}, driver.CP)
	require.NoError(t, err)
	a := New()
	_, err = a.Insert(ctx, c, driver.Record{Values: []any{int64(1), "ab", "c"}}, driver.InsertOptions{})
	require.NoError(t, err)
	_, err = a.Insert(ctx, c, driver.Record{Values: []any{int64(2), "a", "bc"}}, driver.InsertOptions{})
	require.NoError(t, err)
	_, err = a.Insert(ctx, c, driver.Record{Values: []any{int64(3), "ab", "c"}}, driver.InsertOptions{})
	requireConstraint(t, err, "p", "p_xy")
}
