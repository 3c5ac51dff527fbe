package migrate_test

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

// The schemas the test migrations create.
type user struct {
	_     struct{} `strata:"table=users"`
	ID    int64
	Email string `strata:"email,unique"`
	Name  string `strata:"name"`
}

// userBio is user after migration 3.
type userBio struct {
	_     struct{} `strata:"table=users"`
	ID    int64
	Email string  `strata:"email,unique"`
	Name  string  `strata:"name"`
	Bio   *string `strata:"bio"`
}

type post struct {
	_        struct{} `strata:"table=posts"`
	ID       int64
	AuthorID int64  `strata:"author_id,index"`
	Title    string `strata:"title"`
}

const (
	v1 int64 = 20260101120000 + iota*1000000
	v2
	v3
	v4
)

// testMigrations returns four reversible migrations.
func testMigrations(t *testing.T) *migrate.Migrations {
	t.Helper()
	createPosts := []migrate.Op{migrate.CreateTableFor[post]()}
	indexName := []migrate.Op{migrate.CreateIndex("users", "users_name_idx", "name")}
	ms, err := migrate.NewMigrations(
		// Added out of order: the set sorts them.
		migrate.Migration{Version: v3, Name: "add_users_bio",
			Up:   []migrate.Op{migrate.AddColumn("users", driver.Field{Name: "bio", Kind: driver.KindString, Nullable: true})},
			Down: []migrate.Op{migrate.DropColumn("users", "bio")}},
		migrate.Migration{Version: v1, Name: "create_users",
			Up:   []migrate.Op{migrate.CreateTableFor[user]()},
			Down: []migrate.Op{migrate.DropTableFor[user]()}},
		migrate.Migration{Version: v2, Name: "create_posts", Up: createPosts, Down: migrate.Reverse(createPosts...)},
		migrate.Migration{Version: v4, Name: "index_users_name", Up: indexName, Down: migrate.Reverse(indexName...)},
	)
	require.NoError(t, err)
	return ms
}

// recorder is the memory adapter, recording the migration operations it
// applies (those on the history collection apart).
type recorder struct {
	*memory.Adapter

	mu      sync.Mutex
	ops     []string
	history int // operations on the history collection
}

func newRecorder() *recorder { return &recorder{Adapter: memory.New()} }

func (r *recorder) Migrate(ctx context.Context, op driver.MigrationOp) error {
	err := r.Adapter.Migrate(ctx, op)
	if err == nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		if c, ok := op.(driver.CreateCollection); ok && c.Collection != nil && c.Collection.Name == migrate.HistoryTable {
			r.history++
		} else {
			r.ops = append(r.ops, migrate.Describe(op))
		}
	}
	return err
}

// applied returns the operations applied since the last call.
func (r *recorder) applied() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

// opNames shortens descriptions to their first words, for assertions.
func opNames(ops []string) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = strings.Join(strings.Fields(op)[:3], " ")
	}
	return out
}

func newRepo(t *testing.T, a driver.Adapter) *repo.Repo {
	t.Helper()
	r, err := repo.New(a)
	require.NoError(t, err)
	return r
}

func newMigrator(t *testing.T, r *repo.Repo, ms *migrate.Migrations, opts ...migrate.Option) *migrate.Migrator {
	t.Helper()
	m, err := migrate.New(r, ms, opts...)
	require.NoError(t, err)
	return m
}

func stepNames(steps []migrate.Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.String()
	}
	return out
}

func states(t *testing.T, m *migrate.Migrator) map[int64]migrate.State {
	t.Helper()
	sts, err := m.Status(t.Context())
	require.NoError(t, err)
	out := make(map[int64]migrate.State, len(sts))
	for _, s := range sts {
		out[s.Version] = s.State
	}
	return out
}

func step(dir string, v int64, name string) string { return fmt.Sprintf("%s %d %s", dir, v, name) }

// noLocker is an adapter that migrates but cannot lock.
type noLocker struct {
	driver.Adapter
	driver.Migrator
}

// planner is the recorder with a driver.Planner.
type planner struct{ *recorder }

func (p planner) Plan(op driver.MigrationOp) ([]string, error) {
	if _, ok := op.(driver.Exec); ok {
		return nil, fmt.Errorf("%w: no statements here", driver.ErrUnsupported)
	}
	return []string{"PLAN " + migrate.Describe(op)}, nil
}

// txDDL is the recorder with transactional migrations, emulated: its
// Tx's Migrate checks an operation and defers it to Commit, and Rollback
// forgets it. (No real adapter in the module has transactional schema
// changes yet; this exercises migrate's side of them.)
type txDDL struct{ *recorder }

func (a txDDL) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := a.recorder.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &ddlTx{Tx: tx, rec: a.recorder}, nil
}

type ddlTx struct {
	driver.Tx
	rec     *recorder
	pending []driver.MigrationOp
}

func (tx *ddlTx) Migrate(ctx context.Context, op driver.MigrationOp) error {
	if _, ok := op.(driver.Exec); ok {
		return fmt.Errorf("%w: no statements here", driver.ErrUnsupported)
	}
	tx.pending = append(tx.pending, op)
	return nil
}

func (tx *ddlTx) Commit() error {
	if err := tx.Tx.Commit(); err != nil {
		return err
	}
	for _, op := range tx.pending {
		if err := tx.rec.Migrate(context.Background(), op); err != nil {
			return err
		}
	}
	return nil
}

// sqlLike is the recorder reading a collection that was never created as
// SQL stores do: ErrNotFound ("no such table"), not nothing. With broken,
// the history cannot be read even once created (a "no such column").
type sqlLike struct {
	*recorder
	broken bool
}

func (s sqlLike) Query(ctx context.Context, c *driver.Collection, q *driver.Query) iter.Seq2[driver.Record, error] {
	s.mu.Lock()
	missing := c.Name == migrate.HistoryTable && (s.history == 0 || s.broken)
	s.mu.Unlock()
	if missing {
		return func(yield func(driver.Record, error) bool) {
			yield(driver.Record{}, fmt.Errorf("no such table: %w", driver.ErrNotFound))
		}
	}
	return s.recorder.Query(ctx, c, q)
}
