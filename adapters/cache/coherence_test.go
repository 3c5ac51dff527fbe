package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/cache"
	"github.com/strata-go/strata/internal/redisurl"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/pubsub/pgpubsub"
	"github.com/strata-go/strata/pubsub/redispubsub"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/schema"
)

// deliveryBound is the staleness the coherence tests allow after a write
// is acknowledged: the time a bus takes to deliver an invalidation, with
// a wide margin for a loaded 2-core CI machine under -race.
const deliveryBound = 250 * time.Millisecond

// buses opens, per kind of bus, a function that returns a new connection
// to it (a node's own).
func buses(t *testing.T) map[string]func(t *testing.T) pubsub.Bus {
	local := pubsub.NewLocal()
	t.Cleanup(func() { local.Close() })
	return map[string]func(t *testing.T) pubsub.Bus{
		"local": func(*testing.T) pubsub.Bus { return local },
		"redis": func(t *testing.T) pubsub.Bus {
			rdb, err := redisurl.Parse(testservers.RedisURL(t))
			require.NoError(t, err)
			t.Cleanup(func() { rdb.Close() })
			b, err := redispubsub.New(rdb, redispubsub.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { b.Close() })
			return b
		},
		"postgres": func(t *testing.T) pubsub.Bus {
			b, err := pgpubsub.New(t.Context(), testservers.PostgresURL(t), pgpubsub.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { b.Close() })
			return b
		},
	}
}

// TestCoherence runs a writer on one node and a reader on another, both
// caching, sharing a store and a bus: no read returns a value older than
// the last one acknowledged more than deliveryBound before the read
// began.
func TestCoherence(t *testing.T) {
	t.Parallel()
	for name, newBus := range buses(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := newStore()
			ns := freshNamespace()
			open := func() (*cache.Adapter, *repo.Repo) {
				a, err := cache.New(st.node(), cache.Options{Namespace: ns, Bus: newBus(t), TTL: time.Hour})
				require.NoError(t, err)
				return a, newRepo(t, a)
			}
			_, writer := open()
			reader, readerRepo := open()
			ctx := t.Context()
			require.NoError(t, writer.Insert(ctx, &Item{ID: 1, Name: "x"}))

			type ack struct {
				at time.Time
				n  int64
			}
			var (
				mu   sync.Mutex
				acks []ack
			)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for n := int64(1); n <= 150; n++ {
					err := writer.Update(ctx, schema.NewChangeset(&Item{ID: 1}).Put("n", n))
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					acks = append(acks, ack{time.Now(), n})
					mu.Unlock()
					time.Sleep(2 * time.Millisecond)
				}
			}()
			var worst time.Duration
			reads := 0
			for running := true; running; reads++ {
				select {
				case <-done:
					running = false
				default:
				}
				start := time.Now()
				var got Item
				require.NoError(t, readerRepo.Get(ctx, &got, int64(1)))
				mu.Lock()
				for _, a := range acks {
					if a.n > got.N && a.at.Before(start) {
						// got is stale: a.n was acknowledged before the read began.
						lag := start.Sub(a.at)
						worst = max(worst, lag)
						require.Less(t, lag, deliveryBound, "read %d returned n=%d although n=%d was acknowledged %v before it began", reads, got.N, a.n, lag)
						break
					}
				}
				mu.Unlock()
			}
			stats := reader.Stats()
			t.Logf("%d reads, %d from L1; longest stale read %v after the acknowledgement", reads, stats.L1Hits, worst)
			require.NotZero(t, stats.L1Hits, "the reader must have read from its L1 for the test to mean anything")
			require.NotZero(t, stats.Received, "the reader must have heard invalidations")
		})
	}
}

// silentBus loses every message without telling anyone, as a connection
// that died silently does until the bus notices.
type silentBus struct{ pubsub.Bus }

func (silentBus) Publish(context.Context, string, []byte) error { return nil }

// With every invalidation lost silently, a node's stale L1 record still
// ends with the L1 TTL.
func TestStalenessBoundedByTTL(t *testing.T) {
	t.Parallel()
	st := newStore()
	local := pubsub.NewLocal()
	t.Cleanup(func() { local.Close() })
	const ttl = 300 * time.Millisecond
	ns := freshNamespace()
	wa, err := cache.New(st.node(), cache.Options{Namespace: ns, Bus: silentBus{local}, TTL: ttl})
	require.NoError(t, err)
	rb, err := cache.New(st.node(), cache.Options{Namespace: ns, Bus: local, TTL: ttl})
	require.NoError(t, err)
	w, r := newRepo(t, wa), newRepo(t, rb)
	ctx := t.Context()
	require.NoError(t, w.Insert(ctx, &Item{ID: 1, N: 1}))
	var got Item
	require.NoError(t, r.Get(ctx, &got, int64(1)))
	require.Equal(t, int64(1), got.N)

	err = w.Update(ctx, schema.NewChangeset(&Item{ID: 1}).Put("n", int64(2)))
	require.NoError(t, err)
	acked := time.Now()
	require.NoError(t, r.Get(ctx, &got, int64(1)))
	require.Equal(t, int64(1), got.N, "the invalidation was lost, so the reader still holds the old record (this test shows the bound, not a wish)")
	require.Eventually(t, func() bool {
		return r.Get(ctx, &got, int64(1)) == nil && got.N == 2
	}, 2*ttl, 5*time.Millisecond)
	require.Less(t, time.Since(acked), ttl+deliveryBound, "stale for longer than the L1 TTL")
}

// Killing a node's bus connection does not leave its L1 stale: the bus
// reports the loss, the node reads around L1 until the bus is back, and
// then drops its L1. The L1 TTL is an hour, so it is not what ends the
// staleness.
func TestBusConnectionKilled(t *testing.T) {
	t.Parallel()
	server := testservers.RedisURL(t)
	admin, err := redisurl.Parse(server)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	st := newStore()
	ns := freshNamespace()
	node := func(name string) (*cache.Adapter, *repo.Repo) {
		u := server
		if strings.Contains(u, "?") {
			u += "&client_name=" + name
		} else {
			u += "?client_name=" + name
		}
		rdb, err := redisurl.Parse(u)
		require.NoError(t, err)
		t.Cleanup(func() { rdb.Close() })
		b, err := redispubsub.New(rdb, redispubsub.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { b.Close() })
		a, err := cache.New(st.node(), cache.Options{Namespace: ns, Bus: b, TTL: time.Hour})
		require.NoError(t, err)
		return a, newRepo(t, a)
	}
	_, w := node(ns + "_w")
	ra, r := node(ns + "_r")
	ctx := t.Context()
	require.NoError(t, w.Insert(ctx, &Item{ID: 1, N: 1}))
	require.Eventually(t, func() bool { return ra.Stats().Received == 1 }, time.Second, time.Millisecond)
	var got Item
	for range 2 {
		require.NoError(t, r.Get(ctx, &got, int64(1)))
	}
	require.Equal(t, uint64(1), ra.Stats().L1Hits)

	for round := int64(2); round <= 4; round++ {
		// Kill the reader's subscription until its bus reports the loss
		// (a kill may find a connection that is already on its way out).
		resets := ra.Stats().BusResets
		require.Eventually(t, func() bool {
			killSubscribers(t, admin, ns+"_r")
			return ra.Stats().BusResets > resets
		}, 5*time.Second, 20*time.Millisecond, "the reader's bus never reported a lost connection")
		err = w.Update(ctx, schema.NewChangeset(&Item{ID: 1}).Put("n", round))
		require.NoError(t, err)
		acked := time.Now()
		require.Eventually(t, func() bool {
			return r.Get(ctx, &got, int64(1)) == nil && got.N == round
		}, 5*time.Second, 2*time.Millisecond, "round %d: the reader never saw the write", round)
		t.Logf("round %d: the reader saw the write %v after it was acknowledged", round, time.Since(acked))
		// And it keeps seeing it, from L1 again once the bus is back.
		require.Eventually(t, func() bool {
			before := ra.Stats().L1Hits
			return r.Get(ctx, &got, int64(1)) == nil && got.N == round && ra.Stats().L1Hits > before
		}, 5*time.Second, 5*time.Millisecond, "round %d: L1 never came back", round)
	}
	require.GreaterOrEqual(t, ra.Stats().BusResets, uint64(3))
}

// killSubscribers kills the pub/sub connections of the clients named name
// and returns how many it killed.
func killSubscribers(t *testing.T, admin redis.UniversalClient, name string) int {
	t.Helper()
	list, err := admin.ClientList(t.Context()).Result()
	require.NoError(t, err)
	n := 0
	for _, line := range strings.Split(list, "\n") {
		var id, cname string
		subscribed := false
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			switch {
			case k == "id":
				id = v
			case k == "name":
				cname = v
			case (k == "sub" || k == "psub") && v != "0":
				subscribed = true
			}
		}
		if cname == name && subscribed {
			err := admin.Do(t.Context(), "CLIENT", "KILL", "ID", id).Err()
			if err != nil && !errors.Is(err, redis.Nil) {
				require.NoError(t, err, fmt.Sprintf("CLIENT KILL ID %s", id))
			}
			n++
		}
	}
	return n
}
