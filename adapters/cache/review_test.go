package cache_test

// The second reviewer's reproductions of the defects it found in the
// cache (each failed before its fix), kept as regression tests.

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/cache"
	"github.com/strata-go/strata/internal/redisurl"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// delHook runs before() once, in front of the next DEL the client sends.
type delHook struct{ before atomic.Pointer[func()] }

func (h *delHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *delHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *delHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.EqualFold(cmd.Name(), "del") {
			if f := h.before.Swap(nil); f != nil {
				(*f)()
			}
		}
		return next(ctx, cmd)
	}
}

// R1: invalidate drops L1 before L2; a Get on the writer's node in between
// refills L1 from the stale L2 value, and nothing invalidates it again.
func TestReviewLocalRefillFromStaleL2(t *testing.T) {
	st := newStore()
	rdb, err := redisurl.Parse(testservers.RedisURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { rdb.Close() })
	h := &delHook{}
	rdb.AddHook(h)
	a, err := cache.New(st.node(), cache.Options{Namespace: freshNamespace(), L2: rdb, TTL: time.Hour})
	require.NoError(t, err)
	r := newRepo(t, a)
	ctx := t.Context()
	require.NoError(t, r.Insert(ctx, &Item{ID: 1, N: 1}))
	var got Item
	require.NoError(t, r.Get(ctx, &got, int64(1))) // fills L2 (and L1) with N=1
	f := func() {
		var g Item
		require.NoError(t, r.Get(ctx, &g, int64(1))) // between the L1 invalidation and the L2 DEL
		t.Logf("read during the write's invalidation: N=%d", g.N)
	}
	h.before.Store(&f)
	require.NoError(t, r.Update(ctx, schema.NewChangeset(&Item{ID: 1}).Put("n", int64(2))))
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, r.Get(ctx, &got, int64(1)))
	t.Logf("after the write was acknowledged (+100ms): N=%d, stats %+v", got.N, a.Stats())
	require.Equal(t, int64(2), got.N, "the writer's own node serves the old record from L1 after the write")
}

// R2: a flush message lost silently leaves the other node reading the
// deleted records from L2 (its epoch is never re-read) long after its L1 TTL.
func TestReviewLostFlushBeyondTTL(t *testing.T) {
	st := newStore()
	local := pubsub.NewLocal()
	t.Cleanup(func() { local.Close() })
	url := testservers.RedisURL(t)
	newRDB := func() redis.UniversalClient {
		rdb, err := redisurl.Parse(url)
		require.NoError(t, err)
		t.Cleanup(func() { rdb.Close() })
		return rdb
	}
	const ttl = 200 * time.Millisecond
	ns := freshNamespace()
	wa, err := cache.New(st.node(), cache.Options{Namespace: ns, Bus: silentBus{local}, L2: newRDB(), TTL: ttl})
	require.NoError(t, err)
	rb, err := cache.New(st.node(), cache.Options{Namespace: ns, Bus: local, L2: newRDB(), TTL: ttl})
	require.NoError(t, err)
	w, r := newRepo(t, wa), newRepo(t, rb)
	ctx := t.Context()
	require.NoError(t, w.Insert(ctx, &Item{ID: 1, Name: "x"}))
	var got Item
	require.NoError(t, r.Get(ctx, &got, int64(1)))
	n, err := repo.DeleteAll[Item](ctx, w, repo.Where("name", repo.Eq, "x"))
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	time.Sleep(5 * ttl)
	err = r.Get(ctx, &got, int64(1))
	t.Logf("5 L1 TTLs after DeleteAll: err=%v stats=%+v", err, rb.Stats())
	require.ErrorIs(t, err, repo.ErrNotFound, "deleted record still served %v after DeleteAll (L1 TTL %v)", 5*ttl, ttl)
}

// R3: a Get that starts after DeleteAll returned joins a load that read the
// store before it, and returns the deleted record.
func TestReviewJoinerAfterDeleteAll(t *testing.T) {
	st := newStore()
	a, err := cache.New(st.node(), cache.Options{Namespace: freshNamespace(), TTL: time.Hour})
	require.NoError(t, err)
	r := newRepo(t, a)
	ctx := t.Context()
	require.NoError(t, r.Insert(ctx, &Item{ID: 1, Name: "x"}))
	read, resume := st.pauseAfterRead()
	first := make(chan error, 1)
	go func() { var g Item; first <- r.Get(ctx, &g, int64(1)) }()
	<-read // the first Get has read the record, not returned yet
	_, err = repo.DeleteAll[Item](ctx, r, repo.Where("name", repo.Eq, "x"))
	require.NoError(t, err)
	second := make(chan error, 1)
	go func() { var g Item; second <- r.Get(ctx, &g, int64(1)) }() // starts after DeleteAll returned
	time.Sleep(50 * time.Millisecond)
	resume()
	<-first
	require.ErrorIs(t, <-second, repo.ErrNotFound, "a Get begun after DeleteAll returned the deleted record")
}

// R4: cached reads ignore a done context.
func TestReviewDoneContextOnHits(t *testing.T) {
	st := newStore()
	a, err := cache.New(st.node(), cache.Options{Namespace: freshNamespace(), Queries: true})
	require.NoError(t, err)
	r := newRepo(t, a)
	ctx := t.Context()
	require.NoError(t, r.Insert(ctx, &Item{ID: 1, Name: "x"}))
	var got Item
	require.NoError(t, r.Get(ctx, &got, int64(1)))
	q := repo.Where("name", repo.Eq, "x")
	_, err = repo.All[Item](ctx, r, q)
	require.NoError(t, err)
	done, cancel := context.WithCancel(ctx)
	cancel()
	errGet := r.Get(done, &got, int64(1))
	_, errAll := repo.All[Item](done, r, q)
	_, errCount := repo.Count[Item](done, r, q)
	t.Logf("done ctx: Get=%v All=%v Count=%v", errGet, errAll, errCount)
	require.ErrorIs(t, errGet, context.Canceled)
	require.ErrorIs(t, errAll, context.Canceled)
}

// R5: a miss of a missing key (Negative == 0) leaves its L2 lease behind.
func TestReviewLeaseLeftOnNotFound(t *testing.T) {
	st := newStore()
	rdb, err := redisurl.Parse(testservers.RedisURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { rdb.Close() })
	ns := freshNamespace()
	a, err := cache.New(st.node(), cache.Options{Namespace: ns, L2: rdb})
	require.NoError(t, err)
	r := newRepo(t, a)
	ctx := t.Context()
	var got Item
	require.ErrorIs(t, r.Get(ctx, &got, int64(42)), repo.ErrNotFound)
	keys, err := rdb.Keys(ctx, "strata:cache:"+ns+":r:*").Result()
	require.NoError(t, err)
	for _, k := range keys {
		v, _ := rdb.Get(ctx, k).Result()
		ttl, _ := rdb.PTTL(ctx, k).Result()
		t.Logf("%s = %q (pttl %v)", k, v, ttl)
	}
	start := time.Now()
	require.ErrorIs(t, r.Get(ctx, &got, int64(42)), repo.ErrNotFound)
	t.Logf("second Get of the missing key took %v", time.Since(start))
	require.Empty(t, keys, "lease left behind")
}

// R6: a Query iterator keys the cache when Query is called, not when it runs.
func TestReviewQuerySeqKeyedAtCall(t *testing.T) {
	st := newStore()
	a, err := cache.New(st.node(), cache.Options{Namespace: freshNamespace(), Queries: true})
	require.NoError(t, err)
	r := newRepo(t, a)
	ctx := t.Context()
	require.NoError(t, r.Insert(ctx, &Item{ID: 1, Name: "x"}))
	c := itemCollection(t)
	q := &driver.Query{}
	count := func(seq func(func(driver.Record, error) bool)) int {
		n := 0
		for _, err := range seq {
			require.NoError(t, err)
			n++
		}
		return n
	}
	require.Equal(t, 1, count(a.Query(ctx, c, q))) // cached
	seq := a.Query(ctx, c, q)
	require.NoError(t, r.Insert(ctx, &Item{ID: 2, Name: "y"}))
	require.Equal(t, 2, count(seq), "an iteration begun after the insert returned the cached result from before it")
}

// execStore runs an Exec migration as a raw UPDATE of record 1's n to 2.
type execStore struct {
	*shared
	c *driver.Collection
}

func (e execStore) Migrate(ctx context.Context, op driver.MigrationOp) error {
	if _, ok := op.(driver.Exec); ok {
		n := -1
		for i, f := range e.c.Fields {
			if f.Name == "n" {
				n = i
			}
		}
		_, err := e.store.Adapter.Update(ctx, e.c, driver.Update{Key: int64(1), Changes: []driver.Change{{Field: n, Op: driver.Set, Value: int64(2)}}})
		return err
	}
	return e.store.Adapter.Migrate(ctx, op)
}

// R7: an Exec migration run by a node that has not touched the collection
// bumps no L2 epoch of it: every node reloads the stale record from L2.
func TestReviewExecLeavesL2Stale(t *testing.T) {
	st := newStore()
	local := pubsub.NewLocal()
	t.Cleanup(func() { local.Close() })
	url := testservers.RedisURL(t)
	newRDB := func() redis.UniversalClient {
		rdb, err := redisurl.Parse(url)
		require.NoError(t, err)
		t.Cleanup(func() { rdb.Close() })
		return rdb
	}
	ns := freshNamespace()
	b, err := cache.New(st.node(), cache.Options{Namespace: ns, Bus: local, L2: newRDB(), TTL: time.Hour})
	require.NoError(t, err)
	rb := newRepo(t, b)
	ctx := t.Context()
	require.NoError(t, rb.Insert(ctx, &Item{ID: 1, N: 1}))
	var got Item
	require.NoError(t, rb.Get(ctx, &got, int64(1)))
	m, err := cache.New(execStore{&shared{st}, itemCollection(t)}, cache.Options{Namespace: ns, Bus: local, L2: newRDB()})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	require.NoError(t, m.Migrate(ctx, driver.Exec{Statement: "UPDATE items SET n = 2"}))
	require.Eventually(t, func() bool { return b.Stats().Received >= 1 }, time.Second, time.Millisecond)
	require.NoError(t, rb.Get(ctx, &got, int64(1)))
	t.Logf("after Exec: N=%d stats=%+v", got.N, b.Stats())
	require.Equal(t, int64(2), got.N, "record changed by Exec still served (from L2)")
}

// R8: the epoch key lost (evicted under allkeys-lru, a failover, FLUSHDB):
// the next INCR returns an epoch the nodes already know, and DeleteAll no
// longer hides L2's records.
func TestReviewEpochGoesBack(t *testing.T) {
	st := newStore()
	rdb, err := redisurl.Parse(testservers.RedisURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { rdb.Close() })
	ns := freshNamespace()
	a, err := cache.New(st.node(), cache.Options{Namespace: ns, L2: rdb, TTL: time.Hour})
	require.NoError(t, err)
	r := newRepo(t, a)
	ctx := t.Context()
	var got Item
	require.NoError(t, r.Insert(ctx, &Item{ID: 1, Name: "x"}))
	require.NoError(t, r.Get(ctx, &got, int64(1)))
	_, err = repo.DeleteAll[Item](ctx, r, repo.Where("name", repo.Eq, "x")) // epoch 1
	require.NoError(t, err)
	require.NoError(t, r.Insert(ctx, &Item{ID: 1, Name: "x"}))
	require.NoError(t, r.Get(ctx, &got, int64(1)))                          // L2: V1:...
	require.NoError(t, rdb.Del(ctx, "strata:cache:"+ns+":e:items").Err())   // the epoch key is evicted
	_, err = repo.DeleteAll[Item](ctx, r, repo.Where("name", repo.Eq, "x")) // INCR -> 1 again
	require.NoError(t, err)
	err = r.Get(ctx, &got, int64(1))
	t.Logf("after the second DeleteAll: err=%v stats=%+v", err, a.Stats())
	require.ErrorIs(t, err, repo.ErrNotFound)
}
