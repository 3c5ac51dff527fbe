package sqlstore_test

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/sqlstore"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

func TestOpenURLs(t *testing.T) {
	ctx := context.Background()
	a, err := sqlstore.Open(ctx, "sqlite://:memory:?max_idle_conns=1&conn_max_lifetime=5m")
	require.NoError(t, err)
	assert.Equal(t, sqlstore.SQLite, a.Dialect())
	assert.Equal(t, 1, a.DB().Stats().MaxOpenConnections, "an in-memory database is one connection")
	require.NoError(t, a.Close())

	a, err = sqlstore.Open(ctx, "sqlite://"+t.TempDir()+"/pool.db?max_open_conns=7")
	require.NoError(t, err)
	assert.Equal(t, 7, a.DB().Stats().MaxOpenConnections, "pool settings come from the URL")
	require.NoError(t, a.Close())

	// The pool keeps a burst's connections (database/sql alone keeps 2).
	a, err = sqlstore.Open(ctx, "sqlite://"+t.TempDir()+"/idle.db")
	require.NoError(t, err)
	var conns []*sql.Conn
	for range 10 {
		c, err := a.DB().DB.Conn(ctx)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
	assert.Equal(t, 10, a.DB().Stats().Idle)
	require.NoError(t, a.Close())

	if u := os.Getenv(testservers.PostgresEnv); u != "" {
		a, err = sqlstore.Open(ctx, u)
		require.NoError(t, err)
		assert.Equal(t, 32, a.DB().Stats().MaxOpenConnections, "a server's pool has a limit")
		require.NoError(t, a.Close())
	}

	r, err := repo.Open(ctx, "sqlite://"+t.TempDir()+"/repo.db")
	require.NoError(t, err, "the scheme is registered")
	require.NoError(t, r.Close())

	for _, bad := range []string{
		"nosuch://x", "sqlite", "sqlite://x.db?max_open_conns=many", "sqlite://x.db?conn_max_lifetime=soon",
		"sqlite://x.db?%zz",
	} {
		_, err := sqlstore.Open(ctx, bad)
		assert.ErrorIs(t, err, driver.ErrInvalid, bad)
	}
	_, err = sqlstore.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	assert.Error(t, err, "Open checks that the database answers")
}

type Planned struct {
	_    struct{} `strata:"table=planned"`
	ID   string   `strata:"id,pk,size=36"`
	Name string   `strata:"name,unique"`
	Tags []string
	At   *bool
}

func TestPlan(t *testing.T) {
	s, err := schema.Of[Planned]()
	require.NoError(t, err)
	a, err := sqlstore.Open(context.Background(), "sqlite://:memory:")
	require.NoError(t, err)
	defer a.Close()
	stmts, err := a.Plan(driver.CreateCollection{Collection: s.Collection, IfNotExists: true})
	require.NoError(t, err)
	assert.Equal(t, []string{
		`CREATE TABLE IF NOT EXISTS "planned" ("id" TEXT NOT NULL, "name" TEXT NOT NULL, "tags" TEXT NOT NULL, "at" INTEGER, PRIMARY KEY ("id"))`,
		`CREATE UNIQUE INDEX IF NOT EXISTS "planned_name_key" ON "planned" ("name")`,
	}, stmts)

	stmts, err = a.Plan(driver.Exec{Statement: "UPDATE planned SET name = ? WHERE name = ?", Args: []any{"it's", "x'; --"}})
	require.NoError(t, err)
	assert.Equal(t, []string{`UPDATE planned SET name = 'it''s' WHERE name = 'x''; --'`}, stmts, "arguments are quoted, never pasted")

	_, err = a.Plan(&driver.DropCollection{Name: "x"})
	assert.ErrorIs(t, err, driver.ErrUnsupported, "a pointer op is refused with a hint")
	_, err = a.Plan(driver.AlterField{Collection: "planned", Field: driver.Field{Name: "name", Kind: driver.KindString}})
	assert.ErrorIs(t, err, driver.ErrUnsupported, "SQLite cannot alter a column")
	assert.True(t, strings.Contains(err.Error(), "add a new one"), err.Error())
}
