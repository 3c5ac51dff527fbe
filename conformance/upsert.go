package conformance

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

var upsertCases = []testCase{
	{"DoNothingPrimaryKey", upsertDoNothingKey},
	{"DoNothingUnique", upsertDoNothingUnique},
	{"DoNothingOtherConflict", upsertDoNothingOther},
	{"DoNothingInTransaction", upsertDoNothingInTx},
	{"ReplaceAll", upsertReplaceAll},
	{"ReplaceAllUniqueTarget", upsertReplaceAllUnique},
	{"ReplaceFields", upsertReplaceFields},
	{"ReplaceFieldsUniqueTarget", upsertReplaceFieldsUnique},
	{"ReplaceOtherConflict", upsertReplaceOther},
	{"NoConflictInserts", upsertInserts},
	{"Unsupported", upsertUnsupported},
}

// The upserts on the primary key use Visitor, which has no unique field,
// so that they run on every store; those on a unique target (and the
// conflicts with another unique index) use Member, and need
// CapUniqueIndexes.

func getMember(t *testing.T, e *env, id int64) Member {
	t.Helper()
	var m Member
	require.NoError(t, e.r.Get(e.ctx, &m, id))
	return m
}

func getVisitor(t *testing.T, e *env, id int64) Visitor {
	t.Helper()
	var v Visitor
	require.NoError(t, e.r.Get(e.ctx, &v, id))
	return v
}

func upsertDoNothingKey(t *testing.T, s *suite) {
	e := s.open(t)
	m := Visitor{Email: "a", Handle: "a", Name: "orig", Visits: 1}
	insert(t, e, &m)
	v := Visitor{ID: m.ID, Email: "b", Handle: "b", Name: "new"}
	before := v
	require.NoError(t, e.r.Insert(e.ctx, &v, repo.OnConflictDoNothing()), "a conflict is no error")
	require.Equal(t, before, v, "the argument is left as it was")
	require.Equal(t, m, getVisitor(t, e, m.ID), "the existing record is kept")
	require.NoError(t, e.r.Insert(e.ctx, &v, repo.OnConflictDoNothing("id")), "the key named as target")
	require.Equal(t, m, getVisitor(t, e, m.ID))

	w := Visitor{Email: "c", Handle: "c"}
	require.NoError(t, e.r.Insert(e.ctx, &w, repo.OnConflictDoNothing()))
	require.NotZero(t, w.ID, "without a conflict the record is inserted")
	require.EqualValues(t, 1, w.Version)
	require.Equal(t, w, getVisitor(t, e, w.ID))
}

func upsertDoNothingUnique(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapUniqueIndexes)
	m := Member{Email: "a", Handle: "a", Name: "orig"}
	insert(t, e, &m)
	v := Member{Email: "a", Handle: "z", Name: "new"}
	require.NoError(t, e.r.Insert(e.ctx, &v, repo.OnConflictDoNothing("email")))
	require.Zero(t, v.ID, "the argument is left as it was")
	require.Equal(t, m, getMember(t, e, m.ID))
	awaitCount[Member](t, e, repo.Where("email", repo.Eq, "a"), 1)
	n, err := repo.Count[Member](e.ctx, e.r, repo.Where("handle", repo.Eq, "z"))
	require.NoError(t, err)
	require.Zero(t, n, "nothing was inserted")
}

func upsertDoNothingOther(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapUniqueIndexes)
	m := Member{Email: "a", Handle: "a"}
	insert(t, e, &m)
	require.ErrorIs(t, e.r.Insert(e.ctx, &Member{Email: "new", Handle: "a"}, repo.OnConflictDoNothing("email")), repo.ErrConflict,
		"a conflict on another unique index than the target")
	require.ErrorIs(t, e.r.Insert(e.ctx, &Member{ID: m.ID, Email: "new2", Handle: "new2"}, repo.OnConflictDoNothing("email")), repo.ErrConflict,
		"a conflict on the primary key when the target is a unique index")
	require.ErrorIs(t, e.r.Insert(e.ctx, &Member{Email: "a", Handle: "new3"}, repo.OnConflictDoNothing()), repo.ErrConflict,
		"a conflict on a unique index when the target is the primary key")
	require.Equal(t, m, getMember(t, e, m.ID))
	awaitCount[Member](t, e, repo.Where("id", repo.Gt, 0), 1)
}

// upsertDoNothingInTx: in a transaction, a do-nothing insert that meets a
// duplicate is skipped without spoiling the transaction (as a plain insert
// whose duplicate error were ignored would on PostgreSQL, which aborts the
// transaction): later writes and the commit succeed. Without CapUpsert it
// cannot be made atomic and is refused with ErrUnsupported; on a store
// with upserts the portable layer's refusal is checked through a view of
// the store that lacks them.
func upsertDoNothingInTx(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapTransactions)
	if !e.caps.Has(driver.CapUpsert) {
		doNothingInTxRefused(t, e, e.r)
		return
	}
	orig := Item{ID: 1, Name: "orig", Rank: 1}
	insert(t, e, &orig)
	unique := e.caps.Has(driver.CapUniqueIndexes)
	var m Member
	if unique {
		m = Member{Email: "a", Handle: "a", Name: "orig"}
		insert(t, e, &m)
	}
	fresh := Item{ID: 2, Name: "fresh", Rank: 1}
	after := Item{ID: 3, Name: "after", Rank: 1}
	err := e.r.Transaction(e.ctx, func(tx *repo.Repo) error {
		dup := Item{ID: orig.ID, Name: "dup", Rank: 2}
		require.NoError(t, tx.Insert(e.ctx, &dup, repo.OnConflictDoNothing()), "a duplicate key, in a transaction")
		require.Equal(t, Item{ID: orig.ID, Name: "dup", Rank: 2}, dup, "the argument is left as it was")
		if unique {
			v := Member{Email: "a", Handle: "z", Name: "dup"}
			require.NoError(t, tx.Insert(e.ctx, &v, repo.OnConflictDoNothing("email")), "a duplicate unique value, in a transaction")
			require.Equal(t, Member{Email: "a", Handle: "z", Name: "dup"}, v, "the argument is left as it was (its ID stays zero)")
		}
		var got Item
		require.NoError(t, tx.Get(e.ctx, &got, orig.ID))
		require.Equal(t, orig, got, "the transaction reads the existing record")
		require.NoError(t, tx.Insert(e.ctx, &fresh, repo.OnConflictDoNothing()), "a do-nothing insert without a conflict, in a transaction")
		require.NoError(t, tx.Insert(e.ctx, &after), "an insert after a skipped duplicate, in the same transaction")
		return nil
	})
	require.NoError(t, err, "a transaction with a skipped duplicate commits")
	var got Item
	require.NoError(t, e.r.Get(e.ctx, &got, orig.ID))
	require.Equal(t, orig, got, "the existing record is kept")
	for _, it := range []Item{fresh, after} {
		require.NoError(t, e.r.Get(e.ctx, &got, it.ID), "the transaction's insert of %d is committed", it.ID)
		require.Equal(t, it, got)
	}
	if unique {
		require.Equal(t, m, getMember(t, e, m.ID), "the existing record is kept")
		awaitCount[Member](t, e, repo.Where("email", repo.Eq, "a"), 1)
		n, err := repo.Count[Member](e.ctx, e.r, repo.Where("handle", repo.Eq, "z"))
		require.NoError(t, err)
		require.Zero(t, n, "nothing was inserted")
	}

	doNothingInTxRefused(t, s.open(t), nil)
}

// doNothingInTxRefused checks that r (nil: a view of e's store without
// upserts) refuses a do-nothing insert in a transaction with
// ErrUnsupported, whether or not it would meet a duplicate, and that the
// transaction, rolled back, writes nothing.
func doNothingInTxRefused(t *testing.T, e *env, r *repo.Repo) {
	t.Helper()
	if r == nil {
		r = e.maskedTx(t, driver.CapUpsert)
	}
	orig := Item{ID: 1, Name: "orig", Rank: 1}
	insert(t, e, &orig)
	var dupErr error
	err := r.Transaction(e.ctx, func(tx *repo.Repo) error {
		require.NoError(t, tx.Insert(e.ctx, &Item{ID: 2, Name: "before", Rank: 1}))
		dupErr = tx.Insert(e.ctx, &Item{ID: orig.ID, Name: "dup", Rank: 1}, repo.OnConflictDoNothing())
		return dupErr
	})
	require.ErrorIs(t, dupErr, repo.ErrUnsupported, "a do-nothing insert of a duplicate in a transaction, without upserts")
	require.ErrorIs(t, err, repo.ErrUnsupported)
	err = r.Transaction(e.ctx, func(tx *repo.Repo) error {
		return tx.Insert(e.ctx, &Item{ID: 3, Name: "fresh", Rank: 1}, repo.OnConflictDoNothing())
	})
	require.ErrorIs(t, err, repo.ErrUnsupported, "refused before it is known whether there is a conflict")
	var got Item
	require.NoError(t, e.r.Get(e.ctx, &got, orig.ID))
	require.Equal(t, orig, got)
	for _, id := range []int64{2, 3} {
		require.ErrorIs(t, e.r.Get(e.ctx, &got, id), repo.ErrNotFound, "the refused transaction wrote nothing (record %d)", id)
	}
}

func upsertReplaceAll(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapUpsert)
	m := Visitor{Email: "a", Handle: "a", Name: "orig", Visits: 5}
	insert(t, e, &m)
	v := Visitor{ID: m.ID, Email: "b", Handle: "b", Name: "new", Visits: 9}
	require.NoError(t, e.r.Insert(e.ctx, &v, repo.OnConflictReplaceAll()))
	require.Equal(t, m.ID, v.ID)
	require.Equal(t, "b", v.Email, "the argument holds the record as stored")
	require.Equal(t, "new", v.Name)
	require.EqualValues(t, 9, v.Visits)
	require.EqualValues(t, 2, v.Version, "an upsert that replaces increments the version")
	require.True(t, v.InsertedAt.Equal(m.InsertedAt), "inserted_at is not replaced")
	require.False(t, v.UpdatedAt.Before(m.UpdatedAt))
	require.Equal(t, v, getVisitor(t, e, m.ID))

	// Zero values replace too.
	z := Visitor{ID: m.ID, Email: "z", Handle: "z"}
	require.NoError(t, e.r.Insert(e.ctx, &z, repo.OnConflictReplaceAll("id")))
	got := getVisitor(t, e, m.ID)
	require.Empty(t, got.Name)
	require.Zero(t, got.Visits)
	require.EqualValues(t, 3, got.Version)
	awaitCount[Visitor](t, e, repo.Where("id", repo.Gt, 0), 1)
}

func upsertReplaceAllUnique(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapUpsert|driver.CapUniqueIndexes)
	m := Member{Email: "a", Handle: "a", Name: "orig", Visits: 5}
	other := Member{Email: "b", Handle: "b"}
	insert(t, e, &m, &other)
	v := Member{Email: "a", Handle: "h2", Name: "new", Visits: 7}
	require.NoError(t, e.r.Insert(e.ctx, &v, repo.OnConflictReplaceAll("email")))
	require.Equal(t, m.ID, v.ID, "the existing record is updated, keeping its key")
	require.Equal(t, "h2", v.Handle)
	require.Equal(t, "new", v.Name)
	require.EqualValues(t, 7, v.Visits)
	require.EqualValues(t, 2, v.Version)
	require.True(t, v.InsertedAt.Equal(m.InsertedAt))
	require.Equal(t, v, getMember(t, e, m.ID))
	require.Equal(t, other, getMember(t, e, other.ID))
	awaitCount[Member](t, e, repo.Where("id", repo.Gt, 0), 2)
}

func upsertReplaceFields(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapUpsert)
	m := Visitor{Email: "a", Handle: "a", Name: "orig", Visits: 5}
	insert(t, e, &m)
	v := Visitor{ID: m.ID, Email: "zz", Handle: "zz", Name: "new", Visits: 9}
	require.NoError(t, e.r.Insert(e.ctx, &v, repo.OnConflictReplace(nil, "name")))
	require.Equal(t, Visitor{ID: m.ID, Email: "a", Handle: "a", Name: "new", Visits: 5, Version: 2}, visitorWithoutTimes(v),
		"only the listed fields are replaced")
	require.False(t, v.UpdatedAt.Before(m.UpdatedAt), "updated_at is set")
	require.True(t, v.InsertedAt.Equal(m.InsertedAt))
	require.Equal(t, v, getVisitor(t, e, m.ID))
}

func upsertReplaceFieldsUnique(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapUpsert|driver.CapUniqueIndexes)
	m := Member{Email: "a", Handle: "a", Name: "orig", Visits: 5}
	insert(t, e, &m)
	w := Member{Email: "a", Handle: "q", Name: "n2", Visits: 1}
	require.NoError(t, e.r.Insert(e.ctx, &w, repo.OnConflictReplace([]string{"email"}, "visits", "handle")))
	require.Equal(t, Member{ID: m.ID, Email: "a", Handle: "q", Name: "orig", Visits: 1, Version: 2}, withoutTimes(w),
		"the record with the target's value is updated, keeping its key; only the listed fields are replaced")
	require.False(t, w.UpdatedAt.Before(m.UpdatedAt), "updated_at is set")
	require.True(t, w.InsertedAt.Equal(m.InsertedAt))
	require.Equal(t, w, getMember(t, e, m.ID))
	awaitCount[Member](t, e, repo.Where("id", repo.Gt, 0), 1)
}

func withoutTimes(m Member) Member {
	m.Timestamps = schema.Timestamps{}
	return m
}

func visitorWithoutTimes(v Visitor) Visitor {
	v.Timestamps = schema.Timestamps{}
	return v
}

func upsertReplaceOther(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapUpsert|driver.CapUniqueIndexes)
	m1 := Member{Email: "a", Handle: "a", Name: "one"}
	m2 := Member{Email: "b", Handle: "b", Name: "two"}
	insert(t, e, &m1, &m2)
	err := e.r.Insert(e.ctx, &Member{Email: "c", Handle: "a"}, repo.OnConflictReplaceAll("email"))
	require.ErrorIs(t, err, repo.ErrConflict, "a conflict on another unique index than the target")
	err = e.r.Insert(e.ctx, &Member{ID: m1.ID, Email: "b", Handle: "x"}, repo.OnConflictReplaceAll())
	require.ErrorIs(t, err, repo.ErrConflict, "a replacement that collides with another record's unique value")
	err = e.r.Insert(e.ctx, &Member{ID: m2.ID, Email: "a", Handle: "y"}, repo.OnConflictReplace([]string{"handle"}, "name"))
	require.ErrorIs(t, err, repo.ErrConflict, "a conflict on the primary key when the target is a unique index")
	require.Equal(t, m1, getMember(t, e, m1.ID))
	require.Equal(t, m2, getMember(t, e, m2.ID))
	awaitCount[Member](t, e, repo.Where("id", repo.Gt, 0), 2)
}

func upsertInserts(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapUpsert)
	v := Visitor{Email: "a", Handle: "a", Name: "new"}
	require.NoError(t, e.r.Insert(e.ctx, &v, repo.OnConflictReplaceAll()))
	require.NotZero(t, v.ID)
	require.EqualValues(t, 1, v.Version)
	require.False(t, v.InsertedAt.IsZero())
	require.Equal(t, v, getVisitor(t, e, v.ID))
	w := Visitor{ID: 77, Email: "b", Handle: "b"}
	require.NoError(t, e.r.Insert(e.ctx, &w, repo.OnConflictReplace(nil, "name")))
	require.EqualValues(t, 1, w.Version)
	require.Equal(t, w, getVisitor(t, e, 77))
}

func upsertUnsupported(t *testing.T, s *suite) {
	e := s.open(t)
	r := e.r
	if e.caps.Has(driver.CapUpsert) {
		r = e.masked(t, driver.CapUpsert)
	}
	m := Visitor{Email: "a", Handle: "a", Name: "orig"}
	insert(t, e, &m)
	v := Visitor{ID: m.ID, Email: "b", Handle: "b", Name: "new"}
	require.ErrorIs(t, r.Insert(e.ctx, &v, repo.OnConflictReplaceAll()), repo.ErrUnsupported)
	require.ErrorIs(t, r.Insert(e.ctx, &v, repo.OnConflictReplace(nil, "name")), repo.ErrUnsupported)
	require.ErrorIs(t, r.Insert(e.ctx, &Visitor{Email: "c", Handle: "c"}, repo.OnConflictReplaceAll()), repo.ErrUnsupported,
		"refused before it is known whether there is a conflict")
	require.NoError(t, r.Insert(e.ctx, &v, repo.OnConflictDoNothing()), "doing nothing works without upserts")
	require.Equal(t, m, getVisitor(t, e, m.ID))
	var got Visitor
	require.ErrorIs(t, e.r.GetBy(e.ctx, &got, repo.Where("email", repo.Eq, "c")), repo.ErrNotFound)
}
