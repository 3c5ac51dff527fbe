package conformance

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

// The schemas of the Migrations area. They are not fixtures: the suite does
// not create their collection, the migrations under test do.

const migWidgetTable = "conformance_mig_widgets"

// migWidgetV1 is Widget as the first migration creates it (frozen, as
// package migrate advises: the second migration adds note).
type migWidgetV1 struct {
	_    struct{} `strata:"table=conformance_mig_widgets"`
	ID   int64    `strata:"id,pk"`
	Name string   `strata:"name"`
}

// migWidget is Widget after every migration: a nullable, indexed note.
type migWidget struct {
	_    struct{} `strata:"table=conformance_mig_widgets"`
	ID   int64    `strata:"id,pk"`
	Name string   `strata:"name"`
	Note *string  `strata:"note,index"`
}

var migrationCases = []testCase{
	{"UpDownUp", migrationsUpDownUp},
	{"ConcurrentMigrators", migrationsConcurrent},
}

// migrationSet returns the Migrations area's set: create the collection,
// add a nullable field, index it.
func migrationSet(t *testing.T) *migrate.Migrations {
	t.Helper()
	up := []migrate.Op{migrate.CreateTableFor[migWidgetV1]()}
	addNote := []migrate.Op{migrate.AddColumn(migWidgetTable, driver.Field{Name: "note", Kind: driver.KindString, Nullable: true})}
	index := []migrate.Op{migrate.CreateIndex(migWidgetTable, migWidgetTable+"_note_idx", "note")}
	ms, err := migrate.NewMigrations(
		migrate.Migration{Version: 20260101000001, Name: "create_widgets", Up: up, Down: migrate.Reverse(up...)},
		migrate.Migration{Version: 20260101000002, Name: "add_widget_note", Up: addNote, Down: migrate.Reverse(addNote...)},
		migrate.Migration{Version: 20260101000003, Name: "index_widget_note", Up: index, Down: migrate.Reverse(index...)},
	)
	require.NoError(t, err, "building the migration set")
	require.Equal(t, 3, ms.Len())
	return ms
}

// migrator returns a Migrator of ms over e's store, or skips the case
// where the adapter cannot migrate. Where the adapter cannot lock, it
// skips the case if needLock, and otherwise migrates without the lock.
func (e *env) migrator(t *testing.T, ms *migrate.Migrations, needLock bool) *migrate.Migrator {
	t.Helper()
	d := e.r.Driver()
	if _, ok := d.(driver.Migrator); !ok {
		t.Skipf("adapter does not implement driver.Migrator")
	}
	var opts []migrate.Option
	if _, ok := driver.Find[driver.Locker](d); !ok {
		if needLock {
			t.Skipf("adapter does not implement driver.Locker: concurrent migrators cannot exclude one another")
		}
		opts = append(opts, migrate.WithoutLock())
	}
	m, err := migrate.New(e.r, ms, opts...)
	require.NoError(t, err, "migrate.New")
	return m
}

// requireStates checks that Status lists exactly the migrations of ms, in
// version order, each in state want.
func requireStates(t *testing.T, e *env, m *migrate.Migrator, ms *migrate.Migrations, want migrate.State) {
	t.Helper()
	st, err := m.Status(e.ctx)
	require.NoError(t, err, "Status")
	list := ms.List()
	require.Len(t, st, len(list), "Status: %v", st)
	for i, mig := range list {
		assert.Equal(t, mig.Version, st[i].Version, "Status[%d]", i)
		assert.Equal(t, mig.Name, st[i].Name, "Status[%d]", i)
		assert.Equal(t, want, st[i].State, "Status of %s", mig)
		if want == migrate.Applied {
			assert.False(t, st[i].AppliedAt.IsZero(), "an applied migration has no AppliedAt: %s", mig)
		} else {
			assert.True(t, st[i].AppliedAt.IsZero(), "a %s migration has AppliedAt %v: %s", want, st[i].AppliedAt, mig)
		}
	}
}

// requireSteps checks that steps took every migration of ms once, in
// direction dir, in the order of that direction.
func requireSteps(t *testing.T, steps []migrate.Step, ms *migrate.Migrations, dir migrate.Direction) {
	t.Helper()
	list := ms.List()
	require.Len(t, steps, len(list), "steps: %v", steps)
	for i, s := range steps {
		want := list[i]
		if dir == migrate.Down {
			want = list[len(list)-1-i]
		}
		assert.Equal(t, dir, s.Direction, "step %d: %s", i, s)
		assert.Equal(t, want.Version, s.Version, "step %d: %s", i, s)
		assert.Equal(t, want.Name, s.Name, "step %d: %s", i, s)
	}
}

// requireWidgetRoundTrip writes a widget with a note and reads it back by
// key and by the migrated index.
func requireWidgetRoundTrip(t *testing.T, e *env, id int64) {
	t.Helper()
	note := fmt.Sprintf("note %d", id)
	w := migWidget{ID: id, Name: "gear", Note: &note}
	require.NoError(t, e.r.Insert(e.ctx, &w), "inserting into the migrated collection")
	var got migWidget
	require.NoError(t, e.r.Get(e.ctx, &got, id))
	assert.Equal(t, id, got.ID)
	assert.Equal(t, "gear", got.Name)
	require.NotNil(t, got.Note, "the added field lost its value")
	assert.Equal(t, note, *got.Note)

	bare := migWidget{ID: id + 1, Name: "bare"}
	require.NoError(t, e.r.Insert(e.ctx, &bare), "inserting a record without the nullable field")
	var gotBare migWidget
	require.NoError(t, e.r.Get(e.ctx, &gotBare, id+1))
	assert.Nil(t, gotBare.Note, "a nil nullable field must read back as nil")

	e.eventually(t, func(t require.TestingT) {
		found, err := repo.All[migWidget](e.ctx, e.r, repo.Where("note", repo.Eq, note))
		require.NoError(t, err, "querying the indexed field")
		require.Len(t, found, 1)
		require.Equal(t, id, found[0].ID)
	})
}

func migrationsUpDownUp(t *testing.T, s *suite) {
	e := s.open(t)
	ms := migrationSet(t)
	m := e.migrator(t, ms, false)

	requireStates(t, e, m, ms, migrate.Pending)

	steps, err := m.Up(e.ctx)
	require.NoError(t, err, "Up")
	requireSteps(t, steps, ms, migrate.Up)
	requireStates(t, e, m, ms, migrate.Applied)
	requireWidgetRoundTrip(t, e, 1)

	steps, err = m.Up(e.ctx)
	require.NoError(t, err, "Up with nothing pending")
	require.Empty(t, steps, "Up applied a migration twice")

	steps, err = m.Down(e.ctx, ms.Len())
	require.NoError(t, err, "Down(all)")
	requireSteps(t, steps, ms, migrate.Down)
	requireStates(t, e, m, ms, migrate.Pending)

	steps, err = m.Down(e.ctx, ms.Len())
	require.NoError(t, err, "Down with nothing applied")
	require.Empty(t, steps, "Down rolled back a migration that was not applied")

	steps, err = m.Up(e.ctx)
	require.NoError(t, err, "Up after Down")
	requireSteps(t, steps, ms, migrate.Up)
	requireStates(t, e, m, ms, migrate.Applied)

	var old migWidget
	require.ErrorIs(t, e.r.Get(e.ctx, &old, int64(1)), repo.ErrNotFound,
		"a record written before Down(all) survived dropping its collection")
	requireWidgetRoundTrip(t, e, 10)
}

func migrationsConcurrent(t *testing.T, s *suite) {
	const migrators = 4
	e := s.open(t)
	ms := migrationSet(t)
	migs := make([]*migrate.Migrator, migrators)
	for i := range migs {
		migs[i] = e.migrator(t, ms, true) // the same repo, so the same store and lock
	}

	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		steps = make([][]migrate.Step, migrators)
		errs  = make([]error, migrators)
	)
	for i, m := range migs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			steps[i], errs[i] = m.Up(e.ctx)
		}()
	}
	close(start)
	wg.Wait()

	require.NoError(t, errors.Join(errs...), "concurrent Up")
	applied := map[int64]int{}
	total := 0
	for i, ss := range steps {
		for _, st := range ss {
			assert.Equal(t, migrate.Up, st.Direction, "migrator %d: %s", i, st)
			applied[st.Version]++
			total++
		}
	}
	require.Equal(t, ms.Len(), total, "the concurrent migrators took %d steps in all, want each of %d migrations exactly once: %v", total, ms.Len(), steps)
	for _, mig := range ms.List() {
		assert.Equal(t, 1, applied[mig.Version], "migration %s applied %d times", mig, applied[mig.Version])
	}
	requireStates(t, e, migs[0], ms, migrate.Applied)
	requireWidgetRoundTrip(t, e, 1)
}
