package memory_test

import (
	"testing"

	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/conformance"
	"github.com/strata-go/strata/repo"
)

// harness gives every case of the suite a store of its own.
var harness = conformance.HarnessFunc(func(t *testing.T, opts ...repo.Option) *repo.Repo {
	r, err := repo.New(memory.New(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
})

func TestConformance(t *testing.T) { conformance.Run(t, harness) }
