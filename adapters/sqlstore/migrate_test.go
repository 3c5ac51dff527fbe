package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

type Author struct {
	_     struct{} `strata:"table=authors"`
	ID    int64
	Name  string `strata:"name,size=100,unique"`
	Email string `strata:"email"`
}

func authorMigrations(t *testing.T) *migrate.Migrations {
	addBio := []migrate.Op{migrate.AddColumn("authors", driver.Field{Name: "bio", Kind: driver.KindString, Nullable: true})}
	byEmail := []migrate.Op{migrate.CreateIndex("authors", "authors_email_idx", "email")}
	ms, err := migrate.NewMigrations(
		migrate.Migration{Version: 1, Name: "create_authors",
			Up: []migrate.Op{migrate.CreateTableFor[Author]()}, Down: []migrate.Op{migrate.DropTableFor[Author]()}},
		migrate.Migration{Version: 2, Name: "add_bio", Up: addBio, Down: migrate.Reverse(addBio...)},
		migrate.Migration{Version: 3, Name: "index_email", Up: byEmail, Down: migrate.Reverse(byEmail...)},
	)
	require.NoError(t, err)
	return ms
}

func TestMigrateUpDownUp(t *testing.T) {
	eachDialect(t, func(t *testing.T, newURL func(testing.TB) string) {
		ctx := context.Background()
		r := harness(newURL).NewRepo(t)
		m, err := migrate.New(r, authorMigrations(t))
		require.NoError(t, err)

		for round := range 2 {
			steps, err := m.Up(ctx)
			require.NoError(t, err, "round %d", round)
			require.Len(t, steps, 3)
			a := &Author{Name: "ada", Email: "ada@example.com"}
			require.NoError(t, r.Insert(ctx, a), "the table exists")
			require.ErrorIs(t, r.Insert(ctx, &Author{Name: "ada"}), repo.ErrConflict, "with its unique index")
			status, err := m.Status(ctx)
			require.NoError(t, err)
			for _, s := range status {
				assert.Equal(t, migrate.Applied, s.State, "%d", s.Version)
			}

			steps, err = m.Down(ctx, 3)
			require.NoError(t, err)
			require.Len(t, steps, 3)
			err = r.Get(ctx, &Author{}, a.ID)
			require.Error(t, err, "the table is gone")
			assert.False(t, errors.Is(err, repo.ErrInvalid))
		}
	})
}

func TestMigrateConcurrently(t *testing.T) {
	eachDialect(t, func(t *testing.T, newURL func(testing.TB) string) {
		ctx := context.Background()
		u := newURL(t)
		const n = 4
		errs := make([]error, n)
		applied := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r := harness(func(testing.TB) string { return u }).NewRepo(t)
				m, err := migrate.New(r, authorMigrations(t))
				if err != nil {
					errs[i] = err
					return
				}
				steps, err := m.Up(ctx)
				errs[i], applied[i] = err, len(steps)
			})
		}
		wg.Wait()
		total := 0
		for i := range n {
			require.NoError(t, errs[i], "migrator %d", i)
			total += applied[i]
		}
		assert.Equal(t, 3, total, "each migration applied exactly once across the migrators: %v", applied)
	})
}

func TestMigrationIsAtomicWhereDDLIsTransactional(t *testing.T) {
	t.Parallel()
	for name, urls := range dialectURLs() {
		if name == "mysql" {
			continue // MySQL commits before every schema change: documented
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r := harness(urls(t)).NewRepo(t)
			ms, err := migrate.NewMigrations(migrate.Migration{Version: 1, Name: "half",
				Up:   []migrate.Op{migrate.CreateTableFor[Author](), migrate.SQL("THIS IS NOT SQL")},
				Down: []migrate.Op{migrate.DropTableFor[Author]()}})
			require.NoError(t, err)
			m, err := migrate.New(r, ms)
			require.NoError(t, err)
			_, err = m.Up(ctx)
			require.Error(t, err)
			s, err := schema.Of[Author]()
			require.NoError(t, err)
			err = r.Driver().(driver.Migrator).Migrate(ctx, driver.CreateCollection{Collection: s.Collection})
			require.NoError(t, err, "the failed migration's table was rolled back with it")
			status, err := m.Status(ctx)
			require.NoError(t, err)
			assert.Equal(t, migrate.Pending, status[0].State)
		})
	}
}
