package cache_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/cache"
	"github.com/strata-go/strata/internal/redisurl"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// cluster is a set of nodes, each a cache over one shared store, sharing
// an in-process bus and, when l2 is set, a Redis L2.
type cluster struct {
	t   *testing.T
	st  *store
	bus pubsub.Bus
	l2  string
	ns  string
}

func newCluster(t *testing.T, withL2 bool) *cluster {
	c := &cluster{t: t, st: newStore(), ns: freshNamespace()}
	local := pubsub.NewLocal()
	t.Cleanup(func() { local.Close() })
	c.bus = local
	if withL2 {
		c.l2 = testservers.RedisURL(t)
	}
	return c
}

// node opens a node with opts (its namespace, bus and L2 set).
func (c *cluster) node(opts cache.Options, ropts ...repo.Option) (*cache.Adapter, *repo.Repo) {
	opts.Namespace, opts.Bus = c.ns, c.bus
	if c.l2 != "" {
		rdb, err := redisurl.Parse(c.l2)
		require.NoError(c.t, err)
		c.t.Cleanup(func() { rdb.Close() })
		opts.L2 = rdb
	}
	a, err := cache.New(c.st.node(), opts)
	require.NoError(c.t, err)
	return a, newRepo(c.t, a, ropts...)
}

func TestGetFillsAndHits(t *testing.T) {
	t.Parallel()
	c := newCluster(t, true)
	var sources []string
	var mu sync.Mutex
	observe := repo.WithObserver(func(_ context.Context, e repo.Event) {
		if e.Op == "get" {
			mu.Lock()
			sources = append(sources, e.Source)
			mu.Unlock()
		}
	})
	a1, r1 := c.node(cache.Options{}, observe)
	a2, r2 := c.node(cache.Options{}, observe)
	ctx := t.Context()
	require.NoError(t, r1.Insert(ctx, &Item{ID: 7, Name: "seven", Tags: []string{"a"}}))

	var got Item
	require.NoError(t, r1.Get(ctx, &got, int64(7))) // store, fills L2 and r1's L1
	require.NoError(t, r1.Get(ctx, &got, int64(7))) // r1's L1
	require.NoError(t, r2.Get(ctx, &got, int64(7))) // L2
	require.NoError(t, r2.Get(ctx, &got, int64(7))) // r2's L1
	require.Equal(t, "seven", got.Name)
	require.Equal(t, []string{"store", "l1", "l2", "l1"}, sources)
	require.Equal(t, int64(1), c.st.gets.Load(), "one read of the store")
	s1, s2 := a1.Stats(), a2.Stats()
	require.Equal(t, uint64(1), s1.L1Hits)
	require.Equal(t, uint64(1), s1.L2Misses)
	require.Equal(t, uint64(1), s2.L2Hits)

	// The caller owns what it gets.
	got.Tags[0] = "changed"
	var again Item
	require.NoError(t, r2.Get(ctx, &again, int64(7)))
	require.Equal(t, []string{"a"}, again.Tags, "a caller's change reached the cache")

	// A write on one node is seen by the other at once (the bus is
	// in-process here), and L2 holds nothing stale.
	require.NoError(t, r1.Update(ctx, schema.NewChangeset(&Item{ID: 7}).Put("name", "SEVEN")))
	require.Eventually(t, func() bool {
		return r2.Get(ctx, &again, int64(7)) == nil && again.Name == "SEVEN"
	}, time.Second, time.Millisecond)
	_, r3 := c.node(cache.Options{})
	require.NoError(t, r3.Get(ctx, &again, int64(7)))
	require.Equal(t, "SEVEN", again.Name)
}

// A write racing a load: the load reads the old record from the store
// before the write, and finishes after it. Neither L1 nor L2 may keep the
// old record.
func TestLoadRacingWrite(t *testing.T) {
	t.Parallel()
	c := newCluster(t, true)
	_, reader := c.node(cache.Options{})
	_, writer := c.node(cache.Options{})
	ctx := t.Context()
	require.NoError(t, writer.Insert(ctx, &Item{ID: 1, Name: "old"}))

	read, resume := c.st.pauseAfterRead()
	loaded := make(chan error, 1)
	var got Item
	go func() { loaded <- reader.Get(ctx, &got, int64(1)) }()
	<-read // the reader has read "old" from the store under its L2 lease, and not yet filled
	require.NoError(t, writer.Update(ctx, schema.NewChangeset(&Item{ID: 1}).Put("name", "new")))
	resume()
	require.NoError(t, <-loaded)
	// Either is right for a read concurrent with the write (otter reloads
	// when the invalidation comes during the load); what matters is
	// what the tiers keep.
	require.Contains(t, []string{"old", "new"}, got.Name)

	require.Eventually(t, func() bool { return reader.Get(ctx, &got, int64(1)) == nil && got.Name == "new" }, time.Second, time.Millisecond,
		"L1 kept the record of a load that raced a write")
	_, fresh := c.node(cache.Options{})
	require.NoError(t, fresh.Get(ctx, &got, int64(1)))
	require.Equal(t, "new", got.Name, "L2 kept the record of a load that raced a write")
}

// Concurrent misses of one key on one node read the store once.
func TestStampede(t *testing.T) {
	t.Parallel()
	c := newCluster(t, false)
	_, r := c.node(cache.Options{})
	ctx := t.Context()
	require.NoError(t, r.Insert(ctx, &Item{ID: 1, Name: "x"}))
	held, release := c.st.hold()
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			var got Item
			errs <- r.Get(ctx, &got, int64(1))
		})
	}
	<-held
	time.Sleep(50 * time.Millisecond) // let the others join the load
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), c.st.gets.Load(), "the store was read more than once")
}

func TestNegativeCaching(t *testing.T) {
	t.Parallel()
	c := newCluster(t, true)
	_, r1 := c.node(cache.Options{Negative: time.Minute})
	_, r2 := c.node(cache.Options{Negative: time.Minute})
	ctx := t.Context()
	var got Item
	for range 3 {
		require.ErrorIs(t, r1.Get(ctx, &got, int64(9)), repo.ErrNotFound)
	}
	require.ErrorIs(t, r2.Get(ctx, &got, int64(9)), repo.ErrNotFound) // from L2
	require.Equal(t, int64(1), c.st.gets.Load(), "not found was not cached")
	require.NoError(t, r2.Insert(ctx, &Item{ID: 9, Name: "nine"}))
	require.Eventually(t, func() bool { return r1.Get(ctx, &got, int64(9)) == nil }, time.Second, time.Millisecond,
		"an insert did not invalidate a cached not-found")
	require.Equal(t, "nine", got.Name)
}

func TestQueryCache(t *testing.T) {
	t.Parallel()
	c := newCluster(t, false)
	_, r1 := c.node(cache.Options{Queries: true})
	a2, r2 := c.node(cache.Options{Queries: true})
	ctx := t.Context()
	for i := range 5 {
		require.NoError(t, r1.Insert(ctx, &Item{ID: int64(i + 1), Name: "n", N: int64(i)}))
	}
	// Until r2 has heard of the inserts, a query it caches is dropped when
	// it does.
	require.Eventually(t, func() bool { return a2.Stats().Received == 5 }, time.Second, time.Millisecond)
	q := repo.Where("name", repo.Eq, "n").OrderBy("-n")
	list := func(r *repo.Repo) []int64 {
		items, err := repo.All[Item](ctx, r, q)
		require.NoError(t, err)
		var ns []int64
		for _, it := range items {
			ns = append(ns, it.N)
		}
		return ns
	}
	before := c.st.queries.Load()
	require.Equal(t, []int64{4, 3, 2, 1, 0}, list(r2))
	require.Equal(t, []int64{4, 3, 2, 1, 0}, list(r2))
	require.Equal(t, before+1, c.st.queries.Load(), "the second query reached the store")
	n, err := repo.Count[Item](ctx, r2, q)
	require.NoError(t, err)
	require.Equal(t, int64(5), n)

	// A write on another node makes the cached results unreachable.
	require.NoError(t, r1.Update(ctx, schema.NewChangeset(&Item{ID: 1}).Put("n", int64(10))))
	require.Eventually(t, func() bool {
		ns := list(r2)
		return len(ns) == 5 && ns[0] == 10
	}, time.Second, time.Millisecond)
	require.NoError(t, r1.Insert(ctx, &Item{ID: 6, Name: "n", N: 11}))
	require.Eventually(t, func() bool {
		n, err := repo.Count[Item](ctx, r2, q)
		return err == nil && n == 6
	}, time.Second, time.Millisecond)
}

// A transaction's writes are invalidated when it commits, not before.
func TestTransactionInvalidatesAtCommit(t *testing.T) {
	t.Parallel()
	c := newCluster(t, true)
	_, r1 := c.node(cache.Options{})
	_, r2 := c.node(cache.Options{})
	ctx := t.Context()
	require.NoError(t, r1.Insert(ctx, &Item{ID: 1, Name: "before"}))
	var got Item
	require.NoError(t, r2.Get(ctx, &got, int64(1)))
	err := r1.Transaction(ctx, func(tx *repo.Repo) error {
		if err := tx.Update(ctx, schema.NewChangeset(&Item{ID: 1}).Put("name", "after")); err != nil {
			return err
		}
		var inTx Item
		if err := tx.Get(ctx, &inTx, int64(1)); err != nil {
			return err
		}
		require.Equal(t, "after", inTx.Name, "a transaction reads its own writes")
		require.NoError(t, r2.Get(ctx, &got, int64(1)))
		require.Equal(t, "before", got.Name, "another node saw an uncommitted write")
		return nil
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r2.Get(ctx, &got, int64(1)) == nil && got.Name == "after" }, time.Second, time.Millisecond)

	// A rolled-back transaction changes nothing.
	boom := errors.New("boom")
	err = r1.Transaction(ctx, func(tx *repo.Repo) error {
		require.NoError(t, tx.Update(ctx, schema.NewChangeset(&Item{ID: 1}).Put("name", "never")))
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.NoError(t, r1.Get(ctx, &got, int64(1)))
	require.Equal(t, "after", got.Name)
}

// DeleteAll does not know its keys: it flushes the collection everywhere,
// L2 included (by its epoch).
func TestDeleteAllFlushes(t *testing.T) {
	t.Parallel()
	c := newCluster(t, true)
	_, r1 := c.node(cache.Options{})
	_, r2 := c.node(cache.Options{})
	ctx := t.Context()
	for i := int64(1); i <= 3; i++ {
		require.NoError(t, r1.Insert(ctx, &Item{ID: i, Name: "doomed"}))
	}
	var got Item
	for i := int64(1); i <= 3; i++ {
		require.NoError(t, r2.Get(ctx, &got, i)) // cached in r2's L1 and in L2
	}
	n, err := repo.DeleteAll[Item](ctx, r1, repo.Where("name", repo.Eq, "doomed"))
	require.NoError(t, err)
	require.Equal(t, int64(3), n)
	require.Eventually(t, func() bool { return errors.Is(r2.Get(ctx, &got, int64(2)), repo.ErrNotFound) }, time.Second, time.Millisecond)
	_, r3 := c.node(cache.Options{})
	require.ErrorIs(t, r3.Get(ctx, &got, int64(3)), repo.ErrNotFound, "L2 kept a record DeleteAll deleted")
}

// Migrations flush what they touch, and a dry run plans the wrapped
// store's statements.
func TestMigrations(t *testing.T) {
	t.Parallel()
	r, err := repo.Open(t.Context(), "cache+sqlite://"+t.TempDir()+"/m.db?cache.namespace="+freshNamespace())
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	var ms migrate.Migrations
	require.NoError(t, ms.Add(migrate.Migration{Version: 1, Name: "items", Up: []migrate.Op{migrate.CreateTableFor[Item]()}}))
	mig, err := migrate.New(r, &ms, migrate.DryRun())
	require.NoError(t, err)
	steps, err := mig.Up(t.Context())
	require.NoError(t, err)
	require.Len(t, steps, 1)
	require.Contains(t, strings.Join(steps[0].Plan, "\n"), "CREATE TABLE", "the dry run did not reach the SQL planner")

	mig, err = migrate.New(r, &ms)
	require.NoError(t, err)
	_, err = mig.Up(t.Context())
	require.NoError(t, err)
	ctx := t.Context()
	require.NoError(t, r.Insert(ctx, &Item{ID: 1, Name: "a"}))
	var got Item
	require.NoError(t, r.Get(ctx, &got, int64(1)))
	require.NoError(t, r.Get(ctx, &got, int64(1)))
	a := r.Driver().(*cache.Adapter)
	before := a.Stats()
	require.Equal(t, uint64(1), before.L1Hits)
	require.NoError(t, a.Migrate(ctx, driver.AddField{Collection: "items", Field: driver.Field{Name: "extra", Kind: driver.KindString, Nullable: true}}))
	require.NoError(t, r.Get(ctx, &got, int64(1)))
	after := a.Stats()
	require.Greater(t, after.Flushes, before.Flushes)
	require.Equal(t, before.L1Hits, after.L1Hits, "a record cached before the migration was served after it")
}

func TestPrometheus(t *testing.T) {
	t.Parallel()
	c := newCluster(t, false)
	a, r := c.node(cache.Options{})
	ctx := t.Context()
	require.NoError(t, r.Insert(ctx, &Item{ID: 1}))
	var got Item
	for range 3 {
		require.NoError(t, r.Get(ctx, &got, int64(1)))
	}
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(a.Collector(prometheus.Labels{"app": "test"})))
	n, err := testutil.GatherAndCount(reg, "strata_cache_hits_total", "strata_cache_misses_total", "strata_cache_store_loads_total")
	require.NoError(t, err)
	require.Equal(t, 7, n)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP strata_cache_store_loads_total Records read from the store by the cache.
# TYPE strata_cache_store_loads_total counter
strata_cache_store_loads_total{app="test",namespace="`+c.ns+`"} 1
`), "strata_cache_store_loads_total"))
}

func TestOpenOptions(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"cache+memory://?cache.size=-1",
		"cache+memory://?cache.ttl=soon",
		"cache+memory://?cache.bogus=1",
		"cache+memory://?cache.bus=ftp://x",
		"cache+memory://?cache.namespace=not-an-identifier",
		"cache+memory://?cache.l2=http://x",
	} {
		_, err := repo.Open(t.Context(), u)
		require.ErrorIs(t, err, repo.ErrInvalid, u)
	}
	_, err := repo.Open(t.Context(), "cache+nosuch://")
	require.ErrorIs(t, err, repo.ErrInvalid)
	r, err := repo.Open(t.Context(), "cache+memory://?cache.size=10&cache.ttl=1s&cache.negative=1s&cache.queries=1s&cache.max_rows=5")
	require.NoError(t, err)
	require.NoError(t, r.Close())
	// A cluster URL needs no escaping of its '+'; the store keeps its own
	// parameters as they were written.
	cluster := testservers.RedisClusterURL(t)
	r, err = repo.Open(t.Context(), "cache+sqlite://"+t.TempDir()+"/o.db?cache.l2="+cluster+"&cache.bus="+cluster+"&_pragma=foreign_keys(1)")
	require.NoError(t, err)
	require.NoError(t, r.Close())
	_, err = repo.Open(t.Context(), "cache+memory://?cache.ttl=1s&cache.ttl=2s")
	require.ErrorIs(t, err, repo.ErrInvalid, "a parameter given twice")
}
