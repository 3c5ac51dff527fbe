package conformance

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

var lockingCases = []testCase{
	{"VersionIncrements", func(t *testing.T, s *suite) {
		e := s.open(t)
		a := Account{Email: "a@example.com", Name: "v1"}
		insert(t, e, &a)
		require.EqualValues(t, 1, a.Version)
		a.Name = "v2"
		require.NoError(t, e.r.Update(e.ctx, &a))
		require.EqualValues(t, 2, a.Version, "a struct update")
		require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&a).Put("name", "v3")))
		require.EqualValues(t, 3, a.Version, "a changeset update")
		var got Account
		require.NoError(t, e.r.Get(e.ctx, &got, a.ID))
		require.EqualValues(t, 3, got.Version)
		require.Equal(t, "v3", got.Name)
		require.NoError(t, e.r.Update(e.ctx, &got))
		require.EqualValues(t, 4, got.Version, "an update that changes nothing still counts")
	}},
	{"StaleUpdate", func(t *testing.T, s *suite) {
		e := s.open(t)
		a := Account{Email: "a@example.com", Name: "orig"}
		insert(t, e, &a)
		stale := a
		a.Name = "newer"
		require.NoError(t, e.r.Update(e.ctx, &a))

		stale.Name = "older"
		err := e.r.Update(e.ctx, &stale)
		require.ErrorIs(t, err, repo.ErrStale)
		require.NotErrorIs(t, err, repo.ErrNotFound)
		err = e.r.Update(e.ctx, schema.NewChangeset(&stale).Put("age", 9))
		require.ErrorIs(t, err, repo.ErrStale, "a changeset update is checked too")

		var got Account
		require.NoError(t, e.r.Get(e.ctx, &got, a.ID))
		require.Equal(t, a, got, "the newer data is kept")

		// Reloading makes the copy current again.
		require.NoError(t, e.r.Reload(e.ctx, &stale))
		stale.Name = "after reload"
		require.NoError(t, e.r.Update(e.ctx, &stale))
		require.EqualValues(t, 3, stale.Version)
	}},
	{"StaleDelete", func(t *testing.T, s *suite) {
		e := s.open(t)
		a := Account{Email: "a@example.com", Name: "orig"}
		insert(t, e, &a)
		stale := a
		a.Name = "newer"
		require.NoError(t, e.r.Update(e.ctx, &a))
		require.ErrorIs(t, e.r.Delete(e.ctx, &stale), repo.ErrStale)
		var got Account
		require.NoError(t, e.r.Get(e.ctx, &got, a.ID), "a stale delete deletes nothing")
		require.Equal(t, "newer", got.Name)
		require.NoError(t, e.r.Delete(e.ctx, &a))
		require.ErrorIs(t, e.r.Get(e.ctx, &got, a.ID), repo.ErrNotFound)
	}},
	{"UpdateAfterDelete", func(t *testing.T, s *suite) {
		e := s.open(t)
		a := Account{Email: "a@example.com", Name: "orig"}
		insert(t, e, &a)
		stale := a
		require.NoError(t, e.r.Delete(e.ctx, &a))
		stale.Name = "zombie"
		err := e.r.Update(e.ctx, &stale)
		require.ErrorIs(t, err, repo.ErrNotFound, "an update of a deleted record")
		var got Account
		require.ErrorIs(t, e.r.Get(e.ctx, &got, a.ID), repo.ErrNotFound, "the update must not bring the record back")
	}},
	{"ConcurrentUpdates", lockingConcurrentUpdates},
	{"ConcurrentInserts", lockingConcurrentInserts},
}

// concurrentWriters is how many goroutines race in the Concurrent cases.
const concurrentWriters = 8

// race runs write(i) for i in [0, concurrentWriters) in goroutines
// released at once, and returns their errors.
func race(write func(i int) error) []error {
	errs := make([]error, concurrentWriters)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range concurrentWriters {
		wg.Go(func() {
			<-start
			errs[i] = write(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// requireRaceOutcome requires that every racing write either succeeded or
// failed with one of the errors in lost, and that at least one succeeded.
// It returns the indexes of those that succeeded. With CapConditionalWrites
// (and strongly consistent reads) exactly one must succeed.
func requireRaceOutcome(t *testing.T, e *env, errs []error, what string, lost ...error) []int {
	t.Helper()
	var wins []int
	for i, err := range errs {
		if err == nil {
			wins = append(wins, i)
			continue
		}
		matched := false
		for _, l := range lost {
			matched = matched || errors.Is(err, l)
		}
		require.True(t, matched, "%s: writer %d failed with %v; want success or one of %v", what, i, err, lost)
	}
	require.NotEmpty(t, wins, "%s: some writer succeeds", what)
	if e.caps.Has(driver.CapConditionalWrites) && e.lag == 0 {
		require.Len(t, wins, 1, "%s: exactly one succeeds (writers %v did)", what, wins)
	}
	return wins
}

// requireAgreedAccount reads the account id from several goroutines at
// once (see env.eventually) until they all read the same name and version,
// which must be one of the winners' writes, and returns it.
func requireAgreedAccount(t *testing.T, e *env, id int64, winners []string) Account {
	t.Helper()
	var agreed Account
	e.eventually(t, func(c require.TestingT) {
		got := make([]Account, concurrentWriters)
		var rerr firstErr
		var rg sync.WaitGroup
		for i := range got {
			rg.Go(func() { rerr.set(e.r.Get(e.ctx, &got[i], id)) })
		}
		rg.Wait()
		require.NoError(c, rerr.get())
		for _, g := range got {
			require.Equal(c, got[0], g, "every reader sees the same record")
		}
		require.Contains(c, winners, got[0].Name, "the record is a successful writer's write (a failed write wrote nothing)")
		agreed = got[0]
	})
	return agreed
}

// lockingConcurrentUpdates: of concurrent updates of one version, each
// succeeds or is ErrStale. Where conditional writes are atomic
// (CapConditionalWrites), exactly one succeeds and its write is stored
// with the next version; elsewhere several may succeed, concurrent ones
// being resolved by the store, and then every reader agrees on one of the
// successful writes. Either way the version the writers started from is
// stale afterwards.
func lockingConcurrentUpdates(t *testing.T, s *suite) {
	e := s.open(t)
	a := Account{Email: "a@example.com", Name: "orig"}
	insert(t, e, &a)
	errs := race(func(i int) error {
		v := a
		v.Name = sprintf("writer %d", i)
		return e.r.Update(e.ctx, &v)
	})
	wins := requireRaceOutcome(t, e, errs, "updates of one version", repo.ErrStale)
	var names []string
	for _, i := range wins {
		names = append(names, sprintf("writer %d", i))
	}
	got := requireAgreedAccount(t, e, a.ID, names)
	require.Greater(t, got.Version, a.Version, "the version moved on")
	if e.caps.Has(driver.CapConditionalWrites) && e.lag == 0 {
		require.EqualValues(t, 2, got.Version, "one update, one increment")
		require.Equal(t, sprintf("writer %d", wins[0]), got.Name, "the winner's write is the one stored")
	}

	// Not concurrent: an update from the version the writers started from
	// is stale now, everywhere.
	late := a
	late.Name = "late"
	require.ErrorIs(t, e.r.Update(e.ctx, &late), repo.ErrStale, "an update of the version before the race")
	var after Account
	require.NoError(t, e.r.Get(e.ctx, &after, a.ID))
	require.Equal(t, got, after, "the stale update wrote nothing")
}

// lockingConcurrentInserts: of concurrent inserts of one primary key, each
// succeeds or is ErrConflict. With CapConditionalWrites exactly one
// succeeds and its record is stored; elsewhere several may succeed, and
// then every reader agrees on one of their records. Either way a later
// insert of the key is ErrConflict.
func lockingConcurrentInserts(t *testing.T, s *suite) {
	e := s.open(t)
	const id = 42
	errs := race(func(i int) error {
		return e.r.Insert(e.ctx, &Account{ID: id, Email: sprintf("w%d@example.com", i), Name: sprintf("writer %d", i)})
	})
	wins := requireRaceOutcome(t, e, errs, "inserts of one key", repo.ErrConflict)
	var names []string
	for _, i := range wins {
		names = append(names, sprintf("writer %d", i))
	}
	got := requireAgreedAccount(t, e, id, names)
	require.EqualValues(t, 1, got.Version, "an inserted record")
	if e.caps.Has(driver.CapConditionalWrites) && e.lag == 0 {
		require.Equal(t, sprintf("writer %d", wins[0]), got.Name, "the winner's record is the one stored")
		require.Equal(t, sprintf("w%d@example.com", wins[0]), got.Email)
	}
	awaitCount[Account](t, e, everything[Account](), 1)

	// Not concurrent: the key is taken, everywhere.
	require.ErrorIs(t, e.r.Insert(e.ctx, &Account{ID: id, Email: "late@example.com", Name: "late"}), repo.ErrConflict,
		"an insert of a key taken before it began")
	var after Account
	require.NoError(t, e.r.Get(e.ctx, &after, id))
	require.Equal(t, got, after, "the refused insert wrote nothing")
}
