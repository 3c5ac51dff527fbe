package repo

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"strings"
	"sync"

	"github.com/strata-go/strata/repo/driver"
)

// Routes are the stores of a Router, by consistency.
type Routes struct {
	// AP serves the schemas tagged consistency=ap (Riak, Redis).
	AP driver.Adapter
	// CP serves the schemas tagged consistency=cp (SQL stores).
	CP driver.Adapter
	// Default serves the schemas without a consistency tag. If nil, it
	// is CP when CP is set, else AP.
	Default driver.Adapter
}

// RouteURLs are the URLs of a Router's stores, by consistency, as Open
// takes them; see Routes. An empty URL is a route not configured.
type RouteURLs struct {
	AP, CP, Default string
}

// Router is an adapter over several stores that sends each collection to
// the store of its consistency: schemas tagged consistency=ap to the AP
// route, consistency=cp to the CP route, the others to the default route.
// A schema whose consistency has no route is refused with ErrUnsupported
// naming what to configure; it is never sent to a store of another
// consistency. Use it under a normal Repo (see OpenRouter, or [New] with
// NewRouter), so that the whole portable API routes. The zero Router has
// no routes and refuses every call but Close.
//
// Capabilities differ per route: CapabilitiesOf gives those of a
// collection's store, and the Repo checks every call against them, so
// that a query a route cannot answer is refused for that route's schemas
// only. Capabilities gives what holds for every collection (the
// intersection of the routes'), except transactions, below.
//
// Transactions: CapTransactions and CapSavepoints are those of the
// transaction store, which is the CP route (the default route when there
// is no CP route), so Repo.Transaction runs where that store has them. A
// transaction spans only that store's schemas that are not AP: the CP
// ones, and the untagged ones when the default route is the same store
// (CapabilitiesOf has CapTransactions for exactly those). Any other
// schema used in it is refused with ErrUnsupported: Strata never calls
// writes to two stores a transaction.
//
// Migrations: a CreateCollection goes to the route of the collection's
// consistency. An operation that names a collection (DropCollection,
// AddField, CreateIndex, …) goes to the store the router has seen that
// collection on (created, or used by any call); for a name it has not
// seen, it tries the default, CP and AP stores in that order and returns
// the first result that is not ErrNotFound (a store that accepts
// operations on collections it does not know, as a schemaless one may,
// ends the search). Exec goes to the default store: a statement for
// another store needs a repo over that store (see Route). The migration
// lock (Lock) is the default store's, where package migrate keeps its
// history (an untagged schema). Package migrate runs a migration and its
// history record in one transaction only where every route is one store
// whose transactions migrate: over several stores a migration may change
// collections of more than one, which no transaction spans, so the
// Router's transactions do not migrate and each migration is applied
// operation by operation, as on stores whose schema changes are not
// transactional. Dry runs (Plan) give the statements of a store that
// plans them (a driver.Planner), and a description naming the store
// elsewhere.
//
// A Router is safe for concurrent use.
type Router struct {
	ap, cp, def *route
	stores      []*route // the distinct stores, each once
	caps        driver.Capabilities
	seen        sync.Map // collection name → *route it was seen on
}

// route is one store of a Router, and the routes it serves.
type route struct {
	a     driver.Adapter
	roles []string // "ap", "cp", "default"
}

func (rt *route) String() string {
	return fmt.Sprintf("the %s store (%T)", strings.Join(rt.roles, "/"), rt.a)
}

var (
	_ driver.Adapter                = (*Router)(nil)
	_ driver.Transactor             = (*Router)(nil)
	_ driver.Aggregator             = (*Router)(nil)
	_ driver.BatchInserter          = (*Router)(nil)
	_ driver.Migrator               = (*Router)(nil)
	_ driver.Locker                 = (*Router)(nil)
	_ driver.Planner                = (*Router)(nil)
	_ driver.CollectionCapabilities = (*Router)(nil)
)

// txCaps are the capabilities a Router takes from its transaction store
// alone.
const txCaps = driver.CapTransactions | driver.CapSavepoints

// NewRouter returns a Router over the routes' adapters; at least one must
// be set. The same adapter may serve several routes. Closing the Router
// closes each adapter once.
func NewRouter(routes Routes) (*Router, error) {
	r := &Router{}
	add := func(role string, a driver.Adapter) (*route, error) {
		if a == nil {
			return nil, nil
		}
		if v := reflect.ValueOf(a); v.Kind() == reflect.Pointer && v.IsNil() {
			return nil, fmt.Errorf("strata: router: %w: the %s route is a nil %T", ErrInvalid, role, a)
		}
		for _, rt := range r.stores {
			if sameAdapter(rt.a, a) {
				rt.roles = append(rt.roles, role)
				return rt, nil
			}
		}
		rt := &route{a: a, roles: []string{role}}
		r.stores = append(r.stores, rt)
		return rt, nil
	}
	var err error
	if r.ap, err = add("ap", routes.AP); err != nil {
		return nil, err
	}
	if r.cp, err = add("cp", routes.CP); err != nil {
		return nil, err
	}
	if r.def, err = add("default", routes.Default); err != nil {
		return nil, err
	}
	if r.def == nil {
		r.def = r.cp
		if r.def == nil {
			r.def = r.ap
		}
		if r.def == nil {
			return nil, fmt.Errorf("strata: router: %w: no route is set: set Routes.AP, Routes.CP or Routes.Default", ErrInvalid)
		}
		r.def.roles = append(r.def.roles, "default")
	}
	r.caps = driver.AllCapabilities
	for _, rt := range r.stores {
		r.caps &= rt.a.Capabilities()
	}
	r.caps &^= txCaps
	if t := r.txRoute(); t != nil {
		if _, ok := t.a.(driver.Transactor); ok {
			r.caps |= t.a.Capabilities() & txCaps
		}
	}
	return r, nil
}

// sameAdapter reports whether a and b are the same adapter, without
// panicking on adapters of a type that cannot be compared.
func sameAdapter(a, b driver.Adapter) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	return va.Type() == vb.Type() && va.Comparable() && va.Equal(vb)
}

// OpenRouter opens a Repo over a Router whose routes are the stores the
// URLs name, each opened through the adapter registered for its scheme
// (see Open). A URL given for two routes is opened once, and the two share
// the store. If a URL fails to open, the stores already opened are closed.
func OpenRouter(ctx context.Context, urls RouteURLs, opts ...Option) (*Repo, error) {
	if ctx == nil {
		return nil, fmt.Errorf("strata: router: %w: nil context", ErrInvalid)
	}
	opened := map[string]driver.Adapter{}
	var order []driver.Adapter
	closeAll := func() {
		for _, a := range order {
			a.Close()
		}
	}
	open := func(role, raw string) (driver.Adapter, error) {
		if raw == "" {
			return nil, nil
		}
		if a, ok := opened[raw]; ok {
			return a, nil
		}
		r, err := Open(ctx, raw)
		if err != nil {
			return nil, fmt.Errorf("strata: router: open the %s route: %w", role, err)
		}
		opened[raw] = r.a
		order = append(order, r.a)
		return r.a, nil
	}
	var routes Routes
	var err error
	if routes.AP, err = open("ap", urls.AP); err == nil {
		if routes.CP, err = open("cp", urls.CP); err == nil {
			routes.Default, err = open("default", urls.Default)
		}
	}
	if err != nil {
		closeAll()
		return nil, err
	}
	rt, err := NewRouter(routes)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("%w (OpenRouter needs RouteURLs.AP, CP or Default)", err)
	}
	r, err := New(rt, opts...)
	if err != nil {
		rt.Close()
		return nil, err
	}
	return r, nil
}

// Route returns the adapter that serves schemas of consistency c
// (AnyConsistency: the default route), or nil if none does: for reaching
// a store's own features, or for a repo over that store alone
// (repo.New(router.Route(driver.CP))), which must then not be closed
// before the Router, which owns the adapter.
func (r *Router) Route(c driver.Consistency) driver.Adapter {
	var rt *route
	switch c {
	case driver.AP:
		rt = r.ap
	case driver.CP:
		rt = r.cp
	case driver.AnyConsistency:
		rt = r.def
	}
	if rt == nil {
		return nil
	}
	return rt.a
}

// route returns the store of c, and remembers it as the store of c's
// name for the migrations that name it.
func (r *Router) route(c *driver.Collection) (*route, error) {
	if c == nil {
		return nil, fmt.Errorf("strata: router: %w: nil collection", ErrInvalid)
	}
	var rt *route
	var field string
	switch c.Consistency {
	case driver.AP:
		rt, field = r.ap, "AP"
	case driver.CP:
		rt, field = r.cp, "CP"
	case driver.AnyConsistency:
		rt, field = r.def, "Default"
	default:
		return nil, fmt.Errorf("strata: router: %w: %s has unknown consistency %d", ErrInvalid, c.Name, c.Consistency)
	}
	if rt == nil {
		return nil, fmt.Errorf("strata: router: %w: schema %s is %s and the router has no %s route: set Routes.%s (RouteURLs.%s)",
			ErrUnsupported, c.Name, c.Consistency, c.Consistency, field, field)
	}
	r.remember(c.Name, rt)
	return rt, nil
}

func (r *Router) remember(name string, rt *route) {
	if v, ok := r.seen.Load(name); !ok || v.(*route) != rt {
		r.seen.Store(name, rt)
	}
}

// known returns the store the router has seen the named collection on, or
// nil.
func (r *Router) known(name string) *route {
	if v, ok := r.seen.Load(name); ok {
		return v.(*route)
	}
	return nil
}

// txRoute is the store transactions run on.
func (r *Router) txRoute() *route {
	if r.cp != nil {
		return r.cp
	}
	return r.def
}

// inTx reports whether a transaction of the router may use c, stored on
// rt.
func (r *Router) inTx(c *driver.Collection, rt *route) bool {
	return c.Consistency != driver.AP && rt == r.txRoute()
}

// Capabilities returns what holds for every collection: the
// intersection of the routes' capabilities, with CapTransactions and
// CapSavepoints those of the transaction store (see Router).
func (r *Router) Capabilities() driver.Capabilities { return r.caps }

// CapabilitiesOf returns the capabilities of c's store, without
// CapTransactions and CapSavepoints where a transaction cannot use c. A
// collection without a route gets every capability, so that the call
// reaches the router, which refuses it naming the route to configure.
func (r *Router) CapabilitiesOf(c *driver.Collection) driver.Capabilities {
	if c == nil {
		return r.caps
	}
	rt, err := r.route(c)
	if err != nil {
		return driver.AllCapabilities
	}
	var caps driver.Capabilities
	if cc, ok := rt.a.(driver.CollectionCapabilities); ok {
		caps = cc.CapabilitiesOf(c)
	} else {
		caps = rt.a.Capabilities()
	}
	if !r.inTx(c, rt) {
		caps &^= txCaps
	}
	return caps
}

// Close closes each store once and returns their errors joined.
func (r *Router) Close() error {
	var errs []error
	for _, rt := range r.stores {
		if err := rt.a.Close(); err != nil {
			errs = append(errs, fmt.Errorf("strata: router: close %s: %w", rt, err))
		}
	}
	return errors.Join(errs...)
}

// Insert implements driver.Store.
func (r *Router) Insert(ctx context.Context, c *driver.Collection, rec driver.Record, opts driver.InsertOptions) (driver.Record, error) {
	rt, err := r.route(c)
	if err != nil {
		return driver.Record{}, err
	}
	return rt.a.Insert(ctx, c, rec, opts)
}

// Get implements driver.Store.
func (r *Router) Get(ctx context.Context, c *driver.Collection, key any) (driver.Record, error) {
	rt, err := r.route(c)
	if err != nil {
		return driver.Record{}, err
	}
	return rt.a.Get(ctx, c, key)
}

// Update implements driver.Store.
func (r *Router) Update(ctx context.Context, c *driver.Collection, u driver.Update) (driver.Record, error) {
	rt, err := r.route(c)
	if err != nil {
		return driver.Record{}, err
	}
	return rt.a.Update(ctx, c, u)
}

// Delete implements driver.Store.
func (r *Router) Delete(ctx context.Context, c *driver.Collection, d driver.Delete) error {
	rt, err := r.route(c)
	if err != nil {
		return err
	}
	return rt.a.Delete(ctx, c, d)
}

// Query implements driver.Store.
func (r *Router) Query(ctx context.Context, c *driver.Collection, q *driver.Query) iter.Seq2[driver.Record, error] {
	rt, err := r.route(c)
	if err != nil {
		return failed(err)
	}
	return rt.a.Query(ctx, c, q)
}

// Count implements driver.Store.
func (r *Router) Count(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	rt, err := r.route(c)
	if err != nil {
		return 0, err
	}
	return rt.a.Count(ctx, c, q)
}

// DeleteAll implements driver.Store.
func (r *Router) DeleteAll(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	rt, err := r.route(c)
	if err != nil {
		return 0, err
	}
	return rt.a.DeleteAll(ctx, c, q)
}

// Aggregate implements driver.Aggregator, on stores that aggregate.
func (r *Router) Aggregate(ctx context.Context, c *driver.Collection, q *driver.Query, fn driver.AggFunc, field int) (any, error) {
	rt, err := r.route(c)
	if err != nil {
		return nil, err
	}
	return aggregate(ctx, rt.a, rt, c, q, fn, field)
}

// InsertAll implements driver.BatchInserter, on stores that batch.
func (r *Router) InsertAll(ctx context.Context, c *driver.Collection, recs []driver.Record) ([]driver.Record, error) {
	rt, err := r.route(c)
	if err != nil {
		return nil, err
	}
	return insertAll(ctx, rt.a, rt, c, recs)
}

func failed(err error) iter.Seq2[driver.Record, error] {
	return func(yield func(driver.Record, error) bool) { yield(driver.Record{}, err) }
}

// aggregate and insertAll call st, the store of rt or its transaction.
func aggregate(ctx context.Context, st driver.Store, rt *route, c *driver.Collection, q *driver.Query, fn driver.AggFunc, field int) (any, error) {
	ag, ok := st.(driver.Aggregator)
	if !ok {
		return nil, fmt.Errorf("strata: router: %w: %s, which stores %s, has no aggregates", ErrUnsupported, rt, c.Name)
	}
	return ag.Aggregate(ctx, c, q, fn, field)
}

func insertAll(ctx context.Context, st driver.Store, rt *route, c *driver.Collection, recs []driver.Record) ([]driver.Record, error) {
	bi, ok := st.(driver.BatchInserter)
	if !ok {
		return nil, fmt.Errorf("strata: router: %w: %s, which stores %s, has no batch inserts", ErrUnsupported, rt, c.Name)
	}
	return bi.InsertAll(ctx, c, recs)
}

// BeginTx begins a transaction on the transaction store (see Router).
func (r *Router) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	rt := r.txRoute()
	if rt == nil {
		return nil, fmt.Errorf("strata: router: begin: %w: the router has no routes", ErrUnsupported)
	}
	tr, ok := rt.a.(driver.Transactor)
	if !ok || !rt.a.Capabilities().Has(driver.CapTransactions) {
		return nil, fmt.Errorf("strata: router: begin: %w: transactions run on the CP store, and %s has none", ErrUnsupported, rt)
	}
	tx, err := tr.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	t := &routerTx{r: r, rt: rt, tx: tx}
	if _, ok := tx.(driver.Migrator); ok && len(r.stores) == 1 {
		return routerDDLTx{t}, nil
	}
	return t, nil
}

// routerTx is a transaction of a Router: its store's transaction, which
// refuses the collections of other stores.
type routerTx struct {
	r  *Router
	rt *route
	tx driver.Tx
}

var (
	_ driver.Tx            = (*routerTx)(nil)
	_ driver.Savepointer   = (*routerTx)(nil)
	_ driver.Aggregator    = (*routerTx)(nil)
	_ driver.BatchInserter = (*routerTx)(nil)
	_ driver.Migrator      = routerDDLTx{}
)

// check refuses a collection the transaction cannot use.
func (t *routerTx) check(c *driver.Collection) error {
	rt, err := t.r.route(c)
	if err != nil {
		return err
	}
	if t.r.inTx(c, rt) {
		return nil
	}
	why := "it is an AP schema"
	if c.Consistency != driver.AP {
		why = fmt.Sprintf("it is stored on %s", rt)
	}
	return fmt.Errorf("strata: router: %w: schema %s (consistency %s) cannot be used in this transaction: %s, and a transaction spans only "+
		"the CP schemas (and the untagged ones stored with them) of %s; write %s outside the transaction",
		ErrUnsupported, c.Name, c.Consistency, why, t.rt, c.Name)
}

func (t *routerTx) Insert(ctx context.Context, c *driver.Collection, rec driver.Record, opts driver.InsertOptions) (driver.Record, error) {
	if err := t.check(c); err != nil {
		return driver.Record{}, err
	}
	return t.tx.Insert(ctx, c, rec, opts)
}

func (t *routerTx) Get(ctx context.Context, c *driver.Collection, key any) (driver.Record, error) {
	if err := t.check(c); err != nil {
		return driver.Record{}, err
	}
	return t.tx.Get(ctx, c, key)
}

func (t *routerTx) Update(ctx context.Context, c *driver.Collection, u driver.Update) (driver.Record, error) {
	if err := t.check(c); err != nil {
		return driver.Record{}, err
	}
	return t.tx.Update(ctx, c, u)
}

func (t *routerTx) Delete(ctx context.Context, c *driver.Collection, d driver.Delete) error {
	if err := t.check(c); err != nil {
		return err
	}
	return t.tx.Delete(ctx, c, d)
}

func (t *routerTx) Query(ctx context.Context, c *driver.Collection, q *driver.Query) iter.Seq2[driver.Record, error] {
	if err := t.check(c); err != nil {
		return failed(err)
	}
	return t.tx.Query(ctx, c, q)
}

func (t *routerTx) Count(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	if err := t.check(c); err != nil {
		return 0, err
	}
	return t.tx.Count(ctx, c, q)
}

func (t *routerTx) DeleteAll(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	if err := t.check(c); err != nil {
		return 0, err
	}
	return t.tx.DeleteAll(ctx, c, q)
}

func (t *routerTx) Aggregate(ctx context.Context, c *driver.Collection, q *driver.Query, fn driver.AggFunc, field int) (any, error) {
	if err := t.check(c); err != nil {
		return nil, err
	}
	return aggregate(ctx, t.tx, t.rt, c, q, fn, field)
}

func (t *routerTx) InsertAll(ctx context.Context, c *driver.Collection, recs []driver.Record) ([]driver.Record, error) {
	if err := t.check(c); err != nil {
		return nil, err
	}
	return insertAll(ctx, t.tx, t.rt, c, recs)
}

func (t *routerTx) Commit() error   { return t.tx.Commit() }
func (t *routerTx) Rollback() error { return t.tx.Rollback() }

// savepointer returns the store transaction's savepoints.
func (t *routerTx) savepointer() (driver.Savepointer, error) {
	sp, ok := t.tx.(driver.Savepointer)
	if !ok {
		return nil, fmt.Errorf("strata: router: %w: the transactions of %s have no savepoints", ErrUnsupported, t.rt)
	}
	return sp, nil
}

func (t *routerTx) Savepoint(ctx context.Context, name string) error {
	sp, err := t.savepointer()
	if err != nil {
		return err
	}
	return sp.Savepoint(ctx, name)
}

func (t *routerTx) RollbackTo(ctx context.Context, name string) error {
	sp, err := t.savepointer()
	if err != nil {
		return err
	}
	return sp.RollbackTo(ctx, name)
}

func (t *routerTx) Release(ctx context.Context, name string) error {
	sp, err := t.savepointer()
	if err != nil {
		return err
	}
	return sp.Release(ctx, name)
}

// routerDDLTx is the transaction of a Router whose every route is one
// store whose transactions migrate (its Tx is a driver.Migrator): package
// migrate then applies a migration and its history in one transaction.
// With several stores no transaction spans a migration, so the Router's
// transactions do not migrate.
type routerDDLTx struct{ *routerTx }

func (t routerDDLTx) Migrate(ctx context.Context, op driver.MigrationOp) error {
	if c, ok := op.(driver.CreateCollection); ok {
		if _, err := t.r.route(c.Collection); err != nil {
			return err
		}
	}
	return t.tx.(driver.Migrator).Migrate(ctx, op)
}

// Migrate implements driver.Migrator, sending each operation to its
// collection's store (see Router).
func (r *Router) Migrate(ctx context.Context, op driver.MigrationOp) error {
	switch o := op.(type) {
	case driver.CreateCollection:
		rt, err := r.route(o.Collection)
		if err != nil {
			return err
		}
		return r.migrateOn(ctx, rt, op)
	case driver.Exec:
		return r.migrateOn(ctx, r.def, op)
	}
	name, ok := opCollection(op)
	if !ok {
		return fmt.Errorf("strata: router: %w: unknown migration operation %T", ErrInvalid, op)
	}
	if rt := r.known(name); rt != nil {
		err := r.migrateOn(ctx, rt, op)
		if err == nil {
			r.migrated(op, rt)
		}
		return err
	}
	// Not seen: the first store that has it. A DropCollection IfExists
	// asks each without IfExists (which any store would answer with
	// success) and is a success when none has it.
	probe, ifExists := op, false
	if d, ok := op.(driver.DropCollection); ok && d.IfExists {
		d.IfExists, ifExists = false, true
		probe = d
	}
	var first error
	for _, rt := range r.probeOrder() {
		if _, ok := rt.a.(driver.Migrator); !ok {
			continue
		}
		err := r.migrateOn(ctx, rt, probe)
		if !errors.Is(err, ErrNotFound) {
			if err == nil {
				r.remember(name, rt)
				r.migrated(op, rt)
			}
			return err
		}
		if first == nil {
			first = err
		}
	}
	if ifExists {
		return nil
	}
	if first == nil {
		return fmt.Errorf("strata: router: %w: no store can migrate %s", ErrUnsupported, name)
	}
	return fmt.Errorf("strata: router: no store has collection %s: %w", name, first)
}

// migrateOn applies op on rt's store.
func (r *Router) migrateOn(ctx context.Context, rt *route, op driver.MigrationOp) error {
	if rt == nil {
		return fmt.Errorf("strata: router: %w: the router has no routes", ErrUnsupported)
	}
	m, ok := rt.a.(driver.Migrator)
	if !ok {
		return fmt.Errorf("strata: router: %w: %s cannot migrate (its adapter is not a driver.Migrator)", ErrUnsupported, rt)
	}
	return m.Migrate(ctx, op)
}

// migrated updates what the router knows of collection names after op
// succeeded on rt.
func (r *Router) migrated(op driver.MigrationOp, rt *route) {
	switch o := op.(type) {
	case driver.DropCollection:
		r.seen.Delete(o.Name)
	case driver.RenameCollection:
		r.seen.Delete(o.From)
		r.remember(o.To, rt)
	}
}

// probeOrder is the order in which stores are asked for a collection the
// router has not seen: default, CP, AP, each once.
func (r *Router) probeOrder() []*route {
	out := make([]*route, 0, 3)
	for _, rt := range []*route{r.def, r.cp, r.ap} {
		if rt != nil && !containsRoute(out, rt) {
			out = append(out, rt)
		}
	}
	return out
}

func containsRoute(rts []*route, rt *route) bool {
	for _, x := range rts {
		if x == rt {
			return true
		}
	}
	return false
}

// opCollection returns the collection an operation names.
func opCollection(op driver.MigrationOp) (string, bool) {
	switch o := op.(type) {
	case driver.DropCollection:
		return o.Name, true
	case driver.RenameCollection:
		return o.From, true
	case driver.AddField:
		return o.Collection, true
	case driver.DropField:
		return o.Collection, true
	case driver.RenameField:
		return o.Collection, true
	case driver.AlterField:
		return o.Collection, true
	case driver.CreateIndex:
		return o.Collection, true
	case driver.DropIndex:
		return o.Collection, true
	}
	return "", false
}

// Lock implements driver.Locker with the default store's lock.
func (r *Router) Lock(ctx context.Context, name string) (func() error, error) {
	if r.def == nil {
		return nil, fmt.Errorf("strata: router: lock: %w: the router has no routes", ErrUnsupported)
	}
	l, ok := driver.Find[driver.Locker](r.def.a) // under a wrapper too, as package migrate looks
	if !ok {
		return nil, fmt.Errorf("strata: router: lock: %w: %s cannot lock (its adapter is not a driver.Locker); "+
			"if only one process ever migrates these stores, pass migrate.WithoutLock()", ErrUnsupported, r.def)
	}
	return l.Lock(ctx, name)
}

// Plan implements driver.Planner: the statements of the operation's store
// where its adapter plans them (a driver.Planner), else a description
// naming the store. An operation on a collection the router has not seen
// is described: which store has it is found only when it runs.
func (r *Router) Plan(op driver.MigrationOp) ([]string, error) {
	var rt *route
	switch o := op.(type) {
	case driver.CreateCollection:
		var err error
		if rt, err = r.route(o.Collection); err != nil {
			return nil, err
		}
	case driver.Exec:
		rt = r.def
	default:
		name, ok := opCollection(op)
		if !ok {
			return nil, fmt.Errorf("strata: router: %w: unknown migration operation %T", ErrInvalid, op)
		}
		if rt = r.known(name); rt == nil && len(r.stores) > 1 {
			return []string{fmt.Sprintf("%s, on the store that has %s (tried in the order %s)", describeOp(op), name, r.probeNames())}, nil
		}
		if rt == nil {
			rt = r.def
		}
	}
	if rt == nil {
		return nil, fmt.Errorf("strata: router: %w: the router has no routes", ErrUnsupported)
	}
	if p, ok := driver.Find[driver.Planner](rt.a); ok { // under a wrapper too, as package migrate looks
		return p.Plan(op)
	}
	return []string{fmt.Sprintf("%s, on %s", describeOp(op), rt)}, nil
}

func (r *Router) probeNames() string {
	var names []string
	for _, rt := range r.probeOrder() {
		names = append(names, strings.Join(rt.roles, "/"))
	}
	return strings.Join(names, ", ")
}

// describeOp describes an operation briefly, for plans.
func describeOp(op driver.MigrationOp) string {
	switch o := op.(type) {
	case driver.CreateCollection:
		if o.Collection == nil {
			return "create collection <nil>"
		}
		return "create collection " + o.Collection.Name
	case driver.DropCollection:
		if o.IfExists {
			return "drop collection " + o.Name + " if exists"
		}
		return "drop collection " + o.Name
	case driver.RenameCollection:
		return fmt.Sprintf("rename collection %s to %s", o.From, o.To)
	case driver.AddField:
		return fmt.Sprintf("add field %s.%s (%s)", o.Collection, o.Field.Name, o.Field.Kind)
	case driver.DropField:
		return fmt.Sprintf("drop field %s.%s", o.Collection, o.Name)
	case driver.RenameField:
		return fmt.Sprintf("rename field %s.%s to %s", o.Collection, o.From, o.To)
	case driver.AlterField:
		return fmt.Sprintf("alter field %s.%s (%s)", o.Collection, o.Field.Name, o.Field.Kind)
	case driver.CreateIndex:
		return fmt.Sprintf("create index %s on %s (%s)", o.Index.Name, o.Collection, strings.Join(o.Index.Fields, ", "))
	case driver.DropIndex:
		return fmt.Sprintf("drop index %s on %s", o.Name, o.Collection)
	case driver.Exec:
		return "exec " + o.Statement
	}
	return fmt.Sprintf("%T", op)
}
