package memory

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

func TestUpdateChangeOps(t *testing.T) {
	tests := []struct {
		name    string
		initial any // value of the field before the change
		field   int
		op      driver.ChangeOp
		value   any
		want    any
	}{
		{"set", "ann", fName, driver.Set, "bob", "bob"},
		{"set NULL", int64(3), fAge, driver.Set, nil, nil},
		{"set on NULL", nil, fAge, driver.Set, int64(4), int64(4)},
		{"increment", int64(5), fLikes, driver.Increment, int64(3), int64(8)},
		{"decrement", int64(5), fLikes, driver.Increment, int64(-7), int64(-2)},
		{"increment NULL counts as 0", nil, fAge, driver.Increment, int64(2), int64(2)},
		{"add to NULL", nil, fTags, driver.Add, []string{"a", "b", "a"}, []string{"a", "b"}},
		{"add keeps first-insertion order", []string{"b", "a"}, fTags, driver.Add, []string{"c", "a", "d"}, []string{"b", "a", "c", "d"}},
		{"add nothing", []string{"a"}, fTags, driver.Add, []string{}, []string{"a"}},
		{"remove", []string{"a", "b", "c"}, fTags, driver.Remove, []string{"b", "z"}, []string{"a", "c"}},
		{"remove all", []string{"a"}, fTags, driver.Remove, []string{"a"}, []string{}},
		{"remove from NULL", nil, fTags, driver.Remove, []string{"a"}, nil},
		{"max greater", int64(5), fAge, driver.SetMax, int64(9), int64(9)},
		{"max smaller", int64(5), fAge, driver.SetMax, int64(2), int64(5)},
		{"max equal", int64(5), fAge, driver.SetMax, int64(5), int64(5)},
		{"max replaces NULL", nil, fAge, driver.SetMax, int64(-1), int64(-1)},
		{"max NULL replaces nothing", int64(5), fAge, driver.SetMax, nil, int64(5)},
		{"max of strings", "b", fName, driver.SetMax, "c", "c"},
		{"max of floats", 1.5, fScore, driver.SetMax, 1.25, 1.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			a, c := New(), users(t)
			_, err := a.Insert(ctx, c, withValue(user(1, nil, "x"), tt.field, tt.initial), driver.InsertOptions{})
			require.NoError(t, err)

			got, err := a.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{{Field: tt.field, Op: tt.op, Value: tt.value}}})
			require.NoError(t, err)
			requireValue(t, tt.want, got.Values[tt.field], "returned record")
			requireValue(t, tt.want, get(t, a, c, 1, tt.field), "stored record")
			require.Equal(t, int64(1), got.Values[fVersion], "the whole record is returned")
		})
	}
}

func TestUpdateAppliesAllChangesOrNone(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann")
	got, err := a.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{
		{Field: fName, Op: driver.Set, Value: "bob"},
		{Field: fLikes, Op: driver.Increment, Value: int64(2)},
		{Field: fLikes, Op: driver.Increment, Value: int64(3)},
		{Field: fTags, Op: driver.Add, Value: []string{"x"}},
	}})
	require.NoError(t, err)
	require.Equal(t, "bob", got.Values[fName])
	require.Equal(t, int64(5), got.Values[fLikes], "changes to one field compose in order")
	require.Equal(t, []string{"x"}, got.Values[fTags])

	_, err = a.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{
		{Field: fName, Op: driver.Set, Value: "cy"},
		{Field: fLikes, Op: driver.Increment, Value: "not an int"},
	}})
	require.ErrorIs(t, err, driver.ErrInvalid)
	require.Equal(t, "bob", get(t, a, c, 1, fName), "a failed update changes nothing")
}

func TestUpdateInvalidChanges(t *testing.T) {
	tests := []struct {
		name string
		ch   driver.Change
	}{
		{"field out of range", driver.Change{Field: 99, Op: driver.Set, Value: "x"}},
		{"negative field", driver.Change{Field: -1, Op: driver.Set, Value: "x"}},
		{"unknown op", driver.Change{Field: fName, Op: 0, Value: "x"}},
		{"set wrong type", driver.Change{Field: fName, Op: driver.Set, Value: int64(1)}},
		{"set NULL on non-nullable", driver.Change{Field: fName, Op: driver.Set, Value: nil}},
		{"increment a string field", driver.Change{Field: fName, Op: driver.Increment, Value: int64(1)}},
		{"increment by an int", driver.Change{Field: fLikes, Op: driver.Increment, Value: 1}},
		{"increment overflow", driver.Change{Field: fLikes, Op: driver.Increment, Value: int64(math.MaxInt64)}},
		{"add to an int field", driver.Change{Field: fLikes, Op: driver.Add, Value: []string{"a"}}},
		{"add a string", driver.Change{Field: fTags, Op: driver.Add, Value: "a"}},
		{"remove []any", driver.Change{Field: fTags, Op: driver.Remove, Value: []any{"a"}}},
		{"max of bytes", driver.Change{Field: fBlob, Op: driver.SetMax, Value: []byte("a")}},
		{"max wrong type", driver.Change{Field: fAge, Op: driver.SetMax, Value: "a"}},
		{"change the key", driver.Change{Field: fID, Op: driver.Set, Value: int64(2)}},
		{"increment the key", driver.Change{Field: fID, Op: driver.Increment, Value: int64(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			a, c := newUsers(t, "ann")
			_, err := a.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{
				{Field: fLikes, Op: driver.Increment, Value: int64(1)}, tt.ch,
			}})
			require.ErrorIs(t, err, driver.ErrInvalid)
			require.Equal(t, int64(0), get(t, a, c, 1, fLikes), "nothing applied")
		})
	}
}

func TestUpdateKeyToSameValueIsAllowed(t *testing.T) {
	a, c := newUsers(t, "ann")
	got, err := a.Update(context.Background(), c, driver.Update{Key: int64(1), Changes: []driver.Change{
		{Field: fID, Op: driver.Set, Value: int64(1)}, {Field: fName, Op: driver.Set, Value: "bob"},
	}})
	require.NoError(t, err)
	require.Equal(t, "bob", got.Values[fName])
}

func TestUpdateMissing(t *testing.T) {
	a, c := newUsers(t, "ann")
	_, err := a.Update(context.Background(), c, driver.Update{Key: int64(2), Changes: []driver.Change{{Field: fName, Op: driver.Set, Value: "x"}}})
	require.ErrorIs(t, err, driver.ErrNotFound)
	require.ErrorContains(t, err, "memory: update users/2: not found")
	_, err = a.Get(context.Background(), c, int64(2))
	require.ErrorIs(t, err, driver.ErrNotFound, "update does not insert")
}

func TestUpdateVersion(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann") // version 1
	next := func(v int64) []driver.Change {
		return []driver.Change{{Field: fName, Op: driver.Set, Value: "bob"}, {Field: fVersion, Op: driver.Set, Value: v}}
	}

	_, err := a.Update(ctx, c, driver.Update{Key: int64(1), ExpectVersion: ptr(int64(2)), Changes: next(3)})
	require.ErrorIs(t, err, driver.ErrStale)
	require.ErrorContains(t, err, "memory: update users/1: stale")
	require.Equal(t, "ann", get(t, a, c, 1, fName))

	got, err := a.Update(ctx, c, driver.Update{Key: int64(1), ExpectVersion: ptr(int64(1)), Changes: next(2)})
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Values[fVersion])
	require.Equal(t, "bob", got.Values[fName])

	_, err = a.Update(ctx, c, driver.Update{Key: int64(1), ExpectVersion: ptr(int64(1)), Changes: next(2)})
	require.ErrorIs(t, err, driver.ErrStale, "the old version is stale now")

	// Without ExpectVersion an update is unconditional and leaves the
	// version to the caller.
	got, err = a.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{{Field: fName, Op: driver.Set, Value: "cy"}}})
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Values[fVersion])

	m := members(t)
	_, err = a.Insert(ctx, m, driver.Record{Values: []any{"k", "r", nil}}, driver.InsertOptions{})
	require.NoError(t, err)
	_, err = a.Update(ctx, m, driver.Update{Key: "k", ExpectVersion: ptr(int64(1))})
	require.ErrorIs(t, err, driver.ErrInvalid, "no version field to check")
}
