package conformance

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
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
	{"ConcurrentUpdates", func(t *testing.T, s *suite) {
		e := s.open(t)
		a := Account{Email: "a@example.com", Name: "orig"}
		insert(t, e, &a)
		const writers = 8
		errs := make([]error, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Go(func() {
				v := a
				v.Name = sprintf("writer %d", i)
				<-start
				errs[i] = e.r.Update(e.ctx, &v)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for i, err := range errs {
			if err == nil {
				wins++
				continue
			}
			require.ErrorIs(t, err, repo.ErrStale, "writer %d", i)
		}
		require.GreaterOrEqual(t, wins, 1, "some writer wins")
		if e.lag == 0 {
			require.Equal(t, 1, wins, "updates of one version: exactly one succeeds")
			var got Account
			require.NoError(t, e.r.Get(e.ctx, &got, a.ID))
			require.EqualValues(t, 2, got.Version)
			require.Equal(t, sprintf("writer %d", indexOfNil(errs)), got.Name, "the winner's write is the one stored")
		}
	}},
}

func indexOfNil(errs []error) int {
	for i, err := range errs {
		if err == nil {
			return i
		}
	}
	return -1
}
