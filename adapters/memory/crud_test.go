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

func TestInsertGetRoundTrip(t *testing.T) {
	ctx := context.Background()
	a, c := New(), users(t)
	in := fullUser(1)

	out, err := a.Insert(ctx, c, in, driver.InsertOptions{})
	require.NoError(t, err)
	require.Equal(t, in.Values, out.Values)
	require.Nil(t, out.Meta)

	got, err := a.Get(ctx, c, int64(1))
	require.NoError(t, err)
	require.Equal(t, in.Values, got.Values)

	nulls := user(2, nil, "Bob")
	_, err = a.Insert(ctx, c, nulls, driver.InsertOptions{})
	require.NoError(t, err)
	got, err = a.Get(ctx, c, int64(2))
	require.NoError(t, err)
	require.Equal(t, nulls.Values, got.Values)
	for _, i := range []int{fEmail, fAge, fScore, fBorn, fTags, fBlob, fDoc} {
		require.Nil(t, got.Values[i], "field %d", i)
	}
}

func TestStringKeys(t *testing.T) {
	ctx := context.Background()
	a, m := New(), members(t)
	_, err := a.Insert(ctx, m, driver.Record{Values: []any{"1", "lobby", int64(1)}}, driver.InsertOptions{})
	require.NoError(t, err)

	got, err := a.Get(ctx, m, "1")
	require.NoError(t, err)
	require.Equal(t, "lobby", got.Values[1])

	// The int 1 is not the string "1": a wrong key kind is invalid, not a
	// match.
	_, err = a.Get(ctx, m, int64(1))
	require.ErrorIs(t, err, driver.ErrInvalid)
}

func TestKeysOfDifferentKindsNeverCollide(t *testing.T) {
	a, b := rowKey{n: 1}, rowKey{str: true, s: "1"}
	require.NotEqual(t, a, b)
	require.Equal(t, -1, compareKeys(a, b), "ints sort before strings")
	require.Equal(t, 1, compareKeys(b, a))
	require.Equal(t, -1, compareKeys(rowKey{n: -5}, rowKey{n: 3}))
	require.Equal(t, 1, compareKeys(rowKey{str: true, s: "b"}, rowKey{str: true, s: "a"}))
}

func TestInsertDuplicateKey(t *testing.T) {
	a, c := newUsers(t, "ann")
	_, err := a.Insert(context.Background(), c, user(1, nil, "again"), driver.InsertOptions{})
	requireConstraint(t, err, "users", driver.PrimaryKeyConstraint)
	require.Equal(t, "ann", get(t, a, c, 1, fName), "the stored record is unchanged")
}

func TestGetMissing(t *testing.T) {
	a, c := newUsers(t, "ann")
	_, err := a.Get(context.Background(), c, int64(2))
	require.ErrorIs(t, err, driver.ErrNotFound)
	require.ErrorContains(t, err, "memory: get users/2")

	_, err = a.Get(context.Background(), members(t), "never written")
	require.ErrorIs(t, err, driver.ErrNotFound)
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		del     driver.Delete
		wantErr error
		gone    bool
	}{
		{"plain", driver.Delete{Key: int64(1)}, nil, true},
		{"version matches", driver.Delete{Key: int64(1), ExpectVersion: ptr(int64(1))}, nil, true},
		{"version stale", driver.Delete{Key: int64(1), ExpectVersion: ptr(int64(0))}, driver.ErrStale, false},
		{"missing", driver.Delete{Key: int64(9)}, driver.ErrNotFound, false},
		{"missing with version", driver.Delete{Key: int64(9), ExpectVersion: ptr(int64(1))}, driver.ErrNotFound, false},
		{"key of wrong kind", driver.Delete{Key: "1"}, driver.ErrInvalid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, c := newUsers(t, "ann")
			err := a.Delete(ctx, c, tt.del)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			_, err = a.Get(ctx, c, int64(1))
			if tt.gone {
				require.ErrorIs(t, err, driver.ErrNotFound)
			} else {
				require.NoError(t, err)
			}
		})
	}
}

func TestDeleteFreesKeyAndUniqueValue(t *testing.T) {
	ctx := context.Background()
	a, c := New(), users(t)
	_, err := a.Insert(ctx, c, user(1, "a@x", "ann"), driver.InsertOptions{})
	require.NoError(t, err)
	require.NoError(t, a.Delete(ctx, c, driver.Delete{Key: int64(1)}))
	_, err = a.Insert(ctx, c, user(1, "a@x", "ann again"), driver.InsertOptions{})
	require.NoError(t, err)
	_, err = a.Insert(ctx, c, user(2, "a@x", "bob"), driver.InsertOptions{})
	requireConstraint(t, err, "users", "users_email")
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	good := user(1, nil, "ann")
	tests := []struct {
		name string
		rec  driver.Record
	}{
		{"no values", driver.Record{}},
		{"too few values", driver.Record{Values: good.Values[:3]}},
		{"nil key", withValue(good, fID, nil)},
		{"key of wrong kind", withValue(good, fID, "1")},
		{"int not int64", withValue(good, fAge, 3)},
		{"string in int field", withValue(good, fAge, "3")},
		{"nil in non-nullable", withValue(good, fName, nil)},
		{"NaN", withValue(good, fScore, math.NaN())},
		{"infinity", withValue(good, fScore, math.Inf(1))},
		{"[]any for strings", withValue(good, fTags, []any{"a"})},
		{"[]byte for json", withValue(good, fDoc, []byte("{}"))},
		{"int in time field", withValue(good, fBorn, time.Now().Unix())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, c := New(), users(t)
			_, err := a.Insert(ctx, c, tt.rec, driver.InsertOptions{})
			require.ErrorIs(t, err, driver.ErrInvalid)
			n, err := a.Count(ctx, c, nil)
			require.NoError(t, err)
			require.Zero(t, n, "nothing stored")
		})
	}
}

func TestInvalidCollection(t *testing.T) {
	ctx := context.Background()
	a := New()
	bad := []*driver.Collection{
		nil,
		{Name: "", Fields: []driver.Field{{Name: "id", Kind: driver.KindInt}}, Version: -1},
		{Name: "nofields", Version: -1},
		{Name: "key out of range", Fields: []driver.Field{{Name: "id", Kind: driver.KindInt}}, Key: 3, Version: -1},
		{Name: "bool key", Fields: []driver.Field{{Name: "id", Kind: driver.KindBool}}, Version: -1},
		{Name: "string version", Fields: []driver.Field{{Name: "id", Kind: driver.KindInt}, {Name: "v", Kind: driver.KindString}}, Version: 1},
		{Name: "literal with index", Fields: []driver.Field{{Name: "id", Kind: driver.KindInt}}, Version: -1,
			Indexes: []driver.Index{{Name: "ix", Fields: []string{"id"}, Unique: true}}},
	}
	for _, c := range bad {
		_, err := a.Get(ctx, c, int64(1))
		require.ErrorIs(t, err, driver.ErrInvalid)
		_, err = a.Insert(ctx, c, driver.Record{Values: []any{int64(1)}}, driver.InsertOptions{})
		require.ErrorIs(t, err, driver.ErrInvalid)
		for _, err := range a.Query(ctx, c, nil) {
			require.ErrorIs(t, err, driver.ErrInvalid)
		}
	}

	// A hand-built collection without indexes works.
	lit := &driver.Collection{Name: "lit", Fields: []driver.Field{{Name: "id", Kind: driver.KindString}}, Version: -1}
	_, err := a.Insert(ctx, lit, driver.Record{Values: []any{"k"}}, driver.InsertOptions{})
	require.NoError(t, err)
	got, err := a.Get(ctx, lit, "k")
	require.NoError(t, err)
	require.Equal(t, []any{"k"}, got.Values)
}

func TestNilContext(t *testing.T) {
	a, c := newUsers(t, "ann")
	_, err := a.Get(nil, c, int64(1)) // a nil context is an error, not a panic
	require.ErrorIs(t, err, driver.ErrInvalid)
}

func TestValuesAreCopies(t *testing.T) {
	ctx := context.Background()
	a, c := New(), users(t)
	in := fullUser(1)
	out, err := a.Insert(ctx, c, in, driver.InsertOptions{})
	require.NoError(t, err)

	// Mutating what was passed in or handed back leaves the store alone.
	in.Values[fTags].([]string)[0] = "in"
	in.Values[fBlob].([]byte)[0] = 'i'
	in.Values[fDoc].(json.RawMessage)[0] = 'i'
	out.Values[fTags].([]string)[0] = "out"
	out.Values[fBlob].([]byte)[0] = 'o'
	out.Values[fDoc].(json.RawMessage)[0] = 'o'

	got, err := a.Get(ctx, c, int64(1))
	require.NoError(t, err)
	want := fullUser(1).Values
	require.Equal(t, want, got.Values)

	got.Values[fTags].([]string)[0] = "get"
	got.Values[fBlob].([]byte)[0] = 'g'
	recs := collect(t, a.Query(ctx, c, nil))
	require.Equal(t, want, recs[0].Values)

	recs[0].Values[fTags].([]string)[0] = "query"
	upd, err := a.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{{Field: fLikes, Op: driver.Increment, Value: int64(1)}}})
	require.NoError(t, err)
	require.Equal(t, []string{"math", "poetry"}, upd.Values[fTags])

	upd.Values[fTags].([]string)[0] = "update"
	set := []string{"x", "y"}
	_, err = a.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{{Field: fTags, Op: driver.Set, Value: set}}})
	require.NoError(t, err)
	set[0] = "changed"
	require.Equal(t, []string{"x", "y"}, get(t, a, c, 1, fTags))

	batch := []driver.Record{withValue(fullUser(2), fEmail, "bob@example.com")}
	_, err = a.InsertAll(ctx, c, batch)
	require.NoError(t, err)
	batch[0].Values[fBlob].([]byte)[0] = 'b'
	require.Equal(t, []byte{0, 1, 2}, get(t, a, c, 2, fBlob))
}

func TestMissingFieldsReadAsNullOrZero(t *testing.T) {
	// Records are stored by field name: a collection that declares fields
	// a record lacks reads NULL for the nullable ones and the zero value
	// of the kind for the others.
	ctx := context.Background()
	a := New()
	v1, err := driver.NewCollection("t", []driver.Field{{Name: "id", Kind: driver.KindString}}, "id", "", nil, driver.CP)
	require.NoError(t, err)
	_, err = a.Insert(ctx, v1, driver.Record{Values: []any{"k"}}, driver.InsertOptions{})
	require.NoError(t, err)

	fields := []driver.Field{{Name: "id", Kind: driver.KindString}}
	want := []any{"k"}
	for _, z := range []struct {
		kind driver.Kind
		zero any
	}{
		{driver.KindString, ""}, {driver.KindInt, int64(0)}, {driver.KindFloat, 0.0}, {driver.KindBool, false},
		{driver.KindTime, time.Time{}}, {driver.KindBytes, []byte{}}, {driver.KindStrings, []string{}},
		{driver.KindJSON, json.RawMessage("null")},
	} {
		fields = append(fields,
			driver.Field{Name: z.kind.String(), Kind: z.kind},
			driver.Field{Name: z.kind.String() + "?", Kind: z.kind, Nullable: true})
		want = append(want, z.zero, nil)
	}
	v2, err := driver.NewCollection("t", fields, "id", "", nil, driver.CP)
	require.NoError(t, err)
	got, err := a.Get(ctx, v2, "k")
	require.NoError(t, err)
	require.Len(t, got.Values, len(want))
	for i, w := range want {
		requireValue(t, w, got.Values[i], fields[i].Name)
	}
}
