package schema_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

type Role string

type Address struct {
	City string `json:"city"`
}

type Author struct {
	_     struct{} `strata:"table=authors,consistency=cp"`
	ID    int64
	Name  string `strata:"name,index"`
	Email string `strata:"email,unique"`
	Posts []Post `strata:"posts,has_many=author_id"`
	schema.Meta
}

type Post struct {
	_        struct{} `strata:"table=posts,consistency=ap"`
	ID       int64    `strata:"id,pk"`
	AuthorID int64    `strata:"author_id"`
	Title    string
	Role     Role
	Likes    int64    `strata:"likes,merge=counter"`
	Tags     []string `strata:"tags,merge=set"`
	Best     float64  `strata:"best,merge=max"`
	Pinned   bool     `strata:"pinned,merge=flag"`
	Lang     string   `strata:"lang,index=lang_title"`
	Slug     string   `strata:"slug,unique=lang_slug"`
	Where    *Address
	Extra    map[string]int
	Raw      []byte
	Deleted  *time.Time
	Rank     uint16
	Version  int64   `strata:"version,version"`
	Author   *Author `strata:"author,belongs_to=author_id"`
	Skip     string  `strata:"-"`
	hidden   int
	schema.Timestamps
}

func TestParse(t *testing.T) {
	s, err := schema.Of[Post]()
	require.NoError(t, err)
	assert.Equal(t, "posts", s.Name())
	assert.Equal(t, driver.AP, s.Collection.Consistency)
	assert.Equal(t, "id", s.Key.Name)
	assert.Equal(t, "version", s.Version.Name)
	assert.Equal(t, "inserted_at", s.InsertedAt.Name)
	assert.Equal(t, "updated_at", s.UpdatedAt.Name)

	var names []string
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"id", "author_id", "title", "role", "likes", "tags", "best", "pinned", "lang", "slug",
		"where", "extra", "raw", "deleted", "rank", "version", "inserted_at", "updated_at"}, names)

	kinds := map[string]driver.Kind{
		"role": driver.KindString, "likes": driver.KindInt, "tags": driver.KindStrings, "best": driver.KindFloat,
		"pinned": driver.KindBool, "where": driver.KindJSON, "extra": driver.KindJSON, "raw": driver.KindBytes,
		"deleted": driver.KindTime, "rank": driver.KindInt,
	}
	for name, k := range kinds {
		assert.Equal(t, k, s.Field(name).Kind, name)
	}
	assert.True(t, s.Field("where").Nullable)
	assert.True(t, s.Field("deleted").Nullable)
	assert.False(t, s.Field("title").Nullable)
	assert.Equal(t, driver.MergeCounter, s.Field("likes").Merge)
	assert.Equal(t, driver.MergeSet, s.Field("tags").Merge)
	assert.Equal(t, driver.MergeMax, s.Field("best").Merge)
	assert.Equal(t, driver.MergeFlag, s.Field("pinned").Merge)
	assert.Equal(t, 16, s.Collection.Fields[s.Field("rank").Pos].Bits)
	assert.True(t, s.Collection.Fields[s.Field("rank").Pos].Unsigned)

	assert.ElementsMatch(t, []driver.Index{
		{Name: "posts_lang_title_idx", Fields: []string{"lang"}},
		{Name: "posts_lang_slug_key", Fields: []string{"slug"}, Unique: true},
		{Name: "posts_author_id_idx", Fields: []string{"author_id"}},
	}, s.Collection.Indexes)
	assert.True(t, s.Field("author_id").Indexed, "a belongs_to foreign key is indexed")

	require.Len(t, s.Assocs, 1)
	a := s.Assoc("author")
	assert.Equal(t, schema.BelongsTo, a.Kind)
	rel, err := a.Related()
	require.NoError(t, err)
	assert.Equal(t, "authors", rel.Name())
}

func TestParseIsCached(t *testing.T) {
	a, err := schema.Of[Post]()
	require.NoError(t, err)
	b, err := schema.For(&[]*Post{})
	require.NoError(t, err)
	assert.Same(t, a, b)
	allocs := testing.AllocsPerRun(100, func() { _, _ = schema.Of[Post]() })
	assert.Zero(t, allocs, "a cached schema costs no allocation")
}

func TestBadTags(t *testing.T) {
	type noKey struct{ Name string }
	type twoKeys struct {
		A int64 `strata:"a,pk"`
		B int64 `strata:"b,pk"`
	}
	type unknownOpt struct {
		ID   int64
		Name string `strata:"name,indexx"`
	}
	type badMerge struct {
		ID   int64
		Name string `strata:"name,merge=counter"`
	}
	type narrowCounter struct {
		ID int64
		N  int32 `strata:"n,merge=counter"`
	}
	type badPolicy struct {
		ID int64
		N  int64 `strata:"n,merge=sum"`
	}
	type dupName struct {
		ID int64
		A  string `strata:"x"`
		B  string `strata:"x"`
	}
	type badType struct {
		ID int64
		C  chan int
	}
	type badVersion struct {
		ID int64
		V  string `strata:"v,version"`
	}
	type narrowVersion struct {
		ID int64
		V  int8 `strata:"v,version"`
	}
	type narrowKey struct {
		ID int32
	}
	type unexportedTagged struct {
		ID     int64
		secret string `strata:"secret"`
	}
	type badAssoc struct {
		ID     int64
		Author *Author `strata:"author,belongs_to=author_id"`
	}
	type badConsistency struct {
		_  struct{} `strata:"consistency=strong"`
		ID int64
	}
	type floatKey struct {
		ID float64
	}
	type dottedName struct {
		ID int64
		A  string `strata:"a.b"`
	}
	type badTable struct {
		_  struct{} `strata:"table=x;y"`
		ID int64
	}
	type indexJSON struct {
		ID int64
		M  map[string]int `strata:"m,index"`
	}
	type emptyGroup struct {
		ID int64
		A  string `strata:"a,index=x|"`
	}
	type twiceGroup struct {
		ID int64
		A  string `strata:"a,index=x|x"`
	}
	cases := []struct {
		v            any
		struct_, msg string
	}{
		{noKey{}, "noKey", "no primary key"},
		{emptyGroup{}, "field A", `index="x|"`},
		{twiceGroup{}, "field A", `"x" twice`},
		{twoKeys{}, "twoKeys", "second primary key"},
		{unknownOpt{}, "field Name", `unknown tag option "indexx"`},
		{badMerge{}, "field Name", "merge=counter does not apply to type string"},
		{narrowCounter{}, "field N", "merge=counter does not apply to type int32"},
		{badPolicy{}, "field N", `unknown merge policy "sum"`},
		{dupName{}, "field B", `stored as "x"`},
		{badType{}, "field C", "cannot be stored"},
		{badVersion{}, "field V", "version field must be a plain int64"},
		{narrowVersion{}, "field V", "version field must be a plain int64"},
		{narrowKey{}, "field ID", "an integer primary key must be int64"},
		{unexportedTagged{}, "field secret", "unexported fields cannot be stored"},
		{badAssoc{}, "field author", "belongs_to=author_id: no such field"},
		{badConsistency{}, "badConsistency", `consistency="strong"`},
		{floatKey{}, "field ID", "primary key must be a plain string or integer"},
		{indexJSON{}, "field M", "only scalar fields can be indexed"},
		{dottedName{}, "field A", `stored name "a.b"`},
		{badTable{}, "badTable", `table="x;y"`},
	}
	for _, c := range cases {
		t.Run(c.struct_+"/"+c.msg, func(t *testing.T) {
			_, err := schema.For(c.v)
			require.Error(t, err)
			assert.True(t, errors.Is(err, driver.ErrInvalid), "%v", err)
			assert.Contains(t, err.Error(), c.struct_)
			assert.Contains(t, err.Error(), c.msg)
			assert.Contains(t, err.Error(), reflect.TypeOf(c.v).Name(), "the error names the struct")
		})
	}
	for _, v := range []any{nil, 3, "x", time.Time{}, &[]int{}} {
		_, err := schema.For(v)
		assert.ErrorIs(t, err, driver.ErrInvalid, "%T", v)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	s, err := schema.Of[Post]()
	require.NoError(t, err)
	del := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	in := Post{ID: 7, AuthorID: 3, Title: "héllo 👋", Role: "admin", Likes: -4, Tags: []string{"a", "b"}, Best: 1.5,
		Pinned: true, Where: &Address{City: "Oslo"}, Extra: map[string]int{"k": 1}, Raw: []byte{0, 1, 2},
		Deleted: &del, Rank: math.MaxUint16, Version: 2}
	vals, err := s.Encode(reflect.ValueOf(in))
	require.NoError(t, err)
	assert.Equal(t, int64(math.MaxUint16), vals[s.Field("rank").Pos])
	assert.Equal(t, json.RawMessage(`{"city":"Oslo"}`), vals[s.Field("where").Pos])
	got := vals[s.Field("deleted").Pos].(time.Time)
	assert.Equal(t, time.UTC, got.Location())
	assert.Equal(t, 123456000, got.Nanosecond(), "truncated to microseconds")

	var out Post
	require.NoError(t, s.Decode(reflect.ValueOf(&out).Elem(), driver.Record{Values: vals, Meta: []byte("m")}))
	want := in
	want.Deleted = &got
	assert.Equal(t, want, out)

	var a Author
	as, _ := schema.Of[Author]()
	avals, _ := as.Encode(reflect.ValueOf(a))
	require.NoError(t, as.Decode(reflect.ValueOf(&a).Elem(), driver.Record{Values: avals, Meta: []byte("vclock")}))
	assert.Equal(t, schema.Meta("vclock"), a.Meta, "metadata travels on the struct")
}

func TestEncodeRejects(t *testing.T) {
	type U struct {
		ID int64
		U  uint64
		F  float64
		S  string
		T  time.Time
	}
	s, err := schema.Of[U]()
	require.NoError(t, err)
	for name, v := range map[string]U{
		"uint above MaxInt64": {U: math.MaxUint64},
		"NaN":                 {F: math.NaN()},
		"Inf":                 {F: math.Inf(-1)},
		"invalid UTF-8":       {S: "a\xffb"},
		"NUL":                 {S: "a\x00b"},
		"year 10000":          {T: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		_, err := s.Encode(reflect.ValueOf(v))
		assert.ErrorIs(t, err, driver.ErrInvalid, name)
	}
}

func TestDecodeRejectsOverflow(t *testing.T) {
	type Small struct {
		ID int64
		N  int8
		U  uint8
	}
	s, err := schema.Of[Small]()
	require.NoError(t, err)
	var v Small
	err = s.Decode(reflect.ValueOf(&v).Elem(), driver.Record{Values: []any{int64(1), int64(300), int64(0)}})
	assert.ErrorIs(t, err, driver.ErrInvalid)
	err = s.Decode(reflect.ValueOf(&v).Elem(), driver.Record{Values: []any{int64(1), int64(0), int64(-1)}})
	assert.ErrorIs(t, err, driver.ErrInvalid)
	err = s.Decode(reflect.ValueOf(&v).Elem(), driver.Record{Values: []any{int64(1)}})
	assert.ErrorIs(t, err, driver.ErrInvalid, "wrong number of values")
	err = s.Decode(reflect.ValueOf(&v).Elem(), driver.Record{Values: []any{int64(1), "x", int64(0)}})
	assert.ErrorIs(t, err, driver.ErrInvalid, "wrong type from an adapter")
}

func TestNames(t *testing.T) {
	type HTTPServerID struct {
		ID        int64
		UserID    int64
		HTMLBody  string
		Name2Go   string
		createdAt int
	}
	s, err := schema.Of[HTTPServerID]()
	require.NoError(t, err)
	assert.Equal(t, "http_server_id", s.Name())
	var names []string
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	assert.Equal(t, "id,user_id,html_body,name2_go", strings.Join(names, ","))
}

func TestSchemaOptionsAnywhere(t *testing.T) {
	type Late struct {
		ID    int64
		Email string   `strata:"email,unique"`
		_     struct{} `strata:"table=accounts"`
	}
	s, err := schema.Of[Late]()
	require.NoError(t, err)
	assert.Equal(t, "accounts", s.Name())
	assert.Equal(t, "accounts_email_key", s.Collection.Indexes[0].Name)
	assert.Equal(t, "accounts.email", s.Field("email").String())
}

func TestFieldInTwoCompositeIndexes(t *testing.T) {
	type Msg struct {
		_       struct{} `strata:"table=msgs"`
		ID      int64
		Conv    string `strata:"conv,index=by_pos|by_change"`
		Pos     int64  `strata:"pos,index=by_pos"`
		Changed int64  `strata:"changed,index=by_change"`
	}
	s, err := schema.Of[Msg]()
	require.NoError(t, err)
	assert.Equal(t, []driver.Index{
		{Name: "msgs_by_pos_idx", Fields: []string{"conv", "pos"}},
		{Name: "msgs_by_change_idx", Fields: []string{"conv", "changed"}},
	}, s.Collection.Indexes)
}

func TestLongIndexNames(t *testing.T) {
	type VeryLongSchemaNameForTestingIdentifierLimits struct {
		ID                                          int64
		AnEvenLongerFieldNameThatPushesPastTheLimit string `strata:",unique"`
		AnEvenLongerFieldNameThatPushesPastTheLimiT string `strata:"other_long_field_name_that_pushes_past_the_limit_too,unique"`
	}
	s, err := schema.Of[VeryLongSchemaNameForTestingIdentifierLimits]()
	require.NoError(t, err)
	a, b := s.Collection.Indexes[0].Name, s.Collection.Indexes[1].Name
	assert.LessOrEqual(t, len(a), 63)
	assert.LessOrEqual(t, len(b), 63)
	assert.NotEqual(t, a, b)
	assert.True(t, strings.HasSuffix(a, "_key"), a)
}

func TestNilJSONIsNullNotNULL(t *testing.T) {
	type Doc struct {
		ID    int64
		Any   any
		Map   map[string]int
		Maybe *Address
	}
	s, err := schema.Of[Doc]()
	require.NoError(t, err)
	vals, err := s.Encode(reflect.ValueOf(Doc{}))
	require.NoError(t, err)
	assert.Equal(t, json.RawMessage("null"), vals[1], "a non-nullable field never holds NULL")
	assert.Equal(t, json.RawMessage("null"), vals[2])
	assert.Nil(t, vals[3], "a pointer is nullable")
	var out Doc
	require.NoError(t, s.Decode(reflect.ValueOf(&out).Elem(), driver.Record{Values: vals}))
	assert.Equal(t, Doc{}, out)
}

func TestSize(t *testing.T) {
	type Sized struct {
		ID   int64
		Code string `strata:"code,size=3,unique"`
		Blob []byte `strata:"blob,size=2"`
	}
	s, err := schema.Of[Sized]()
	require.NoError(t, err)
	assert.Equal(t, 3, s.Collection.Fields[s.Field("code").Pos].Size)
	_, err = s.Encode(reflect.ValueOf(Sized{Code: "äöü", Blob: []byte{1, 2}}))
	assert.NoError(t, err, "size counts characters, not bytes")
	_, err = s.Encode(reflect.ValueOf(Sized{Code: "abcd"}))
	assert.ErrorIs(t, err, driver.ErrInvalid)
	assert.ErrorContains(t, err, "at most 3")
	_, err = s.Encode(reflect.ValueOf(Sized{Blob: []byte{1, 2, 3}}))
	assert.ErrorIs(t, err, driver.ErrInvalid)

	type badSize struct {
		ID int64
		N  int `strata:"n,size=3"`
	}
	_, err = schema.Of[badSize]()
	assert.ErrorIs(t, err, driver.ErrInvalid)
	type zeroSize struct {
		ID int64
		S  string `strata:"s,size=0"`
	}
	_, err = schema.Of[zeroSize]()
	assert.ErrorIs(t, err, driver.ErrInvalid)
}
