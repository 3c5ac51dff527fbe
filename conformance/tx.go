package conformance

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

var txCases = []testCase{
	{"Commit", txCommit},
	{"RollbackOnError", txRollbackOnError},
	{"RollbackOnPanic", txRollbackOnPanic},
	{"Isolation", txIsolation},
	{"IsolationLevels", txIsolationLevels},
	{"Savepoints", txSavepoints},
	{"ConcurrentCommits", txConcurrentCommits},
	{"UseAfterEnd", txUseAfterEnd},
	{"Unsupported", txUnsupported},
}

// txFixture stores three accounts: one to update, one to delete, one to
// leave alone.
func txFixture(t *testing.T, e *env) (upd, del, other Account) {
	t.Helper()
	upd = Account{Email: "upd@example.com", Name: "orig"}
	del = Account{Email: "del@example.com", Name: "doomed"}
	other = Account{Email: "other@example.com", Name: "other"}
	insert(t, e, &upd, &del, &other)
	return upd, del, other
}

func txCommit(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapTransactions)
	upd, del, _ := txFixture(t, e)
	var added Account
	err := e.r.Transaction(e.ctx, func(tx *repo.Repo) error {
		require.True(t, tx.InTransaction())
		added = Account{Email: "new@example.com", Name: "new"}
		require.NoError(t, tx.Insert(e.ctx, &added))
		var got Account
		require.NoError(t, tx.Get(e.ctx, &got, added.ID), "a transaction reads its own insert")
		require.Equal(t, added, got)
		u := upd
		u.Name = "updated"
		require.NoError(t, tx.Update(e.ctx, &u))
		require.NoError(t, tx.Get(e.ctx, &got, upd.ID))
		require.Equal(t, "updated", got.Name, "a transaction reads its own update")
		items, err := repo.All[Account](e.ctx, tx, repo.Where("name", repo.Eq, "updated"))
		require.NoError(t, err)
		require.Equal(t, []int64{upd.ID}, accountIDs(items), "its queries see its own writes")
		require.NoError(t, tx.Delete(e.ctx, &del))
		require.ErrorIs(t, tx.Get(e.ctx, &got, del.ID), repo.ErrNotFound, "a transaction reads its own delete")
		n, err := repo.Count[Account](e.ctx, tx, repo.Where("name", repo.In, []string{"new", "doomed"}))
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		return nil
	})
	require.NoError(t, err)
	var got Account
	require.NoError(t, e.r.Get(e.ctx, &got, added.ID), "a committed insert is visible")
	require.Equal(t, added, got)
	require.NoError(t, e.r.Get(e.ctx, &got, upd.ID))
	require.Equal(t, "updated", got.Name, "a committed update is visible")
	require.EqualValues(t, 2, got.Version)
	require.ErrorIs(t, e.r.Get(e.ctx, &got, del.ID), repo.ErrNotFound, "a committed delete is visible")
	require.False(t, e.r.InTransaction())
	awaitCount[Account](t, e, repo.Where("name", repo.In, []string{"new", "updated", "doomed", "other"}), 3)
}

func accountIDs(as []Account) []int64 {
	out := make([]int64, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// requireUntouched checks that the writes of a rolled-back transaction
// (txWrites': an insert of added and an update and a delete of txFixture's
// records) are not visible.
func requireUntouched(t *testing.T, e *env, upd, del Account, added int64) {
	t.Helper()
	var got Account
	require.NotZero(t, added, "the transaction ran")
	require.ErrorIs(t, e.r.Get(e.ctx, &got, added), repo.ErrNotFound, "a rolled-back insert is not visible")
	require.NoError(t, e.r.Get(e.ctx, &got, upd.ID))
	require.Equal(t, upd, got, "a rolled-back update is not visible")
	require.NoError(t, e.r.Get(e.ctx, &got, del.ID), "a rolled-back delete is not visible")
	require.Equal(t, del, got)
	if e.caps.Has(driver.CapUniqueIndexes) {
		// The unique values of the rolled-back insert are free.
		require.NoError(t, e.r.Insert(e.ctx, &Member{Email: "new@example.com", Handle: "new"}),
			"the unique values of a rolled-back insert are free")
	}
}

// txWrites makes the writes requireUntouched checks for (and, on a store
// with unique indexes, an insert that takes unique values).
func txWrites(t *testing.T, e *env, tx *repo.Repo, upd, del Account) int64 {
	added := Account{Email: "new@example.com", Name: "new"}
	require.NoError(t, tx.Insert(e.ctx, &added))
	if e.caps.Has(driver.CapUniqueIndexes) {
		require.NoError(t, tx.Insert(e.ctx, &Member{Email: "new@example.com", Handle: "new"}))
	}
	u := upd
	u.Name = "updated"
	require.NoError(t, tx.Update(e.ctx, &u))
	require.NoError(t, tx.Delete(e.ctx, &del))
	return added.ID
}

func txRollbackOnError(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapTransactions)
	upd, del, _ := txFixture(t, e)
	abort := errors.New("abort")
	var added int64
	err := e.r.Transaction(e.ctx, func(tx *repo.Repo) error {
		added = txWrites(t, e, tx, upd, del)
		return abort
	})
	require.ErrorIs(t, err, abort, "Transaction returns the function's error")
	requireUntouched(t, e, upd, del, added)

	// A failed write inside the transaction, returned, rolls back too.
	err = e.r.Transaction(e.ctx, func(tx *repo.Repo) error {
		require.NoError(t, tx.Insert(e.ctx, &Item{ID: 1, Name: "in tx"}))
		return tx.Insert(e.ctx, &Account{ID: upd.ID, Email: "dup@example.com"})
	})
	require.ErrorIs(t, err, repo.ErrConflict)
	var it Item
	require.ErrorIs(t, e.r.Get(e.ctx, &it, 1), repo.ErrNotFound)
}

func txRollbackOnPanic(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapTransactions)
	upd, del, _ := txFixture(t, e)
	var added int64
	var recovered any
	returned := false
	func() {
		defer func() { recovered = recover() }()
		_ = e.r.Transaction(e.ctx, func(tx *repo.Repo) error {
			added = txWrites(t, e, tx, upd, del)
			panic("boom")
		})
		returned = true
	}()
	require.False(t, returned, "Transaction returned instead of letting the panic continue")
	require.Equal(t, "boom", recovered, "the panic propagates with its value")
	requireUntouched(t, e, upd, del, added)

	// The store is usable afterwards (nothing stayed locked).
	require.NoError(t, e.r.Transaction(e.ctx, func(tx *repo.Repo) error {
		u := upd
		u.Name = "after panic"
		return tx.Update(e.ctx, &u)
	}))
	var got Account
	require.NoError(t, e.r.Get(e.ctx, &got, upd.ID))
	require.Equal(t, "after panic", got.Name)
}

// txIsolation: the writes of a transaction are invisible to other readers
// until it commits. Channels order the two goroutines.
func txIsolation(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapTransactions)
	upd, del, _ := txFixture(t, e)
	written := make(chan int64)
	proceed := make(chan struct{})
	txDone := make(chan error, 1)
	go func() {
		txDone <- e.r.Transaction(e.ctx, func(tx *repo.Repo) error {
			added := Account{Email: "new@example.com", Name: "new"}
			if err := tx.Insert(e.ctx, &added); err != nil {
				return err
			}
			u := upd
			u.Name = "updated"
			if err := tx.Update(e.ctx, &u); err != nil {
				return err
			}
			if err := tx.Delete(e.ctx, &del); err != nil {
				return err
			}
			written <- added.ID
			select {
			case <-proceed:
				return nil
			case <-e.ctx.Done(): // the case failed
				return e.ctx.Err()
			}
		})
	}()
	var added int64
	select {
	case added = <-written:
	case err := <-txDone:
		t.Fatalf("the transaction ended before it was told to: %v", err)
	}

	type view struct {
		addedErr, updErr, delErr error
		updName                  string
		n                        int64
		countErr                 error
	}
	read := func() view {
		var v view
		var got Account
		v.addedErr = e.r.Get(e.ctx, &got, added)
		v.updErr = e.r.Get(e.ctx, &got, upd.ID)
		v.updName = got.Name
		v.delErr = e.r.Get(e.ctx, &got, del.ID)
		v.n, v.countErr = repo.Count[Account](e.ctx, e.r, repo.Where("name", repo.In, []string{"new", "updated"}))
		return v
	}
	seen := make(chan view, 1)
	go func() { seen <- read() }()
	// A store may make readers wait for the writing transaction; give up
	// waiting (then the read must see the committed state) after a
	// generous bound.
	bound := time.NewTimer(2 * time.Second)
	defer bound.Stop()
	select {
	case v := <-seen:
		require.ErrorIs(t, v.addedErr, repo.ErrNotFound, "an uncommitted insert is invisible")
		require.NoError(t, v.updErr)
		require.Equal(t, "orig", v.updName, "an uncommitted update is invisible")
		require.NoError(t, v.delErr, "an uncommitted delete is invisible")
		require.NoError(t, v.countErr)
		require.Zero(t, v.n, "queries do not see uncommitted writes")
		close(proceed)
	case <-bound.C:
		t.Logf("readers wait while a transaction writes")
		close(proceed)
		<-seen
	}
	require.NoError(t, <-txDone)
	v := read()
	require.NoError(t, v.addedErr, "a committed insert is visible")
	require.Equal(t, "updated", v.updName)
	require.ErrorIs(t, v.delErr, repo.ErrNotFound)
	e.eventually(t, func(c require.TestingT) {
		v := read()
		require.NoError(c, v.countErr)
		require.EqualValues(c, 2, v.n)
	})
}

func txIsolationLevels(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapTransactions)
	for _, l := range []repo.Isolation{repo.DefaultIsolation, repo.ReadCommitted, repo.RepeatableRead, repo.Serializable} {
		called := false
		err := e.r.Transaction(e.ctx, func(tx *repo.Repo) error {
			called = true
			return tx.Insert(e.ctx, &Setting{Key: l.String(), Value: "x"})
		}, repo.WithIsolation(l))
		var got Setting
		if l == repo.DefaultIsolation {
			require.NoError(t, err, "the default isolation level")
		}
		if err != nil {
			require.ErrorIs(t, err, repo.ErrUnsupported, "an isolation level the store cannot give is refused, not weakened (%s)", l)
			require.False(t, called, "%s: refused before the function runs", l)
			require.ErrorIs(t, e.r.Get(e.ctx, &got, l.String()), repo.ErrNotFound)
			continue
		}
		require.True(t, called)
		require.NoError(t, e.r.Get(e.ctx, &got, l.String()), "%s: committed", l)
	}
}

func txSavepoints(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapTransactions|driver.CapSavepoints)
	inner := errors.New("inner")
	unique := e.caps.Has(driver.CapUniqueIndexes)
	a := Account{Email: "a@example.com", Name: "orig"}
	ids := map[string]int64{}
	err := e.r.Transaction(e.ctx, func(tx *repo.Repo) error {
		require.NoError(t, tx.Insert(e.ctx, &a))
		ids["a"] = a.ID
		err := tx.Transaction(e.ctx, func(tx2 *repo.Repo) error {
			require.True(t, tx2.InTransaction())
			b := Account{Email: "b@example.com", Name: "b"}
			require.NoError(t, tx2.Insert(e.ctx, &b))
			ids["b"] = b.ID
			if unique {
				require.NoError(t, tx2.Insert(e.ctx, &Member{Email: "b@example.com", Handle: "b"}))
			}
			u := a
			u.Name = "changed by inner"
			require.NoError(t, tx2.Update(e.ctx, &u))
			return inner
		})
		require.ErrorIs(t, err, inner, "the inner function's error is returned")
		var got Account
		require.ErrorIs(t, tx.Get(e.ctx, &got, ids["b"]), repo.ErrNotFound, "the failed inner insert is rolled back")
		require.NoError(t, tx.Get(e.ctx, &got, a.ID))
		require.Equal(t, "orig", got.Name, "the failed inner update is rolled back")

		// A nested transaction that succeeds keeps its writes.
		require.NoError(t, tx.Transaction(e.ctx, func(tx2 *repo.Repo) error {
			c := Account{Email: "c@example.com", Name: "c"}
			ids["c"] = 0
			err := tx2.Insert(e.ctx, &c)
			ids["c"] = c.ID
			return err
		}))
		// Two levels deep: the innermost fails, its parent goes on.
		require.NoError(t, tx.Transaction(e.ctx, func(tx2 *repo.Repo) error {
			d := Account{Email: "d@example.com", Name: "d"}
			require.NoError(t, tx2.Insert(e.ctx, &d))
			ids["d"] = d.ID
			err := tx2.Transaction(e.ctx, func(tx3 *repo.Repo) error {
				x := Account{Email: "x@example.com", Name: "x"}
				require.NoError(t, tx3.Insert(e.ctx, &x))
				ids["x"] = x.ID
				return inner
			})
			require.ErrorIs(t, err, inner)
			return nil
		}))
		f := Account{Email: "b@example.com", Name: "f"}
		require.NoError(t, tx.Insert(e.ctx, &f))
		ids["f"] = f.ID
		if unique {
			require.NoError(t, tx.Insert(e.ctx, &Member{Email: "b@example.com", Handle: "b"}),
				"the unique values of an insert rolled back to its savepoint are free again")
		}
		return nil
	})
	require.NoError(t, err)
	for _, k := range []string{"a", "c", "d", "f"} {
		var got Account
		require.NoError(t, e.r.Get(e.ctx, &got, ids[k]), "record %s is committed", k)
	}
	for _, k := range []string{"b", "x"} {
		var got Account
		require.NotZero(t, ids[k])
		require.ErrorIs(t, e.r.Get(e.ctx, &got, ids[k]), repo.ErrNotFound, "record %s was rolled back to its savepoint", k)
	}
	var got Account
	require.NoError(t, e.r.Get(e.ctx, &got, a.ID))
	require.Equal(t, "orig", got.Name)
}

// txConcurrentCommits: transactions that increment one counter at once
// either commit, and count, or fail with ErrSerialization, and count not.
func txConcurrentCommits(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapTransactions)
	base := Stats{}
	insert(t, e, &base)
	var committed atomic.Int64
	var errs firstErr
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				err := e.r.Transaction(e.ctx, func(tx *repo.Repo) error {
					var st Stats
					if err := tx.Get(e.ctx, &st, base.ID); err != nil {
						return err
					}
					return tx.Update(e.ctx, schema.NewChangeset(&st).Increment("hits", 1).Put("title", "tx"))
				})
				switch {
				case err == nil:
					committed.Add(1)
				case errors.Is(err, repo.ErrSerialization):
				default:
					errs.set(err)
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errs.get())
	require.Positive(t, committed.Load())
	var got Stats
	require.NoError(t, e.r.Get(e.ctx, &got, base.ID))
	require.Equal(t, committed.Load(), got.Hits, "every committed transaction counts once, and no other")
}

// txUseAfterEnd: the Repo a Transaction function was given, kept and used
// after the function returned, fails with ErrTxDone, whether the
// transaction committed or rolled back, and writes nothing.
func txUseAfterEnd(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapTransactions)
	orig := Item{ID: 1, Name: "orig", Rank: 1}
	insert(t, e, &orig)
	abort := errors.New("abort")
	for i, end := range []struct {
		what string
		err  error
	}{{"committed", nil}, {"rolled back", abort}} {
		var kept *repo.Repo
		inTx := Item{ID: int64(10 + i), Name: "in tx", Rank: 1}
		err := e.r.Transaction(e.ctx, func(tx *repo.Repo) error {
			kept = tx
			if err := tx.Insert(e.ctx, &inTx); err != nil {
				return err
			}
			return end.err
		})
		if end.err == nil {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, end.err)
		}
		require.NotNil(t, kept)

		late := Item{ID: int64(20 + i), Name: "late", Rank: 1}
		require.ErrorIs(t, kept.Insert(e.ctx, &late), repo.ErrTxDone, "Insert through the Repo of a transaction that %s", end.what)
		var got Item
		require.ErrorIs(t, kept.Get(e.ctx, &got, orig.ID), repo.ErrTxDone, "Get through the Repo of a transaction that %s", end.what)
		items, err := repo.All[Item](e.ctx, kept, repo.Where("rank", repo.Gte, 0))
		require.ErrorIs(t, err, repo.ErrTxDone, "All through the Repo of a transaction that %s", end.what)
		require.Empty(t, items)
		upd := orig
		upd.Name = "late update"
		require.ErrorIs(t, kept.Update(e.ctx, &upd), repo.ErrTxDone, "Update through the Repo of a transaction that %s", end.what)
		del := orig
		require.ErrorIs(t, kept.Delete(e.ctx, &del), repo.ErrTxDone, "Delete through the Repo of a transaction that %s", end.what)

		require.ErrorIs(t, e.r.Get(e.ctx, &got, late.ID), repo.ErrNotFound, "a late Insert (transaction %s) writes nothing", end.what)
		require.NoError(t, e.r.Get(e.ctx, &got, orig.ID), "a late Delete (transaction %s) deletes nothing", end.what)
		require.Equal(t, orig, got, "a late Update (transaction %s) writes nothing", end.what)
		err = e.r.Get(e.ctx, &got, inTx.ID)
		if end.err == nil {
			require.NoError(t, err, "the transaction's own insert is committed")
		} else {
			require.ErrorIs(t, err, repo.ErrNotFound, "the transaction's own insert is rolled back")
		}
	}
	awaitCount[Item](t, e, repo.Where("rank", repo.Gte, 0), 2)
}

func txUnsupported(t *testing.T, s *suite) {
	e := s.open(t)
	r := e.r
	if e.caps.Has(driver.CapTransactions) {
		r = e.masked(t, driver.CapTransactions)
	}
	called := false
	err := r.Transaction(e.ctx, func(tx *repo.Repo) error {
		called = true
		return tx.Insert(e.ctx, &Setting{Key: "k"})
	})
	require.ErrorIs(t, err, repo.ErrUnsupported)
	require.False(t, called, "the function does not run")
	var got Setting
	require.ErrorIs(t, e.r.Get(e.ctx, &got, "k"), repo.ErrNotFound)
}
