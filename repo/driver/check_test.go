package driver

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckChanges(t *testing.T) {
	c, err := NewCollection("things", []Field{
		{Name: "id", Kind: KindInt},
		{Name: "name", Kind: KindString},
		{Name: "note", Kind: KindString, Nullable: true},
		{Name: "n", Kind: KindInt, Merge: MergeCounter},
		{Name: "tags", Kind: KindStrings, Merge: MergeSet},
	}, "id", "", nil, AnyConsistency)
	require.NoError(t, err)
	ok := []Change{{Field: 0, Op: Set, Value: int64(7)}, {Field: 1, Op: Set, Value: "x"}, {Field: 2, Op: Set, Value: nil},
		{Field: 3, Op: Increment, Value: int64(-2)}, {Field: 4, Op: Add, Value: []string{"a"}}, {Field: 1, Op: SetMax, Value: "y"}}
	got, err := CheckChanges(c, int64(7), ok)
	require.NoError(t, err)
	require.Equal(t, ok[1:], got, "setting the key to itself is dropped")
	for _, bad := range []Change{
		{Field: 9, Op: Set, Value: "x"},
		{Field: 0, Op: Set, Value: int64(8)},
		{Field: 1, Op: Set, Value: nil},
		{Field: 1, Op: Set, Value: 3},
		{Field: 3, Op: Increment, Value: 1},
		{Field: 1, Op: Increment, Value: int64(1)},
		{Field: 4, Op: Remove, Value: "a"},
		{Field: 4, Op: SetMax, Value: []string{"a"}},
		{Field: 1, Op: ChangeOp(99), Value: "x"},
	} {
		_, err := CheckChanges(c, int64(7), []Change{bad})
		require.ErrorIs(t, err, ErrInvalid, "%+v", bad)
	}
}
