package cache_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strata-go/strata/adapters/cache"
	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/adapters/riak/riaktest"
	"github.com/strata-go/strata/conformance"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/repo"

	_ "github.com/strata-go/strata/adapters/redis"
	_ "github.com/strata-go/strata/adapters/riak"
	_ "github.com/strata-go/strata/adapters/sqlstore"
)

// The conformance suite through the cache, over each kind of store: the
// cache must be invisible to correctness. Every tier the cache has is on
// (negative and query caching included), so that the suite exercises
// them all.

func TestConformanceMemory(t *testing.T) {
	t.Parallel()
	bus := pubsub.NewLocal()
	t.Cleanup(func() { bus.Close() })
	conformance.Run(t, conformance.HarnessFunc(func(t *testing.T, opts ...repo.Option) *repo.Repo {
		a, err := cache.New(memory.New(), cache.Options{Namespace: freshNamespace(), Negative: time.Minute, Queries: true, QueryTTL: time.Minute, Bus: bus})
		if err != nil {
			t.Fatal(err)
		}
		return newRepo(t, a, opts...)
	}))
}

func TestConformanceSQLite(t *testing.T) {
	t.Parallel()
	l2 := testservers.RedisURL(t)
	conformance.Run(t, urlHarness(func(t testing.TB) string {
		return "cache+sqlite://" + t.TempDir() + "/test.db?" + params(l2, l2)
	}))
}

func TestConformanceRedis(t *testing.T) {
	t.Parallel()
	server := testservers.RedisURL(t)
	conformance.Run(t, urlHarness(func(t testing.TB) string {
		return "cache+" + server + "?namespace=" + freshNamespace() + "&" + params(server, server)
	}))
}

// The L2 and the bus on a Redis Cluster, the store on SQLite.
func TestConformanceSQLiteOverCluster(t *testing.T) {
	t.Parallel()
	cluster := testservers.RedisClusterURL(t)
	conformance.Run(t, urlHarness(func(t testing.TB) string {
		return "cache+sqlite://" + t.TempDir() + "/test.db?" + params(cluster, cluster)
	}))
}

// On riaktest, with the Convergence area: the two sides of a partition
// have caches of their own (their bus would be partitioned too), whose
// L1 TTL bounds how long a side may serve a record from before the
// partition healed.
func TestConformanceRiaktest(t *testing.T) {
	t.Parallel()
	cluster := riaktest.Start(t, riaktest.Options{Nodes: 3})
	h := urlHarness(func(t testing.TB) string {
		return riakURL(cluster, freshNamespace(), 0, 1, 2) + "&" + params("", "")
	})
	conformance.Run(t, partitioning{h})
}

type partitioning struct{ conformance.Harness }

func (partitioning) NewPartitioned(t *testing.T) (left, right *repo.Repo, split, heal func()) {
	cluster := riaktest.Start(t, riaktest.Options{Nodes: 3})
	ns := freshNamespace()
	open := func(nodes ...int) *repo.Repo {
		r, err := repo.Open(t.Context(), riakURL(cluster, ns, nodes...)+"&cache.ttl=300ms")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	left, right = open(0), open(1, 2)
	return left, right, func() { cluster.Partition([]int{0}, []int{1, 2}) }, cluster.Heal
}

// riakURL returns the cache+riak URL of namespace ns on some nodes.
func riakURL(cluster *riaktest.Cluster, ns string, nodes ...int) string {
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, cluster.Addrs()[n])
	}
	return fmt.Sprintf("cache+riak://%s?namespace=%s&n_val=3", strings.Join(addrs, ","), ns)
}

// params returns the cache's URL parameters: every tier on, with the L2
// and the bus at the given URLs when not "".
func params(l2, bus string) string {
	q := url.Values{}
	q.Set("cache.namespace", freshNamespace())
	q.Set("cache.negative", "1m")
	q.Set("cache.queries", "1m")
	if l2 != "" {
		q.Set("cache.l2", l2)
	}
	if bus != "" {
		q.Set("cache.bus", bus)
	}
	return q.Encode()
}

// urlHarness opens each case's repo on the URL newURL returns.
func urlHarness(newURL func(t testing.TB) string) conformance.Harness {
	return conformance.HarnessFunc(func(t *testing.T, opts ...repo.Option) *repo.Repo {
		r, err := repo.Open(context.Background(), newURL(t), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.Driver().(*cache.Adapter); !ok {
			t.Fatalf("the repo's adapter is a %T, not the cache", r.Driver())
		}
		t.Cleanup(func() { r.Close() })
		return r
	})
}
