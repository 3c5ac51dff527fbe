package ephemeral_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/ephemeral"
)

func TestNewLocalOptions(t *testing.T) {
	_, err := ephemeral.NewLocal(ephemeral.LocalOptions{MaxEntries: -1})
	require.ErrorIs(t, err, ephemeral.ErrInvalid)
}

// TestLocalEviction checks that a full Local evicts keys down to its
// bound, and that an evicted key is absent.
func TestLocalEviction(t *testing.T) {
	t.Parallel()
	const bound, keys = 100, 2000
	c, err := ephemeral.NewLocal(ephemeral.LocalOptions{MaxEntries: bound})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	ctx := t.Context()
	for i := range keys {
		require.NoError(t, c.Set(ctx, strconv.Itoa(i), []byte("v"), 0))
	}
	// present counts the keys that Get finds; it returns an error other
	// than ErrNotFound.
	present := func() (n int, err error) {
		for i := range keys {
			_, err := c.Get(ctx, strconv.Itoa(i))
			switch {
			case err == nil:
				n++
			case !errors.Is(err, ephemeral.ErrNotFound):
				return n, err
			}
		}
		return n, nil
	}
	require.Eventually(t, func() bool {
		n, err := present()
		return err == nil && n <= bound
	}, waitFor, pollEvery, "a Local of %d entries holds more", bound)
	n, err := present()
	require.NoError(t, err)
	require.Positive(t, n, "eviction leaves the cache full, not empty")
}

// BenchmarkLocal measures a Local's Get of a present key, Set, and Incr of
// one counter, on one goroutine.
func BenchmarkLocal(b *testing.B) {
	ctx := context.Background()
	c, err := ephemeral.NewLocal(ephemeral.LocalOptions{})
	require.NoError(b, err)
	b.Cleanup(func() { c.Close() })
	value := []byte("a value of some thirty-two bytes")
	require.NoError(b, c.Set(ctx, "present", value, time.Hour))

	b.Run("Get", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.Get(ctx, "present"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Set", func(b *testing.B) {
		for b.Loop() {
			if err := c.Set(ctx, "set", value, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Incr", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.Incr(ctx, "counter", 1, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
}
