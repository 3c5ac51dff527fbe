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
	{"ReplaceAll", upsertReplaceAll},
	{"ReplaceAllUniqueTarget", upsertReplaceAllUnique},
	{"ReplaceFields", upsertReplaceFields},
	{"ReplaceOtherConflict", upsertReplaceOther},
	{"NoConflictInserts", upsertInserts},
	{"Unsupported", upsertUnsupported},
}

func getMember(t *testing.T, e *env, id int64) Member {
	t.Helper()
	var m Member
	require.NoError(t, e.r.Get(e.ctx, &m, id))
	return m
}

func upsertDoNothingKey(t *testing.T, s *suite) {
	e := s.open(t)
	m := Member{Email: "a", Handle: "a", Name: "orig", Visits: 1}
	insert(t, e, &m)
	v := Member{ID: m.ID, Email: "b", Handle: "b", Name: "new"}
	before := v
	require.NoError(t, e.r.Insert(e.ctx, &v, repo.OnConflictDoNothing()), "a conflict is no error")
	require.Equal(t, before, v, "the argument is left as it was")
	require.Equal(t, m, getMember(t, e, m.ID), "the existing record is kept")
	require.NoError(t, e.r.Insert(e.ctx, &v, repo.OnConflictDoNothing("id")), "the key named as target")
	require.Equal(t, m, getMember(t, e, m.ID))

	w := Member{Email: "c", Handle: "c"}
	require.NoError(t, e.r.Insert(e.ctx, &w, repo.OnConflictDoNothing()))
	require.NotZero(t, w.ID, "without a conflict the record is inserted")
	require.EqualValues(t, 1, w.Version)
	require.Equal(t, w, getMember(t, e, w.ID))
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

func upsertReplaceAll(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapUpsert)
	m := Member{Email: "a", Handle: "a", Name: "orig", Visits: 5}
	insert(t, e, &m)
	v := Member{ID: m.ID, Email: "b", Handle: "b", Name: "new", Visits: 9}
	require.NoError(t, e.r.Insert(e.ctx, &v, repo.OnConflictReplaceAll()))
	require.Equal(t, m.ID, v.ID)
	require.Equal(t, "b", v.Email, "the argument holds the record as stored")
	require.Equal(t, "new", v.Name)
	require.EqualValues(t, 9, v.Visits)
	require.EqualValues(t, 2, v.Version, "an upsert that replaces increments the version")
	require.True(t, v.InsertedAt.Equal(m.InsertedAt), "inserted_at is not replaced")
	require.False(t, v.UpdatedAt.Before(m.UpdatedAt))
	require.Equal(t, v, getMember(t, e, m.ID))

	// Zero values replace too.
	z := Member{ID: m.ID, Email: "z", Handle: "z"}
	require.NoError(t, e.r.Insert(e.ctx, &z, repo.OnConflictReplaceAll("id")))
	got := getMember(t, e, m.ID)
	require.Empty(t, got.Name)
	require.Zero(t, got.Visits)
	require.EqualValues(t, 3, got.Version)
	awaitCount[Member](t, e, repo.Where("id", repo.Gt, 0), 1)
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
	m := Member{Email: "a", Handle: "a", Name: "orig", Visits: 5}
	insert(t, e, &m)
	v := Member{ID: m.ID, Email: "zz", Handle: "zz", Name: "new", Visits: 9}
	require.NoError(t, e.r.Insert(e.ctx, &v, repo.OnConflictReplace(nil, "name")))
	require.Equal(t, Member{ID: m.ID, Email: "a", Handle: "a", Name: "new", Visits: 5, Version: 2}, withoutTimes(v),
		"only the listed fields are replaced")
	require.False(t, v.UpdatedAt.Before(m.UpdatedAt), "updated_at is set")
	require.True(t, v.InsertedAt.Equal(m.InsertedAt))
	require.Equal(t, v, getMember(t, e, m.ID))

	if !e.caps.Has(driver.CapUniqueIndexes) {
		return
	}
	w := Member{Email: "a", Handle: "q", Name: "n2", Visits: 1}
	require.NoError(t, e.r.Insert(e.ctx, &w, repo.OnConflictReplace([]string{"email"}, "visits", "handle")))
	require.Equal(t, Member{ID: m.ID, Email: "a", Handle: "q", Name: "new", Visits: 1, Version: 3}, withoutTimes(w))
	require.Equal(t, w, getMember(t, e, m.ID))
}

func withoutTimes(m Member) Member {
	m.Timestamps = schema.Timestamps{}
	return m
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
	v := Member{Email: "a", Handle: "a", Name: "new"}
	require.NoError(t, e.r.Insert(e.ctx, &v, repo.OnConflictReplaceAll()))
	require.NotZero(t, v.ID)
	require.EqualValues(t, 1, v.Version)
	require.False(t, v.InsertedAt.IsZero())
	require.Equal(t, v, getMember(t, e, v.ID))
	w := Member{ID: 77, Email: "b", Handle: "b"}
	require.NoError(t, e.r.Insert(e.ctx, &w, repo.OnConflictReplace(nil, "name")))
	require.EqualValues(t, 1, w.Version)
	require.Equal(t, w, getMember(t, e, 77))
}

func upsertUnsupported(t *testing.T, s *suite) {
	e := s.open(t)
	r := e.r
	if e.caps.Has(driver.CapUpsert) {
		r = e.masked(t, driver.CapUpsert)
	}
	m := Member{Email: "a", Handle: "a", Name: "orig"}
	insert(t, e, &m)
	v := Member{ID: m.ID, Email: "b", Handle: "b", Name: "new"}
	require.ErrorIs(t, r.Insert(e.ctx, &v, repo.OnConflictReplaceAll()), repo.ErrUnsupported)
	require.ErrorIs(t, r.Insert(e.ctx, &v, repo.OnConflictReplace(nil, "name")), repo.ErrUnsupported)
	require.ErrorIs(t, r.Insert(e.ctx, &Member{Email: "c", Handle: "c"}, repo.OnConflictReplaceAll()), repo.ErrUnsupported,
		"refused before it is known whether there is a conflict")
	require.NoError(t, r.Insert(e.ctx, &v, repo.OnConflictDoNothing()), "doing nothing works without upserts")
	require.Equal(t, m, getMember(t, e, m.ID))
	var got Member
	require.ErrorIs(t, e.r.GetBy(e.ctx, &got, repo.Where("email", repo.Eq, "c")), repo.ErrNotFound)
}
