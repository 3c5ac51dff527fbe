package migrate_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

func TestUpDownUp(t *testing.T) {
	ctx := t.Context()
	a := newRecorder()
	r := newRepo(t, a)
	m := newMigrator(t, r, testMigrations(t))

	before := time.Now().UTC().Add(-time.Second)
	steps, err := m.Up(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{
		step("up", v1, "create_users"), step("up", v2, "create_posts"),
		step("up", v3, "add_users_bio"), step("up", v4, "index_users_name"),
	}, stepNames(steps))
	require.Equal(t, []string{"create collection users", "create collection posts", "add field users.bio", "create index users_name_idx"},
		opNames(a.applied()))
	require.Equal(t, []string{"add field users.bio string null"}, steps[2].Plan)
	sts, err := m.Status(ctx)
	require.NoError(t, err)
	for _, s := range sts {
		require.Equal(t, migrate.Applied, s.State, s.Name)
		require.WithinRange(t, s.AppliedAt, before, time.Now().UTC().Add(time.Second))
	}

	bio := "engines"
	require.NoError(t, r.Insert(ctx, &userBio{Email: "ada@example.com", Name: "Ada", Bio: &bio}))

	steps, err = m.Up(ctx)
	require.NoError(t, err)
	require.Empty(t, steps, "nothing is pending")
	require.Empty(t, a.applied())

	steps, err = m.Down(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, []string{step("down", v4, "index_users_name"), step("down", v3, "add_users_bio")}, stepNames(steps))
	require.Equal(t, []string{"drop index users_name_idx", "drop field users.bio"}, opNames(a.applied()))
	require.Equal(t, map[int64]migrate.State{v1: migrate.Applied, v2: migrate.Applied, v3: migrate.Pending, v4: migrate.Pending}, states(t, m))
	got, err := repo.All[userBio](ctx, r, repo.Query{})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Nil(t, got[0].Bio, "dropping the field dropped its values")

	steps, err = m.Up(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{step("up", v3, "add_users_bio"), step("up", v4, "index_users_name")}, stepNames(steps))
	require.Equal(t, []string{"add field users.bio", "create index users_name_idx"}, opNames(a.applied()))

	steps, err = m.Down(ctx, 10)
	require.NoError(t, err)
	require.Len(t, steps, 4, "down N with fewer applied rolls back all")
	require.Equal(t, []string{"drop index users_name_idx", "drop field users.bio", "drop collection posts", "drop collection users"},
		opNames(a.applied()))
	steps, err = m.Down(ctx, 1)
	require.NoError(t, err)
	require.Empty(t, steps)

	_, err = m.Down(ctx, 0)
	require.ErrorIs(t, err, driver.ErrInvalid)
}

func TestTo(t *testing.T) {
	ctx := t.Context()
	a := newRecorder()
	m := newMigrator(t, newRepo(t, a), testMigrations(t))

	steps, err := m.To(ctx, v2)
	require.NoError(t, err)
	require.Equal(t, []string{step("up", v1, "create_users"), step("up", v2, "create_posts")}, stepNames(steps))

	steps, err = m.To(ctx, v4)
	require.NoError(t, err)
	require.Equal(t, []string{step("up", v3, "add_users_bio"), step("up", v4, "index_users_name")}, stepNames(steps))

	steps, err = m.To(ctx, v4)
	require.NoError(t, err)
	require.Empty(t, steps)

	steps, err = m.To(ctx, v1)
	require.NoError(t, err)
	require.Equal(t, []string{step("down", v4, "index_users_name"), step("down", v3, "add_users_bio"), step("down", v2, "create_posts")},
		stepNames(steps))
	require.Equal(t, map[int64]migrate.State{v1: migrate.Applied, v2: migrate.Pending, v3: migrate.Pending, v4: migrate.Pending}, states(t, m))

	steps, err = m.To(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, []string{step("down", v1, "create_users")}, stepNames(steps))

	_, err = m.To(ctx, v1+1)
	require.ErrorIs(t, err, driver.ErrNotFound)
	require.ErrorContains(t, err, "no migration has version")
	_, err = m.To(ctx, -1)
	require.ErrorIs(t, err, driver.ErrNotFound)
}

// To applies a pending migration older than the newest applied one (one
// merged from a branch), and rolls back only what is above the target.
func TestToWithHoles(t *testing.T) {
	ctx := t.Context()
	a := newRecorder()
	r := newRepo(t, a)
	all := testMigrations(t).List()
	early, err := migrate.NewMigrations(all[0], all[2]) // v1 and v3
	require.NoError(t, err)
	_, err = newMigrator(t, r, early).Up(ctx)
	require.NoError(t, err)

	m := newMigrator(t, r, testMigrations(t))
	steps, err := m.To(ctx, v2)
	require.NoError(t, err)
	require.Equal(t, []string{step("down", v3, "add_users_bio"), step("up", v2, "create_posts")}, stepNames(steps))
	steps, err = m.Up(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{step("up", v3, "add_users_bio"), step("up", v4, "index_users_name")}, stepNames(steps))
}

func TestStatus(t *testing.T) {
	ctx := t.Context()
	a := newRecorder()
	r := newRepo(t, a)
	m := newMigrator(t, r, testMigrations(t))

	sts, err := m.Status(ctx)
	require.NoError(t, err)
	require.Len(t, sts, 4)
	for _, s := range sts {
		require.Equal(t, migrate.Pending, s.State)
		require.True(t, s.AppliedAt.IsZero())
	}
	require.Zero(t, a.history, "status does not create the history")

	_, err = m.To(ctx, v2)
	require.NoError(t, err)
	sts, err = m.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, []migrate.Status{
		{Version: v1, Name: "create_users", State: migrate.Applied, AppliedAt: sts[0].AppliedAt},
		{Version: v2, Name: "create_posts", State: migrate.Applied, AppliedAt: sts[1].AppliedAt},
		{Version: v3, Name: "add_users_bio", State: migrate.Pending},
		{Version: v4, Name: "index_users_name", State: migrate.Pending},
	}, sts)
	require.False(t, sts[0].AppliedAt.IsZero())
	require.Equal(t, time.UTC, sts[0].AppliedAt.Location())
}

// An older program sees the migrations a newer one applied as unknown: Up
// leaves them, Down refuses to roll them back.
func TestUnknownMigrations(t *testing.T) {
	ctx := t.Context()
	a := newRecorder()
	r := newRepo(t, a)
	_, err := newMigrator(t, r, testMigrations(t)).Up(ctx)
	require.NoError(t, err)
	a.applied()

	all := testMigrations(t).List()
	older, err := migrate.NewMigrations(all[:2]...)
	require.NoError(t, err)
	m := newMigrator(t, r, older)
	require.Equal(t, map[int64]migrate.State{v1: migrate.Applied, v2: migrate.Applied, v3: migrate.Unknown, v4: migrate.Unknown}, states(t, m))
	sts, err := m.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, "index_users_name", sts[3].Name, "the history keeps the name")

	steps, err := m.Up(ctx)
	require.NoError(t, err)
	require.Empty(t, steps)
	_, err = m.Down(ctx, 1)
	require.ErrorIs(t, err, driver.ErrNotFound)
	require.ErrorContains(t, err, "index_users_name is applied but is not among this program's migrations")
	_, err = m.To(ctx, v1)
	require.ErrorIs(t, err, driver.ErrNotFound)
	require.Empty(t, a.applied(), "refused before running anything")
}

func TestDryRun(t *testing.T) {
	ctx := t.Context()
	a := newRecorder()
	r := newRepo(t, a)
	dry := newMigrator(t, r, testMigrations(t), migrate.DryRun())

	steps, err := dry.Up(ctx)
	require.NoError(t, err)
	require.Len(t, steps, 4)
	require.Equal(t, []string{"add field users.bio string null"}, steps[2].Plan, "described without a Planner")
	require.Empty(t, a.applied())
	require.Zero(t, a.history, "no history collection created")
	n, err := repo.Count[user](ctx, r, repo.Query{})
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, migrate.Pending, states(t, dry)[v1])

	// With a Planner the plan is its statements; what is applied shows.
	p := planner{a}
	pr := newRepo(t, p)
	_, err = newMigrator(t, pr, testMigrations(t)).To(ctx, v2)
	require.NoError(t, err)
	a.applied()
	pdry := newMigrator(t, pr, testMigrations(t), migrate.DryRun())
	steps, err = pdry.Up(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{step("up", v3, "add_users_bio"), step("up", v4, "index_users_name")}, stepNames(steps))
	require.Equal(t, []string{"PLAN add field users.bio string null"}, steps[0].Plan)
	steps, err = pdry.Down(ctx, 5)
	require.NoError(t, err)
	require.Equal(t, []string{step("down", v2, "create_posts"), step("down", v1, "create_users")}, stepNames(steps))
	require.Equal(t, []string{"PLAN drop collection posts"}, steps[0].Plan)
	require.Empty(t, a.applied())
	require.Equal(t, migrate.Applied, states(t, pdry)[v2])

	// A dry run reports what the planner refuses.
	bad, err := migrate.NewMigrations(migrate.Migration{Version: 1, Name: "raw", Up: []migrate.Op{migrate.SQL("SELECT 1")}})
	require.NoError(t, err)
	_, err = newMigrator(t, pr, bad, migrate.DryRun()).Up(ctx)
	require.ErrorIs(t, err, driver.ErrUnsupported)
	require.ErrorContains(t, err, "up 1 raw: plan op 1 of 1 (exec SELECT 1)")
}

func TestFailingMigrationStops(t *testing.T) {
	ctx := t.Context()
	a := newRecorder()
	r := newRepo(t, a)
	all := testMigrations(t).List()
	ms, err := migrate.NewMigrations(all[0], all[3],
		// The memory adapter runs no statements: op 2 fails after op 1.
		migrate.Migration{Version: v2, Name: "seed_posts",
			Up: []migrate.Op{migrate.CreateTableFor[post](), migrate.SQL("INSERT INTO posts VALUES (1)")}},
	)
	require.NoError(t, err)
	m := newMigrator(t, r, ms)

	steps, err := m.Up(ctx)
	require.ErrorIs(t, err, driver.ErrUnsupported)
	require.ErrorContains(t, err, "migrate: up 20260102120000 seed_posts: op 2 of 2 (exec INSERT INTO posts VALUES (1)): memory: ")
	require.ErrorContains(t, err, "ops 1-1 of it were applied and stay")
	require.Equal(t, []string{step("up", v1, "create_users")}, stepNames(steps), "the steps before the failure")
	_, err = newMigrator(t, newRepo(t, newRecorder()), ms).To(ctx, v2)
	require.ErrorContains(t, err, "migrate: to 20260102120000: up 20260102120000 seed_posts: op 2 of 2")
	// Without transactional migrations op 1 stays; the migration is not
	// recorded, and the ones after it did not run.
	require.Equal(t, []string{"create collection users", "create collection posts"}, opNames(a.applied()))
	require.Equal(t, map[int64]migrate.State{v1: migrate.Applied, v2: migrate.Pending, v4: migrate.Pending}, states(t, m))
}

// On a store with transactional migrations (emulated here: see txDDL) a
// failing migration leaves nothing: neither its first operation nor its
// history record.
func TestFailingMigrationTransactional(t *testing.T) {
	ctx := t.Context()
	a := txDDL{newRecorder()}
	r := newRepo(t, a)
	all := testMigrations(t).List()
	ms, err := migrate.NewMigrations(all[0],
		migrate.Migration{Version: v2, Name: "seed_posts",
			Up: []migrate.Op{migrate.CreateTableFor[post](), migrate.SQL("INSERT INTO posts VALUES (1)")}},
	)
	require.NoError(t, err)
	m := newMigrator(t, r, ms)

	steps, err := m.Up(ctx)
	require.ErrorIs(t, err, driver.ErrUnsupported)
	require.ErrorContains(t, err, "up 20260102120000 seed_posts: op 2 of 2")
	require.NotContains(t, err.Error(), "stay", "nothing of it stays")
	require.Equal(t, []string{step("up", v1, "create_users")}, stepNames(steps))
	require.Equal(t, []string{"create collection users"}, opNames(a.applied()), "create posts rolled back")
	require.Equal(t, map[int64]migrate.State{v1: migrate.Applied, v2: migrate.Pending}, states(t, m))

	// Down also runs in a transaction, with the removal of the record.
	steps, err = m.Down(ctx, 1)
	require.NoError(t, err)
	require.Len(t, steps, 1)
	require.Equal(t, []string{"drop collection users"}, opNames(a.applied()))
	require.Equal(t, migrate.Pending, states(t, m)[v1])
}

func TestIrreversible(t *testing.T) {
	ctx := t.Context()
	a := newRecorder()
	all := testMigrations(t).List()
	oneWay := all[2]
	oneWay.Down = nil
	ms, err := migrate.NewMigrations(all[0], all[1], oneWay, all[3])
	require.NoError(t, err)
	m := newMigrator(t, newRepo(t, a), ms)
	_, err = m.Up(ctx)
	require.NoError(t, err)
	a.applied()

	_, err = m.Down(ctx, 2)
	require.ErrorIs(t, err, driver.ErrUnsupported)
	require.ErrorContains(t, err, "migration 20260103120000 add_users_bio has no Down")
	require.Empty(t, a.applied(), "refused before rolling back v4")
	_, err = m.To(ctx, v2)
	require.ErrorIs(t, err, driver.ErrUnsupported)
	steps, err := m.Down(ctx, 1)
	require.NoError(t, err, "what is above it can be rolled back")
	require.Len(t, steps, 1)

	// Nothing() makes a migration reversible with nothing to undo.
	noop, err := migrate.NewMigrations(migrate.Migration{Version: 1, Name: "noop",
		Up: []migrate.Op{migrate.Nothing()}, Down: []migrate.Op{migrate.Nothing()}})
	require.NoError(t, err)
	nm := newMigrator(t, newRepo(t, newRecorder()), noop)
	_, err = nm.Up(ctx)
	require.NoError(t, err)
	steps, err = nm.Down(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"down 1 noop"}, stepNames(steps))
	require.Empty(t, steps[0].Plan)
}

// Two processes starting at once never both apply a migration: each op
// runs once (a second CreateCollection would fail with ErrConflict), and
// every Migrator succeeds.
func TestConcurrentMigrators(t *testing.T) {
	for range 20 {
		a := newRecorder()
		const n = 4
		var wg sync.WaitGroup
		results := make([][]migrate.Step, n)
		errs := make([]error, n)
		for i := range n {
			m := newMigrator(t, newRepo(t, a), testMigrations(t)) // a Repo per "process"
			wg.Go(func() { results[i], errs[i] = m.Up(t.Context()) })
		}
		wg.Wait()
		total := 0
		for i := range n {
			require.NoError(t, errs[i])
			total += len(results[i])
		}
		require.Equal(t, 4, total, "each migration applied by exactly one migrator")
		require.Equal(t, []string{"create collection users", "create collection posts", "add field users.bio", "create index users_name_idx"},
			opNames(a.applied()), "each op ran once, in order")
	}
}

func TestLockRequired(t *testing.T) {
	ctx := t.Context()
	a := newRecorder()
	r := newRepo(t, noLocker{a, a})

	m := newMigrator(t, r, testMigrations(t))
	_, err := m.Up(ctx)
	require.ErrorIs(t, err, driver.ErrUnsupported)
	require.ErrorContains(t, err, "migrate.WithoutLock()")
	_, err = newMigrator(t, r, testMigrations(t), migrate.DryRun()).Up(ctx)
	require.ErrorIs(t, err, driver.ErrUnsupported, "a dry run refuses what the run would")
	_, err = m.Status(ctx)
	require.NoError(t, err, "status needs no lock")
	require.Empty(t, a.applied())

	steps, err := newMigrator(t, r, testMigrations(t), migrate.WithoutLock()).Up(ctx)
	require.NoError(t, err)
	require.Len(t, steps, 4)
}

func TestLockWait(t *testing.T) {
	a := newRecorder()
	m := newMigrator(t, newRepo(t, a), testMigrations(t))
	unlock, err := a.Lock(t.Context(), migrate.HistoryTable) // another process migrating
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	steps, err := m.Up(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "migrate: up: lock strata_migrations")
	require.Empty(t, steps)

	ctx, cancel = context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := m.Up(ctx)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Empty(t, a.applied())
	require.Zero(t, a.history, "nothing touched while waiting")

	go func() {
		_, err := m.Up(t.Context())
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	require.Empty(t, a.applied(), "waits while the lock is held")
	require.NoError(t, unlock())
	require.NoError(t, <-done)
	require.Len(t, a.applied(), 4)
}

func TestNewRefuses(t *testing.T) {
	ms := testMigrations(t)
	_, err := migrate.New(nil, ms)
	require.ErrorIs(t, err, driver.ErrInvalid)

	r := newRepo(t, newRecorder())
	err = r.Transaction(t.Context(), func(tx *repo.Repo) error {
		_, err := migrate.New(tx, ms)
		return err
	})
	require.ErrorIs(t, err, driver.ErrInvalid)

	type onlyAdapter struct{ driver.Adapter }
	_, err = migrate.New(newRepo(t, onlyAdapter{newRecorder()}), ms)
	require.ErrorIs(t, err, driver.ErrUnsupported)
	require.ErrorContains(t, err, "does not implement driver.Migrator")

	var bad migrate.Migrations
	_ = bad.Add(migrate.Migration{Version: 1, Name: "empty"})
	_, err = migrate.New(r, &bad)
	require.ErrorIs(t, err, driver.ErrInvalid)
	require.ErrorContains(t, err, "has no Up")

	m, err := migrate.New(r, nil)
	require.NoError(t, err, "a nil set is empty")
	steps, err := m.Up(t.Context())
	require.NoError(t, err)
	require.Empty(t, steps)
	_, err = m.Up(nil) // a nil context is an error, not a panic
	require.ErrorIs(t, err, driver.ErrInvalid)
	_, err = m.Status(nil)
	require.ErrorIs(t, err, driver.ErrInvalid)
}

// Where reading a collection that does not exist is ErrNotFound (SQL),
// the calls that only read take it for an empty history; a run, which
// creates the history first, does not.
func TestHistoryMissing(t *testing.T) {
	ctx := t.Context()
	a := sqlLike{recorder: newRecorder()}
	r := newRepo(t, a)
	m := newMigrator(t, r, testMigrations(t))
	require.Equal(t, migrate.Pending, states(t, m)[v1])
	steps, err := newMigrator(t, r, testMigrations(t), migrate.DryRun()).Up(ctx)
	require.NoError(t, err)
	require.Len(t, steps, 4)
	steps, err = m.Up(ctx)
	require.NoError(t, err)
	require.Len(t, steps, 4)
	require.Equal(t, migrate.Applied, states(t, m)[v4])

	broken := sqlLike{recorder: newRecorder(), broken: true}
	_, err = newMigrator(t, newRepo(t, broken), testMigrations(t)).Up(ctx)
	require.ErrorIs(t, err, driver.ErrNotFound)
	require.ErrorContains(t, err, "migrate: up: read strata_migrations: ")
	require.Empty(t, broken.applied(), "nothing run on an unreadable history")
}
