package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

var harnessCases = []testCase{
	{"FreshNamespace", func(t *testing.T, s *suite) {
		e1, e2 := s.open(t), s.open(t)
		insert(t, e1, &Setting{Key: "shared", Value: "one"})
		var got Setting
		err := e2.r.Get(e2.ctx, &got, "shared")
		require.ErrorIs(t, err, repo.ErrNotFound, "a record of one NewRepo is visible in another: namespaces must not be shared")
		n, err := repo.Count[Setting](e2.ctx, e2.r, everything[Setting]())
		require.NoError(t, err)
		require.Zero(t, n, "a new repo must be empty")
		require.NoError(t, e2.r.Insert(e2.ctx, &Setting{Key: "shared", Value: "two"}), "the same key in another namespace")
		require.NoError(t, e1.r.Get(e1.ctx, &got, "shared"))
		require.Equal(t, "one", got.Value)
	}},
	{"Options", func(t *testing.T, s *suite) {
		e := s.open(t)
		insert(t, e, &Setting{Key: "k", Value: "v"})
		require.Equal(t, 1, e.calls("insert"), "the repo did not report the insert to the observer: Harness.NewRepo must pass its options to repo.New")
	}},
}

var crudCases = []testCase{
	{"InsertGet", crudInsertGet},
	{"GetNotFound", func(t *testing.T, s *suite) {
		e := s.open(t)
		var a Account
		err := e.r.Get(e.ctx, &a, 4242)
		require.ErrorIs(t, err, repo.ErrNotFound)
		require.NotErrorIs(t, err, repo.ErrInvalid)
		var st Setting
		require.ErrorIs(t, e.r.Get(e.ctx, &st, "missing"), repo.ErrNotFound)
	}},
	{"DuplicatePrimaryKey", crudDuplicateKey},
	{"DuplicateUnique", crudDuplicateUnique},
	{"DuplicateUniqueChangeset", crudDuplicateUniqueChangeset},
	{"UniqueUnsupported", crudUniqueUnsupported},
	{"UpdateStruct", crudUpdateStruct},
	{"UpdateChangeset", crudUpdateChangeset},
	{"ChangesetWritesOnlyChanges", crudPartialUpdate},
	{"UpdateMissing", crudUpdateMissing},
	{"Delete", crudDelete},
	{"Reload", crudReload},
	{"InsertAll", crudInsertAll},
	{"InsertAllAtomic", crudInsertAllAtomic},
	{"Exists", crudExists},
	{"GetBy", crudGetBy},
	{"One", crudOne},
	{"StringPrimaryKey", crudStringKey},
	{"CallerSetIntKey", func(t *testing.T, s *suite) {
		e := s.open(t)
		it := Item{ID: 77, Name: "seventy-seven"}
		insert(t, e, &it)
		require.EqualValues(t, 77, it.ID, "a caller-set key must be kept")
		var got Item
		require.NoError(t, e.r.Get(e.ctx, &got, int8(77)), "Get takes a key of any integer type")
		require.Equal(t, it, got)
		require.ErrorIs(t, e.r.Insert(e.ctx, &Item{ID: 77}), repo.ErrConflict)
	}},
}

func crudInsertGet(t *testing.T, s *suite) {
	e := s.open(t)
	before := time.Now().UTC().Truncate(driver.TimePrecision)
	a := Account{Email: "ada@example.com", Name: "Ada", Age: 36, Bio: ptr("analyst")}
	insert(t, e, &a)
	after := time.Now().UTC()
	require.NotZero(t, a.ID, "a zero int key gets a generated ID")
	require.Positive(t, a.ID, "snowflake IDs are positive")
	require.EqualValues(t, 1, a.Version, "the version starts at 1")
	for field, ts := range map[string]time.Time{"inserted_at": a.InsertedAt, "updated_at": a.UpdatedAt} {
		require.False(t, ts.Before(before) || ts.After(after), "%s = %v, want between %v and %v", field, ts, before, after)
		require.Equal(t, time.UTC, ts.Location(), "%s is in UTC", field)
	}
	require.True(t, a.InsertedAt.Equal(a.UpdatedAt), "inserted_at and updated_at are equal after an insert")

	var got Account
	require.NoError(t, e.r.Get(e.ctx, &got, a.ID))
	require.Equal(t, a, got, "Get returns the record as Insert stored it")

	b := Account{Email: "bob@example.com", Name: "Bob"}
	insert(t, e, &b)
	require.NotEqual(t, a.ID, b.ID, "generated IDs are unique")
	require.Nil(t, b.Bio)

	// Get overwrites every field of its destination.
	got = Account{Name: "stale", Bio: ptr("stale"), Age: 99}
	require.NoError(t, e.r.Get(e.ctx, &got, b.ID))
	require.Equal(t, b, got)
}

func crudDuplicateKey(t *testing.T, s *suite) {
	e := s.open(t)
	a := Account{Email: "a@example.com", Name: "A"}
	insert(t, e, &a)
	dup := Account{ID: a.ID, Email: "other@example.com", Name: "Dup"}
	err := e.r.Insert(e.ctx, &dup)
	require.ErrorIs(t, err, repo.ErrConflict)

	cs := schema.NewChangeset(&Account{ID: a.ID, Email: "third@example.com"})
	err = e.r.Insert(e.ctx, cs)
	require.ErrorIs(t, err, repo.ErrConflict)
	require.ErrorIs(t, err, repo.ErrInvalid, "a changeset's constraint violation is also invalid")
	var ce *schema.ChangesetError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, ce.Errors, schema.FieldError{Field: "id", Message: "has already been taken", Rule: "unique"})
	require.False(t, cs.Valid())

	var got Account
	require.NoError(t, e.r.Get(e.ctx, &got, a.ID))
	require.Equal(t, a, got, "a failed insert leaves the stored record alone")
}

// crudDuplicateUnique: a unique value already taken is ErrConflict, on
// insert and on update, and the violation names the unique index; once
// its record is deleted, the value is free again.
func crudDuplicateUnique(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapUniqueIndexes)
	a := Member{Email: "same@example.com", Handle: "a", Name: "A"}
	insert(t, e, &a)
	b := Member{Email: "same@example.com", Handle: "b", Name: "B"}
	err := e.r.Insert(e.ctx, &b)
	require.ErrorIs(t, err, repo.ErrConflict)
	var ce *driver.ConstraintError
	require.ErrorAs(t, err, &ce, "a unique violation is a *driver.ConstraintError")
	require.Equal(t, memberEmailKey, ce.Name, "the constraint is the unique index's name")
	awaitCount[Member](t, e, repo.Where("email", repo.Eq, "same@example.com"), 1)
	var got Member
	require.NoError(t, e.r.GetBy(e.ctx, &got, repo.Where("email", repo.Eq, "same@example.com")))
	require.Equal(t, a, got)

	// An update that collides is refused too, and changes nothing.
	c := Member{Email: "c@example.com", Handle: "c", Name: "C"}
	insert(t, e, &c)
	c2 := c
	c2.Email = "same@example.com"
	require.ErrorIs(t, e.r.Update(e.ctx, &c2), repo.ErrConflict)
	require.NoError(t, e.r.Get(e.ctx, &got, c.ID))
	require.Equal(t, c, got)

	// A deleted record's unique values can be reused.
	require.NoError(t, e.r.Delete(e.ctx, &a))
	a2 := Member{Email: "same@example.com", Handle: "a", Name: "A again"}
	require.NoError(t, e.r.Insert(e.ctx, &a2), "a deleted record's unique values can be reused")
	require.NotEqual(t, a.ID, a2.ID)
}

func crudDuplicateUniqueChangeset(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapUniqueIndexes)
	insert(t, e, &Member{Email: "taken@example.com", Handle: "a", Name: "A"})
	var b Member
	cs := schema.Cast(&b, map[string]any{"email": "taken@example.com", "handle": "b", "name": "B"}, "email", "handle", "name").
		ValidateRequired("email")
	require.True(t, cs.Valid())
	err := e.r.Insert(e.ctx, cs)
	require.ErrorIs(t, err, repo.ErrConflict)
	require.ErrorIs(t, err, repo.ErrInvalid)
	var ce *schema.ChangesetError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, []schema.FieldError{{Field: "email", Message: "has already been taken", Rule: "unique"}}, ce.Errors)
	require.NotNil(t, ce.Constraint)
	require.Equal(t, memberEmailKey, ce.Constraint.Name)
	require.False(t, cs.Valid())
	require.Equal(t, ce.Errors, cs.Errors())
	awaitCount[Member](t, e, repo.Where("email", repo.Eq, "taken@example.com"), 1)

	// An update through a changeset maps the violation the same way.
	c := Member{Email: "c@example.com", Handle: "c", Name: "C"}
	insert(t, e, &c)
	cs = schema.NewChangeset(&c).Put("email", "taken@example.com")
	err = e.r.Update(e.ctx, cs)
	require.ErrorIs(t, err, repo.ErrConflict)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, []schema.FieldError{{Field: "email", Message: "has already been taken", Rule: "unique"}}, ce.Errors)
}

// crudUniqueUnsupported: a store without CapUniqueIndexes cannot keep
// duplicates out, so the portable layer refuses every write to a schema
// with a unique index (inserts, changesets, InsertAll, upserts, updates)
// with ErrUnsupported naming the index, before the store is called and
// whether or not the write would collide. On a store with unique indexes
// it is checked through a view of the store without them.
func crudUniqueUnsupported(t *testing.T, s *suite) {
	e := s.open(t)
	unique := e.caps.Has(driver.CapUniqueIndexes)
	r, writes := e.countingWrites(t, driver.CapUniqueIndexes)
	require.False(t, r.Capabilities().Has(driver.CapUniqueIndexes))
	// A stored record to collide with and to update, where the store can
	// hold one; elsewhere the update is of a record that was never stored,
	// and must be refused all the same (not ErrNotFound).
	existing := Member{ID: 1, Email: "a@example.com", Handle: "a", Name: "A", Version: 1}
	if unique {
		insert(t, e, &existing)
	}
	refused := func(r *repo.Repo, view string) {
		t.Helper()
		calls := []call{
			{"Insert", func() error { return r.Insert(e.ctx, &Member{ID: 2, Email: "new@example.com", Handle: "new"}) }},
			{"Insert of a duplicate", func() error { return r.Insert(e.ctx, &Member{ID: 3, Email: existing.Email, Handle: "dup"}) }},
			{"Insert changeset", func() error {
				return r.Insert(e.ctx, schema.Cast(&Member{ID: 4}, map[string]any{"email": "cs@example.com", "handle": "cs"}, "email", "handle"))
			}},
			{"InsertAll", func() error {
				return r.InsertAll(e.ctx, []Member{{ID: 5, Email: "all@example.com", Handle: "all"}})
			}},
			{"Insert OnConflictDoNothing", func() error {
				return r.Insert(e.ctx, &Member{ID: existing.ID, Email: "x@example.com", Handle: "x"}, repo.OnConflictDoNothing())
			}},
			{"Update", func() error { cp := existing; cp.Name = "changed"; return r.Update(e.ctx, &cp) }},
			{"Update changeset", func() error { cp := existing; return r.Update(e.ctx, schema.NewChangeset(&cp).Put("name", "changed")) }},
		}
		for _, c := range calls {
			err := noPanic(t, c.what, c.fn)
			require.ErrorIs(t, err, repo.ErrUnsupported, "%s (%s) of a schema with unique indexes, without %s", c.what, view, driver.CapUniqueIndexes)
			require.NotErrorIs(t, err, repo.ErrNotFound, "%s (%s)", c.what, view)
			msg := err.Error()
			require.True(t, strings.Contains(msg, memberEmailKey) || strings.Contains(msg, memberHandleKey),
				"%s (%s): the error names the unique index: %v", c.what, view, err)
		}
	}
	refused(r, "a view that counts the writes reaching the store")
	if !unique {
		refused(e.r, "this store")
	}
	require.Zero(t, writes.Load(), "writes refused for want of unique indexes reached the store")
	if unique {
		var got Member
		require.NoError(t, e.r.Get(e.ctx, &got, existing.ID))
		require.Equal(t, existing, got, "the refused writes changed nothing")
		awaitCount[Member](t, e, everything[Member](), 1)
	}
}

func crudUpdateStruct(t *testing.T, s *suite) {
	e := s.open(t)
	a := Account{Email: "a@example.com", Name: "A", Age: 1, Bio: ptr("old")}
	insert(t, e, &a)
	inserted := a
	a.Name, a.Age, a.Bio = "A2", 2, nil
	require.NoError(t, e.r.Update(e.ctx, &a))
	require.EqualValues(t, 2, a.Version)
	require.True(t, a.InsertedAt.Equal(inserted.InsertedAt), "inserted_at does not change")
	require.False(t, a.UpdatedAt.Before(inserted.UpdatedAt), "updated_at moves forward")
	var got Account
	require.NoError(t, e.r.Get(e.ctx, &got, a.ID))
	require.Equal(t, a, got)
	require.Equal(t, "A2", got.Name)
	require.Equal(t, 2, got.Age)
	require.Nil(t, got.Bio, "a nil pointer sets NULL")

	// Zero values are written too: a struct update is a replacement.
	a.Name, a.Age = "", 0
	require.NoError(t, e.r.Update(e.ctx, &a))
	require.NoError(t, e.r.Get(e.ctx, &got, a.ID))
	require.Empty(t, got.Name)
	require.Zero(t, got.Age)
}

func crudUpdateChangeset(t *testing.T, s *suite) {
	e := s.open(t)
	a := Account{Email: "a@example.com", Name: "A", Age: 30}
	insert(t, e, &a)
	cs := schema.Cast(&a, map[string]any{"name": "Ann", "age": "31", "email": "ignored@example.com"}, "name", "age")
	require.True(t, cs.Valid())
	require.NoError(t, e.r.Update(e.ctx, cs))
	require.Equal(t, "Ann", a.Name, "the struct holds the record as stored")
	require.Equal(t, 31, a.Age)
	require.Equal(t, "a@example.com", a.Email, "fields not permitted are not cast")
	require.EqualValues(t, 2, a.Version)
	var got Account
	require.NoError(t, e.r.Get(e.ctx, &got, a.ID))
	require.Equal(t, a, got)

	// A changeset without changes writes nothing.
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&a).Put("name", "Ann")))
	require.NoError(t, e.r.Get(e.ctx, &got, a.ID))
	require.EqualValues(t, 2, got.Version, "an empty changeset does not write")

	// Put(nil) clears a nullable field.
	a.Bio = ptr("bio")
	require.NoError(t, e.r.Update(e.ctx, &a))
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&a).Put("bio", nil)))
	require.NoError(t, e.r.Get(e.ctx, &got, a.ID))
	require.Nil(t, got.Bio)
}

// crudPartialUpdate: two changesets from the same stale copy, changing
// different fields, both take effect.
func crudPartialUpdate(t *testing.T, s *suite) {
	e := s.open(t)
	it := Item{Name: "orig", Rank: 1, Score: 1}
	insert(t, e, &it)
	stale1, stale2 := it, it
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&stale1).Put("name", "renamed")))
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&stale2).Put("rank", 7)))
	require.Equal(t, "renamed", stale2.Name, "the struct holds the whole record as stored")
	var got Item
	require.NoError(t, e.r.Get(e.ctx, &got, it.ID))
	require.Equal(t, "renamed", got.Name, "the second changeset overwrote a field it did not change")
	require.EqualValues(t, 7, got.Rank)
	require.EqualValues(t, 1, got.Score)

	// A whole-struct update writes every field (last writer wins).
	stale3 := it
	stale3.Score = 9
	require.NoError(t, e.r.Update(e.ctx, &stale3))
	require.NoError(t, e.r.Get(e.ctx, &got, it.ID))
	require.Equal(t, Item{ID: it.ID, Name: "orig", Rank: 1, Score: 9}, got)
}

func crudUpdateMissing(t *testing.T, s *suite) {
	e := s.open(t)
	it := Item{ID: 4242, Name: "ghost"}
	require.ErrorIs(t, e.r.Update(e.ctx, &it), repo.ErrNotFound)
	require.ErrorIs(t, e.r.Update(e.ctx, schema.NewChangeset(&it).Put("name", "ghost2")), repo.ErrNotFound)
	var got Item
	require.ErrorIs(t, e.r.Get(e.ctx, &got, 4242), repo.ErrNotFound, "an update of a missing record must not create it")

	a := Account{ID: 4242, Email: "ghost@example.com", Version: 1}
	require.ErrorIs(t, e.r.Update(e.ctx, &a), repo.ErrNotFound, "a versioned record that never existed")
	var ga Account
	require.ErrorIs(t, e.r.Get(e.ctx, &ga, 4242), repo.ErrNotFound)
}

func crudDelete(t *testing.T, s *suite) {
	e := s.open(t)
	a := Account{Email: "a@example.com", Name: "A"}
	b := Account{Email: "b@example.com", Name: "B"}
	insert(t, e, &a, &b)
	require.NoError(t, e.r.Delete(e.ctx, &a))
	var got Account
	require.ErrorIs(t, e.r.Get(e.ctx, &got, a.ID), repo.ErrNotFound)
	require.NoError(t, e.r.Get(e.ctx, &got, b.ID), "delete removes only its record")
	require.ErrorIs(t, e.r.Delete(e.ctx, &a), repo.ErrNotFound, "a second delete")
	require.ErrorIs(t, e.r.Delete(e.ctx, &Item{ID: 999}), repo.ErrNotFound, "a record that never existed")
	require.ErrorIs(t, e.r.Delete(e.ctx, &Setting{Key: "nope"}), repo.ErrNotFound)

	// The key is free again.
	a2 := Account{ID: a.ID, Email: "a@example.com", Name: "A again"}
	require.NoError(t, e.r.Insert(e.ctx, &a2), "a deleted record's key can be reused")
}

func crudReload(t *testing.T, s *suite) {
	e := s.open(t)
	a := Account{Email: "a@example.com", Name: "A"}
	insert(t, e, &a)
	other := a
	other.Name = "changed"
	require.NoError(t, e.r.Update(e.ctx, &other))
	require.NoError(t, e.r.Reload(e.ctx, &a))
	require.Equal(t, other, a)
	require.EqualValues(t, 2, a.Version)
	require.NoError(t, e.r.Delete(e.ctx, &a))
	require.ErrorIs(t, e.r.Reload(e.ctx, &a), repo.ErrNotFound)
}

func crudInsertAll(t *testing.T, s *suite) {
	e := s.open(t)
	vals := []Item{{Name: "a", Rank: 1}, {Name: "b", Rank: 2}, {ID: 5, Name: "c", Rank: 3}}
	require.NoError(t, e.r.InsertAll(e.ctx, vals))
	ptrs := []*Item{{Name: "d"}, {Name: "e"}}
	require.NoError(t, e.r.InsertAll(e.ctx, ptrs))
	var slice []Item
	slice = append(slice, Item{Name: "f"})
	require.NoError(t, e.r.InsertAll(e.ctx, &slice))
	require.NoError(t, e.r.InsertAll(e.ctx, []Item{}), "an empty batch is no error")

	all := append(append(vals, *ptrs[0], *ptrs[1]), slice...)
	seen := map[int64]bool{}
	for _, it := range all {
		require.NotZero(t, it.ID, "InsertAll sets each element's generated key (%s)", it.Name)
		require.False(t, seen[it.ID], "duplicate ID %d", it.ID)
		seen[it.ID] = true
		var got Item
		require.NoError(t, e.r.Get(e.ctx, &got, it.ID))
		require.Equal(t, it, got)
	}
	require.EqualValues(t, 5, vals[2].ID)
	awaitCount[Item](t, e, everything[Item](), 6)
}

func crudInsertAllAtomic(t *testing.T, s *suite) {
	e := s.open(t)
	insert(t, e, &Item{ID: 10, Name: "existing"})
	err := e.r.InsertAll(e.ctx, []Item{{ID: 11, Name: "new"}, {ID: 10, Name: "dup"}})
	require.ErrorIs(t, err, repo.ErrConflict)
	var got Item
	require.NoError(t, e.r.Get(e.ctx, &got, 10))
	require.Equal(t, "existing", got.Name)
	if !e.caps.Has(driver.CapBatchInsert) {
		t.Skipf("adapter lacks capability %s: InsertAll is not atomic", driver.CapBatchInsert)
	}
	require.ErrorIs(t, e.r.Get(e.ctx, &got, 11), repo.ErrNotFound, "an atomic InsertAll stores nothing when one record fails")
	err = e.r.InsertAll(e.ctx, []Item{{ID: 12}, {ID: 12}})
	require.ErrorIs(t, err, repo.ErrConflict, "a duplicate within the batch")
	require.ErrorIs(t, e.r.Get(e.ctx, &got, 12), repo.ErrNotFound)
}

func crudExists(t *testing.T, s *suite) {
	e := s.open(t)
	q := repo.Where("name", repo.Eq, "x")
	ok, err := repo.Exists[Item](e.ctx, e.r, q)
	require.NoError(t, err)
	require.False(t, ok)
	insert(t, e, &Item{Name: "x"}, &Item{Name: "x"}, &Item{Name: "y"})
	e.eventually(t, func(c require.TestingT) {
		ok, err := repo.Exists[Item](e.ctx, e.r, q)
		require.NoError(c, err)
		require.True(c, ok)
	})
	ok, err = repo.Exists[Item](e.ctx, e.r, repo.Where("name", repo.Eq, "z"))
	require.NoError(t, err)
	require.False(t, ok)
}

func crudGetBy(t *testing.T, s *suite) {
	e := s.open(t)
	var got Item
	require.ErrorIs(t, e.r.GetBy(e.ctx, &got, repo.Where("name", repo.Eq, "one")), repo.ErrNotFound)
	one := Item{Name: "one", Rank: 1}
	insert(t, e, &one, &Item{Name: "two", Rank: 2}, &Item{Name: "two", Rank: 2})
	e.eventually(t, func(c require.TestingT) {
		got = Item{}
		require.NoError(c, e.r.GetBy(e.ctx, &got, repo.Where("name", repo.Eq, "one")))
		require.Equal(c, one, got)
		err := e.r.GetBy(e.ctx, &got, repo.Where("name", repo.Eq, "two"))
		require.ErrorIs(c, err, repo.ErrMultipleResults)
	})
	require.ErrorIs(t, e.r.GetBy(e.ctx, &got, repo.Where("name", repo.Eq, "three")), repo.ErrNotFound)
	require.ErrorIs(t, e.r.GetBy(e.ctx, &got, repo.Where("rank", repo.Eq, 2)), repo.ErrMultipleResults)
}

func crudOne(t *testing.T, s *suite) {
	e := s.open(t)
	var got Item
	require.ErrorIs(t, e.r.One(e.ctx, &got, repo.Where("rank", repo.Gte, 0)), repo.ErrNotFound)
	insert(t, e, &Item{Name: "b", Rank: 2}, &Item{Name: "c", Rank: 3}, &Item{Name: "a", Rank: 1})
	e.eventually(t, func(c require.TestingT) {
		require.NoError(c, e.r.One(e.ctx, &got, repo.Where("rank", repo.Gte, 0).OrderBy("-rank")))
		require.Equal(c, "c", got.Name)
		require.NoError(c, e.r.One(e.ctx, &got, repo.Where("rank", repo.Gte, 2).OrderBy("rank")))
		require.Equal(c, "b", got.Name)
	})
}

func crudStringKey(t *testing.T, s *suite) {
	e := s.open(t)
	keys := []string{"theme", "a/b:c d?e#f%g", "ключ", "😀 emoji", "e\u0301", "with\nnewline", "x"}
	for i, k := range keys {
		st := Setting{Key: k, Value: sprintf("v%d", i)}
		insert(t, e, &st)
		require.Equal(t, k, st.Key, "a caller-set key is kept")
	}
	for i, k := range keys {
		var got Setting
		require.NoError(t, e.r.Get(e.ctx, &got, k), "key %q", k)
		require.Equal(t, Setting{Key: k, Value: sprintf("v%d", i)}, got)
	}
	var got Setting
	require.ErrorIs(t, e.r.Get(e.ctx, &got, "\u00e9"), repo.ErrNotFound, "keys compare byte for byte: é is not e + combining accent")
	require.ErrorIs(t, e.r.Get(e.ctx, &got, "Theme"), repo.ErrNotFound, "keys are case-sensitive")
	require.ErrorIs(t, e.r.Insert(e.ctx, &Setting{Key: "theme", Value: "dup"}), repo.ErrConflict)

	st := Setting{Key: "theme", Value: "light"}
	require.NoError(t, e.r.Update(e.ctx, &st))
	require.NoError(t, e.r.Get(e.ctx, &got, "theme"))
	require.Equal(t, "light", got.Value)
	require.NoError(t, e.r.Delete(e.ctx, &st))
	require.ErrorIs(t, e.r.Get(e.ctx, &got, "theme"), repo.ErrNotFound)

	q := repo.Where("key", repo.Gte, "").OrderBy("key")
	e.eventually(t, func(c require.TestingT) {
		all, err := repo.All[Setting](e.ctx, e.r, q)
		require.NoError(c, err)
		var got []string
		for _, s := range all {
			got = append(got, s.Key)
		}
		want := []string{"a/b:c d?e#f%g", "e\u0301", "with\nnewline", "x", "ключ", "😀 emoji"}
		require.Equal(c, want, got, "string keys order byte for byte")
	})
}
