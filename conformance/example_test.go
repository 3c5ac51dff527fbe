package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/conformance"
	"github.com/strata-go/strata/repo"
)

// memoryHarness is the harness of the memory adapter: each NewRepo is a new,
// empty store. An adapter over a server gives each call its own database,
// schema or key prefix instead, and drops it in the cleanup.
type memoryHarness struct{}

func (memoryHarness) NewRepo(t *testing.T, opts ...repo.Option) *repo.Repo {
	r, err := repo.New(memory.New(), opts...) // pass opts on: the suite observes calls through them
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// An adapter's test file runs the whole suite with one call; go test's -run
// flag picks areas and cases (-run 'Conformance/Queries/Null').
func TestConformance(t *testing.T) {
	conformance.Run(t, memoryHarness{})
}

// A harness hands every case a fresh namespace: what one repo stores, no
// other sees. The capabilities of its repos decide what the suite skips.
func Example() {
	ctx := context.Background()
	newRepo := func(opts ...repo.Option) *repo.Repo {
		r, _ := repo.New(memory.New(), opts...)
		return r
	}
	var h conformance.Harness = conformance.HarnessFunc(func(t *testing.T, opts ...repo.Option) *repo.Repo {
		r := newRepo(opts...)
		t.Cleanup(func() { r.Close() })
		return r
	})
	_ = h // conformance.Run(t, h) in a test, as TestConformance above does

	one, two := newRepo(), newRepo()
	defer one.Close()
	defer two.Close()
	err := one.Insert(ctx, &conformance.Setting{Key: "theme", Value: "dark"})
	fmt.Println("insert:", err)
	var s conformance.Setting
	err = two.Get(ctx, &s, "theme")
	fmt.Println("other namespace:", errors.Is(err, repo.ErrNotFound))
	fmt.Println("capabilities:", one.Capabilities())
	// Output:
	// insert: <nil>
	// other namespace: true
	// capabilities: transactions|savepoints|list-all|unindexed-filter|full-scan|offset|upsert|aggregates|batch-insert|unique-indexes|conditional-writes
}
