package sqlstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

func TestRender(t *testing.T) {
	var st stmt
	st.sql("SELECT ").ident(`we"ird`).sql(" FROM ").ident("t").sql(" WHERE ").ident("a").sql(" = ").val("x'); DROP TABLE t; --").
		sql(" AND ").ident("b").sql(" IN (").list([]any{int64(1), nil, 2.5}).sql(")")
	q, args := st.render()
	require.Equal(t, `SELECT "we""ird" FROM "t" WHERE "a" = ? AND "b" IN (?, NULL, ?)`, q)
	require.Equal(t, []any{"x'); DROP TABLE t; --", int64(1), 2.5}, args)
}

type cached struct {
	ID string `strata:"id,pk,size=40"`
	N  int64  `strata:"n"`
}

// A SQLite file's statements are prepared once, by shape, in and out of
// transactions; the cache stays bounded.
func TestStatementsPreparedOnce(t *testing.T) {
	ctx := context.Background()
	a, err := Open(ctx, "sqlite://"+t.TempDir()+"/s.db")
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	require.NotNil(t, a.stmts)
	s, err := schema.Of[cached]()
	require.NoError(t, err)
	c := s.Collection
	require.NoError(t, a.Migrate(ctx, driver.CreateCollection{Collection: c}))
	for i := range 50 {
		_, err := a.Insert(ctx, c, driver.Record{Values: []any{fmt.Sprint(i), int64(i)}}, driver.InsertOptions{})
		require.NoError(t, err)
		tx, err := a.BeginTx(ctx, driver.TxOptions{})
		require.NoError(t, err)
		rec, err := tx.Get(ctx, c, fmt.Sprint(i))
		require.NoError(t, err)
		require.Equal(t, int64(i), rec.Values[1])
		require.NoError(t, tx.Commit())
	}
	a.stmts.mu.Lock()
	n := len(a.stmts.stmts)
	a.stmts.mu.Unlock()
	require.Equal(t, 2, n, "one insert and one get")

	// A pool with a limit runs unprepared (see stmtCache).
	b, err := Open(ctx, "sqlite://"+t.TempDir()+"/l.db?max_open_conns=2")
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	require.Nil(t, b.stmts)
}
