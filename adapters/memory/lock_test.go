package memory

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

func TestLockExcludes(t *testing.T) {
	ctx := context.Background()
	a := New()
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				unlock, err := a.Lock(ctx, "m")
				require.NoError(t, err)
				n := inside.Add(1)
				if n > most.Load() {
					most.Store(n)
				}
				inside.Add(-1)
				require.NoError(t, unlock())
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), most.Load(), "never two holders at once")
	require.Empty(t, (&a.locks).named, "released locks are forgotten")
}

func TestLockNamesAndAdaptersAreIndependent(t *testing.T) {
	ctx := context.Background()
	a, b := New(), New()
	unlock, err := a.Lock(ctx, "m")
	require.NoError(t, err)
	defer unlock()

	other, err := a.Lock(ctx, "n")
	require.NoError(t, err, "another name is free")
	require.NoError(t, other())
	elsewhere, err := b.Lock(ctx, "m")
	require.NoError(t, err, "another adapter's lock of the same name is free")
	require.NoError(t, elsewhere())
}

func TestLockWaitsAndHonoursContext(t *testing.T) {
	a := New()
	unlock, err := a.Lock(context.Background(), "m")
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = a.Lock(ctx, "m")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	cancelled, stop := context.WithCancel(context.Background())
	stop()
	_, err = a.Lock(cancelled, "free")
	require.ErrorIs(t, err, context.Canceled, "a done context fails even when the lock is free")

	got := make(chan error)
	go func() {
		u, err := a.Lock(context.Background(), "m")
		if err == nil {
			err = u()
		}
		got <- err
	}()
	select {
	case <-got:
		t.Fatal("acquired a held lock")
	case <-time.After(20 * time.Millisecond):
	}
	require.NoError(t, unlock())
	require.NoError(t, unlock(), "unlocking again does nothing")
	require.NoError(t, <-got, "the waiter gets the lock once it is released")
	require.Empty(t, (&a.locks).named)
}

func TestLockBadInput(t *testing.T) {
	a := New()
	_, err := a.Lock(context.Background(), "")
	require.ErrorIs(t, err, driver.ErrInvalid)
	_, err = a.Lock(nil, "m") // a nil context is an error, not a panic
	require.ErrorIs(t, err, driver.ErrInvalid)
	require.NoError(t, a.Close())
	_, err = a.Lock(context.Background(), "m")
	require.ErrorIs(t, err, driver.ErrClosed)
}
