package memory

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

const (
	goroutines = 8
	perG       = 200
)

// parallel runs fn(g, i) for perG values of i in each of goroutines
// goroutines and fails the test on any error.
func parallel(t *testing.T, fn func(g, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				if err := fn(g, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestConcurrentIncrements(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann")
	inc := driver.Update{Key: int64(1), Changes: []driver.Change{
		{Field: fLikes, Op: driver.Increment, Value: int64(1)},
		{Field: fTags, Op: driver.Add, Value: []string{"x"}},
	}}
	parallel(t, func(g, i int) error {
		_, err := a.Update(ctx, c, inc)
		return err
	})
	require.Equal(t, int64(goroutines*perG), get(t, a, c, 1, fLikes))
	require.Equal(t, []string{"x"}, get(t, a, c, 1, fTags))
}

func TestConcurrentTransactionalIncrements(t *testing.T) {
	// Read-modify-write in transactions, retried on conflict: first
	// committer wins, so no increment is lost.
	ctx := context.Background()
	a, c := newUsers(t, "ann")
	parallel(t, func(g, i int) error {
		for {
			tx, err := a.BeginTx(ctx, driver.TxOptions{})
			if err != nil {
				return err
			}
			rec, err := tx.Get(ctx, c, int64(1))
			if err != nil {
				return err
			}
			n := rec.Values[fLikes].(int64)
			if _, err := tx.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{{Field: fLikes, Op: driver.Set, Value: n + 1}}}); err != nil {
				return err
			}
			err = tx.Commit()
			if errors.Is(err, driver.ErrSerialization) {
				continue
			}
			return err
		}
	})
	require.Equal(t, int64(goroutines*perG), get(t, a, c, 1, fLikes))
}

func TestConcurrentMixedOperations(t *testing.T) {
	// Run under -race: every operation at once, on one collection.
	ctx := context.Background()
	a, c := New(), users(t)
	parallel(t, func(g, i int) error {
		id := int64(g*perG + i)
		if _, err := a.Insert(ctx, c, user(id, nil, "x"), driver.InsertOptions{}); err != nil {
			return err
		}
		if _, err := a.Update(ctx, c, driver.Update{Key: id, Changes: []driver.Change{{Field: fAge, Op: driver.Set, Value: int64(i)}}}); err != nil {
			return err
		}
		for _, err := range a.Query(ctx, c, &driver.Query{Filters: []driver.Filter{{Field: fAge, Op: driver.Lt, Value: int64(3)}}, Limit: 5}) {
			if err != nil {
				return err
			}
		}
		if _, err := a.Aggregate(ctx, c, nil, driver.AggMax, fAge); err != nil {
			return err
		}
		tx, err := a.BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.Count(ctx, c, nil); err != nil {
			return err
		}
		if i%2 == 0 {
			return a.Delete(ctx, c, driver.Delete{Key: id})
		}
		return nil
	})
	n, err := a.Count(ctx, c, nil)
	require.NoError(t, err)
	require.Equal(t, int64(goroutines*perG/2), n)
}
