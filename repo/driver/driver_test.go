package driver_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

func TestCompare(t *testing.T) {
	t0 := time.Unix(0, 0).UTC()
	cases := []struct {
		a, b any
		want int
	}{
		{nil, nil, 0}, {nil, "a", -1}, {"a", nil, 1},
		{"a", "b", -1}, {"b", "a", 1}, {"é", "z", 1}, // bytes, not collation
		{int64(-1), int64(2), -1}, {1.5, 1.5, 0}, {false, true, -1}, {true, true, 0},
		{t0, t0.Add(time.Microsecond), -1}, {[]byte{1}, []byte{1, 0}, -1},
		// values of different types never compare equal
		{int64(1), 1.0, -1}, {1.0, int64(1), 1}, {1, int64(1), 1}, {"1", int64(1), 1},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, driver.Compare(c.a, c.b), "%#v vs %#v", c.a, c.b)
	}
}

func TestFilterMatch(t *testing.T) {
	cases := []struct {
		f    driver.Filter
		v    any
		want bool
	}{
		{driver.Filter{Op: driver.Eq, Value: nil}, nil, true},
		{driver.Filter{Op: driver.Eq, Value: nil}, "x", false},
		{driver.Filter{Op: driver.Ne, Value: nil}, "x", true},
		{driver.Filter{Op: driver.Ne, Value: "x"}, nil, false}, // SQL: NULL matches no comparison
		{driver.Filter{Op: driver.Lt, Value: nil}, nil, false},
		{driver.Filter{Op: driver.Gte, Value: int64(3)}, int64(3), true},
		{driver.Filter{Op: driver.Gt, Value: int64(3)}, int64(3), false},
		{driver.Filter{Op: driver.In, Value: []any{"a", nil, "b"}}, "b", true},
		{driver.Filter{Op: driver.In, Value: []any{"a", nil}}, nil, false},
		{driver.Filter{Op: driver.In, Value: []any{}}, "a", false},
		{driver.Filter{Op: driver.In, Value: "not a list"}, "a", false}, // never panics
		{driver.Filter{Op: driver.Prefix, Value: "ab"}, "abc", true},
		{driver.Filter{Op: driver.Prefix, Value: "a%"}, "abc", false},
		{driver.Filter{Op: driver.Prefix, Value: "a"}, int64(1), false},
		{driver.Filter{Op: driver.Eq, Value: 1}, int64(1), false}, // wrong type never matches
		{driver.Filter{Op: driver.Op(99), Value: "a"}, "a", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.f.Match(c.v), "%v %v on %#v", c.f.Op, c.f.Value, c.v)
	}
}

func TestAfterCursor(t *testing.T) {
	q := driver.Query{Order: []driver.Order{{Field: 0, Desc: true}, {Field: 1}}, After: []any{int64(5), "m"}}
	assert.True(t, q.AfterCursor([]any{int64(4), "a"}))
	assert.True(t, q.AfterCursor([]any{int64(5), "n"}))
	assert.False(t, q.AfterCursor([]any{int64(5), "m"}), "strictly after")
	assert.False(t, q.AfterCursor([]any{int64(6), "z"}))
}

func TestNormalize(t *testing.T) {
	ok := []struct {
		k    driver.Kind
		in   any
		want any
	}{
		{driver.KindInt, int32(7), int64(7)}, {driver.KindInt, uint8(7), int64(7)}, {driver.KindInt, "42", int64(42)},
		{driver.KindInt, []byte("-3"), int64(-3)}, {driver.KindInt, 2.0, int64(2)},
		{driver.KindFloat, float32(0.5), 0.5}, {driver.KindFloat, "1.25", 1.25}, {driver.KindFloat, int64(2), 2.0},
		{driver.KindBool, int64(1), true}, {driver.KindString, []byte("s"), "s"},
		{driver.KindBytes, "b", []byte("b")}, {driver.KindStrings, []any{"a"}, []string{"a"}},
		{driver.KindJSON, `{"a":1}`, json.RawMessage(`{"a":1}`)}, {driver.KindString, nil, nil},
		{driver.KindTime, time.Date(2020, 1, 1, 1, 0, 0, 1500, time.FixedZone("x", 3600)), time.Date(2020, 1, 1, 0, 0, 0, 1000, time.UTC)},
	}
	for _, c := range ok {
		got, err := driver.Normalize(c.k, c.in)
		require.NoError(t, err, "%s %#v", c.k, c.in)
		assert.Equal(t, c.want, got, "%s %#v", c.k, c.in)
	}
	bad := []struct {
		k  driver.Kind
		in any
	}{
		{driver.KindInt, uint64(math.MaxUint64)}, {driver.KindInt, 1.5}, {driver.KindInt, "x"}, {driver.KindInt, 1e300},
		{driver.KindFloat, "x"}, {driver.KindBool, "true"}, {driver.KindTime, "2020-01-01"},
		{driver.KindStrings, []any{1}}, {driver.KindJSON, 3}, {driver.Kind(0), "x"},
	}
	for _, c := range bad {
		_, err := driver.Normalize(c.k, c.in)
		assert.ErrorIs(t, err, driver.ErrInvalid, "%s %#v", c.k, c.in)
	}
}

func TestClone(t *testing.T) {
	b := []byte{1, 2}
	c := driver.Clone(b).([]byte)
	c[0] = 9
	assert.Equal(t, byte(1), b[0])
	assert.NotNil(t, driver.Clone([]string{}), "an empty list stays an empty list")
	assert.Nil(t, driver.Clone([]string(nil)))
	assert.Equal(t, int64(3), driver.Clone(int64(3)))
}

func TestNewCollection(t *testing.T) {
	fields := []driver.Field{{Name: "id", Kind: driver.KindInt}, {Name: "v", Kind: driver.KindInt}, {Name: "f", Kind: driver.KindFloat}}
	c, err := driver.NewCollection("t", fields, "id", "v", []driver.Index{{Name: "t_f_idx", Fields: []string{"f"}}}, driver.CP)
	require.NoError(t, err)
	assert.Equal(t, 2, c.FieldIndex("f"))
	assert.Equal(t, -1, c.FieldIndex("nope"))
	assert.Equal(t, 1, c.Version)
	assert.True(t, c.Indexed("id"))
	assert.True(t, c.Indexed("f"))
	assert.False(t, c.Indexed("v"))

	for name, args := range map[string]struct {
		name, key, version string
		fields             []driver.Field
		idx                []driver.Index
	}{
		"no name":       {"", "id", "", fields, nil},
		"no key":        {"t", "nope", "", fields, nil},
		"float key":     {"t", "f", "", fields, nil},
		"bad version":   {"t", "id", "nope", fields, nil},
		"bad index":     {"t", "id", "", fields, []driver.Index{{Name: "i", Fields: []string{"nope"}}}},
		"duplicate":     {"t", "id", "", append(fields[:1:1], fields[0]), nil},
		"unnamed field": {"t", "id", "", append(fields[:1:1], driver.Field{Kind: driver.KindInt}), nil},
	} {
		_, err := driver.NewCollection(args.name, args.fields, args.key, args.version, args.idx, driver.AnyConsistency)
		assert.ErrorIs(t, err, driver.ErrInvalid, name)
	}
}

func TestConstraintError(t *testing.T) {
	store := errors.New("duplicate key value violates unique constraint")
	u := &driver.ConstraintError{Kind: driver.Unique, Collection: "users", Name: "users_email_key", Err: store}
	assert.ErrorIs(t, u, driver.ErrConflict)
	assert.NotErrorIs(t, u, driver.ErrInvalid)
	assert.ErrorIs(t, u, store)
	assert.Equal(t, `unique constraint "users_email_key" violated on users: duplicate key value violates unique constraint`, u.Error())
	fk := &driver.ConstraintError{Kind: driver.ForeignKey, Collection: "posts", Name: "posts_author_fk"}
	assert.ErrorIs(t, fk, driver.ErrInvalid)
	assert.NotErrorIs(t, fk, driver.ErrConflict)
}

func TestNames(t *testing.T) {
	assert.Equal(t, "transactions|offset|unique-indexes", (driver.CapTransactions | driver.CapOffset | driver.CapUniqueIndexes).String())
	assert.Equal(t, "none", driver.Capabilities(0).String())
	assert.True(t, driver.AllCapabilities.Has(driver.CapUpsert|driver.CapSavepoints))
	assert.False(t, driver.CapOffset.Has(driver.CapOffset|driver.CapUpsert))
	for _, p := range []driver.MergePolicy{driver.MergeLWW, driver.MergeCounter, driver.MergeSet, driver.MergeMax, driver.MergeFlag} {
		got, err := driver.ParseMergePolicy(p.String())
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	for op := driver.Eq; op <= driver.Prefix; op++ {
		got, err := driver.ParseOp(op.String())
		require.NoError(t, err)
		assert.Equal(t, op, got)
	}
	_, err := driver.ParseOp("~")
	assert.ErrorIs(t, err, driver.ErrInvalid)
	assert.Equal(t, "Isolation(9)", driver.Isolation(9).String())
	assert.Equal(t, "serializable", driver.Serializable.String())
}

func TestZero(t *testing.T) {
	for k := driver.KindString; k <= driver.KindJSON; k++ {
		z := driver.Zero(k)
		require.NotNil(t, z, "%s", k)
		got, err := driver.Normalize(k, z)
		require.NoError(t, err, "the zero of %s is canonical", k)
		assert.Equal(t, z, got)
	}
	assert.Nil(t, driver.Zero(driver.Kind(0)))
}
