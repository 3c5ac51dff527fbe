package memory

import (
	"context"
	"encoding/json"
	"iter"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

// Field positions of the users collection.
const (
	fID = iota
	fEmail
	fName
	fAge
	fScore
	fActive
	fBorn
	fTags
	fBlob
	fDoc
	fLikes
	fVersion
)

// users returns a collection with a field of every kind, an int primary
// key, a version field, a unique index on email and a plain index on name.
func users(t testing.TB) *driver.Collection {
	t.Helper()
	c, err := driver.NewCollection("users", []driver.Field{
		{Name: "id", Kind: driver.KindInt, Bits: 64},
		{Name: "email", Kind: driver.KindString, Nullable: true},
		{Name: "name", Kind: driver.KindString},
		{Name: "age", Kind: driver.KindInt, Bits: 64, Nullable: true},
		{Name: "score", Kind: driver.KindFloat, Bits: 64, Nullable: true},
		{Name: "active", Kind: driver.KindBool},
		{Name: "born", Kind: driver.KindTime, Nullable: true},
		{Name: "tags", Kind: driver.KindStrings, Nullable: true, Merge: driver.MergeSet},
		{Name: "blob", Kind: driver.KindBytes, Nullable: true},
		{Name: "doc", Kind: driver.KindJSON, Nullable: true},
		{Name: "likes", Kind: driver.KindInt, Bits: 64, Merge: driver.MergeCounter},
		{Name: "version", Kind: driver.KindInt, Bits: 64},
	}, "id", "version", []driver.Index{
		{Name: "users_email", Fields: []string{"email"}, Unique: true},
		{Name: "users_name", Fields: []string{"name"}},
	}, driver.CP)
	require.NoError(t, err)
	return c
}

// members returns a collection with a string primary key and a unique
// index over two fields.
func members(t testing.TB) *driver.Collection {
	t.Helper()
	c, err := driver.NewCollection("members", []driver.Field{
		{Name: "id", Kind: driver.KindString},
		{Name: "room", Kind: driver.KindString},
		{Name: "user", Kind: driver.KindInt, Nullable: true},
	}, "id", "", []driver.Index{
		{Name: "members_room_user", Fields: []string{"room", "user"}, Unique: true},
	}, driver.AP)
	require.NoError(t, err)
	return c
}

// user returns a users record with the non-nullable fields set and every
// nullable one NULL.
func user(id int64, email any, name string) driver.Record {
	v := make([]any, fVersion+1)
	v[fID], v[fEmail], v[fName] = id, email, name
	v[fActive], v[fLikes], v[fVersion] = false, int64(0), int64(1)
	return driver.Record{Values: v}
}

// withValue returns a copy of rec with field i set to v.
func withValue(rec driver.Record, i int, v any) driver.Record {
	vals := append([]any(nil), rec.Values...)
	vals[i] = v
	return driver.Record{Values: vals}
}

// fullUser returns a users record with every field set.
func fullUser(id int64) driver.Record {
	return driver.Record{Values: []any{
		id, "ada@example.com", "Ada", int64(36), 9.5, true,
		time.Date(1815, 12, 10, 8, 30, 0, 123000, time.UTC),
		[]string{"math", "poetry"}, []byte{0, 1, 2}, json.RawMessage(`{"a":1}`),
		int64(7), int64(1),
	}}
}

// newUsers returns an adapter holding one users record per name, with ids
// 1, 2, … in order.
func newUsers(t testing.TB, names ...string) (*Adapter, *driver.Collection) {
	t.Helper()
	a, c := New(), users(t)
	for i, name := range names {
		_, err := a.Insert(context.Background(), c, user(int64(i+1), nil, name), driver.InsertOptions{})
		require.NoError(t, err)
	}
	return a, c
}

// collect drains a query, failing the test on error.
func collect(t testing.TB, seq iter.Seq2[driver.Record, error]) []driver.Record {
	t.Helper()
	var out []driver.Record
	for rec, err := range seq {
		require.NoError(t, err)
		out = append(out, rec)
	}
	return out
}

// field returns the values of field i of recs.
func field(recs []driver.Record, i int) []any {
	out := make([]any, len(recs))
	for j, r := range recs {
		out[j] = r.Values[i]
	}
	return out
}

// ids returns the ids of recs.
func ids(recs []driver.Record) []any { return field(recs, fID) }

// get reads field i of the users record with the given id.
func get(t testing.TB, s driver.Store, c *driver.Collection, id int64, i int) any {
	t.Helper()
	rec, err := s.Get(context.Background(), c, id)
	require.NoError(t, err)
	return rec.Values[i]
}

// requireConstraint asserts that err is a unique violation of the named
// constraint of users.
func requireConstraint(t testing.TB, err error, collection, name string) {
	t.Helper()
	var ce *driver.ConstraintError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, driver.Unique, ce.Kind)
	require.Equal(t, collection, ce.Collection)
	require.Equal(t, name, ce.Name)
	require.ErrorIs(t, err, driver.ErrConflict)
}

func ptr[T any](v T) *T { return &v }

// requireValue asserts that got is want. An empty []string may come back as
// a nil []string (driver.Clone makes one of the other), which is still not
// NULL.
func requireValue(t *testing.T, want, got any, msg string) {
	t.Helper()
	if w, ok := want.([]string); ok && len(w) == 0 {
		require.IsType(t, w, got, msg)
		require.Empty(t, got, msg)
		return
	}
	require.Equal(t, want, got, msg)
}
