package repo_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/adapters/sqlstore"
	"github.com/strata-go/strata/conformance"
	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// The schemas of the router's tests, one per consistency.

type rVisit struct { // AP
	_     struct{} `strata:"table=router_visits,consistency=ap"`
	ID    string   `strata:"id,pk"`
	Count int64    `strata:"count,merge=counter"`
}

type rAccount struct { // CP
	_       struct{} `strata:"table=router_accounts,consistency=cp"`
	ID      int64    `strata:"id,pk"`
	Owner   string   `strata:"owner,index"`
	Balance int64    `strata:"balance"`
}

type rNote struct { // no consistency: the default route
	_    struct{} `strata:"table=router_notes"`
	ID   int64    `strata:"id,pk"`
	Text string   `strata:"text"`
}

func collOf[T any](t testing.TB) *driver.Collection {
	t.Helper()
	s, err := schema.Of[T]()
	require.NoError(t, err)
	return s.Collection
}

// openSQLite opens a fresh SQLite database for the test, closed at its end.
func openSQLite(t testing.TB) *sqlstore.Adapter {
	t.Helper()
	a, err := sqlstore.Open(context.Background(), "sqlite://"+t.TempDir()+"/cp.db")
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	return a
}

// newRouted returns a repo over a Router of routes, with the collections of
// the test schemas created where the routes allow.
func newRouted(t *testing.T, routes repo.Routes) (*repo.Repo, *repo.Router) {
	t.Helper()
	rt, err := repo.NewRouter(routes)
	require.NoError(t, err)
	r, err := repo.New(rt)
	require.NoError(t, err)
	for _, c := range []*driver.Collection{collOf[rVisit](t), collOf[rAccount](t), collOf[rNote](t)} {
		err := rt.Migrate(t.Context(), driver.CreateCollection{Collection: c, IfNotExists: true})
		if err != nil {
			require.ErrorIs(t, err, repo.ErrUnsupported, "creating %s", c.Name)
		}
	}
	return r, rt
}

// lessCaps is a memory adapter that declares fewer capabilities.
type lessCaps struct {
	*memory.Adapter
	drop driver.Capabilities
}

func (l lessCaps) Capabilities() driver.Capabilities { return l.Adapter.Capabilities() &^ l.drop }

// noTx hides a Router's transactions (see TestRouterConformance).
type noTx struct{ *repo.Router }

func (n noTx) Capabilities() driver.Capabilities {
	return n.Router.Capabilities() &^ (driver.CapTransactions | driver.CapSavepoints)
}

// The conformance suite's fixtures have no consistency tag, so they live on
// the default route.
func TestRouterConformance(t *testing.T) {
	t.Parallel()
	harness := func(routes func(t *testing.T) repo.Routes, wrap func(*repo.Router) driver.Adapter) conformance.Harness {
		return conformance.HarnessFunc(func(t *testing.T, opts ...repo.Option) *repo.Repo {
			rt, err := repo.NewRouter(routes(t))
			if err != nil {
				t.Fatal(err)
			}
			r, err := repo.New(wrap(rt), opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return r
		})
	}
	// AP on memory, CP on SQLite, and the fixtures on the CP store (the
	// default route): the whole suite, transactions included.
	t.Run("APMemoryCPSQLite", func(t *testing.T) {
		t.Parallel()
		conformance.Run(t, harness(func(t *testing.T) repo.Routes {
			return repo.Routes{AP: memory.New(), CP: openSQLite(t)}
		}, func(rt *repo.Router) driver.Adapter { return rt }))
	})
	// The fixtures on a default store that is not the CP store: a
	// transaction cannot use them (it runs on the CP store), so the suite
	// runs with transactions hidden, which also checks that the repo
	// refuses them then. TestRouterTransaction covers this configuration's
	// transactions.
	t.Run("DefaultMemoryCPSQLite", func(t *testing.T) {
		t.Parallel()
		conformance.Run(t, harness(func(t *testing.T) repo.Routes {
			return repo.Routes{Default: memory.New(), CP: openSQLite(t)}
		}, func(rt *repo.Router) driver.Adapter { return noTx{rt} }))
	})
}

func TestRouterRoutesByConsistency(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ap, def := memory.New(), memory.New()
	cp := openSQLite(t)
	r, rt := newRouted(t, repo.Routes{AP: ap, CP: cp, Default: def})
	defer r.Close()

	require.Same(t, ap, rt.Route(driver.AP))
	require.Same(t, cp, rt.Route(driver.CP))
	require.Same(t, def, rt.Route(driver.AnyConsistency))

	v := &rVisit{ID: "home"}
	a := &rAccount{Owner: "ada", Balance: 10}
	n := &rNote{Text: "hello"}
	require.NoError(t, r.Insert(ctx, v))
	require.NoError(t, r.Insert(ctx, a))
	require.NoError(t, r.Insert(ctx, n))
	require.NoError(t, r.Update(ctx, schema.NewChangeset(v).Increment("count", 3)))

	// Each record is on its own store, and only there.
	stores := map[string]driver.Adapter{"ap": ap, "cp": cp, "default": def}
	for _, c := range []struct {
		coll  *driver.Collection
		key   any
		store string
	}{
		{collOf[rVisit](t), "home", "ap"},
		{collOf[rAccount](t), a.ID, "cp"},
		{collOf[rNote](t), n.ID, "default"},
	} {
		for name, st := range stores {
			_, err := st.Get(ctx, c.coll, c.key)
			if name == c.store {
				assert.NoError(t, err, "%s on the %s store", c.coll.Name, name)
			} else {
				assert.Error(t, err, "%s is not on the %s store", c.coll.Name, name)
			}
		}
	}
	rec, err := ap.Get(ctx, collOf[rVisit](t), "home")
	require.NoError(t, err)
	assert.Equal(t, int64(3), rec.Values[collOf[rVisit](t).FieldIndex("count")])

	// Reads through the repo go to the same stores.
	accounts, err := repo.All[rAccount](ctx, r, repo.Where("owner", repo.Eq, "ada"))
	require.NoError(t, err)
	require.Len(t, accounts, 1)
	assert.Equal(t, int64(10), accounts[0].Balance)
	var got rNote
	require.NoError(t, r.Get(ctx, &got, n.ID))
	assert.Equal(t, "hello", got.Text)
	nv, err := repo.Count[rVisit](ctx, r, repo.Where("id", repo.Eq, "home"))
	require.NoError(t, err)
	assert.Equal(t, int64(1), nv)
}

func TestRouterMissingRoute(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	// Only a CP store: untagged schemas go there; AP ones are refused,
	// never sent to the CP store.
	cp := openSQLite(t)
	r, rt := newRouted(t, repo.Routes{CP: cp})
	require.Same(t, cp, rt.Route(driver.AnyConsistency))
	require.Nil(t, rt.Route(driver.AP))
	err := r.Insert(ctx, &rVisit{ID: "x"})
	require.ErrorIs(t, err, repo.ErrUnsupported)
	assert.Contains(t, err.Error(), "router_visits")
	assert.Contains(t, err.Error(), "Routes.AP")
	_, err = repo.All[rVisit](ctx, r, repo.Query{})
	require.ErrorIs(t, err, repo.ErrUnsupported)
	n := &rNote{Text: "on cp"}
	require.NoError(t, r.Insert(ctx, n))
	_, err = cp.Get(ctx, collOf[rNote](t), n.ID)
	require.NoError(t, err, "an untagged schema goes to the CP store when there is no default")

	// Only an AP store: CP schemas are refused.
	ap := memory.New()
	r2, _ := newRouted(t, repo.Routes{AP: ap})
	err = r2.Insert(ctx, &rAccount{Owner: "x"})
	require.ErrorIs(t, err, repo.ErrUnsupported)
	assert.Contains(t, err.Error(), "router_accounts")
	assert.Contains(t, err.Error(), "Routes.CP")
	require.NoError(t, r2.Insert(ctx, &rNote{Text: "on ap"}), "an untagged schema goes to the AP store when it is the only one")

	// No routes, nil routes, nil collections: errors, not panics.
	_, err = repo.NewRouter(repo.Routes{})
	require.ErrorIs(t, err, repo.ErrInvalid)
	var nilMem *memory.Adapter
	_, err = repo.NewRouter(repo.Routes{AP: nilMem})
	require.ErrorIs(t, err, repo.ErrInvalid)
	_, err = rt.Get(ctx, nil, 1)
	require.ErrorIs(t, err, repo.ErrInvalid)
	for _, err := range rt.Query(ctx, nil, &driver.Query{}) {
		require.ErrorIs(t, err, repo.ErrInvalid)
	}
	require.ErrorIs(t, rt.Migrate(ctx, driver.CreateCollection{}), repo.ErrInvalid)
	require.ErrorIs(t, rt.Migrate(ctx, nil), repo.ErrInvalid)
	var zero repo.Router
	_, err = zero.Get(ctx, collOf[rNote](t), 1)
	require.ErrorIs(t, err, repo.ErrUnsupported)
	_, err = zero.BeginTx(ctx, driver.TxOptions{})
	require.ErrorIs(t, err, repo.ErrUnsupported)
	_, err = zero.Lock(ctx, "x")
	require.ErrorIs(t, err, repo.ErrUnsupported)
	require.ErrorIs(t, zero.Migrate(ctx, driver.DropCollection{Name: "x"}), repo.ErrUnsupported)
	require.NoError(t, zero.Close())
	assert.Equal(t, driver.Capabilities(0), zero.Capabilities())
}

func TestRouterTransaction(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ap, cp := memory.New(), openSQLite(t)
	r, rt := newRouted(t, repo.Routes{AP: ap, CP: cp})
	require.True(t, r.Capabilities().Has(driver.CapTransactions|driver.CapSavepoints), "the CP store's transactions: %s", r.Capabilities())
	require.True(t, rt.CapabilitiesOf(collOf[rAccount](t)).Has(driver.CapTransactions))
	require.True(t, rt.CapabilitiesOf(collOf[rNote](t)).Has(driver.CapTransactions), "untagged schemas are on the CP store here")
	require.False(t, rt.CapabilitiesOf(collOf[rVisit](t)).Has(driver.CapTransactions), "AP schemas are never in a transaction")

	// Commit: CP and untagged schemas together.
	a := &rAccount{Owner: "ada", Balance: 5}
	n := &rNote{Text: "opened"}
	require.NoError(t, r.Transaction(ctx, func(tx *repo.Repo) error {
		if err := tx.Insert(ctx, a); err != nil {
			return err
		}
		return tx.Insert(ctx, n)
	}))
	var got rAccount
	require.NoError(t, r.Get(ctx, &got, a.ID))
	require.NoError(t, r.Get(ctx, &rNote{}, n.ID))

	// Rollback on error.
	boom := errors.New("boom")
	b := &rAccount{Owner: "bob"}
	require.ErrorIs(t, r.Transaction(ctx, func(tx *repo.Repo) error {
		if err := tx.Insert(ctx, b); err != nil {
			return err
		}
		return boom
	}), boom)
	require.ErrorIs(t, r.Get(ctx, &got, b.ID), repo.ErrNotFound)

	// An AP schema in the transaction is refused, naming it; the
	// transaction's CP writes roll back with it.
	c := &rAccount{Owner: "cy"}
	var apErr error
	err := r.Transaction(ctx, func(tx *repo.Repo) error {
		if err := tx.Insert(ctx, c); err != nil {
			return err
		}
		_, apErr = repo.All[rVisit](ctx, tx, repo.Query{})
		require.ErrorIs(t, apErr, repo.ErrUnsupported)
		apErr = tx.Insert(ctx, &rVisit{ID: "in-tx"})
		return apErr
	})
	require.ErrorIs(t, err, repo.ErrUnsupported)
	assert.Contains(t, err.Error(), "router_visits")
	assert.Contains(t, err.Error(), "transaction")
	assert.Contains(t, err.Error(), "AP schema")
	require.ErrorIs(t, r.Get(ctx, &got, c.ID), repo.ErrNotFound)
	_, err = ap.Get(ctx, collOf[rVisit](t), "in-tx")
	require.ErrorIs(t, err, repo.ErrNotFound, "nothing reached the AP store")

	// Savepoints are the CP store's.
	d, e := &rAccount{Owner: "dee"}, &rAccount{Owner: "eve"}
	require.NoError(t, r.Transaction(ctx, func(tx *repo.Repo) error {
		if err := tx.Insert(ctx, d); err != nil {
			return err
		}
		inner := tx.Transaction(ctx, func(tx *repo.Repo) error {
			if err := tx.Insert(ctx, e); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, inner, boom)
		return nil
	}))
	require.NoError(t, r.Get(ctx, &got, d.ID))
	require.ErrorIs(t, r.Get(ctx, &got, e.ID), repo.ErrNotFound)

	// Aggregates and batch inserts in the transaction go to the CP store's.
	require.NoError(t, r.Transaction(ctx, func(tx *repo.Repo) error {
		if err := tx.InsertAll(ctx, []rAccount{{Owner: "f", Balance: 1}, {Owner: "g", Balance: 2}}); err != nil {
			return err
		}
		sum, err := repo.Aggregate[rAccount](ctx, tx, repo.Query{}, repo.Sum, "balance")
		require.NoError(t, err)
		assert.Equal(t, int64(8), sum)
		return nil
	}))
}

func TestRouterTransactionDefaultElsewhere(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	def, cp := memory.New(), openSQLite(t)
	r, rt := newRouted(t, repo.Routes{Default: def, CP: cp})
	require.True(t, r.Capabilities().Has(driver.CapTransactions))
	require.False(t, rt.CapabilitiesOf(collOf[rNote](t)).Has(driver.CapTransactions))

	a := &rAccount{Owner: "ada"}
	err := r.Transaction(ctx, func(tx *repo.Repo) error {
		if err := tx.Insert(ctx, a); err != nil {
			return err
		}
		return tx.Insert(ctx, &rNote{Text: "x"})
	})
	require.ErrorIs(t, err, repo.ErrUnsupported)
	assert.Contains(t, err.Error(), "router_notes")
	assert.Contains(t, err.Error(), "default store")
	require.ErrorIs(t, r.Get(ctx, &rAccount{}, a.ID), repo.ErrNotFound)

	// The CP store's transactions run whatever the default store is.
	require.NoError(t, r.Transaction(ctx, func(tx *repo.Repo) error { return tx.Insert(ctx, a) }))
	_, err = cp.Get(ctx, collOf[rAccount](t), a.ID)
	require.NoError(t, err)

	// Without a CP route transactions run on the default store, for the
	// untagged schemas; AP schemas stay out even when that is their store.
	mem := memory.New()
	r2, _ := newRouted(t, repo.Routes{AP: mem})
	require.NoError(t, r2.Transaction(ctx, func(tx *repo.Repo) error { return tx.Insert(ctx, &rNote{Text: "y"}) }))
	err = r2.Transaction(ctx, func(tx *repo.Repo) error { return tx.Insert(ctx, &rVisit{ID: "v"}) })
	require.ErrorIs(t, err, repo.ErrUnsupported)

	// A transaction store without transactions: none, and the repo says so.
	r3, _ := newRouted(t, repo.Routes{AP: memory.New(), CP: lessCaps{memory.New(), driver.CapTransactions | driver.CapSavepoints}})
	require.False(t, r3.Capabilities().Has(driver.CapTransactions))
	called := false
	err = r3.Transaction(ctx, func(*repo.Repo) error { called = true; return nil })
	require.ErrorIs(t, err, repo.ErrUnsupported)
	require.False(t, called)
}

func TestRouterCapabilitiesPerRoute(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ap := lessCaps{memory.New(), driver.CapOffset | driver.CapAggregates | driver.CapUpsert}
	r, rt := newRouted(t, repo.Routes{AP: ap, CP: openSQLite(t)})

	caps := r.Capabilities()
	assert.False(t, caps.Has(driver.CapOffset), "offset does not hold for every schema: %s", caps)
	assert.False(t, caps.Has(driver.CapAggregates))
	assert.True(t, caps.Has(driver.CapListAll))
	assert.False(t, rt.CapabilitiesOf(collOf[rVisit](t)).Has(driver.CapOffset))
	assert.True(t, rt.CapabilitiesOf(collOf[rAccount](t)).Has(driver.CapOffset|driver.CapAggregates|driver.CapUpsert))

	// The same through the Repo, by schema; transactions are the CP
	// store's.
	visitCaps, err := repo.CapabilitiesOf[rVisit](r)
	require.NoError(t, err)
	accountCaps, err := repo.CapabilitiesOf[rAccount](r)
	require.NoError(t, err)
	assert.False(t, visitCaps.Has(driver.CapOffset))
	assert.False(t, visitCaps.Has(driver.CapTransactions), "AP schemas are outside transactions")
	assert.True(t, accountCaps.Has(driver.CapOffset|driver.CapTransactions))
	_, err = repo.CapabilitiesOf[int](r)
	require.ErrorIs(t, err, repo.ErrInvalid)

	for _, id := range []string{"a", "b", "c"} {
		require.NoError(t, r.Insert(ctx, &rVisit{ID: id}))
	}
	for _, o := range []string{"x", "y", "z"} {
		require.NoError(t, r.Insert(ctx, &rAccount{Owner: o, Balance: 1}))
	}

	// Offsets: refused for the AP store's schema only.
	_, err = repo.All[rVisit](ctx, r, repo.Query{}.OrderBy("id").Offset(1))
	require.ErrorIs(t, err, repo.ErrUnsupported)
	accounts, err := repo.All[rAccount](ctx, r, repo.Query{}.OrderBy("owner").Offset(1))
	require.NoError(t, err)
	require.Len(t, accounts, 2)
	assert.Equal(t, "y", accounts[0].Owner)

	// Aggregates likewise.
	_, err = repo.Aggregate[rVisit](ctx, r, repo.Query{}, repo.Max, "count")
	require.ErrorIs(t, err, repo.ErrUnsupported)
	sum, err := repo.Aggregate[rAccount](ctx, r, repo.Query{}, repo.Sum, "balance")
	require.NoError(t, err)
	assert.Equal(t, int64(3), sum)

	// Upserts likewise.
	err = r.Insert(ctx, &rVisit{ID: "a"}, repo.OnConflictReplaceAll())
	require.ErrorIs(t, err, repo.ErrUnsupported)
	require.NoError(t, r.Insert(ctx, &rAccount{ID: accounts[0].ID, Owner: "y2"}, repo.OnConflictReplaceAll()))
	var got rAccount
	require.NoError(t, r.Get(ctx, &got, accounts[0].ID))
	assert.Equal(t, "y2", got.Owner)
}

// sqliteTables returns the tables of a SQLite database.
func sqliteTables(t *testing.T, a *sqlstore.Adapter) map[string]bool {
	t.Helper()
	rows, err := a.DB().QueryContext(t.Context(), "SELECT name FROM sqlite_master WHERE type = 'table'")
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		out[name] = true
	}
	require.NoError(t, rows.Err())
	return out
}

// memHas reports whether a memory store has the named collection.
func memHas(t *testing.T, a *memory.Adapter, name string) bool {
	t.Helper()
	err := a.Migrate(t.Context(), driver.DropIndex{Collection: name, Name: "probe"})
	if errors.Is(err, driver.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

func routerMigrations(t *testing.T) *migrate.Migrations {
	t.Helper()
	ms, err := migrate.NewMigrations(
		migrate.Migration{Version: 1, Name: "create_visits",
			Up:   []migrate.Op{migrate.CreateTableFor[rVisit]()},
			Down: []migrate.Op{migrate.DropTableFor[rVisit]()}},
		migrate.Migration{Version: 2, Name: "create_accounts",
			Up:   []migrate.Op{migrate.CreateTableFor[rAccount](), migrate.CreateIndex("router_accounts", "router_accounts_balance_idx", "balance")},
			Down: []migrate.Op{migrate.DropIndex("router_accounts", "router_accounts_balance_idx"), migrate.DropTableFor[rAccount]()}},
		migrate.Migration{Version: 3, Name: "add_visit_note",
			Up:   []migrate.Op{migrate.AddColumn("router_visits", driver.Field{Name: "note", Kind: driver.KindString, Nullable: true})},
			Down: []migrate.Op{migrate.DropColumn("router_visits", "note")}},
	)
	require.NoError(t, err)
	return ms
}

func TestRouterMigrations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ap, cp := memory.New(), openSQLite(t)
	rt, err := repo.NewRouter(repo.Routes{AP: ap, CP: cp})
	require.NoError(t, err)
	r, err := repo.New(rt)
	require.NoError(t, err)
	ms := routerMigrations(t)

	// A dry run: SQL for the CP store's operations, a description naming
	// the store for the AP store's; nothing is created.
	dry, err := migrate.New(r, ms, migrate.DryRun())
	require.NoError(t, err)
	steps, err := dry.Up(ctx)
	require.NoError(t, err)
	require.Len(t, steps, 3)
	assert.Contains(t, strings.Join(steps[0].Plan, "\n"), "create collection router_visits, on the ap store (*memory.Adapter)")
	assert.Contains(t, strings.Join(steps[1].Plan, "\n"), "CREATE TABLE")
	assert.Contains(t, strings.Join(steps[2].Plan, "\n"), "add field router_visits.note", "router_visits not seen yet: %v", steps[2].Plan)
	assert.False(t, memHas(t, ap, "router_visits"))
	assert.False(t, sqliteTables(t, cp)[migrate.HistoryTable])

	m, err := migrate.New(r, ms)
	require.NoError(t, err)
	steps, err = m.Up(ctx)
	require.NoError(t, err)
	require.Len(t, steps, 3)
	tables := sqliteTables(t, cp)
	assert.True(t, tables["router_accounts"], "the CP collection is on the CP store")
	assert.True(t, tables[migrate.HistoryTable], "the history is on the default store")
	assert.False(t, tables["router_visits"], "the AP collection is not on the CP store")
	assert.True(t, memHas(t, ap, "router_visits"), "the AP collection is on the AP store")
	assert.False(t, memHas(t, ap, "router_accounts"))
	assert.False(t, memHas(t, ap, migrate.HistoryTable))

	// The migrated AP collection has its new field.
	note := "hi"
	type visitV2 struct {
		_    struct{} `strata:"table=router_visits,consistency=ap"`
		ID   string   `strata:"id,pk"`
		Note *string  `strata:"note"`
	}
	require.NoError(t, r.Insert(ctx, &visitV2{ID: "v", Note: &note}))
	var v visitV2
	require.NoError(t, r.Get(ctx, &v, "v"))
	require.Equal(t, &note, v.Note)

	// A router that has seen none of the collections (another process)
	// finds each on its store to roll back.
	rt2, err := repo.NewRouter(repo.Routes{AP: ap, CP: cp})
	require.NoError(t, err)
	r2, err := repo.New(rt2)
	require.NoError(t, err)
	m2, err := migrate.New(r2, ms)
	require.NoError(t, err)
	steps, err = m2.Down(ctx, 3)
	require.NoError(t, err)
	require.Len(t, steps, 3)
	assert.False(t, memHas(t, ap, "router_visits"))
	tables = sqliteTables(t, cp)
	assert.False(t, tables["router_accounts"])
	assert.True(t, tables[migrate.HistoryTable])

	// Unknown names: IfExists drops where the collection is, and is a
	// no-op where it is nowhere; without it, nowhere is ErrNotFound.
	require.NoError(t, rt.Migrate(ctx, driver.CreateCollection{Collection: collOf[rVisit](t)}))
	rt3, err := repo.NewRouter(repo.Routes{AP: ap, CP: cp})
	require.NoError(t, err)
	require.NoError(t, rt3.Migrate(ctx, driver.DropCollection{Name: "router_visits", IfExists: true}))
	assert.False(t, memHas(t, ap, "router_visits"))
	require.NoError(t, rt3.Migrate(ctx, driver.DropCollection{Name: "router_visits", IfExists: true}))
	err = rt3.Migrate(ctx, driver.DropCollection{Name: "router_nowhere"})
	require.ErrorIs(t, err, repo.ErrNotFound)
	assert.Contains(t, err.Error(), "router_nowhere")

	// Exec and the lock are the default store's.
	require.NoError(t, rt.Migrate(ctx, driver.Exec{Statement: "CREATE TABLE router_raw (id INTEGER)"}))
	assert.True(t, sqliteTables(t, cp)["router_raw"])
	unlock, err := rt.Lock(ctx, "router_lock")
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = cp.Lock(short, "router_lock")
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "the router holds the default store's lock")
	apUnlock, err := ap.Lock(ctx, "router_lock")
	require.NoError(t, err, "not the AP store's")
	require.NoError(t, apUnlock())
	require.NoError(t, unlock())

	require.NoError(t, r.Close())
}

// Migrations run in a transaction only where one store serves every route.
func TestRouterMigrationTransactions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	failing := func(t *testing.T) *migrate.Migrations {
		ms, err := migrate.NewMigrations(migrate.Migration{Version: 1, Name: "half",
			Up: []migrate.Op{migrate.CreateTableFor[rNote](), migrate.SQL("NOT SQL AT ALL")}})
		require.NoError(t, err)
		return ms
	}

	// One store: the migration and its history are one transaction.
	cp := openSQLite(t)
	rt, err := repo.NewRouter(repo.Routes{CP: cp})
	require.NoError(t, err)
	tx, err := rt.BeginTx(ctx, driver.TxOptions{})
	require.NoError(t, err)
	_, ok := tx.(driver.Migrator)
	require.True(t, ok, "a one-store router's transactions migrate where the store's do")
	require.NoError(t, tx.Rollback())
	r, err := repo.New(rt)
	require.NoError(t, err)
	m, err := migrate.New(r, failing(t))
	require.NoError(t, err)
	_, err = m.Up(ctx)
	require.Error(t, err)
	assert.False(t, sqliteTables(t, cp)["router_notes"], "rolled back with the failed statement")

	// Several stores: no transaction spans a migration; the operations
	// applied stay, and the error says so.
	cp2 := openSQLite(t)
	rt2, err := repo.NewRouter(repo.Routes{AP: memory.New(), CP: cp2})
	require.NoError(t, err)
	tx, err = rt2.BeginTx(ctx, driver.TxOptions{})
	require.NoError(t, err)
	_, ok = tx.(driver.Migrator)
	require.False(t, ok, "a transaction of one of several stores does not migrate")
	require.NoError(t, tx.Rollback())
	r2, err := repo.New(rt2)
	require.NoError(t, err)
	m2, err := migrate.New(r2, failing(t))
	require.NoError(t, err)
	_, err = m2.Up(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "applied and stay")
	assert.True(t, sqliteTables(t, cp2)["router_notes"])
}

// countingScheme is a URL scheme of memory stores that counts opens and
// closes, and fails to open a URL whose host is "fail".
const countingScheme = "strata-routertest"

type countedAdapter struct {
	*memory.Adapter
	closes atomic.Int32
	err    error
}

func (c *countedAdapter) Close() error {
	c.closes.Add(1)
	c.Adapter.Close()
	return c.err
}

var (
	countedMu sync.Mutex
	counted   = map[string][]*countedAdapter{} // by URL
)

func init() {
	repo.Register(countingScheme, func(ctx context.Context, u *url.URL) (driver.Adapter, error) {
		if u.Host == "fail" {
			return nil, fmt.Errorf("%w: cannot open %s", driver.ErrInvalid, u.Host)
		}
		a := &countedAdapter{Adapter: memory.New()}
		if u.Query().Has("closeerr") {
			a.err = errors.New("close failed: " + u.Host)
		}
		countedMu.Lock()
		counted[u.String()] = append(counted[u.String()], a)
		countedMu.Unlock()
		return a, nil
	})
}

func countedAt(u string) []*countedAdapter {
	countedMu.Lock()
	defer countedMu.Unlock()
	return counted[u]
}

func TestOpenRouter(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	// memory:// and sqlite://, through the registry.
	r, err := repo.OpenRouter(ctx, repo.RouteURLs{AP: "memory://", CP: "sqlite://" + t.TempDir() + "/app.db"})
	require.NoError(t, err)
	rt, ok := r.Driver().(*repo.Router)
	require.True(t, ok)
	require.IsType(t, &memory.Adapter{}, rt.Route(driver.AP))
	require.IsType(t, &sqlstore.Adapter{}, rt.Route(driver.CP))
	require.Same(t, rt.Route(driver.CP), rt.Route(driver.AnyConsistency))
	for _, c := range []*driver.Collection{collOf[rVisit](t), collOf[rAccount](t)} {
		require.NoError(t, rt.Migrate(ctx, driver.CreateCollection{Collection: c}))
	}
	require.NoError(t, r.Insert(ctx, &rVisit{ID: "x"}))
	require.NoError(t, r.Insert(ctx, &rAccount{Owner: "y"}))
	require.NoError(t, r.Close())

	// The same URL for two routes opens one store; distinct URLs, one each.
	a, b := countingScheme+"://same-a", countingScheme+"://same-b"
	r, err = repo.OpenRouter(ctx, repo.RouteURLs{AP: a, Default: a, CP: b})
	require.NoError(t, err)
	rt = r.Driver().(*repo.Router)
	require.Len(t, countedAt(a), 1)
	require.Len(t, countedAt(b), 1)
	require.Same(t, rt.Route(driver.AP), rt.Route(driver.AnyConsistency))
	require.NotSame(t, rt.Route(driver.AP), rt.Route(driver.CP))
	n := &rNote{Text: "shared"}
	require.NoError(t, r.Insert(ctx, n))
	_, err = countedAt(a)[0].Get(ctx, collOf[rNote](t), n.ID)
	require.NoError(t, err, "the default route is the AP route's store")
	require.NoError(t, r.Close())
	assert.Equal(t, int32(1), countedAt(a)[0].closes.Load(), "a store of two routes is closed once")
	assert.Equal(t, int32(1), countedAt(b)[0].closes.Load())

	// A URL that fails closes what was opened before it.
	c := countingScheme + "://before-fail"
	_, err = repo.OpenRouter(ctx, repo.RouteURLs{AP: c, CP: countingScheme + "://fail"})
	require.ErrorIs(t, err, repo.ErrInvalid)
	assert.Contains(t, err.Error(), "cp route")
	require.Len(t, countedAt(c), 1)
	assert.Equal(t, int32(1), countedAt(c)[0].closes.Load())

	_, err = repo.OpenRouter(ctx, repo.RouteURLs{CP: "nosuchscheme://x"})
	require.ErrorIs(t, err, repo.ErrInvalid)
	_, err = repo.OpenRouter(ctx, repo.RouteURLs{})
	require.ErrorIs(t, err, repo.ErrInvalid)

	// Close joins the stores' errors.
	e1, e2 := countingScheme+"://err-1?closeerr=1", countingScheme+"://err-2?closeerr=1"
	r, err = repo.OpenRouter(ctx, repo.RouteURLs{AP: e1, CP: e2})
	require.NoError(t, err)
	err = r.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "close failed: err-1")
	assert.Contains(t, err.Error(), "close failed: err-2")
}

// schemaless is a memory store whose migrations accept any operation on
// any collection without effect, as a schemaless store may, recording them.
type schemaless struct {
	*memory.Adapter
	mu  sync.Mutex
	ops []driver.MigrationOp
}

func (s *schemaless) Migrate(ctx context.Context, op driver.MigrationOp) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, op)
	return nil
}

func (s *schemaless) seen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ops)
}

// An operation on a collection the router has not seen goes to the first
// of the default, CP and AP stores that has it.
func TestRouterMigrateUnknownOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ap, cp := &schemaless{Adapter: memory.New()}, openSQLite(t)
	require.NoError(t, cp.Migrate(ctx, driver.CreateCollection{Collection: collOf[rAccount](t)}))
	rt, err := repo.NewRouter(repo.Routes{AP: ap, CP: cp})
	require.NoError(t, err)

	add := driver.AddField{Collection: "router_accounts", Field: driver.Field{Name: "note", Kind: driver.KindString, Nullable: true}}
	require.NoError(t, rt.Migrate(ctx, add))
	assert.Zero(t, ap.seen(), "the CP store, asked first, has it")
	_, err = cp.DB().ExecContext(ctx, "SELECT note FROM router_accounts")
	require.NoError(t, err, "the field was added on the CP store")

	// Once seen, a collection's operations go straight to its store.
	require.NoError(t, rt.Migrate(ctx, driver.DropField{Collection: "router_accounts", Name: "note"}))
	assert.Zero(t, ap.seen())

	// A name no earlier store has reaches the AP store, which accepts it.
	require.NoError(t, rt.Migrate(ctx, driver.AddField{Collection: "router_elsewhere", Field: add.Field}))
	assert.Equal(t, 1, ap.seen())
	p, err := rt.Plan(driver.DropField{Collection: "router_elsewhere", Name: "note"})
	require.NoError(t, err)
	assert.Equal(t, []string{"drop field router_elsewhere.note, on the ap store (*repo_test.schemaless)"}, p)
}
