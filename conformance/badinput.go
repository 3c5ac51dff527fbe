package conformance

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

var badInputCases = []testCase{
	{"NilArguments", badNil},
	{"NonPointer", badNonPointer},
	{"PointerToNonStruct", badNonStruct},
	{"EmptyStringKey", badEmptyKey},
	{"ZeroKey", badZeroKey},
	{"ChangesetUnknownField", badChangesetField},
	{"ChangesetWrongType", badChangesetType},
	{"InvalidChangesetNotWritten", badInvalidChangeset},
	{"BadTag", badTag},
	{"UnknownAssociation", badAssociation},
	{"ConflictTarget", badConflictTarget},
	{"PrimaryKeyChange", badKeyChange},
}

// call is one repo call with a name, for tables of bad calls.
type call struct {
	what string
	fn   func() error
}

func requireAllInvalid(t *testing.T, calls []call) {
	t.Helper()
	for _, c := range calls {
		requireInvalid(t, c.what, c.fn)
	}
}

func badNil(t *testing.T, s *suite) {
	e := s.open(t)
	ctx, r := e.ctx, e.r
	var nilAcc *Account
	var nilCS *schema.Changeset
	var nilSlice *[]Account
	q := repo.Where("name", repo.Eq, "x")
	requireAllInvalid(t, []call{
		{"Insert(nil)", func() error { return r.Insert(ctx, nil) }},
		{"Insert(nil *T)", func() error { return r.Insert(ctx, nilAcc) }},
		{"Insert(nil *Changeset)", func() error { return r.Insert(ctx, nilCS) }},
		{"Update(nil)", func() error { return r.Update(ctx, nil) }},
		{"Update(nil *T)", func() error { return r.Update(ctx, nilAcc) }},
		{"Update(nil *Changeset)", func() error { return r.Update(ctx, nilCS) }},
		{"Delete(nil)", func() error { return r.Delete(ctx, nil) }},
		{"Delete(nil *T)", func() error { return r.Delete(ctx, nilAcc) }},
		{"Get(nil)", func() error { return r.Get(ctx, nil, 1) }},
		{"Get(nil *T)", func() error { return r.Get(ctx, nilAcc, 1) }},
		{"Reload(nil)", func() error { return r.Reload(ctx, nil) }},
		{"Reload(nil *T)", func() error { return r.Reload(ctx, nilAcc) }},
		{"One(nil)", func() error { return r.One(ctx, nil, q) }},
		{"GetBy(nil *T)", func() error { return r.GetBy(ctx, nilAcc, q) }},
		{"InsertAll(nil)", func() error { return r.InsertAll(ctx, nil) }},
		{"InsertAll(nil *[]T)", func() error { return r.InsertAll(ctx, nilSlice) }},
		{"InsertAll([]*T{nil})", func() error { return r.InsertAll(ctx, []*Account{{Email: "x"}, nil}) }},
		{"Preload(nil)", func() error { return r.Preload(ctx, nil, "posts") }},
		{"Preload(nil *T)", func() error { return r.Preload(ctx, (*Author)(nil), "posts") }},
		{"Transaction(nil func)", func() error { return r.Transaction(ctx, nil) }},
		{"Cast(nil data)", func() error { return r.Insert(ctx, schema.Cast(nil, map[string]any{}, "name")) }},
		{"Cast(nil *T)", func() error { return r.Insert(ctx, schema.Cast(nilAcc, map[string]any{}, "name")) }},
		{"NewChangeset(nil)", func() error { return r.Update(ctx, schema.NewChangeset(nil).Put("name", "x")) }},
	})
	n, err := repo.Count[Account](ctx, r, everything[Account]())
	require.NoError(t, err)
	require.Zero(t, n, "nothing was stored")
}

func badNonPointer(t *testing.T, s *suite) {
	e := s.open(t)
	ctx, r := e.ctx, e.r
	a := Account{Email: "a@example.com"}
	insert(t, e, &a)
	author := Author{Name: "x"}
	insert(t, e, &author)
	requireAllInvalid(t, []call{
		{"Insert(T)", func() error { return r.Insert(ctx, Account{Email: "b@example.com"}) }},
		{"Update(T)", func() error { return r.Update(ctx, a) }},
		{"Delete(T)", func() error { return r.Delete(ctx, a) }},
		{"Get(T)", func() error { return r.Get(ctx, Account{}, a.ID) }},
		{"Reload(T)", func() error { return r.Reload(ctx, a) }},
		{"One(T)", func() error { return r.One(ctx, Account{}, repo.Where("name", repo.Eq, "")) }},
		{"GetBy(T)", func() error { return r.GetBy(ctx, Account{}, repo.Where("name", repo.Eq, "")) }},
		{"InsertAll(T)", func() error { return r.InsertAll(ctx, Account{Email: "c@example.com"}) }},
		{"Preload(T)", func() error { return r.Preload(ctx, author, "posts") }},
		{"NewChangeset(T)", func() error { return r.Insert(ctx, schema.NewChangeset(Account{Email: "d@example.com"})) }},
		{"Cast(T)", func() error {
			return r.Insert(ctx, schema.Cast(Account{}, map[string]any{"email": "e@example.com"}, "email"))
		}},
	})
	n, err := repo.Count[Account](ctx, r, everything[Account]())
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "nothing was stored or deleted")

	// A pointer type as the schema type parameter works or is invalid;
	// it never panics.
	for what, fn := range map[string]func() error{
		"All[*T]":      func() error { _, err := repo.All[*Account](ctx, r, everything[Account]()); return err },
		"Paginate[*T]": func() error { _, err := repo.Paginate[*Account](ctx, r, everything[Account]().Limit(5)); return err },
		"Count[*T]":    func() error { _, err := repo.Count[*Account](ctx, r, everything[Account]()); return err },
	} {
		if err := noPanic(t, what, fn); err != nil && err != errPanicked {
			require.ErrorIs(t, err, repo.ErrInvalid, what)
		}
	}
}

func badNonStruct(t *testing.T, s *suite) {
	e := s.open(t)
	ctx, r := e.ctx, e.r
	n, str := 1, "s"
	acc := &Account{Email: "a@example.com"}
	accs := []Account{{Email: "b@example.com"}}
	ints := []int{1}
	requireAllInvalid(t, []call{
		{"Insert(*int)", func() error { return r.Insert(ctx, &n) }},
		{"Insert(*string)", func() error { return r.Insert(ctx, &str) }},
		{"Insert(**T)", func() error { return r.Insert(ctx, &acc) }},
		{"Insert(*[]T)", func() error { return r.Insert(ctx, &accs) }},
		{"Insert([]T)", func() error { return r.Insert(ctx, accs) }},
		{"Insert(map)", func() error { return r.Insert(ctx, map[string]any{"email": "x"}) }},
		{"Update(*int)", func() error { return r.Update(ctx, &n) }},
		{"Update(**T)", func() error { return r.Update(ctx, &acc) }},
		{"Delete(*int)", func() error { return r.Delete(ctx, &n) }},
		{"Delete(*[]T)", func() error { return r.Delete(ctx, &accs) }},
		{"Get(*int)", func() error { return r.Get(ctx, &n, 1) }},
		{"Get(**T)", func() error { return r.Get(ctx, &acc, 1) }},
		{"Get(*[]T)", func() error { return r.Get(ctx, &accs, 1) }},
		{"Reload(*string)", func() error { return r.Reload(ctx, &str) }},
		{"InsertAll([]int)", func() error { return r.InsertAll(ctx, ints) }},
		{"InsertAll(*int)", func() error { return r.InsertAll(ctx, &n) }},
		{"Preload(*int)", func() error { return r.Preload(ctx, &n, "posts") }},
		{"All[int]", func() error { _, err := repo.All[int](ctx, r, repo.Query{}); return err }},
		{"Count[string]", func() error { _, err := repo.Count[string](ctx, r, repo.Query{}); return err }},
		{"DeleteAll[[]int]", func() error { _, err := repo.DeleteAll[[]int](ctx, r, repo.Query{}); return err }},
		{"Paginate[*int]", func() error { _, err := repo.Paginate[*int](ctx, r, repo.Query{}.Limit(1)); return err }},
		{"Stream[map]", func() error {
			for _, err := range repo.Stream[map[string]any](ctx, r, repo.Query{}) {
				return err
			}
			return nil
		}},
	})
	cnt, err := repo.Count[Account](ctx, r, everything[Account]())
	require.NoError(t, err)
	require.Zero(t, cnt, "nothing was stored")
}

func badEmptyKey(t *testing.T, s *suite) {
	e := s.open(t)
	ctx, r := e.ctx, e.r
	var st Setting
	requireAllInvalid(t, []call{
		{"Insert with an empty string key", func() error { return r.Insert(ctx, &Setting{Value: "v"}) }},
		{"Insert changeset with an empty key", func() error {
			return r.Insert(ctx, schema.Cast(&Setting{}, map[string]any{"value": "v"}, "value"))
		}},
		{"InsertAll with an empty key", func() error { return r.InsertAll(ctx, []Setting{{Key: "ok"}, {}}) }},
		{"Get(\"\")", func() error { return r.Get(ctx, &st, "") }},
		{"Update with an empty key", func() error { return r.Update(ctx, &Setting{Value: "v"}) }},
		{"Delete with an empty key", func() error { return r.Delete(ctx, &Setting{}) }},
		{"Reload with an empty key", func() error { return r.Reload(ctx, &Setting{}) }},
		{"Get(int) for a string key", func() error { return r.Get(ctx, &st, 5) }},
		{"Get(nil)", func() error { return r.Get(ctx, &st, nil) }},
	})
	require.ErrorIs(t, r.Get(ctx, &st, "ok"), repo.ErrNotFound, "an InsertAll with an invalid record stores nothing")
	n, err := repo.Count[Setting](ctx, r, everything[Setting]())
	require.NoError(t, err)
	require.Zero(t, n, "nothing was stored")
}

func badZeroKey(t *testing.T, s *suite) {
	e := s.open(t)
	ctx, r := e.ctx, e.r
	var a Account
	requireAllInvalid(t, []call{
		{"Get(0)", func() error { return r.Get(ctx, &a, 0) }},
		{"Get(int8(0))", func() error { return r.Get(ctx, &a, int8(0)) }},
		{"Get(nil)", func() error { return r.Get(ctx, &a, nil) }},
		{"Get(string) for an int key", func() error { return r.Get(ctx, &a, "12") }},
		{"Get(float)", func() error { return r.Get(ctx, &a, 1.5) }},
		{"Get(uint64 overflow)", func() error { return r.Get(ctx, &a, uint64(math.MaxUint64)) }},
		{"Update with a zero key", func() error { return r.Update(ctx, &Account{Email: "x", Version: 1}) }},
		{"Update changeset with a zero key", func() error {
			return r.Update(ctx, schema.NewChangeset(&Account{}).Put("name", "x"))
		}},
		{"Delete with a zero key", func() error { return r.Delete(ctx, &Account{}) }},
		{"Reload with a zero key", func() error { return r.Reload(ctx, &Account{}) }},
	})
	require.ErrorIs(t, r.Get(ctx, &a, -1), repo.ErrNotFound, "a negative key is a key")
}

func badChangesetField(t *testing.T, s *suite) {
	e := s.open(t)
	ctx, r := e.ctx, e.r
	a := Account{Email: "a@example.com", Name: "orig"}
	insert(t, e, &a)
	st := Stats{}
	insert(t, e, &st)
	requireAllInvalid(t, []call{
		{"Put unknown", func() error { return r.Update(ctx, schema.NewChangeset(&a).Put("nope", 1).Put("name", "x")) }},
		{"Put Go name", func() error { return r.Update(ctx, schema.NewChangeset(&a).Put("Name", "x")) }},
		{"Put association", func() error {
			return r.Update(ctx, schema.NewChangeset(&Author{ID: 1}).Put("posts", []Post{}))
		}},
		{"Cast unknown permitted", func() error {
			return r.Insert(ctx, schema.Cast(&Account{}, map[string]any{"nope": 1, "email": "b@example.com"}, "email", "nope"))
		}},
		{"ValidateRequired unknown", func() error {
			return r.Update(ctx, schema.NewChangeset(&a).Put("name", "x").ValidateRequired("nope"))
		}},
		{"Increment unknown", func() error { return r.Update(ctx, schema.NewChangeset(&st).Increment("nope", 1)) }},
		{"Increment non-counter", func() error { return r.Update(ctx, schema.NewChangeset(&a).Increment("age", 1)) }},
		{"AddToSet non-set", func() error { return r.Update(ctx, schema.NewChangeset(&a).AddToSet("name", "x")) }},
		{"RemoveFromSet non-set", func() error { return r.Update(ctx, schema.NewChangeset(&st).RemoveFromSet("title", "x")) }},
	})
	var got Account
	require.NoError(t, r.Get(ctx, &got, a.ID))
	require.Equal(t, a, got, "nothing was written")
	n, err := repo.Count[Account](ctx, r, everything[Account]())
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func badChangesetType(t *testing.T, s *suite) {
	e := s.open(t)
	ctx, r := e.ctx, e.r
	a := Account{Email: "a@example.com", Name: "orig", Age: 3}
	insert(t, e, &a)
	st := Stats{}
	insert(t, e, &st)
	requireAllInvalid(t, []call{
		{"Put string into int", func() error { return r.Update(ctx, schema.NewChangeset(&a).Put("age", "old")) }},
		{"Put int into string", func() error { return r.Update(ctx, schema.NewChangeset(&a).Put("name", 5)) }},
		{"Put float into int", func() error { return r.Update(ctx, schema.NewChangeset(&a).Put("age", 1.5)) }},
		{"Put time into string", func() error { return r.Update(ctx, schema.NewChangeset(&a).Put("bio", t0)) }},
		{"Put []int into set", func() error { return r.Update(ctx, schema.NewChangeset(&st).Put("tags", []int{1})) }},
		{"Put string into bool", func() error { return r.Update(ctx, schema.NewChangeset(&st).Put("seen", "yes")) }},
		{"AddToSet NUL", func() error { return r.Update(ctx, schema.NewChangeset(&st).AddToSet("tags", "\x00")) }},
	})
	// Cast turns values that do not convert into field errors.
	cs := schema.Cast(&a, map[string]any{"age": "old", "name": "new"}, "age", "name")
	err := requireInvalid(t, "Cast with a value that does not convert", func() error { return r.Update(ctx, cs) })
	var ce *schema.ChangesetError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, []schema.FieldError{{Field: "age", Message: "is invalid", Rule: "cast"}}, ce.Errors)
	var got Account
	require.NoError(t, r.Get(ctx, &got, a.ID))
	require.Equal(t, "orig", got.Name, "an invalid changeset writes nothing")
	require.Equal(t, 3, got.Age)
}

func badInvalidChangeset(t *testing.T, s *suite) {
	e := s.open(t)
	ctx, r := e.ctx, e.r
	var a Account
	cs := schema.Cast(&a, map[string]any{"name": "  "}, "name", "email").ValidateRequired("name", "email")
	err := requireInvalid(t, "Insert of an invalid changeset", func() error { return r.Insert(ctx, cs) })
	var ce *schema.ChangesetError
	require.ErrorAs(t, err, &ce)
	require.Len(t, ce.Errors, 2)
	require.NotErrorIs(t, err, repo.ErrConflict)
	require.Zero(t, a.ID, "the struct is untouched")
	n, err := repo.Count[Account](ctx, r, everything[Account]())
	require.NoError(t, err)
	require.Zero(t, n, "an invalid changeset is not written")

	insert(t, e, &Account{Email: "b@example.com", Name: "B"})
	var b Account
	require.NoError(t, r.GetBy(ctx, &b, repo.Where("email", repo.Eq, "b@example.com")))
	cs = schema.NewChangeset(&b).Put("name", "").ValidateRequired("name")
	requireInvalid(t, "Update with an invalid changeset", func() error { return r.Update(ctx, cs) })
	require.NoError(t, r.Reload(ctx, &b))
	require.Equal(t, "B", b.Name)
	require.EqualValues(t, 1, b.Version)
}

func badTag(t *testing.T, s *suite) {
	e := s.open(t)
	ctx, r := e.ctx, e.r
	for _, c := range []struct {
		typ, field string
		calls      []call
	}{
		{"BadOption", "Size", []call{
			{"Insert", func() error { return r.Insert(ctx, &BadOption{ID: 1}) }},
			{"Get", func() error { return r.Get(ctx, &BadOption{}, 1) }},
			{"Update", func() error { return r.Update(ctx, &BadOption{ID: 1}) }},
			{"Delete", func() error { return r.Delete(ctx, &BadOption{ID: 1}) }},
			{"All", func() error { _, err := repo.All[BadOption](ctx, r, repo.Query{}); return err }},
			{"Count", func() error { _, err := repo.Count[BadOption](ctx, r, repo.Query{}); return err }},
			{"InsertAll", func() error { return r.InsertAll(ctx, []BadOption{{ID: 1}}) }},
			{"Changeset", func() error { return r.Insert(ctx, schema.NewChangeset(&BadOption{ID: 1})) }},
			{"schema.Of", func() error { _, err := schema.Of[BadOption](); return err }},
		}},
		{"BadMerge", "Title", []call{
			{"Insert", func() error { return r.Insert(ctx, &BadMerge{ID: 1}) }},
			{"Paginate", func() error { _, err := repo.Paginate[BadMerge](ctx, r, repo.Query{}.Limit(1)); return err }},
		}},
		{"BadAssoc", "Posts", []call{
			{"Insert", func() error { return r.Insert(ctx, &BadAssoc{ID: 1}) }},
			{"Preload", func() error { return r.Preload(ctx, &BadAssoc{ID: 1}, "posts") }},
			{"DeleteAll", func() error { _, err := repo.DeleteAll[BadAssoc](ctx, r, repo.Query{}); return err }},
		}},
	} {
		for _, cl := range c.calls {
			err := requireInvalid(t, c.typ+": "+cl.what, cl.fn)
			require.Contains(t, err.Error(), c.typ, "%s: the error names the struct", cl.what)
			require.Contains(t, err.Error(), c.field, "%s: the error names the field", cl.what)
		}
	}
}

func badAssociation(t *testing.T, s *suite) {
	e := s.open(t)
	ctx, r := e.ctx, e.r
	a := Author{Name: "a"}
	insert(t, e, &a)
	requireAllInvalid(t, []call{
		{"unknown association", func() error { return r.Preload(ctx, &a, "nope") }},
		{"a field, not an association", func() error { return r.Preload(ctx, &a, "name") }},
		{"unknown nested association", func() error { return r.Preload(ctx, &a, "posts.nope") }},
		{"empty path", func() error { return r.Preload(ctx, &a, "") }},
		{"trailing dot", func() error { return r.Preload(ctx, &a, "posts.") }},
	})
}

func badConflictTarget(t *testing.T, s *suite) {
	e := s.open(t)
	ctx, r := e.ctx, e.r
	requireAllInvalid(t, []call{
		{"a target that is not unique", func() error { return r.Insert(ctx, &Visitor{Email: "a"}, repo.OnConflictDoNothing("name")) }},
		{"an indexed target that is not unique", func() error {
			return r.Insert(ctx, &Visitor{Email: "b"}, repo.OnConflictDoNothing("email"))
		}},
		{"an unknown target", func() error { return r.Insert(ctx, &Visitor{Email: "c"}, repo.OnConflictDoNothing("nope")) }},
	})
	if e.caps.Has(driver.CapUpsert) {
		requireAllInvalid(t, []call{
			{"replace an unknown field", func() error {
				return r.Insert(ctx, &Visitor{Email: "d"}, repo.OnConflictReplace(nil, "nope"))
			}},
			{"replace the primary key", func() error {
				return r.Insert(ctx, &Visitor{Email: "e"}, repo.OnConflictReplace(nil, "id"))
			}},
		})
	}
	n, err := repo.Count[Visitor](ctx, r, everything[Visitor]())
	require.NoError(t, err)
	require.Zero(t, n, "nothing was stored")
}

func badKeyChange(t *testing.T, s *suite) {
	e := s.open(t)
	ctx, r := e.ctx, e.r
	it := Item{Name: "x"}
	insert(t, e, &it)
	old := it.ID
	requireInvalid(t, "a changeset that changes the primary key", func() error {
		return r.Update(ctx, schema.NewChangeset(&it).Put("id", old+1))
	})
	var got Item
	require.NoError(t, r.Get(ctx, &got, old))
	require.ErrorIs(t, r.Get(ctx, &got, old+1), repo.ErrNotFound)
}
