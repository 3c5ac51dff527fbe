package conformance

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

var lifecycleCases = []testCase{
	{"Close", lifecycleClose},
}

// lifecycleClose: after Close, every call fails with ErrClosed (none
// panics, and a transaction's function is not called); Close again does
// not panic. The harness's cleanup closes the repo once more afterwards,
// which must be safe too (see Harness).
func lifecycleClose(t *testing.T, s *suite) {
	e := s.open(t)
	it := Item{ID: 1, Name: "before close", Rank: 1}
	insert(t, e, &it)
	r := e.r
	require.NoError(t, noPanic(t, "Close", r.Close))

	q := repo.Where("rank", repo.Gte, 0)
	calls := []call{
		{"Insert", func() error { return r.Insert(e.ctx, &Item{ID: 2, Name: "after close", Rank: 1}) }},
		{"Get", func() error { var got Item; return r.Get(e.ctx, &got, it.ID) }},
		{"Update", func() error { cp := it; cp.Name = "changed"; return r.Update(e.ctx, &cp) }},
		{"Delete", func() error { cp := it; return r.Delete(e.ctx, &cp) }},
		{"All", func() error { _, err := repo.All[Item](e.ctx, r, q); return err }},
		{"Stream", func() error {
			for _, err := range repo.Stream[Item](e.ctx, r, q) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
		{"Count", func() error { _, err := repo.Count[Item](e.ctx, r, q); return err }},
		{"Paginate", func() error { _, err := repo.Paginate[Item](e.ctx, r, q.Limit(5)); return err }},
	}
	if e.caps.Has(driver.CapTransactions) {
		calls = append(calls, call{"Transaction", func() error {
			called := false
			err := r.Transaction(e.ctx, func(tx *repo.Repo) error {
				called = true
				return tx.Insert(e.ctx, &Item{ID: 3, Name: "tx after close", Rank: 1})
			})
			require.False(t, called, "Transaction on a closed repo does not call its function")
			return err
		}})
	}
	for _, c := range calls {
		err := noPanic(t, c.what, c.fn)
		require.ErrorIs(t, err, repo.ErrClosed, "%s after Close", c.what)
	}
	// Close again: its error, if any, is the adapter's to choose.
	_ = noPanic(t, "a second Close", r.Close)
}
