package migrate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// Migrator applies a set of migrations to the store of a repo and keeps
// the store's history. It is safe for concurrent use, and so are Migrators
// in other processes: every run holds the store's lock (see the package
// documentation).
type Migrator struct {
	r      *repo.Repo
	mig    driver.Migrator
	hist   *schema.Schema
	list   []Migration
	lock   bool
	dryRun bool
	now    func() time.Time
}

// Option configures a Migrator.
type Option func(*Migrator)

// WithoutLock lets a Migrator run on a store whose adapter cannot lock
// (is not a driver.Locker), which it otherwise refuses with
// ErrUnsupported. Use it only where a single process ever migrates the
// store (an embedded database, a test): two processes migrating at once
// may apply a migration twice.
func WithoutLock() Option { return func(m *Migrator) { m.lock = false } }

// DryRun makes Up, Down and To return what they would run, with the
// store's statements in Step.Plan, and change nothing: they neither take
// the lock nor create the history collection. They still refuse what the
// real run would refuse before running anything.
func DryRun() Option { return func(m *Migrator) { m.dryRun = true } }

// New returns a Migrator of the migrations ms over r's store, which
// r.Driver() must migrate (implement driver.Migrator; else ErrUnsupported).
// r must not be a transaction's Repo: the Migrator runs its own. New
// takes the migrations ms holds now; a set that refused a migration
// (ms.Err() != nil) is refused.
func New(r *repo.Repo, ms *Migrations, opts ...Option) (*Migrator, error) {
	if r == nil {
		return nil, fmt.Errorf("migrate: %w: nil repo", driver.ErrInvalid)
	}
	if r.InTransaction() {
		return nil, fmt.Errorf("migrate: %w: a transaction's repo; pass the repo itself (a Migrator runs its own transactions)", driver.ErrInvalid)
	}
	if err := ms.Err(); err != nil {
		return nil, fmt.Errorf("migrate: the migrations are invalid: %w", err)
	}
	mig, ok := r.Driver().(driver.Migrator)
	if !ok {
		return nil, fmt.Errorf("migrate: %w: the store's adapter (%T) cannot migrate: it does not implement driver.Migrator", driver.ErrUnsupported, r.Driver())
	}
	hist, err := historySchema()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	m := &Migrator{r: r, mig: mig, hist: hist, list: ms.List(), lock: true, now: time.Now}
	for _, o := range opts {
		if o != nil {
			o(m)
		}
	}
	return m, nil
}

// Direction says whether a step applies or rolls back a migration.
type Direction uint8

// The directions.
const (
	Up Direction = iota + 1
	Down
)

func (d Direction) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// Step is one migration applied or rolled back by a run (or, in a dry run,
// that would be).
type Step struct {
	Direction Direction
	Version   int64
	Name      string
	// Plan is what the migration's operations run: in a dry run, the
	// statements the adapter's driver.Planner gives for each, or a
	// description of each (see Describe) where the adapter has no Planner;
	// in a real run, a description of each.
	Plan []string
}

func (s Step) String() string { return fmt.Sprintf("%s %d %s", s.Direction, s.Version, s.Name) }

// Up applies every pending migration, in version order (including one
// older than the newest applied, as when branches merge), and returns the
// steps it took. On error it stops, returning the steps completed before
// and an error that names the migration that failed.
func (m *Migrator) Up(ctx context.Context) ([]Step, error) {
	return m.run(ctx, "up", func(h history) ([]todo, error) {
		var out []todo
		for _, mig := range m.list {
			if _, ok := h[mig.Version]; !ok {
				out = append(out, todo{Up, mig})
			}
		}
		return out, nil
	})
}

// Down rolls back the n applied migrations of highest version (fewer if
// fewer are applied), highest first. It refuses, before running anything,
// if one of them is irreversible (ErrUnsupported) or is not in the set
// (ErrNotFound: applied by another version of the program).
func (m *Migrator) Down(ctx context.Context, n int) ([]Step, error) {
	if n < 1 {
		return nil, fmt.Errorf("migrate: down: %w: the number of migrations to roll back is %d, not positive", driver.ErrInvalid, n)
	}
	return m.run(ctx, "down", func(h history) ([]todo, error) {
		applied := h.versions()
		return m.rollbacks(h, applied[max(0, len(applied)-n):])
	})
}

// To migrates up or down so that exactly the migrations of the set with
// a version up to version are applied: it rolls back the applied ones
// above it (highest first), then applies the pending ones up to it. A
// version of 0 rolls back everything; another version must be in the set
// (else ErrNotFound). It refuses what Down refuses.
func (m *Migrator) To(ctx context.Context, version int64) ([]Step, error) {
	if version != 0 && !slices.ContainsFunc(m.list, func(mig Migration) bool { return mig.Version == version }) {
		return nil, fmt.Errorf("migrate: to %d: %w: no migration has version %d", version, driver.ErrNotFound, version)
	}
	return m.run(ctx, fmt.Sprintf("to %d", version), func(h history) ([]todo, error) {
		applied := h.versions()
		above := slices.IndexFunc(applied, func(v int64) bool { return v > version })
		if above < 0 {
			above = len(applied)
		}
		out, err := m.rollbacks(h, applied[above:])
		if err != nil {
			return nil, err
		}
		for _, mig := range m.list {
			if _, ok := h[mig.Version]; !ok && mig.Version <= version {
				out = append(out, todo{Up, mig})
			}
		}
		return out, nil
	})
}

// rollbacks returns the steps that roll back the applied versions
// (ascending), highest first.
func (m *Migrator) rollbacks(h history, versions []int64) ([]todo, error) {
	out := make([]todo, 0, len(versions))
	for _, v := range slices.Backward(versions) {
		i := slices.IndexFunc(m.list, func(mig Migration) bool { return mig.Version == v })
		if i < 0 {
			return nil, fmt.Errorf("%w: migration %d %s is applied but is not among this program's migrations, so it cannot be rolled back",
				driver.ErrNotFound, v, h[v].Name)
		}
		if len(m.list[i].Down) == 0 {
			return nil, fmt.Errorf("%w: migration %s has no Down: it cannot be rolled back", driver.ErrUnsupported, m.list[i])
		}
		out = append(out, todo{Down, m.list[i]})
	}
	return out, nil
}

// todo is a step to take.
type todo struct {
	dir Direction
	mig Migration
}

func (t todo) ops() []Op {
	if t.dir == Up {
		return t.mig.Up
	}
	return t.mig.Down
}

// run takes the lock, reads the history, plans the steps and takes them.
func (m *Migrator) run(ctx context.Context, name string, plan func(history) ([]todo, error)) (steps []Step, err error) {
	prefix := "migrate: " + name
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: %w", prefix, err)
		}
	}()
	// The error of a step names its direction; "migrate: up: up 1 x" would
	// say it twice.
	stepPrefix := func(d Direction) {
		if name == d.String() {
			prefix = "migrate"
		}
	}
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", driver.ErrInvalid)
	}
	locker, canLock := driver.Find[driver.Locker](m.r.Driver())
	if m.lock && !canLock {
		return nil, fmt.Errorf("%w: the store cannot lock (its adapter, %T, is not a driver.Locker), so two processes could migrate it at once; "+
			"if only one process ever migrates this store, pass migrate.WithoutLock()", driver.ErrUnsupported, m.r.Driver())
	}
	if m.dryRun {
		h, err := m.readHistory(ctx, true)
		if err != nil {
			return nil, err
		}
		todos, err := plan(h)
		if err != nil {
			return nil, err
		}
		steps, err := m.plan(todos)
		if err != nil && len(todos) > 0 {
			stepPrefix(todos[0].dir)
		}
		return steps, err
	}
	if canLock && m.lock {
		unlock, err := locker.Lock(ctx, HistoryTable)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", HistoryTable, err)
		}
		defer func() {
			if uerr := unlock(); uerr != nil {
				err = errors.Join(err, fmt.Errorf("unlock %s: %w", HistoryTable, uerr))
			}
		}()
	}
	if err := m.createHistory(ctx); err != nil {
		return nil, err
	}
	// Read the history only now that the lock is held: another process
	// may have migrated while this one waited.
	h, err := m.readHistory(ctx, false)
	if err != nil {
		return nil, err
	}
	todos, err := plan(h)
	if err != nil {
		return nil, err
	}
	txs := m.txDDL()
	for _, t := range todos {
		if err := ctx.Err(); err != nil {
			return steps, fmt.Errorf("stopped before %s %s: %w", t.dir, t.mig, err)
		}
		var tx driver.Tx
		if txs != nil {
			if tx, err = txs(ctx); err != nil {
				stepPrefix(t.dir)
				return steps, fmt.Errorf("%s %s: begin: %w", t.dir, t.mig, err)
			}
			if tx == nil { // the store's transactions do not migrate
				txs = nil
			}
		}
		if err := m.apply(ctx, tx, t); err != nil {
			stepPrefix(t.dir)
			return steps, fmt.Errorf("%s %s: %w", t.dir, t.mig, err)
		}
		steps = append(steps, Step{Direction: t.dir, Version: t.mig.Version, Name: t.mig.Name, Plan: describe(t.ops())})
	}
	return steps, nil
}

// txDDL returns a function that begins a transaction in which migrations
// run, or nil if the store has no transactions. The function returns a
// nil Tx if the store's transactions cannot migrate (its Tx is not a
// driver.Migrator).
func (m *Migrator) txDDL() func(context.Context) (driver.Tx, error) {
	t, ok := m.r.Driver().(driver.Transactor)
	if !ok || !m.r.Capabilities().Has(driver.CapTransactions) {
		return nil
	}
	return func(ctx context.Context) (driver.Tx, error) {
		tx, err := t.BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			return nil, err
		}
		if _, ok := tx.(driver.Migrator); !ok {
			return nil, tx.Rollback()
		}
		return tx, nil
	}
}

// apply takes one step: its operations and its history record, in tx if
// it is not nil (then all or nothing), else one after the other.
func (m *Migrator) apply(ctx context.Context, tx driver.Tx, t todo) (err error) {
	mig := m.mig
	if tx != nil {
		mig = tx.(driver.Migrator)
		defer func() {
			if err == nil {
				if err = tx.Commit(); err != nil {
					err = fmt.Errorf("commit: %w", err)
				}
				return
			}
			if rerr := tx.Rollback(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
			}
		}()
	}
	ops := t.ops()
	for i, o := range ops {
		if o.nothing {
			continue
		}
		if err := mig.Migrate(ctx, o.op); err != nil {
			err = fmt.Errorf("op %d of %d (%s): %w", i+1, len(ops), summary(o.op), err)
			if tx == nil && i > 0 {
				err = fmt.Errorf("%w; ops 1-%d of it were applied and stay (this store's migrations are not transactional): undo them by hand before migrating again", err, i)
			}
			return err
		}
	}
	if err := m.writeHistory(ctx, tx, t.dir, t.mig); err != nil {
		if tx == nil {
			err = fmt.Errorf("%w; its operations were applied (this store's migrations are not transactional): fix the history by hand before migrating again", err)
		}
		return err
	}
	return nil
}

// plan returns the steps of a dry run.
func (m *Migrator) plan(todos []todo) ([]Step, error) {
	planner, _ := driver.Find[driver.Planner](m.mig)
	steps := make([]Step, 0, len(todos))
	for _, t := range todos {
		s := Step{Direction: t.dir, Version: t.mig.Version, Name: t.mig.Name}
		ops := t.ops()
		for i, o := range ops {
			switch {
			case o.nothing:
			case planner != nil:
				stmts, err := planner.Plan(o.op)
				if err != nil {
					return steps, fmt.Errorf("%s %s: plan op %d of %d (%s): %w", t.dir, t.mig, i+1, len(ops), summary(o.op), err)
				}
				s.Plan = append(s.Plan, stmts...)
			default:
				s.Plan = append(s.Plan, Describe(o.op))
			}
		}
		steps = append(steps, s)
	}
	return steps, nil
}

func describe(ops []Op) []string {
	out := make([]string, 0, len(ops))
	for _, o := range ops {
		if !o.nothing {
			out = append(out, Describe(o.op))
		}
	}
	return out
}

// summary describes an operation briefly, for error messages.
func summary(op driver.MigrationOp) string {
	if c, ok := op.(driver.CreateCollection); ok && c.Collection != nil {
		return "create collection " + c.Collection.Name
	}
	return Describe(op)
}

// State is whether a migration is applied.
type State uint8

// The states.
const (
	// Pending: in the set, not applied.
	Pending State = iota + 1
	// Applied: in the set and applied.
	Applied
	// Unknown: applied (the history has it) but not in the set, as when a
	// newer version of the program migrated the store.
	Unknown
)

func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Applied:
		return "applied"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Status is the state of one migration in the store.
type Status struct {
	Version int64
	Name    string
	State   State
	// AppliedAt is when it was applied (UTC), or the zero time if it is
	// pending.
	AppliedAt time.Time
}

// Status returns the state of every migration of the set, and of every
// applied migration that is not in it, in version order. It only reads:
// it takes no lock and does not create the history.
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	if ctx == nil {
		return nil, fmt.Errorf("migrate: status: %w: nil context", driver.ErrInvalid)
	}
	h, err := m.readHistory(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("migrate: status: %w", err)
	}
	out := make([]Status, 0, max(len(m.list), len(h)))
	for _, mig := range m.list {
		s := Status{Version: mig.Version, Name: mig.Name, State: Pending}
		if rec, ok := h[mig.Version]; ok {
			s.State, s.AppliedAt = Applied, rec.AppliedAt
		}
		out = append(out, s)
	}
	for v, rec := range h {
		if !slices.ContainsFunc(m.list, func(mig Migration) bool { return mig.Version == v }) {
			out = append(out, Status{Version: v, Name: rec.Name, State: Unknown, AppliedAt: rec.AppliedAt})
		}
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.Version, b.Version) })
	return out, nil
}

// versions returns the applied versions in ascending order.
func (h history) versions() []int64 {
	out := make([]int64, 0, len(h))
	for v := range h {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
