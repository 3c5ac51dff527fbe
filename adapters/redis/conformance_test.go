package redis_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/strata-go/strata/adapters/redis"
	"github.com/strata-go/strata/conformance"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/repo"
)

func TestConformanceStandalone(t *testing.T) {
	t.Parallel()
	conformance.Run(t, harness(t, testservers.RedisURL(t)))
}

// Sharded collections on one server: queries merge shards, and
// transactions span them.
func TestConformanceStandaloneSharded(t *testing.T) {
	t.Parallel()
	conformance.Run(t, harness(t, withParam(testservers.RedisURL(t), "shards", "4")))
}

func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	conformance.Run(t, harness(t, testservers.RedisClusterURL(t)))
}

var namespaceSeq atomic.Int64

// freshNamespace returns the URL of serverURL in a fresh namespace, whose
// keys admin deletes when the test ends.
func freshNamespace(t testing.TB, admin *redis.Adapter, serverURL string) string {
	ns := fmt.Sprintf("t%d_%d", time.Now().UnixNano()%1e9, namespaceSeq.Add(1))
	t.Cleanup(func() { dropNamespace(t, admin.Client(), ns) })
	return withParam(serverURL, "namespace", ns)
}

// admin opens an adapter for a test's housekeeping, closed when it ends.
func admin(t testing.TB, serverURL string) *redis.Adapter {
	a, err := redis.Open(context.Background(), serverURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// dropNamespace deletes every key of namespace ns.
func dropNamespace(t testing.TB, c goredis.UniversalClient, ns string) {
	keys := scanKeys(t, c, "{"+ns+"[:}]*")
	for _, k := range keys {
		if err := c.Del(context.Background(), k).Err(); err != nil {
			t.Errorf("drop namespace %s: %v", ns, err)
			return
		}
	}
}

// scanKeys returns the keys that match pattern (on every master of a
// cluster).
func scanKeys(t testing.TB, c goredis.UniversalClient, pattern string) []string {
	ctx := context.Background()
	var mu sync.Mutex
	var keys []string
	scan := func(ctx context.Context, c *goredis.Client) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	switch c := c.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *goredis.Client:
		err = scan(ctx, c)
	}
	if err != nil {
		t.Errorf("scan %s: %v", pattern, err)
	}
	return keys
}

// withParam returns rawURL with a query parameter added.
func withParam(rawURL, name, value string) string {
	sep := "?"
	if strings.Contains(rawURL, "?") {
		sep = "&"
	}
	return rawURL + sep + name + "=" + url.QueryEscape(value)
}

// openURL opens an adapter and a repo over it (with opts) on url, closed
// when t ends.
func openURL(t testing.TB, url string, opts ...repo.Option) (*redis.Adapter, *repo.Repo) {
	t.Helper()
	a, err := redis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.New(a, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return a, r
}

// harness opens a repo in a fresh namespace for each case.
func harness(t testing.TB, serverURL string) conformance.Harness {
	adm := admin(t, serverURL)
	return conformance.HarnessFunc(func(t *testing.T, opts ...repo.Option) *repo.Repo {
		_, r := openURL(t, freshNamespace(t, adm, serverURL), opts...)
		return r
	})
}
