package schema_test

import (
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

type Profile struct {
	ID       int64
	Name     string
	Email    string `strata:"email,unique"`
	Age      int8
	Score    float32
	Admin    bool
	Born     time.Time
	Nick     *string
	Tags     []string `strata:"tags,merge=set"`
	Visits   int64    `strata:"visits,merge=counter"`
	Best     int64    `strata:"best,merge=max"`
	Avatar   []byte
	Settings map[string]any
	Role     Role
}

func changes(cs *schema.Changeset) map[string]any {
	m := map[string]any{}
	for _, c := range cs.Changes() {
		m[c.Field.Name] = c.Value
	}
	return m
}

func fieldErrors(cs *schema.Changeset) map[string]string {
	m := map[string]string{}
	for _, e := range cs.Errors() {
		m[e.Field] = e.Rule + ": " + e.Message
	}
	return m
}

func TestCastSources(t *testing.T) {
	born := time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC)
	want := map[string]any{"name": "Ada", "age": int64(36), "score": 9.5, "admin": true, "born": born,
		"tags": []string{"x"}, "role": "admin"}
	permitted := []string{"name", "age", "score", "admin", "born", "tags", "role"}
	sources := map[string]any{
		"map": map[string]any{"name": "Ada", "age": 36.0, "score": 9.5, "admin": true, "born": "1990-05-17",
			"tags": []any{"x"}, "role": "admin", "not_permitted": 1},
		"url.Values": url.Values{"name": {"Ada"}, "age": {"36"}, "score": {"9.5"}, "admin": {"on"},
			"born": {"1990-05-17T00:00:00Z"}, "tags": {"x"}, "role": {"admin"}, "email": {"x@y"}},
		"json":       []byte(`{"name":"Ada","age":36,"score":9.5,"admin":true,"born":"1990-05-17T00:00:00Z","tags":["x"],"role":"admin"}`),
		"strings":    map[string]string{"name": "Ada", "age": "36", "score": "9.5", "admin": "true", "born": "1990-05-17", "tags": "x", "role": "admin"},
		"RawMessage": json.RawMessage(`{"name":"Ada","age":36,"score":9.5,"admin":1,"born":"1990-05-17","tags":["x"],"role":"admin"}`),
	}
	for name, params := range sources {
		t.Run(name, func(t *testing.T) {
			if name == "RawMessage" {
				// 1 is not a bool in JSON
				cs := schema.Cast(&Profile{}, params, permitted...)
				assert.Equal(t, "cast: is invalid", fieldErrors(cs)["admin"])
				return
			}
			cs := schema.Cast(&Profile{}, params, permitted...)
			require.NoError(t, cs.Err())
			assert.Equal(t, want, changes(cs))
		})
	}
}

func TestCastErrors(t *testing.T) {
	cases := []struct {
		field string
		value any
	}{
		{"age", "abc"},
		{"age", 300}, // int8 overflow
		{"age", 1.5}, // not whole
		{"age", json.Number("99999999999999999999")},
		{"score", "1e400"},
		{"score", 1e39}, // float32 overflow
		{"admin", "maybe"},
		{"born", "yesterday"},
		{"born", "10000-01-01"},
		{"name", 12},
		{"name", "a\x00b"},
		{"avatar", "%%%"}, // not base64
		{"tags", []any{"a", 1}},
		{"settings", "[1,2"},
		{"settings", 5},
	}
	for _, c := range cases {
		cs := schema.Cast(&Profile{}, map[string]any{c.field: c.value}, c.field)
		require.Len(t, cs.Errors(), 1, "%s=%v", c.field, c.value)
		require.NoError(t, errorIsInvalid(cs.Err()), "%s=%v", c.field, c.value)
		assert.Equal(t, "cast: is invalid", fieldErrors(cs)[c.field], "%s=%v", c.field, c.value)
		assert.False(t, cs.Changed(c.field))
	}
}

func errorIsInvalid(err error) error {
	var ce *schema.ChangesetError
	if !errors.As(err, &ce) || !errors.Is(err, driver.ErrInvalid) {
		return errors.New("not a ChangesetError matching ErrInvalid")
	}
	return nil
}

func TestCastEmptyAndNull(t *testing.T) {
	nick := "n"
	p := &Profile{Age: 5, Nick: &nick, Name: "x"}
	cs := schema.Cast(p, map[string]any{"age": "", "nick": nil, "name": ""}, "age", "nick", "name")
	require.NoError(t, cs.Err())
	assert.Equal(t, map[string]any{"age": int64(0), "nick": nil, "name": ""}, changes(cs))
	cs.ValidateRequired("name", "nick", "age")
	assert.Equal(t, map[string]string{"name": "required: can't be blank", "nick": "required: can't be blank",
		"age": "required: can't be blank"}, fieldErrors(cs))
}

func TestCastBadBody(t *testing.T) {
	for _, body := range [][]byte{[]byte(`[1]`), []byte(`nope`), []byte(`{"a":1} {}`), []byte(`null`)} {
		cs := schema.Cast(&Profile{}, body, "name")
		assert.False(t, cs.Valid(), "%s", body)
		assert.Equal(t, "is not a JSON object", cs.Errors()[0].Message)
	}
	cs := schema.Cast(&Profile{}, 42, "name")
	assert.ErrorIs(t, cs.Err(), driver.ErrInvalid, "an unsupported params type is a programming error")
}

func TestUnchangedValuesAreNoChange(t *testing.T) {
	p := &Profile{Name: "Ada", Age: 3, Born: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	cs := schema.Cast(p, map[string]any{"name": "Ada", "age": "3", "born": "2000-01-01T01:00:00+01:00"}, "name", "age", "born")
	require.NoError(t, cs.Err())
	assert.Empty(t, cs.Changes())
}

func TestValidations(t *testing.T) {
	email := regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)
	cs := schema.Cast(&Profile{}, map[string]any{
		"name": "A", "email": "nope", "age": 12, "score": 200.0, "role": "root", "tags": []any{"a", "b", "c"},
	}, "name", "email", "age", "score", "role", "tags").
		ValidateRequired("name", "born").
		ValidateLength("name", 2, 10).
		ValidateLength("tags", 0, 2).
		ValidateFormat("email", email).
		ValidateNumber("age", schema.AtLeast(13)).
		ValidateNumber("score", schema.GreaterThan(0), schema.AtMost(100)).
		ValidateInclusion("role", Role("admin"), "member").
		Validate("name", "custom", func(v any) error {
			if v == "A" {
				return errors.New("is reserved")
			}
			return nil
		})
	assert.Equal(t, map[string]string{
		"born":  "required: can't be blank",
		"name":  "custom: is reserved", // the last error per field in this map; see below for all
		"tags":  "length: should be at most 2 item(s)",
		"email": "format: has invalid format",
		"age":   "number: must be greater than or equal to 13",
		"score": "number: must be less than or equal to 100",
		"role":  "inclusion: is invalid",
	}, fieldErrors(cs))
	assert.Len(t, cs.Errors(), 8, "name fails both length and custom")
	err := cs.Err()
	require.Error(t, err)
	assert.ErrorIs(t, err, driver.ErrInvalid)
	assert.Contains(t, err.Error(), "name should be at least 2 character(s)")

	ok := schema.Cast(&Profile{}, map[string]any{"name": "Ada", "role": "member", "age": 40}, "name", "role", "age").
		ValidateRequired("name").ValidateLength("name", 2, 0).ValidateInclusion("role", Role("admin"), "member").
		ValidateNumber("age", schema.AtLeast(13), schema.LessThan(130), schema.EqualTo(40))
	assert.NoError(t, ok.Err())
}

func TestValidationsSkipUnchanged(t *testing.T) {
	cs := schema.NewChangeset(&Profile{Name: "x"}).ValidateLength("name", 5, 0).ValidateFormat("name", regexp.MustCompile("^y"))
	assert.True(t, cs.Valid(), "stored values are not re-validated")
	assert.False(t, schema.NewChangeset(&Profile{}).ValidateRequired("name").Valid())
	assert.True(t, schema.NewChangeset(&Profile{Age: 2}).ValidateRequired("age").Valid())
	assert.True(t, schema.NewChangeset(&Profile{}).Increment("visits", 1).ValidateRequired("visits").Valid())
}

func TestMergeOperations(t *testing.T) {
	cs := schema.NewChangeset(&Profile{Tags: []string{"a"}, Visits: 2, Best: 5}).
		Increment("visits", 3).Increment("visits", -1).
		AddToSet("tags", "b", "a").RemoveFromSet("tags", "a").
		Put("best", 4)
	require.NoError(t, cs.Err())
	ops := []driver.ChangeOp{}
	for _, c := range cs.Changes() {
		ops = append(ops, c.Op)
	}
	assert.Equal(t, []driver.ChangeOp{driver.Increment, driver.Increment, driver.Add, driver.Remove, driver.SetMax}, ops)
	vals, err := cs.Values()
	require.NoError(t, err)
	s := cs.Schema()
	assert.Equal(t, int64(4), vals[s.Field("visits").Pos])
	assert.Equal(t, []string{"b"}, vals[s.Field("tags").Pos])
	assert.Equal(t, int64(5), vals[s.Field("best").Pos], "max never decreases")
}

func TestProgrammingErrors(t *testing.T) {
	cases := map[string]*schema.Changeset{
		"nil data":          schema.NewChangeset(nil),
		"non-pointer":       schema.NewChangeset(Profile{}),
		"pointer to int":    schema.NewChangeset(new(int)),
		"nil pointer":       schema.NewChangeset((*Profile)(nil)),
		"unknown field":     schema.Cast(&Profile{}, map[string]any{}, "nope"),
		"unknown put":       schema.NewChangeset(&Profile{}).Put("nope", 1),
		"put wrong type":    schema.NewChangeset(&Profile{}).Put("age", "x"),
		"increment non-ctr": schema.NewChangeset(&Profile{}).Increment("age", 1),
		"add to non-set":    schema.NewChangeset(&Profile{}).AddToSet("name", "x"),
		"length of number":  schema.Cast(&Profile{}, map[string]any{"age": 1}, "age").ValidateLength("age", 1, 2),
		"number of string":  schema.Cast(&Profile{}, map[string]any{"name": "a"}, "name").ValidateNumber("name", schema.AtLeast(1)),
		"zero NumberCheck":  schema.Cast(&Profile{}, map[string]any{"age": 1}, "age").ValidateNumber("age", schema.NumberCheck{}),
		"nil regexp":        schema.Cast(&Profile{}, map[string]any{"name": "a"}, "name").ValidateFormat("name", nil),
		"zero changeset":    (&schema.Changeset{}).Put("name", "x").ValidateRequired("name"),
		"zero changeset 2":  new(schema.Changeset).Cast(map[string]any{"name": "x"}, "name").Increment("visits", 1),
		"counter overflow":  schema.NewChangeset(&Profile{Visits: math.MaxInt64}).Increment("visits", 1),
	}
	for name, cs := range cases {
		_, err := cs.Values()
		assert.ErrorIs(t, err, driver.ErrInvalid, name)
		if name != "counter overflow" { // found only when the values are computed
			assert.ErrorIs(t, cs.Err(), driver.ErrInvalid, name)
			assert.False(t, cs.Valid(), name)
		}
	}
	var zero schema.Changeset
	assert.False(t, zero.HandleConstraint(&driver.ConstraintError{Kind: driver.Unique}))
	assert.Nil(t, zero.Data())
	assert.Nil(t, zero.Get("x"))
}

func TestHandleConstraint(t *testing.T) {
	s, _ := schema.Of[Profile]()
	cs := schema.Cast(&Profile{}, map[string]any{"email": "a@b"}, "email")
	violation := &driver.ConstraintError{Kind: driver.Unique, Collection: s.Name(), Name: s.Collection.Indexes[0].Name}
	require.True(t, cs.HandleConstraint(fmtWrap(violation)))
	err := cs.Err()
	assert.ErrorIs(t, err, driver.ErrInvalid)
	assert.ErrorIs(t, err, driver.ErrConflict, "a unique violation still reads as a conflict")
	assert.Equal(t, "unique: has already been taken", fieldErrors(cs)["email"])

	other := &driver.ConstraintError{Kind: driver.Unique, Collection: s.Name(), Name: "profiles_name_lower_key"}
	cs2 := schema.Cast(&Profile{}, map[string]any{"name": "a"}, "name")
	assert.False(t, cs2.HandleConstraint(other), "an unmapped constraint stays an error")
	assert.True(t, cs2.Valid())
	cs2.UniqueConstraint("name", "profiles_name_lower_key")
	assert.True(t, cs2.HandleConstraint(other))
	assert.Equal(t, "unique: has already been taken", fieldErrors(cs2)["name"])
	assert.False(t, cs2.HandleConstraint(errors.New("plain")))
}

func fmtWrap(err error) error { return errors.Join(errors.New("store said"), err) }
