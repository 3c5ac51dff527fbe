package conformance

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

var typeCases = []testCase{
	{"Max", func(t *testing.T, s *suite) { roundTrip(t, s.open(t), maxKinds()) }},
	{"Min", func(t *testing.T, s *suite) { roundTrip(t, s.open(t), minKinds()) }},
	{"ZeroValues", func(t *testing.T, s *suite) { roundTrip(t, s.open(t), Kinds{}) }},
	{"EmptySlices", func(t *testing.T, s *suite) {
		roundTrip(t, s.open(t), Kinds{Bytes: []byte{}, Strs: []string{}, Roles: []Role{}, Tags: Tags{}, List: []Nested{}})
	}},
	{"Nullable", typesNullable},
	{"Unicode", typesUnicode},
	{"LargeValues", func(t *testing.T, s *suite) {
		big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
		blob := make([]byte, 1<<20)
		for i := range blob {
			blob[i] = byte(i * 7)
		}
		list := make([]string, 1000)
		for i := range list {
			list[i] = sprintf("element %d", i)
		}
		roundTrip(t, s.open(t), Kinds{S: big, PS: ptr(big[:1000]), Bytes: blob, Strs: list})
	}},
	{"TimePrecision", typesTime},
	{"NamedTypes", typesNamed},
	{"JSON", typesJSON},
	{"NilAnyAndMap", typesNilAnyAndMap},
	{"Rejected", typesRejected},
	{"RejectedUpdate", typesRejectedUpdate},
}

// roundTrip inserts in, reads it back, and requires both the struct Insert
// loaded and the one Get returns to equal in as stored (times in UTC at
// microseconds; nil and empty slices equal).
func roundTrip(t *testing.T, e *env, in Kinds) Kinds {
	t.Helper()
	want := in
	want.T = in.T.UTC().Truncate(driver.TimePrecision)
	if in.PT != nil {
		want.PT = ptr(in.PT.UTC().Truncate(driver.TimePrecision))
	}
	v := in
	require.NoError(t, e.r.Insert(e.ctx, &v))
	require.NotZero(t, v.ID)
	want.ID = v.ID
	requireKindsEqual(t, want, v, "the struct after Insert")
	var got Kinds
	require.NoError(t, e.r.Get(e.ctx, &got, v.ID))
	requireKindsEqual(t, want, got, "the record read back")
	return got
}

func requireKindsEqual(t *testing.T, want, got Kinds, what string) {
	t.Helper()
	for _, k := range []*Kinds{&want, &got} {
		if len(k.Bytes) == 0 {
			k.Bytes = nil
		}
		if len(k.Strs) == 0 {
			k.Strs = nil
		}
		if len(k.Roles) == 0 {
			k.Roles = nil
		}
		if len(k.Tags) == 0 {
			k.Tags = nil
		}
		if len(k.List) == 0 {
			k.List = nil
		}
		if len(k.Nested.B) == 0 {
			k.Nested.B = nil
		}
	}
	require.Equal(t, time.UTC, got.T.Location(), "%s: times come back in UTC", what)
	if got.PT != nil {
		require.Equal(t, time.UTC, got.PT.Location(), "%s: times come back in UTC", what)
	}
	require.Equal(t, want, got, what)
}

func maxKinds() Kinds {
	return Kinds{
		S: "max", I: math.MaxInt, I8: math.MaxInt8, I16: math.MaxInt16, I32: math.MaxInt32, I64: math.MaxInt64,
		U: math.MaxInt64, U8: math.MaxUint8, U16: math.MaxUint16, U32: math.MaxUint32, U64: math.MaxInt64,
		F32: math.MaxFloat32, F64: math.MaxFloat64, B: true,
		T:     time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		Bytes: []byte{0, 1, 0xfe, 0xff}, Strs: []string{"a", "", "a"}, Role: "admin", Roles: []Role{"admin", "user"},
		Tags: Tags{"t1", "t2"},
		PS:   ptr("p"), PI: ptr(int64(math.MaxInt64)), PU8: ptr(uint8(math.MaxUint8)), PF: ptr(math.MaxFloat64),
		PB: ptr(true), PT: ptr(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)), PRole: ptr(Role("owner")),
		Nested:  Nested{A: "x", B: []int{math.MaxInt32, 2}, C: map[string]int{"k": 1}, F: 1.5},
		PNested: &Nested{A: "y"}, Map: map[string]int{"one": 1, "two": 2}, List: []Nested{{A: "l1"}, {A: "l2", B: []int{1}}},
	}
}

func minKinds() Kinds {
	return Kinds{
		S: "min", I: math.MinInt, I8: math.MinInt8, I16: math.MinInt16, I32: math.MinInt32, I64: math.MinInt64,
		F32: -math.MaxFloat32, F64: -math.MaxFloat64,
		T:  time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC),
		PS: ptr(""), PI: ptr(int64(math.MinInt64)), PU8: ptr(uint8(0)), PF: ptr(-math.SmallestNonzeroFloat64),
		PB: ptr(false), PT: ptr(time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC)), PRole: ptr(Role("")),
		Nested: Nested{A: "neg", B: []int{math.MinInt32}, F: -math.SmallestNonzeroFloat64},
	}
}

func typesNullable(t *testing.T, s *suite) {
	e := s.open(t)
	// Pointers to zero values are not NULL.
	got := roundTrip(t, e, Kinds{PS: ptr(""), PI: ptr(int64(0)), PU8: ptr(uint8(0)), PF: ptr(0.0), PB: ptr(false),
		PT: ptr(time.Time{}), PRole: ptr(Role("")), PNested: &Nested{}})
	require.NotNil(t, got.PS, "a pointer to \"\" is not NULL")
	require.NotNil(t, got.PI, "a pointer to 0 is not NULL")
	require.NotNil(t, got.PB, "a pointer to false is not NULL")
	require.NotNil(t, got.PT, "a pointer to the zero time is not NULL")

	// NULL reads back as nil.
	got = roundTrip(t, e, Kinds{S: "nulls"})
	require.Nil(t, got.PS)
	require.Nil(t, got.PI)
	require.Nil(t, got.PF)
	require.Nil(t, got.PB)
	require.Nil(t, got.PT)
	require.Nil(t, got.PNested)

	// Values can be set to NULL and back, by struct and by changeset.
	v := Kinds{PS: ptr("x"), PI: ptr(int64(5)), PT: ptr(time.Now())}
	require.NoError(t, e.r.Insert(e.ctx, &v))
	v.PS, v.PI = nil, nil
	require.NoError(t, e.r.Update(e.ctx, &v))
	var read Kinds
	require.NoError(t, e.r.Get(e.ctx, &read, v.ID))
	require.Nil(t, read.PS)
	require.Nil(t, read.PI)
	require.NotNil(t, read.PT)
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&v).Put("pt", nil).Put("ps", "back")))
	require.NoError(t, e.r.Get(e.ctx, &read, v.ID))
	require.Nil(t, read.PT)
	require.Equal(t, ptr("back"), read.PS)
}

func typesUnicode(t *testing.T, s *suite) {
	e := s.open(t)
	texts := []string{
		"héllo wörld",
		"😀👍🏽👩‍👩‍👧‍👦🇫🇷",      // emoji, skin tone, ZWJ sequence, flag
		"e\u0301 vs \u00e9", // combining accent vs precomposed: kept as written
		"日本語テキスト",
		"עברית العربية",      // right to left
		"\u200b\ufeff\u00a0", // zero width space, BOM, no-break space
		"tab\tnewline\nquote\"backslash\\",
		"\U0010FFFF",
	}
	for _, x := range texts {
		got := roundTrip(t, e, Kinds{S: x, PS: ptr(x), Strs: []string{x, x + "!"}, Role: Role(x), Nested: Nested{A: x},
			Map: map[string]int{x: 1}})
		require.Equal(t, []byte(x), []byte(got.S), "strings are kept byte for byte (no normalization)")
	}
}

func typesTime(t *testing.T, s *suite) {
	e := s.open(t)
	loc := time.FixedZone("UTC+5:30", 5*3600+30*60)
	in := time.Date(2024, 2, 29, 23, 59, 59, 123456789, loc)
	got := roundTrip(t, e, Kinds{T: in, PT: ptr(in)})
	require.True(t, got.T.Equal(in.Truncate(time.Microsecond)), "got %v", got.T)
	require.Equal(t, 123456000, got.T.Nanosecond(), "nanoseconds are truncated to microseconds")
	require.Equal(t, time.UTC, got.T.Location())
	require.Equal(t, time.Date(2024, 2, 29, 18, 29, 59, 123456000, time.UTC), got.T)

	// A time with a monotonic clock reading and a local location.
	now := time.Now()
	got = roundTrip(t, e, Kinds{T: now})
	require.True(t, got.T.Equal(now.Truncate(time.Microsecond)))

	// Times compare by instant in queries, whatever their location; a
	// filter value is truncated as a stored value is.
	awaitCount[Kinds](t, e, e.scan(t, repo.Where("t", repo.Eq, in.In(time.UTC).Truncate(time.Microsecond))), 1)
	awaitCount[Kinds](t, e, e.scan(t, repo.Where("t", repo.Eq, in)), 1)
	awaitCount[Kinds](t, e, e.scan(t, repo.Where("t", repo.Gt, in)), 1)
}

func typesNamed(t *testing.T, s *suite) {
	e := s.open(t)
	got := roundTrip(t, e, Kinds{Role: "admin", Roles: []Role{"a", "b"}, Tags: Tags{"x"}, PRole: ptr(Role("p"))})
	require.Equal(t, Role("admin"), got.Role)
	roundTrip(t, e, Kinds{Role: "user"})
	var v Kinds
	require.NoError(t, e.r.Get(e.ctx, &v, got.ID))
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&v).Put("role", Role("owner")).Put("roles", []Role{"c"})))
	require.NoError(t, e.r.Get(e.ctx, &v, got.ID))
	require.Equal(t, Role("owner"), v.Role)
	require.Equal(t, []Role{"c"}, v.Roles)

	// Filters take values of named types.
	awaitCount[Kinds](t, e, e.scan(t, repo.Where("role", repo.Eq, Role("user"))), 1)
	awaitCount[Kinds](t, e, e.scan(t, repo.Where("role", repo.In, []Role{"owner", "user"})), 2)
}

func typesJSON(t *testing.T, s *suite) {
	e := s.open(t)
	deep := Nested{A: "top", B: []int{1, 2, 3}, C: map[string]int{"a": 1, "b": -2}, F: 0.25,
		D: &Nested{A: "inner", D: &Nested{A: "innermost", B: []int{}}}}
	roundTrip(t, e, Kinds{Nested: deep, PNested: &deep, Map: map[string]int{"": 0, "k": math.MaxInt32},
		List: []Nested{deep, {}}})
	got := roundTrip(t, e, Kinds{Map: map[string]int{}})
	require.Empty(t, got.Map)

	var v Kinds
	require.NoError(t, e.r.Get(e.ctx, &v, got.ID))
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&v).Put("nested", Nested{A: "changed"}).Put("pnested", nil)))
	require.NoError(t, e.r.Get(e.ctx, &v, got.ID))
	require.Equal(t, Nested{A: "changed"}, v.Nested)
	require.Nil(t, v.PNested)
}

// typesNilAnyAndMap: an any field and a map field left nil insert and
// read back as nil, and are stored as JSON null, never as NULL (the
// fields are not nullable); so are they when set back to nil, by struct
// and by changeset. Telling JSON null from NULL needs the record as
// stored, which this case reads through the adapter.
func typesNilAnyAndMap(t *testing.T, s *suite) {
	e := s.open(t)
	sc, err := schema.Of[Dynamic]()
	require.NoError(t, err)
	requireJSONNull := func(id int64, what string) {
		t.Helper()
		rec, err := e.r.Driver().Get(e.ctx, sc.Collection, id)
		require.NoError(t, err)
		require.Len(t, rec.Values, len(sc.Fields))
		for _, name := range []string{"any", "map"} {
			raw := rec.Values[sc.Field(name).Pos]
			require.NotNil(t, raw, "%s: a nil %s is stored as JSON null, not as NULL", what, name)
			j, err := driver.Normalize(driver.KindJSON, raw)
			require.NoError(t, err, "%s: %s as stored", what, name)
			require.JSONEq(t, "null", string(j.(json.RawMessage)), "%s: a nil %s is stored as JSON null", what, name)
		}
	}

	v := Dynamic{}
	require.NoError(t, e.r.Insert(e.ctx, &v))
	require.NotZero(t, v.ID)
	require.Nil(t, v.Any)
	require.Nil(t, v.Map)
	var got Dynamic
	require.NoError(t, e.r.Get(e.ctx, &got, v.ID))
	require.Equal(t, Dynamic{ID: v.ID}, got, "nil any and map read back as nil")
	requireJSONNull(v.ID, "insert")

	v.Any = []any{"x", true}
	v.Map = map[string]any{"k": "v"}
	require.NoError(t, e.r.Update(e.ctx, &v))
	require.NoError(t, e.r.Get(e.ctx, &got, v.ID))
	require.Equal(t, v, got, "an any and a map with values")

	v.Any, v.Map = nil, nil
	require.NoError(t, e.r.Update(e.ctx, &v))
	require.NoError(t, e.r.Get(e.ctx, &got, v.ID))
	require.Equal(t, Dynamic{ID: v.ID}, got, "set back to nil by a struct update")
	requireJSONNull(v.ID, "struct update")

	w := Dynamic{Any: "text", Map: map[string]any{"k": []any{"v"}}}
	require.NoError(t, e.r.Insert(e.ctx, &w))
	require.NoError(t, e.r.Get(e.ctx, &got, w.ID))
	require.Equal(t, w, got)
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&w).Put("any", nil).Put("map", nil)))
	require.NoError(t, e.r.Get(e.ctx, &got, w.ID))
	require.Equal(t, Dynamic{ID: w.ID}, got, "set back to nil by a changeset")
	requireJSONNull(w.ID, "changeset")
}

// rejectedKinds are values no store may hold, each with a name.
func rejectedKinds() map[string]Kinds {
	return map[string]Kinds{
		"uint64 above MaxInt64":     {U64: math.MaxInt64 + 1},
		"uint64 max":                {U64: math.MaxUint64},
		"uint above MaxInt64":       {U: math.MaxUint},
		"float64 NaN":               {F64: math.NaN()},
		"float64 +Inf":              {F64: math.Inf(1)},
		"float64 -Inf":              {F64: math.Inf(-1)},
		"float32 NaN":               {F32: float32(math.NaN())},
		"float32 +Inf":              {F32: float32(math.Inf(1))},
		"*float64 NaN":              {PF: ptr(math.NaN())},
		"invalid UTF-8":             {S: "ok\xffok"},
		"truncated UTF-8":           {S: "\xe2\x82"},
		"NUL in a string":           {S: "a\x00b"},
		"NUL in a *string":          {PS: ptr("\x00")},
		"invalid UTF-8 in []string": {Strs: []string{"fine", "\xc3\x28"}},
		"NUL in []string":           {Strs: []string{"a\x00"}},
		"NUL in a named string":     {Role: "ad\x00min"},
		"NUL in []Role":             {Roles: []Role{"\x00"}},
		"year 10000":                {T: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"year 0":                    {PT: ptr(time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC))},
		"NaN in JSON":               {Nested: Nested{F: math.NaN()}},
	}
}

func typesRejected(t *testing.T, s *suite) {
	e := s.open(t)
	id := int64(1000)
	for what, v := range rejectedKinds() {
		id++
		v.ID = id
		err := requireInvalid(t, "insert with "+what, func() error { return e.r.Insert(e.ctx, &v) })
		require.NotErrorIs(t, err, repo.ErrConflict)
		var got Kinds
		require.ErrorIs(t, e.r.Get(e.ctx, &got, id), repo.ErrNotFound, "%s: nothing may be stored", what)
		requireInvalid(t, "InsertAll with "+what, func() error { return e.r.InsertAll(e.ctx, []Kinds{{ID: id + 500}, v}) })
		require.ErrorIs(t, e.r.Get(e.ctx, &got, id+500), repo.ErrNotFound, "%s: InsertAll checks every value before it writes", what)
	}
	// A cast that does not fit is a field error, not a stored value.
	var k Kinds
	cs := schema.Cast(&k, map[string]any{"u64": "18446744073709551615", "i8": "300", "f64": "NaN"}, "u64", "i8", "f64")
	require.False(t, cs.Valid())
	require.Len(t, cs.Errors(), 3)
	requireInvalid(t, "insert of an invalid changeset", func() error { return e.r.Insert(e.ctx, cs) })
	n, err := repo.Count[Kinds](e.ctx, e.r, everything[Kinds]())
	require.NoError(t, err)
	require.Zero(t, n, "no rejected value was stored")
}

func typesRejectedUpdate(t *testing.T, s *suite) {
	e := s.open(t)
	orig := Kinds{S: "orig", F64: 1, U64: 1}
	require.NoError(t, e.r.Insert(e.ctx, &orig))
	for what, bad := range rejectedKinds() {
		v := bad
		v.ID = orig.ID
		requireInvalid(t, "update with "+what, func() error { return e.r.Update(e.ctx, &v) })
		var got Kinds
		require.NoError(t, e.r.Get(e.ctx, &got, orig.ID))
		requireKindsEqual(t, orig, got, "after a rejected update with "+what)
	}
	cur := orig
	for what, cs := range map[string]*schema.Changeset{
		"Put NaN":              schema.NewChangeset(&cur).Put("f64", math.NaN()),
		"Put uint64 overflow":  schema.NewChangeset(&cur).Put("u64", uint64(math.MaxUint64)),
		"Put invalid UTF-8":    schema.NewChangeset(&cur).Put("s", "\xff"),
		"Put NUL":              schema.NewChangeset(&cur).Put("strs", []string{"\x00"}),
		"Put int8 overflow":    schema.NewChangeset(&cur).Put("i8", 300),
		"Put uint8 overflow":   schema.NewChangeset(&cur).Put("u8", 256),
		"Put negative uint":    schema.NewChangeset(&cur).Put("u16", -1),
		"Put float32 overflow": schema.NewChangeset(&cur).Put("f32", math.MaxFloat64),
		"Put wrong type":       schema.NewChangeset(&cur).Put("i8", "1"),
	} {
		requireInvalid(t, "update: "+what, func() error { return e.r.Update(e.ctx, cs) })
	}
	var got Kinds
	require.NoError(t, e.r.Get(e.ctx, &got, orig.ID))
	requireKindsEqual(t, orig, got, "after rejected changesets")
}
