package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

// storeCalls calls every record operation of s once and returns the
// errors.
func storeCalls(ctx context.Context, s driver.Store, c *driver.Collection) map[string]error {
	errs := map[string]error{}
	_, errs["insert"] = s.Insert(ctx, c, user(9, nil, "x"), driver.InsertOptions{})
	_, errs["get"] = s.Get(ctx, c, int64(1))
	_, errs["update"] = s.Update(ctx, c, setName(1, "x"))
	errs["delete"] = s.Delete(ctx, c, driver.Delete{Key: int64(1)})
	for _, err := range s.Query(ctx, c, nil) {
		errs["query"] = err
	}
	_, errs["count"] = s.Count(ctx, c, nil)
	_, errs["delete all"] = s.DeleteAll(ctx, c, nil)
	_, errs["aggregate"] = s.(driver.Aggregator).Aggregate(ctx, c, nil, driver.AggSum, fLikes)
	_, errs["insert all"] = s.(driver.BatchInserter).InsertAll(ctx, c, []driver.Record{user(10, nil, "y")})
	return errs
}

func TestCancelledContext(t *testing.T) {
	a, c := newUsers(t, "ann")
	tx := begin(t, a, driver.TxOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	deadline, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()

	for name, s := range map[string]driver.Store{"adapter": a, "tx": tx} {
		for op, err := range storeCalls(ctx, s, c) {
			require.ErrorIs(t, err, context.Canceled, "%s %s", name, op)
			require.ErrorContains(t, err, "memory: "+op+" users", "%s %s", name, op)
		}
		for op, err := range storeCalls(deadline, s, c) {
			require.ErrorIs(t, err, context.DeadlineExceeded, "%s %s", name, op)
		}
	}
	require.ErrorIs(t, tx.Savepoint(ctx, "s"), context.Canceled)
	require.ErrorIs(t, tx.RollbackTo(ctx, "s"), context.Canceled)
	require.ErrorIs(t, tx.Release(ctx, "s"), context.Canceled)
	require.ErrorIs(t, a.Migrate(ctx, driver.DropCollection{Name: "users"}), context.Canceled)
	_, err := a.BeginTx(ctx, driver.TxOptions{})
	require.ErrorIs(t, err, context.Canceled)

	// Nothing happened.
	require.NoError(t, tx.Commit())
	require.Equal(t, []any{"ann"}, field(collect(t, a.Query(context.Background(), c, nil)), fName))
}

func TestContextCancelledDuringScan(t *testing.T) {
	ctx := context.Background()
	a, c := New(), users(t)
	recs := make([]driver.Record, 5*checkEvery)
	for i := range recs {
		recs[i] = user(int64(i), nil, "x")
	}
	_, err := a.InsertAll(ctx, c, recs)
	require.NoError(t, err)

	// A context that is done after its first check: the scan notices.
	done := &cancelAfter{Context: ctx, ok: 1}
	_, err = a.Count(done, c, nil)
	require.ErrorIs(t, err, context.Canceled)

	// Cancelling while iterating ends the sequence with the error.
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var n int
	var last error
	for _, err := range a.Query(qctx, c, nil) {
		if err != nil {
			last = err
			break
		}
		n++
		if n == 3 {
			cancel()
		}
	}
	require.Equal(t, 3, n)
	require.ErrorIs(t, last, context.Canceled)
}

// cancelAfter is a context whose Err is nil for its first ok calls, then
// context.Canceled.
type cancelAfter struct {
	context.Context
	ok int
}

func (c *cancelAfter) Err() error {
	if c.ok > 0 {
		c.ok--
		return nil
	}
	return context.Canceled
}
