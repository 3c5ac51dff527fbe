package conformance

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// Run runs the conformance suite against the repos h opens. Each area is a
// sub-test (Harness, CRUD, Types, Queries, Paging, Locking, Merge,
// Transactions, BadInput, Context, Lifecycle, Associations, Upserts,
// Aggregates, Migrations), each case a sub-test of its area with a repo of its own;
// cases run in parallel. Use go test's -run flag to pick areas or cases:
//
//	go test -run 'Conformance/Queries/Null'
//
// A case that needs a capability the adapter lacks is skipped with a
// message naming the capability.
func Run(t *testing.T, h Harness) {
	if h == nil {
		t.Fatal("conformance.Run: nil Harness")
	}
	s := &suite{h: h}
	if ev, ok := h.(Eventual); ok {
		s.lag = ev.Eventually()
	}
	for _, of := range fixtureSchemas {
		sc, err := of()
		if err != nil {
			t.Fatalf("conformance: a fixture schema does not parse: %v", err)
		}
		if hasUnique(sc) && sc.Name() != uniqueCollection {
			t.Fatalf("conformance: fixture %s has a unique index: only %s may, so that the other cases run on stores without %s",
				sc.Name(), uniqueCollection, driver.CapUniqueIndexes)
		}
	}
	for _, a := range areas {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range a.cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, s)
				})
			}
		})
	}
}

type testCase struct {
	name string
	fn   func(t *testing.T, s *suite)
}

type area struct {
	name  string
	cases []testCase
}

// areas lists every case, by area. A new case added here reaches every
// adapter.
var areas = []area{
	{"Harness", harnessCases},
	{"CRUD", crudCases},
	{"Types", typeCases},
	{"Queries", queryCases},
	{"Paging", pagingCases},
	{"Locking", lockingCases},
	{"Merge", mergeCases},
	{"Transactions", txCases},
	{"BadInput", badInputCases},
	{"Context", contextCases},
	{"Lifecycle", lifecycleCases},
	{"Associations", assocCases},
	{"Upserts", upsertCases},
	{"Aggregates", aggregateCases},
	{"Migrations", migrationCases},
	{"Convergence", convergenceCases},
}

// suite is what every case shares: the harness and its consistency.
type suite struct {
	h   Harness
	lag time.Duration
}

// env is one case's repo, with the calls it made as the repo reported
// them to its observer.
type env struct {
	r    *repo.Repo
	ctx  context.Context
	caps driver.Capabilities
	lag  time.Duration

	mu  sync.Mutex
	ops map[string]int
}

// open returns a fresh repo for the case t, with the fixtures' collections
// created.
func (s *suite) open(t *testing.T) *env {
	t.Helper()
	e := &env{ctx: t.Context(), lag: s.lag, ops: map[string]int{}}
	e.r = s.h.NewRepo(t, repo.WithObserver(e.observe))
	require.NotNil(t, e.r, "Harness.NewRepo returned nil")
	e.caps = e.r.Capabilities()
	if m, ok := e.r.Driver().(driver.Migrator); ok {
		for _, of := range fixtureSchemas {
			sc, _ := of()
			if hasUnique(sc) && !e.caps.Has(driver.CapUniqueIndexes) {
				continue // a store without unique indexes may refuse to create one; no case writes it there
			}
			err := m.Migrate(e.ctx, driver.CreateCollection{Collection: sc.Collection, IfNotExists: true})
			require.NoError(t, err, "creating collection %s", sc.Name())
		}
	}
	return e
}

func (e *env) observe(_ context.Context, ev repo.Event) {
	e.mu.Lock()
	e.ops[ev.Op]++
	e.mu.Unlock()
}

// calls returns how many calls of the operation the repo reported.
func (e *env) calls(op string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ops[op]
}

// resetCalls forgets the calls reported so far.
func (e *env) resetCalls() {
	e.mu.Lock()
	clear(e.ops)
	e.mu.Unlock()
}

// need skips the case unless the adapter has every capability in want.
func (e *env) need(t *testing.T, want driver.Capabilities) {
	t.Helper()
	if !e.caps.Has(want) {
		t.Skipf("adapter lacks capability %s", want&^e.caps)
	}
}

// canScan reports whether the store can run a query with no condition on
// an indexed field at all (see scan).
func (e *env) canScan() bool {
	return e.caps.Has(driver.CapListAll) || e.caps.Has(driver.CapFullScan)
}

// scan prepares q, a query with no condition on an indexed field (or with
// an order on an unindexed one), for this store: unchanged where the store
// lists and filters collections cheaply, with FullScan where it needs one.
// Where the store cannot scan at all, it skips the case.
func (e *env) scan(t *testing.T, q repo.Query) repo.Query {
	t.Helper()
	if e.caps.Has(driver.CapListAll | driver.CapUnindexedFilter) {
		return q
	}
	if !e.canScan() {
		t.Skipf("adapter lacks capability %s and %s: it cannot run a query without a condition on an indexed field",
			driver.CapListAll, driver.CapFullScan)
	}
	return q.FullScan()
}

// everything returns a query for every record of T: a condition on the
// primary key, which every store can answer without a scan.
func everything[T any]() repo.Query {
	s, err := schema.Of[T]()
	if err != nil {
		panic(err) // a fixture; Run checked them all
	}
	if s.Key.Kind == driver.KindString {
		return repo.Where(s.Key.Name, repo.Gte, "")
	}
	return repo.Where(s.Key.Name, repo.Gte, int64(math.MinInt64))
}

// eventually runs check, which reads what the case wrote by a query. On a
// strongly consistent store it runs once and its failures fail the case;
// on an Eventual one it is retried until it passes or the bound passes.
func (e *env) eventually(t *testing.T, check func(t require.TestingT)) {
	t.Helper()
	if e.lag <= 0 {
		check(t)
		return
	}
	tick := max(e.lag/100, time.Millisecond)
	require.EventuallyWithT(t, func(c *assert.CollectT) { check(c) }, e.lag, tick)
}

// masked returns a repo over the same store whose adapter declares none of
// the capabilities in drop (and, since it implements none of the optional
// interfaces, none of transactions, savepoints, aggregates and batch
// inserts either). It checks that the portable layer refuses what a store
// lacks, on stores that have it.
func (e *env) masked(t *testing.T, drop driver.Capabilities) *repo.Repo {
	t.Helper()
	caps := e.caps &^ drop &^ (driver.CapTransactions | driver.CapSavepoints | driver.CapAggregates | driver.CapBatchInsert)
	r, err := repo.New(maskedAdapter{e.r.Driver(), caps})
	require.NoError(t, err)
	return r
}

type maskedAdapter struct {
	driver.Adapter
	caps driver.Capabilities
}

func (m maskedAdapter) Capabilities() driver.Capabilities { return m.caps }

// Close does nothing: the harness owns the adapter.
func (m maskedAdapter) Close() error { return nil }

// maskedTx is masked for a store with transactions, keeping them (but not
// savepoints): it checks what the portable layer refuses inside a
// transaction, on stores that have what it refuses.
func (e *env) maskedTx(t *testing.T, drop driver.Capabilities) *repo.Repo {
	t.Helper()
	tr, ok := e.r.Driver().(driver.Transactor)
	require.True(t, ok && e.caps.Has(driver.CapTransactions), "maskedTx needs a store with transactions")
	caps := e.caps &^ drop &^ (driver.CapSavepoints | driver.CapAggregates | driver.CapBatchInsert)
	r, err := repo.New(maskedTxAdapter{maskedAdapter{e.r.Driver(), caps}, tr})
	require.NoError(t, err)
	return r
}

type maskedTxAdapter struct {
	maskedAdapter
	tr driver.Transactor
}

func (m maskedTxAdapter) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return m.tr.BeginTx(ctx, opts)
}

// interrupting returns a repo over the same store (with the capabilities
// that masked keeps) whose queries call interrupt once, right after the
// store's first record has been passed on to the repo: in the middle of a
// call that returns nothing before it ends (All, Paginate), at a point no
// timer can pick. It also returns how many records the store's queries
// passed on.
func (e *env) interrupting(t *testing.T, interrupt func()) (*repo.Repo, *atomic.Int64) {
	t.Helper()
	caps := e.caps &^ (driver.CapTransactions | driver.CapSavepoints | driver.CapAggregates | driver.CapBatchInsert)
	a := &interruptingAdapter{maskedAdapter: maskedAdapter{e.r.Driver(), caps}, interrupt: sync.OnceFunc(interrupt)}
	r, err := repo.New(a)
	require.NoError(t, err)
	return r, &a.passed
}

type interruptingAdapter struct {
	maskedAdapter
	interrupt func()
	passed    atomic.Int64
}

func (a *interruptingAdapter) Query(ctx context.Context, c *driver.Collection, q *driver.Query) iter.Seq2[driver.Record, error] {
	return func(yield func(driver.Record, error) bool) {
		for rec, err := range a.Adapter.Query(ctx, c, q) {
			if err == nil {
				a.passed.Add(1)
			}
			if !yield(rec, err) {
				return
			}
			if err == nil {
				a.interrupt()
			}
		}
	}
}

// countingWrites returns a repo over the same store that declares none of
// the capabilities in drop (and otherwise what masked keeps), and the
// number of writes (Insert, Update, Delete, DeleteAll) that reached the
// store through it: for checking that the portable layer refuses a write
// before it calls the store.
func (e *env) countingWrites(t *testing.T, drop driver.Capabilities) (*repo.Repo, *atomic.Int64) {
	t.Helper()
	caps := e.caps &^ drop &^ (driver.CapTransactions | driver.CapSavepoints | driver.CapAggregates | driver.CapBatchInsert)
	a := &countingAdapter{maskedAdapter: maskedAdapter{e.r.Driver(), caps}}
	r, err := repo.New(a)
	require.NoError(t, err)
	return r, &a.writes
}

type countingAdapter struct {
	maskedAdapter
	writes atomic.Int64
}

func (a *countingAdapter) Insert(ctx context.Context, c *driver.Collection, rec driver.Record, opts driver.InsertOptions) (driver.Record, error) {
	a.writes.Add(1)
	return a.Adapter.Insert(ctx, c, rec, opts)
}

func (a *countingAdapter) Update(ctx context.Context, c *driver.Collection, u driver.Update) (driver.Record, error) {
	a.writes.Add(1)
	return a.Adapter.Update(ctx, c, u)
}

func (a *countingAdapter) Delete(ctx context.Context, c *driver.Collection, d driver.Delete) error {
	a.writes.Add(1)
	return a.Adapter.Delete(ctx, c, d)
}

func (a *countingAdapter) DeleteAll(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	a.writes.Add(1)
	return a.Adapter.DeleteAll(ctx, c, q)
}

// expiring is a context whose deadline passes when expire is called, not
// when a timer fires: so that a case can make it pass at a chosen point of
// a call. Deadline reports none (it stands for one that passes at the
// moment expire is called); values come from the parent, whose end it does
// not follow.
type expiring struct {
	context.Context
	done   chan struct{}
	expire func()
}

func newExpiring(parent context.Context) *expiring {
	c := &expiring{Context: parent, done: make(chan struct{})}
	c.expire = sync.OnceFunc(func() { close(c.done) })
	return c
}

func (c *expiring) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *expiring) Done() <-chan struct{}       { return c.done }

func (c *expiring) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

var errPanicked = errors.New("conformance: the call panicked")

// noPanic calls fn and returns its error; a panic fails the case (no call
// may panic on bad input) and is returned as errPanicked.
func noPanic(t *testing.T, what string, fn func() error) (err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%s panicked: %v\n%s", what, p, debug.Stack())
			err = errPanicked
		}
	}()
	return fn()
}

// requireInvalid calls fn, requiring that it neither panics nor succeeds,
// and that its error wraps ErrInvalid. It returns the error.
func requireInvalid(t *testing.T, what string, fn func() error) error {
	t.Helper()
	err := noPanic(t, what, fn)
	if err == errPanicked {
		return err
	}
	require.Error(t, err, "%s: want an error wrapping ErrInvalid", what)
	require.ErrorIs(t, err, repo.ErrInvalid, "%s", what)
	return err
}

func ptr[T any](v T) *T { return &v }

// itemIDs returns the IDs of items, in order.
func itemIDs(items []Item) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func insert(t *testing.T, e *env, vs ...any) {
	t.Helper()
	for _, v := range vs {
		require.NoError(t, e.r.Insert(e.ctx, v), "insert %T", v)
	}
}

// awaitCount waits (see env.eventually) until q selects n records of T.
func awaitCount[T any](t *testing.T, e *env, q repo.Query, n int64) {
	t.Helper()
	e.eventually(t, func(c require.TestingT) {
		got, err := repo.Count[T](e.ctx, e.r, q)
		require.NoError(c, err)
		require.Equal(c, n, got, "records selected by %v", q)
	})
}

// within fails t unless fn returns within d; it measures, it does not
// wait. It returns fn's error.
func within(t *testing.T, d time.Duration, what string, fn func() error) error {
	t.Helper()
	start := time.Now()
	err := noPanic(t, what, fn)
	if el := time.Since(start); el > d {
		t.Errorf("%s took %v with a context that was done or ended during it; want under %v", what, el, d)
	}
	return err
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
