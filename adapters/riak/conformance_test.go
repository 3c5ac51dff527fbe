package riak_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-go/strata/adapters/riak/riaktest"
	"github.com/strata-go/strata/conformance"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/repo"
)

// harness opens a repo on addrs in a fresh namespace for each case.
func harness(addrs []string, params string) conformance.Harness {
	return conformance.HarnessFunc(func(t *testing.T, opts ...repo.Option) *repo.Repo {
		_, r := openURL(t, fmt.Sprintf("riak://%s?namespace=%s%s", strings.Join(addrs, ","), freshNamespace("t"), params), opts...)
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
	ns := freshNamespace("p")
	_, left = openOn(t, cluster, ns, 0)
	_, right = openOn(t, cluster, ns, 1, 2)
	return left, right, func() { cluster.Partition([]int{0}, []int{1, 2}) }, cluster.Heal
}

// With RIAK_PB_ADDR (or RIAK_PB_ADDRS) set, the suite also runs against a
// real Riak node; otherwise this test says it did not run.
func TestConformanceRealRiak(t *testing.T) {
	t.Parallel()
	conformance.Run(t, harness(testservers.RiakAddrs(t), ""))
}
