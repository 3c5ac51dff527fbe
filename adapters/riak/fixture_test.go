package riak_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/strata-go/strata/adapters/riak"
	"github.com/strata-go/strata/adapters/riak/riaktest"
	"github.com/strata-go/strata/repo"
)

// The tests' shared fixtures: opening repos on riaktest clusters.

var namespaceSeq atomic.Int64

// freshNamespace returns a namespace no other test uses.
func freshNamespace(prefix string) string { return fmt.Sprintf("%s%d", prefix, namespaceSeq.Add(1)) }

// openURL opens an adapter and a repo over it (with opts) on url, closed
// when t ends.
func openURL(t testing.TB, url string, opts ...repo.Option) (*riak.Adapter, *repo.Repo) {
	t.Helper()
	a, err := riak.Open(t.Context(), url)
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

// urlOn returns the URL of namespace ns on some nodes of cluster, with
// more query parameters (as "&name=value") if any; n_val is 3.
func urlOn(cluster *riaktest.Cluster, ns, params string, nodes ...int) string {
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, cluster.Addrs()[n])
	}
	return fmt.Sprintf("riak://%s?namespace=%s&n_val=3%s", strings.Join(addrs, ","), ns, params)
}

// openOn opens a repo on some nodes of cluster, in namespace ns.
func openOn(t testing.TB, cluster *riaktest.Cluster, ns string, nodes ...int) (*riak.Adapter, *repo.Repo) {
	t.Helper()
	return openURL(t, urlOn(cluster, ns, "", nodes...))
}
