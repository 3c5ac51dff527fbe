package conformance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// prompt is how long a call with a done context may take: generous, so
// that a slow machine does not fail the suite, but far shorter than a call
// that waits for a network timeout.
const prompt = 2 * time.Second

var contextCases = []testCase{
	{"Canceled", func(t *testing.T, s *suite) {
		contextDone(t, s, func(parent context.Context) context.Context {
			ctx, cancel := context.WithCancel(parent)
			cancel()
			return ctx
		}, context.Canceled)
	}},
	{"DeadlineExceeded", func(t *testing.T, s *suite) {
		contextDone(t, s, func(parent context.Context) context.Context {
			ctx, cancel := context.WithDeadline(parent, time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}, context.DeadlineExceeded)
	}},
	{"CanceledInTransaction", contextInTransaction},
	{"CanceledDuringQuery", func(t *testing.T, s *suite) {
		contextDuring(t, s, func(parent context.Context) (context.Context, func()) {
			ctx, cancel := context.WithCancel(parent)
			t.Cleanup(cancel)
			return ctx, cancel
		}, context.Canceled)
	}},
	{"DeadlineDuringQuery", func(t *testing.T, s *suite) {
		contextDuring(t, s, func(parent context.Context) (context.Context, func()) {
			ctx := newExpiring(parent)
			return ctx, ctx.expire
		}, context.DeadlineExceeded)
	}},
}

// duringRecords is how many records contextDuring queries: enough that a
// query which ignores its context after it starts runs on long after it
// ended.
const duringRecords = 500

// contextDuring runs queries over duringRecords records whose context
// ends (through end, from begin) in the middle: a Stream right after its
// first record, All and Paginate right after the store's first record
// (through env.interrupting). Each must end promptly with an error
// wrapping the context's error, before the store has returned every
// record, and with no partial result.
func contextDuring(t *testing.T, s *suite, begin func(context.Context) (ctx context.Context, end func()), want error) {
	e := s.open(t)
	items := make([]Item, duringRecords)
	for i := range items {
		items[i] = Item{ID: int64(i + 1), Name: sprintf("item-%04d", i+1), Rank: int64(i % 10)}
	}
	for i := 0; i < len(items); i += 100 {
		require.NoError(t, e.r.InsertAll(e.ctx, items[i:i+100]))
	}
	q := repo.Where("rank", repo.Gte, 0)
	awaitCount[Item](t, e, q, duringRecords)

	ctx, end := begin(e.ctx)
	received := 0
	err := within(t, prompt, "Stream", func() error {
		for _, err := range repo.Stream[Item](ctx, e.r, q) {
			if err != nil {
				return err
			}
			received++
			if received == 1 {
				end()
			}
		}
		return nil
	})
	require.ErrorIs(t, err, want, "a Stream whose context ended after its first record (%d of %d records received)", received, duringRecords)
	require.Less(t, received, duringRecords, "a Stream whose context ended after its first record ran to the end")

	calls := []struct {
		what string
		run  func(ctx context.Context, r *repo.Repo) (got int, err error)
	}{
		{"All", func(ctx context.Context, r *repo.Repo) (int, error) {
			items, err := repo.All[Item](ctx, r, q)
			return len(items), err
		}},
		{"Paginate", func(ctx context.Context, r *repo.Repo) (int, error) {
			p, err := repo.Paginate[Item](ctx, r, q.Limit(duringRecords))
			if p.Next != "" {
				return len(p.Items) + 1, err
			}
			return len(p.Items), err
		}},
	}
	for _, c := range calls {
		ctx, end := begin(e.ctx)
		r, passed := e.interrupting(t, end)
		var got int
		err := within(t, prompt, c.what, func() (err error) {
			got, err = c.run(ctx, r)
			return err
		})
		require.ErrorIs(t, err, want, "%s whose context ended after the store's first record (%d of %d records passed on)",
			c.what, passed.Load(), duringRecords)
		require.Zero(t, got, "%s returned part of a result with its error", c.what)
		require.Less(t, passed.Load(), int64(duringRecords), "%s: the store's query ran to the end after its context ended", c.what)
	}

	// The store is usable afterwards.
	awaitCount[Item](t, e, q, duringRecords)
}

// contextDone makes every kind of call with a context that is already
// done: each must fail promptly with an error wrapping the context's
// error, and change nothing.
func contextDone(t *testing.T, s *suite, done func(context.Context) context.Context, want error) {
	e := s.open(t)
	a := Account{Email: "a@example.com", Name: "orig"}
	insert(t, e, &a)
	author := Author{Name: "author"}
	insert(t, e, &author, &Post{AuthorID: author.ID, Title: "post"})
	ctx := done(e.ctx)
	r := e.r
	q := repo.Where("name", repo.Eq, "orig")
	calls := []call{
		{"Insert", func() error { return r.Insert(ctx, &Account{ID: 999, Email: "new@example.com"}) }},
		{"Insert changeset", func() error {
			return r.Insert(ctx, schema.Cast(&Account{ID: 998}, map[string]any{"email": "cs@example.com"}, "email"))
		}},
		{"InsertAll", func() error { return r.InsertAll(ctx, []Account{{ID: 997, Email: "all@example.com"}}) }},
		{"Get", func() error { var got Account; return r.Get(ctx, &got, a.ID) }},
		{"Reload", func() error { cp := a; return r.Reload(ctx, &cp) }},
		{"Update", func() error { cp := a; cp.Name = "changed"; return r.Update(ctx, &cp) }},
		{"Update changeset", func() error { cp := a; return r.Update(ctx, schema.NewChangeset(&cp).Put("name", "changed")) }},
		{"Delete", func() error { cp := a; return r.Delete(ctx, &cp) }},
		{"All", func() error { _, err := repo.All[Account](ctx, r, q); return err }},
		{"Stream", func() error {
			for _, err := range repo.Stream[Account](ctx, r, q) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
		{"Count", func() error { _, err := repo.Count[Account](ctx, r, q); return err }},
		{"Exists", func() error { _, err := repo.Exists[Account](ctx, r, q); return err }},
		{"Paginate", func() error { _, err := repo.Paginate[Account](ctx, r, q.Limit(5)); return err }},
		{"One", func() error { var got Account; return r.One(ctx, &got, q) }},
		{"GetBy", func() error { var got Account; return r.GetBy(ctx, &got, q) }},
		{"DeleteAll", func() error { _, err := repo.DeleteAll[Account](ctx, r, q); return err }},
		{"Preload", func() error { cp := author; return r.Preload(ctx, &cp, "posts") }},
	}
	if e.caps.Has(driver.CapAggregates) {
		calls = append(calls, call{"Aggregate", func() error {
			_, err := repo.Aggregate[Account](ctx, r, q, repo.Max, "age")
			return err
		}})
	}
	if e.caps.Has(driver.CapTransactions) {
		calls = append(calls, call{"Transaction", func() error {
			called := false
			err := r.Transaction(ctx, func(tx *repo.Repo) error {
				called = true
				return tx.Insert(ctx, &Account{ID: 996, Email: "tx@example.com"})
			})
			require.False(t, called, "Transaction with a done context does not call its function")
			return err
		}})
	}
	for _, c := range calls {
		err := within(t, prompt, c.what, c.fn)
		require.ErrorIs(t, err, want, "%s with a done context", c.what)
	}

	var got Account
	require.NoError(t, r.Get(e.ctx, &got, a.ID))
	require.Equal(t, a, got, "calls with a done context change nothing")
	for _, id := range []int64{996, 997, 998, 999} {
		require.ErrorIs(t, r.Get(e.ctx, &got, id), repo.ErrNotFound, "calls with a done context store nothing")
	}
}

// contextInTransaction: calls in a transaction honour their context, and a
// transaction whose context ends before it commits is rolled back.
func contextInTransaction(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapTransactions)
	done, cancelDone := context.WithCancel(e.ctx)
	cancelDone()
	var calls []error
	err := e.r.Transaction(e.ctx, func(tx *repo.Repo) error {
		calls = append(calls, within(t, prompt, "Insert in a transaction", func() error {
			return tx.Insert(done, &Account{ID: 5, Email: "x@example.com"})
		}))
		calls = append(calls, within(t, prompt, "Get in a transaction", func() error {
			var got Account
			return tx.Get(done, &got, 5)
		}))
		calls = append(calls, within(t, prompt, "Count in a transaction", func() error {
			_, err := repo.Count[Account](done, tx, repo.Where("email", repo.Eq, "x@example.com"))
			return err
		}))
		return errors.Join(calls...) // after a failed call, roll back
	})
	require.ErrorIs(t, err, context.Canceled)
	for i, err := range calls {
		require.ErrorIs(t, err, context.Canceled, "call %d in the transaction", i)
	}

	ctx, cancel := context.WithCancel(e.ctx)
	var added int64
	err = within(t, prompt, "Transaction", func() error {
		return e.r.Transaction(ctx, func(tx *repo.Repo) error {
			a := Account{Email: "a@example.com"}
			require.NoError(t, tx.Insert(ctx, &a))
			added = a.ID
			cancel()
			return nil
		})
	})
	require.ErrorIs(t, err, context.Canceled, "a transaction whose context ends before the commit does not commit")
	var got Account
	require.ErrorIs(t, e.r.Get(e.ctx, &got, added), repo.ErrNotFound)
}
