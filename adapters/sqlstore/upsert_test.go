package sqlstore_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/sqlstore"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

type Counted struct {
	_     struct{} `strata:"table=counted"`
	ID    string   `strata:"id,pk,size=40"`
	Email *string  `strata:"email,unique"`
	N     int64    `strata:"n"`
}

func countedRepo(t *testing.T, urls func(t testing.TB) string) *repo.Repo {
	r := harness(urls).NewRepo(t)
	s, err := schema.Of[Counted]()
	require.NoError(t, err)
	require.NoError(t, r.Driver().(driver.Migrator).Migrate(context.Background(), driver.CreateCollection{Collection: s.Collection}))
	return r
}

// TestConcurrentUpserts: upserts racing on one new key all succeed and
// leave one record (on MariaDB, after retrying a lost deadlock).
func TestConcurrentUpserts(t *testing.T) {
	eachDialect(t, func(t *testing.T, newURL func(testing.TB) string) {
		ctx := context.Background()
		r := countedRepo(t, newURL)
		for round := range 10 {
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() {
					errs[i] = r.Insert(ctx, &Counted{ID: string(rune('a' + round)), N: int64(i)}, repo.OnConflictReplace(nil, "n"))
				})
			}
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "round %d upsert %d", round, i)
			}
		}
		n, err := repo.Count[Counted](ctx, r, repo.Query{})
		require.NoError(t, err)
		assert.Equal(t, int64(10), n)
	})
}

// TestUpsertNullTarget: NULLs never collide in a unique index, so an
// upsert on it with a NULL inserts, on every dialect.
func TestUpsertNullTarget(t *testing.T) {
	eachDialect(t, func(t *testing.T, newURL func(testing.TB) string) {
		ctx := context.Background()
		r := countedRepo(t, newURL)
		require.NoError(t, r.Insert(ctx, &Counted{ID: "1", N: 1}))
		second := &Counted{ID: "2", N: 2}
		require.NoError(t, r.Insert(ctx, second, repo.OnConflictReplace([]string{"email"}, "n")))
		n, err := repo.Count[Counted](ctx, r, repo.Query{})
		require.NoError(t, err)
		assert.Equal(t, int64(2), n, "the NULL email matched nothing")
		var first Counted
		require.NoError(t, r.Get(ctx, &first, "1"))
		assert.Equal(t, int64(1), first.N, "and overwrote nothing")
	})
}

// TestSumOverflow is ErrInvalid on every dialect.
func TestSumOverflow(t *testing.T) {
	eachDialect(t, func(t *testing.T, newURL func(testing.TB) string) {
		ctx := context.Background()
		r := countedRepo(t, newURL)
		require.NoError(t, r.InsertAll(ctx, []Counted{{ID: "a", N: math.MaxInt64}, {ID: "b", N: 1}}))
		_, err := repo.Aggregate[Counted](ctx, r, repo.Query{}, repo.Sum, "n")
		assert.ErrorIs(t, err, repo.ErrInvalid)
	})
}

// TestLockNamesStayBesideTheDatabase: a lock name is no path.
func TestLockNamesStayBesideTheDatabase(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "db"), 0o700))
	a, err := sqlstore.Open(context.Background(), "sqlite://"+dir+"/db/x.db")
	require.NoError(t, err)
	defer a.Close()
	unlock, err := a.Lock(context.Background(), "../../escape/me")
	require.NoError(t, err)
	require.NoError(t, unlock())
	_, err = os.Stat(filepath.Join(dir, "escape"))
	assert.True(t, os.IsNotExist(err), "nothing was created outside the database's directory")
	entries, err := os.ReadDir(filepath.Join(dir, "db"))
	require.NoError(t, err)
	found := false
	for _, e := range entries {
		found = found || len(e.Name()) > len("x.db.lock-")
	}
	assert.True(t, found, "the lock file is beside the database")
}
