package riak_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/strata-go/strata/adapters/riak"
	"github.com/strata-go/strata/adapters/riak/riaktest"
	"github.com/strata-go/strata/conformance"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/repo"
)

var namespaceSeq atomic.Int64

// harness opens a repo on addrs in a fresh namespace for each case.
func harness(addrs []string, params string) conformance.Harness {
	return conformance.HarnessFunc(func(t *testing.T, opts ...repo.Option) *repo.Repo {
		url := fmt.Sprintf("riak://%s?namespace=t%d%s", strings.Join(addrs, ","), namespaceSeq.Add(1), params)
		a, err := riak.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		r, err := repo.New(a, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	})
}

// The conformance suite on riaktest: 3 nodes, n_val 3, and its
// Convergence area on clusters of its own that it partitions.
func TestConformanceRiaktest(t *testing.T) {
	t.Parallel()
	cluster := riaktest.Start(t, riaktest.Options{Nodes: 3})
	conformance.Run(t, partitioning{harness(cluster.Addrs(), "&n_val=3")})
}

// partitioning is a harness that can also partition a riaktest cluster
// (conformance.Partitioner).
type partitioning struct{ conformance.Harness }

// NewPartitioned starts a cluster of 3 nodes for the case, with a repo on
// node 0 and one on nodes 1 and 2: split partitions {0} from {1, 2}.
func (partitioning) NewPartitioned(t *testing.T) (left, right *repo.Repo, split, heal func()) {
	cluster := riaktest.Start(t, riaktest.Options{Nodes: 3})
	ns := fmt.Sprintf("p%d", namespaceSeq.Add(1))
	open := func(addrs ...string) *repo.Repo {
		a, err := riak.Open(t.Context(), fmt.Sprintf("riak://%s?namespace=%s&n_val=3", strings.Join(addrs, ","), ns))
		if err != nil {
			t.Fatal(err)
		}
		r, err := repo.New(a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	addrs := cluster.Addrs()
	return open(addrs[0]), open(addrs[1], addrs[2]),
		func() { cluster.Partition([]int{0}, []int{1, 2}) }, cluster.Heal
}

// With RIAK_PB_ADDR (or RIAK_PB_ADDRS) set, the suite also runs against a
// real Riak node; otherwise this test says it did not run.
func TestConformanceRealRiak(t *testing.T) {
	t.Parallel()
	conformance.Run(t, harness(testservers.RiakAddrs(t), ""))
}
