package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

func sqliteFile(t testing.TB) string { return "sqlite://" + t.TempDir() + "/gate.db" }

// Writers of a SQLite file take turns at the adapter's gate: many
// transactions and single writes at once all succeed, none lost.
func TestSQLiteWritersTakeTurns(t *testing.T) {
	ctx := context.Background()
	r := countedRepo(t, sqliteFile)
	require.NoError(t, r.Insert(ctx, &Counted{ID: "total"}))
	var wg sync.WaitGroup
	errs := make(chan error, 16*40)
	for w := range 16 {
		wg.Go(func() {
			for i := range 20 {
				errs <- r.Transaction(ctx, func(tx *repo.Repo) error {
					var c Counted
					if err := tx.Get(ctx, &c, "total"); err != nil {
						return err
					}
					return tx.Update(ctx, schema.NewChangeset(&c).Put("n", c.N+1))
				})
				errs <- r.Insert(ctx, &Counted{ID: fmt.Sprintf("w%d-%d", w, i)})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var total Counted
	require.NoError(t, r.Get(ctx, &total, "total"))
	require.Equal(t, int64(16*20), total.N)
	n, err := repo.Count[Counted](ctx, r, repo.Query{})
	require.NoError(t, err)
	require.Equal(t, int64(16*20+1), n)
}

// A transaction whose context ends without a commit or rollback lets the
// next writer in: the gate goes with the transaction database/sql rolls
// back.
func TestSQLiteGateFreedWithContext(t *testing.T) {
	r := countedRepo(t, sqliteFile)
	ctx, cancel := context.WithCancel(context.Background())
	tx, err := r.Driver().(driver.Transactor).BeginTx(ctx, driver.TxOptions{})
	require.NoError(t, err)
	_ = tx // abandoned: neither committed nor rolled back
	cancel()
	wctx, wcancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer wcancel()
	require.NoError(t, r.Insert(wctx, &Counted{ID: "after"}))
}
