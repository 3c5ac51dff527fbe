package memory

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

func begin(t *testing.T, a *Adapter, opts driver.TxOptions) *Tx {
	t.Helper()
	tx, err := a.BeginTx(context.Background(), opts)
	require.NoError(t, err)
	return tx.(*Tx)
}

func setName(id int64, name string) driver.Update {
	return driver.Update{Key: id, Changes: []driver.Change{{Field: fName, Op: driver.Set, Value: name}}}
}

func TestTxVisibility(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann", "bob", "cy")
	tx := begin(t, a, driver.TxOptions{})

	_, err := tx.Insert(ctx, c, user(4, nil, "dan"), driver.InsertOptions{})
	require.NoError(t, err)
	_, err = tx.Update(ctx, c, setName(1, "ann2"))
	require.NoError(t, err)
	require.NoError(t, tx.Delete(ctx, c, driver.Delete{Key: int64(2)}))

	// The transaction sees its own writes, in Get and in queries.
	require.Equal(t, "dan", get(t, tx, c, 4, fName))
	require.Equal(t, "ann2", get(t, tx, c, 1, fName))
	_, err = tx.Get(ctx, c, int64(2))
	require.ErrorIs(t, err, driver.ErrNotFound)
	order := &driver.Query{Order: []driver.Order{{Field: fName}}}
	require.Equal(t, []any{"ann2", "cy", "dan"}, field(collect(t, tx.Query(ctx, c, order)), fName))
	byName := &driver.Query{Filters: []driver.Filter{{Field: fName, Op: driver.Eq, Value: "ann"}}}
	require.Empty(t, collect(t, tx.Query(ctx, c, byName)), "the old value of an updated record does not match")
	n, err := tx.Count(ctx, c, nil)
	require.NoError(t, err)
	require.Equal(t, int64(3), n)

	// Nobody else does.
	require.Equal(t, []any{"ann", "bob", "cy"}, field(collect(t, a.Query(ctx, c, order)), fName))
	_, err = a.Get(ctx, c, int64(4))
	require.ErrorIs(t, err, driver.ErrNotFound)
	other := begin(t, a, driver.TxOptions{})
	require.Equal(t, "ann", get(t, other, c, 1, fName))

	// Read committed: the transaction sees what others commit meanwhile.
	_, err = a.Insert(ctx, c, user(5, nil, "eve"), driver.InsertOptions{})
	require.NoError(t, err)
	require.Equal(t, "eve", get(t, tx, c, 5, fName))

	require.NoError(t, tx.Commit())
	require.Equal(t, []any{"ann2", "cy", "dan", "eve"}, field(collect(t, a.Query(ctx, c, order)), fName))
	require.Equal(t, "ann2", get(t, other, c, 1, fName))
	require.NoError(t, other.Rollback())
}

func TestTxRollback(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann")
	tx := begin(t, a, driver.TxOptions{})
	_, err := tx.Insert(ctx, c, user(2, nil, "bob"), driver.InsertOptions{})
	require.NoError(t, err)
	_, err = tx.Update(ctx, c, setName(1, "x"))
	require.NoError(t, err)
	_, err = tx.DeleteAll(ctx, c, nil)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())

	require.Equal(t, []any{"ann"}, field(collect(t, a.Query(ctx, c, nil)), fName))
	require.NoError(t, tx.Rollback(), "Rollback twice")
	_, err = tx.Get(ctx, c, int64(1))
	require.ErrorIs(t, err, driver.ErrTxDone)
	require.ErrorIs(t, tx.Commit(), driver.ErrTxDone)
}

func TestTxUseAfterCommit(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann")
	tx := begin(t, a, driver.TxOptions{})
	require.NoError(t, tx.Commit())
	require.NoError(t, tx.Rollback(), "Rollback after Commit does nothing")

	_, err := tx.Get(ctx, c, int64(1))
	require.ErrorIs(t, err, driver.ErrTxDone)
	_, err = tx.Insert(ctx, c, user(2, nil, "bob"), driver.InsertOptions{})
	require.ErrorIs(t, err, driver.ErrTxDone)
	for _, err := range tx.Query(ctx, c, nil) {
		require.ErrorIs(t, err, driver.ErrTxDone)
	}
	require.ErrorIs(t, tx.Savepoint(ctx, "s"), driver.ErrTxDone)
	require.ErrorIs(t, tx.Commit(), driver.ErrTxDone)
}

// step is one operation of a conflict scenario.
type step func(s driver.Store, c *driver.Collection) error

func renameStep(id int64, name string) step {
	return func(s driver.Store, c *driver.Collection) error {
		_, err := s.Update(context.Background(), c, setName(id, name))
		return err
	}
}

func readStep(id int64) step {
	return func(s driver.Store, c *driver.Collection) error {
		_, err := s.Get(context.Background(), c, id)
		return err
	}
}

func queryStep(s driver.Store, c *driver.Collection) error {
	for _, err := range s.Query(context.Background(), c, nil) {
		if err != nil {
			return err
		}
	}
	return nil
}

func deleteStep(id int64) step {
	return func(s driver.Store, c *driver.Collection) error {
		return s.Delete(context.Background(), c, driver.Delete{Key: id})
	}
}

func insertStep(id int64, email any) step {
	return func(s driver.Store, c *driver.Collection) error {
		_, err := s.Insert(context.Background(), c, user(id, email, "x"), driver.InsertOptions{})
		return err
	}
}

func TestTxConflicts(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// first runs in the transaction, then other outside it (committed
		// at once), then last in the transaction (if not nil); then the
		// transaction commits.
		first, other, last step
		want               error // nil: the commit succeeds
	}{
		{"both update a record", renameStep(1, "tx"), renameStep(1, "out"), nil, driver.ErrSerialization},
		{"read, it changes, write", readStep(1), renameStep(1, "out"), renameStep(1, "tx"), driver.ErrSerialization},
		{"queried, it changes, delete", queryStep, renameStep(1, "out"), deleteStep(1), driver.ErrSerialization},
		{"update, it is deleted", renameStep(1, "tx"), deleteStep(1), nil, driver.ErrSerialization},
		{"delete, it is updated", deleteStep(1), renameStep(1, "out"), nil, driver.ErrSerialization},
		{"both insert a key", insertStep(9, nil), insertStep(9, nil), nil, driver.ErrConflict},
		{"both take a unique value", insertStep(8, "taken@x"), insertStep(9, "taken@x"), nil, driver.ErrConflict},
		{"different records", renameStep(1, "tx"), renameStep(2, "out"), nil, nil},
		{"read one, another changes, write the first", readStep(2), renameStep(2, "out"), renameStep(1, "tx"), nil},
		{"first sight after the change", readStep(2), renameStep(1, "out"), renameStep(1, "tx"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, c := newUsers(t, "ann", "bob")
			tx := begin(t, a, driver.TxOptions{})
			require.NoError(t, insertStep(7, nil)(tx, c))
			require.NoError(t, tt.first(tx, c))
			require.NoError(t, tt.other(a, c))
			if tt.last != nil {
				require.NoError(t, tt.last(tx, c))
			}
			before := collect(t, a.Query(ctx, c, nil))

			err := tx.Commit()
			if tt.want == nil {
				require.NoError(t, err)
				require.Equal(t, "x", get(t, a, c, 7, fName))
				return
			}
			require.ErrorIs(t, err, tt.want)
			require.Equal(t, before, collect(t, a.Query(ctx, c, nil)), "a failed commit writes nothing")
			require.ErrorIs(t, tx.Commit(), driver.ErrTxDone, "a failed commit ends the transaction")
			require.NoError(t, tx.Rollback())
		})
	}
}

func TestTxUniqueCommitError(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t)
	tx := begin(t, a, driver.TxOptions{})
	_, err := tx.Insert(ctx, c, user(1, "e@x", "tx"), driver.InsertOptions{})
	require.NoError(t, err)
	_, err = a.Insert(ctx, c, user(2, "e@x", "out"), driver.InsertOptions{})
	require.NoError(t, err)
	err = tx.Commit()
	requireConstraint(t, err, "users", "users_email")
}

func TestTxUniqueInsideTransaction(t *testing.T) {
	ctx := context.Background()
	a, c := New(), users(t)
	_, err := a.Insert(ctx, c, user(1, "a@x", "ann"), driver.InsertOptions{})
	require.NoError(t, err)
	tx := begin(t, a, driver.TxOptions{})

	_, err = tx.Insert(ctx, c, user(2, "a@x", "bob"), driver.InsertOptions{})
	requireConstraint(t, err, "users", "users_email")

	// Freeing the value inside the transaction makes it available to the
	// transaction, and the swap commits.
	_, err = tx.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{{Field: fEmail, Op: driver.Set, Value: "old@x"}}})
	require.NoError(t, err)
	_, err = tx.Insert(ctx, c, user(2, "a@x", "bob"), driver.InsertOptions{})
	require.NoError(t, err)
	_, err = tx.Insert(ctx, c, user(3, "a@x", "cy"), driver.InsertOptions{})
	requireConstraint(t, err, "users", "users_email")
	_, err = tx.InsertAll(ctx, c, []driver.Record{user(4, "d@x", "d"), user(5, "d@x", "e")})
	requireConstraint(t, err, "users", "users_email")

	require.NoError(t, tx.Commit())
	require.Equal(t, "old@x", get(t, a, c, 1, fEmail))
	require.Equal(t, "a@x", get(t, a, c, 2, fEmail))
	n, err := a.Count(ctx, c, nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
}

func TestTxUpsertAndBatch(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann")
	tx := begin(t, a, driver.TxOptions{})
	got, err := tx.Insert(ctx, c, user(1, nil, "new"), driver.InsertOptions{
		OnConflict: &driver.OnConflict{Target: driver.PrimaryKeyConstraint, Replace: []int{fName}},
	})
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Values[fVersion])
	out, err := tx.InsertAll(ctx, c, []driver.Record{user(2, nil, "b"), user(3, nil, "c")})
	require.NoError(t, err)
	require.Len(t, out, 2)
	sum, err := tx.Aggregate(ctx, c, nil, driver.AggSum, fVersion)
	require.NoError(t, err)
	require.Equal(t, int64(4), sum)

	sum, err = a.Aggregate(ctx, c, nil, driver.AggSum, fVersion)
	require.NoError(t, err)
	require.Equal(t, int64(1), sum, "invisible outside")

	require.NoError(t, tx.Commit())
	require.Equal(t, "new", get(t, a, c, 1, fName))
	require.Equal(t, "c", get(t, a, c, 3, fName))
}

func TestTxSavepoints(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann")
	tx := begin(t, a, driver.TxOptions{})
	rename := func(name string) {
		_, err := tx.Update(ctx, c, setName(1, name))
		require.NoError(t, err)
	}
	names := func() []any { return field(collect(t, tx.Query(ctx, c, nil)), fName) }

	rename("one")
	require.NoError(t, tx.Savepoint(ctx, "a"))
	rename("two")
	_, err := tx.Insert(ctx, c, user(2, nil, "bob"), driver.InsertOptions{})
	require.NoError(t, err)
	require.NoError(t, tx.Savepoint(ctx, "b"))
	require.NoError(t, tx.Delete(ctx, c, driver.Delete{Key: int64(2)}))
	require.Equal(t, []any{"two"}, names())

	require.NoError(t, tx.RollbackTo(ctx, "b"))
	require.Equal(t, []any{"two", "bob"}, names())

	require.NoError(t, tx.RollbackTo(ctx, "a"))
	require.Equal(t, []any{"one"}, names())
	require.ErrorIs(t, tx.RollbackTo(ctx, "b"), driver.ErrInvalid, "b was made after a, so it is gone")

	rename("three")
	require.NoError(t, tx.RollbackTo(ctx, "a"), "a savepoint stays after a rollback to it")
	require.Equal(t, []any{"one"}, names())

	// Unique lookups follow a rollback to a savepoint.
	_, err = tx.Insert(ctx, c, user(3, "x@x", "cy"), driver.InsertOptions{})
	require.NoError(t, err)
	require.NoError(t, tx.RollbackTo(ctx, "a"))
	_, err = tx.Insert(ctx, c, user(4, "x@x", "dan"), driver.InsertOptions{})
	require.NoError(t, err)

	require.NoError(t, tx.Release(ctx, "a"))
	require.ErrorIs(t, tx.RollbackTo(ctx, "a"), driver.ErrInvalid, "released")
	require.ErrorIs(t, tx.Release(ctx, "nope"), driver.ErrInvalid)
	require.ErrorIs(t, tx.Savepoint(ctx, ""), driver.ErrInvalid)

	require.NoError(t, tx.Commit())
	require.Equal(t, []any{"one", "dan"}, field(collect(t, a.Query(ctx, c, nil)), fName))
}

func TestTxSavepointNamesNest(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann")
	tx := begin(t, a, driver.TxOptions{})
	require.NoError(t, tx.Savepoint(ctx, "s"))
	_, err := tx.Update(ctx, c, setName(1, "one"))
	require.NoError(t, err)
	require.NoError(t, tx.Savepoint(ctx, "s"))
	_, err = tx.Update(ctx, c, setName(1, "two"))
	require.NoError(t, err)

	require.NoError(t, tx.RollbackTo(ctx, "s"))
	require.Equal(t, "one", get(t, tx, c, 1, fName), "the newest savepoint of a name")
	require.NoError(t, tx.Release(ctx, "s"))
	require.NoError(t, tx.RollbackTo(ctx, "s"))
	require.Equal(t, "ann", get(t, tx, c, 1, fName), "the older one shows again after a release")
}

func TestTxReadOnly(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann")
	tx := begin(t, a, driver.TxOptions{ReadOnly: true})
	require.Equal(t, "ann", get(t, tx, c, 1, fName))

	_, err := tx.Insert(ctx, c, user(2, nil, "b"), driver.InsertOptions{})
	require.ErrorIs(t, err, driver.ErrInvalid)
	_, err = tx.Update(ctx, c, setName(1, "x"))
	require.ErrorIs(t, err, driver.ErrInvalid)
	require.ErrorIs(t, tx.Delete(ctx, c, driver.Delete{Key: int64(1)}), driver.ErrInvalid)
	_, err = tx.DeleteAll(ctx, c, nil)
	require.ErrorIs(t, err, driver.ErrInvalid)
	_, err = tx.InsertAll(ctx, c, []driver.Record{user(3, nil, "c")})
	require.ErrorIs(t, err, driver.ErrInvalid)
	require.NoError(t, tx.Commit())
	require.Equal(t, "ann", get(t, a, c, 1, fName))
}

func TestTxIsolationLevels(t *testing.T) {
	a := New()
	for _, level := range []driver.Isolation{driver.DefaultIsolation, driver.ReadCommitted} {
		tx, err := a.BeginTx(context.Background(), driver.TxOptions{Isolation: level})
		require.NoError(t, err, level)
		require.NoError(t, tx.Rollback())
	}
	for _, level := range []driver.Isolation{driver.RepeatableRead, driver.Serializable} {
		_, err := a.BeginTx(context.Background(), driver.TxOptions{Isolation: level})
		require.ErrorIs(t, err, driver.ErrUnsupported, level)
		require.ErrorContains(t, err, "read committed", "the error names the supported level")
		require.ErrorContains(t, err, level.String())
	}
	_, err := a.BeginTx(context.Background(), driver.TxOptions{Isolation: 42})
	require.ErrorIs(t, err, driver.ErrInvalid)
}

func TestTxContextBoundsTransaction(t *testing.T) {
	a, c := newUsers(t, "ann")
	ctx, cancel := context.WithCancel(context.Background())
	tx, err := a.BeginTx(ctx, driver.TxOptions{})
	require.NoError(t, err)
	_, err = tx.Update(ctx, c, setName(1, "tx"))
	require.NoError(t, err)
	cancel()

	require.ErrorIs(t, tx.Commit(), context.Canceled)
	require.Equal(t, "ann", get(t, a, c, 1, fName))
	_, err = tx.Get(context.Background(), c, int64(1))
	require.ErrorIs(t, err, driver.ErrTxDone, "the transaction was rolled back")
}

// TestTxBusyDuringQueryLoop: a transaction refuses calls while one of its
// query loops runs, as a SQL transaction's single connection would.
func TestTxBusyDuringQueryLoop(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann", "bob")
	tx := begin(t, a, driver.TxOptions{})
	n := 0
	for _, err := range tx.Query(ctx, c, nil) {
		require.NoError(t, err)
		n++
		_, err := tx.Insert(ctx, c, user(9, nil, "x"), driver.InsertOptions{})
		require.ErrorIs(t, err, driver.ErrInvalid)
		require.ErrorIs(t, tx.Commit(), driver.ErrInvalid)
		_, err = a.Get(ctx, c, int64(1))
		require.NoError(t, err, "the adapter itself stays usable")
	}
	require.Equal(t, 2, n)
	_, err := tx.Insert(ctx, c, user(9, nil, "x"), driver.InsertOptions{})
	require.NoError(t, err, "usable again once the loop ends")
	for range tx.Query(ctx, c, nil) {
		break // breaking out ends the loop too
	}
	require.NoError(t, tx.Commit())
}
