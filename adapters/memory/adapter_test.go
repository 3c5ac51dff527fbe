package memory

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

func TestCapabilitiesAndInterfaces(t *testing.T) {
	var a driver.Adapter = New()
	require.Equal(t, driver.AllCapabilities, a.Capabilities())
	require.Implements(t, (*driver.Transactor)(nil), a)
	require.Implements(t, (*driver.Aggregator)(nil), a)
	require.Implements(t, (*driver.BatchInserter)(nil), a)
	require.Implements(t, (*driver.Migrator)(nil), a)

	tx, err := a.(driver.Transactor).BeginTx(context.Background(), driver.TxOptions{})
	require.NoError(t, err)
	require.Implements(t, (*driver.Savepointer)(nil), tx)
	require.Implements(t, (*driver.Aggregator)(nil), tx)
	require.Implements(t, (*driver.BatchInserter)(nil), tx)
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	a, c := newUsers(t, "ann")
	tx, err := a.BeginTx(ctx, driver.TxOptions{})
	require.NoError(t, err)
	_, err = tx.Insert(ctx, c, user(2, nil, "bob"), driver.InsertOptions{})
	require.NoError(t, err)

	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "Close twice")

	_, err = a.Get(ctx, c, int64(1))
	require.ErrorIs(t, err, driver.ErrClosed)
	_, err = a.Insert(ctx, c, user(3, nil, "cy"), driver.InsertOptions{})
	require.ErrorIs(t, err, driver.ErrClosed)
	for _, err := range a.Query(ctx, c, nil) {
		require.ErrorIs(t, err, driver.ErrClosed)
	}
	require.ErrorIs(t, a.Migrate(ctx, driver.CreateCollection{Collection: c}), driver.ErrClosed)
	_, err = a.BeginTx(ctx, driver.TxOptions{})
	require.ErrorIs(t, err, driver.ErrClosed)
	_, err = tx.Get(ctx, c, int64(1))
	require.ErrorIs(t, err, driver.ErrClosed)
	require.ErrorIs(t, tx.Commit(), driver.ErrClosed)
}
