package conformance

import (
	"testing"
	"time"

	"github.com/strata-go/strata/repo"
)

// Harness opens repos for the suite.
type Harness interface {
	// NewRepo returns a Repo over a fresh, empty namespace (its own
	// database, schema, bucket prefix or key prefix) that no other call
	// shares, and registers its cleanup with t.Cleanup. It must pass opts
	// to repo.New (or repo.Open) unchanged: the suite uses them to observe
	// the calls it makes (repo.WithObserver). If it cannot open a repo, it
	// fails t with t.Fatal.
	//
	// A case may close the repo itself (Lifecycle/Close): the cleanup must
	// then still work, closing the repo again without panicking and
	// dropping the namespace without it.
	//
	// NewRepo is called from many goroutines at once, since the cases run
	// in parallel.
	NewRepo(t *testing.T, opts ...repo.Option) *repo.Repo
}

// HarnessFunc adapts a function to Harness.
type HarnessFunc func(t *testing.T, opts ...repo.Option) *repo.Repo

// NewRepo calls f(t, opts...).
func (f HarnessFunc) NewRepo(t *testing.T, opts ...repo.Option) *repo.Repo { return f(t, opts...) }

// Eventual is implemented by a Harness whose store serves queries that may
// lag behind writes (Riak's secondary indexes, replicas). Eventually is
// the longest a committed write may take to show in the results of
// queries (All, Stream, Paginate, Count, Exists, One, GetBy, Aggregate,
// Preload); the suite then polls such reads until they show the write, up
// to that bound, instead of failing at once. A Get by primary key must
// still read the caller's own writes.
//
// A Harness that does not implement Eventual declares strongly consistent
// reads: every read sees every write that returned before it started.
type Eventual interface {
	Eventually() time.Duration
}

// WithEventually returns h declaring that queries may lag behind writes by
// up to d (see Eventual); it is for a HarnessFunc, which has no method of
// its own to declare it.
func WithEventually(h Harness, d time.Duration) Harness {
	return eventualHarness{h, d}
}

type eventualHarness struct {
	Harness
	d time.Duration
}

func (h eventualHarness) Eventually() time.Duration { return h.d }

// Partitioner is implemented by a Harness that can partition its store
// (an AP store's emulator, say), for the Convergence area: writes on both
// sides of a partition must converge, after it heals, to what the merge
// policies define.
type Partitioner interface {
	// NewPartitioned returns two repos over one fresh namespace of a store
	// of their own (the cases partition it, so no other case may use it),
	// and the functions that split the store between them (each repo then
	// reaches only its side) and heal the split. Cleanup is registered
	// with t.Cleanup.
	NewPartitioned(t *testing.T) (left, right *repo.Repo, split, heal func())
}
