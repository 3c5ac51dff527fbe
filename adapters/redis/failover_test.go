package redis_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// event is what the failover test writes: one insert per event, and an
// increment of one of a few tallies.
type event struct {
	_      struct{} `strata:"table=events"`
	ID     int64    `strata:"id,pk"`
	Writer int64    `strata:"writer,index"`
}

type tally struct {
	_     struct{} `strata:"table=tallies"`
	ID    int64    `strata:"id,pk"`
	Count int64    `strata:"count,merge=counter"`
}

// TestFailover kills a cluster master while writers insert and increment
// through an adapter that waits for a replica (replicas=1), lets its
// replica take over, and checks that no acknowledged write was lost and no
// increment applied twice: every acknowledged insert is readable, and each
// tally is at least its acknowledged increments and at most those plus the
// ones that returned an error.
func TestFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private cluster and waits for a failover")
	}
	t.Parallel()
	cluster := testservers.StartRedisCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	a, r := openURL(t, cluster.URL()+"?namespace=failover&replicas=1&replica_timeout=500ms")
	for _, of := range []func() (*schema.Schema, error){schema.Of[event], schema.Of[tally]} {
		s, err := of()
		require.NoError(t, err)
		require.NoError(t, a.Migrate(ctx, driver.CreateCollection{Collection: s.Collection}))
	}
	const tallies = 12
	for i := range int64(tallies) {
		require.NoError(t, r.Insert(ctx, &tally{ID: i + 1}))
	}

	const writers = 8
	type result struct {
		acked, failed []int64 // event ids
		incAcked      [tallies]int64
		incFailed     [tallies]int64
		lastErr       error
		slow          int // acknowledged after more than a second: across the failover
	}
	results := make([]result, writers)
	stop := make(chan struct{})
	var writes atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			res := &results[w]
			for seq := int64(0); ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				id := int64(w)<<32 | (seq + 1)
				began := time.Now()
				err := r.Insert(wctx, &event{ID: id, Writer: int64(w)})
				if err == nil && time.Since(began) > time.Second {
					res.slow++
				}
				if err == nil {
					res.acked = append(res.acked, id)
				} else {
					res.failed = append(res.failed, id)
					res.lastErr = err
				}
				k := seq % tallies
				tl := tally{ID: k + 1}
				err = r.Update(wctx, schema.NewChangeset(&tl).Increment("count", 1))
				cancel()
				if err == nil {
					res.incAcked[k]++
				} else {
					res.incFailed[k]++
					res.lastErr = err
				}
				writes.Add(1)
			}
		})
	}

	// Let the writers run, then kill a master.
	waitWrites(t, &writes, 200)
	masters, err := cluster.Masters(ctx)
	require.NoError(t, err)
	require.Len(t, masters, 3)
	victim := masters[0]
	require.NoError(t, cluster.Kill(victim))
	killedAt := time.Now()
	t.Logf("killed master %s after %d writes", victim, writes.Load())

	// Wait for its replica to take over, and for writes to go on.
	require.NoError(t, poll(ctx, func() bool {
		ms, err := cluster.Masters(ctx)
		return err == nil && len(ms) == 3 && !slices.Contains(ms, victim)
	}), "a replica is promoted")
	t.Logf("replica promoted %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	// The promoted master has no replica, so writes to its slots fail
	// (ErrNotReplicated) until the old master rejoins as its replica.
	require.NoError(t, cluster.Restart(ctx, victim))
	require.NoError(t, cluster.WaitHealthy(ctx))
	t.Logf("old master back as a replica %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	after := writes.Load()
	waitWrites(t, &writes, after+500)
	close(stop)
	wg.Wait()

	var acked, failed, slow int
	for w, res := range results {
		acked += len(res.acked)
		failed += len(res.failed)
		slow += res.slow
		for _, id := range res.acked {
			var got event
			require.NoError(t, r.Get(ctx, &got, id), "acknowledged insert %d of writer %d", id, w)
		}
		if res.lastErr != nil {
			t.Logf("writer %d: last error: %v", w, res.lastErr)
		}
	}
	var incAcked, incFailed int64
	for k := range int64(tallies) {
		var want, maybe int64
		for _, res := range results {
			want += res.incAcked[k]
			maybe += res.incFailed[k]
		}
		incAcked += want
		incFailed += maybe
		var got tally
		require.NoError(t, r.Get(ctx, &got, k+1))
		require.GreaterOrEqual(t, got.Count, want, "tally %d: no acknowledged increment is lost", k)
		require.LessOrEqual(t, got.Count, want+maybe, "tally %d: no increment is applied twice", k)
	}
	n, err := repo.Count[event](ctx, r, repo.Where("writer", repo.Gte, 0))
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, int64(acked))
	require.LessOrEqual(t, n, int64(acked+failed))
	require.Positive(t, slow, "some inserts were in flight to the killed master and were retried to success")
	t.Logf("inserts: %d acknowledged (%d of them across the failover), %d failed; increments: %d acknowledged, %d failed; %d events stored",
		acked, slow, failed, incAcked, incFailed, n)
}

// waitWrites waits until the writers have made n writes.
func waitWrites(t *testing.T, writes *atomic.Int64, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for writes.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("writers stalled at %d writes (waiting for %d)", writes.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// poll calls ok every 50ms until it returns true or ctx ends.
func poll(ctx context.Context, ok func() bool) error {
	for !ok() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
