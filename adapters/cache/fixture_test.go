package cache_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

// The tests' shared fixtures.

var namespaceSeq atomic.Int64

// freshNamespace returns a cache (and store) namespace no other test uses.
func freshNamespace() string { return fmt.Sprintf("c%d_%d", namespaceSeq.Add(1), rnd) }

// rnd separates the namespaces of test processes sharing a server.
var rnd = time.Now().UnixNano() % 1e6

// newRepo returns a repo over a, closed when t ends.
func newRepo(t testing.TB, a driver.Adapter, opts ...repo.Option) *repo.Repo {
	t.Helper()
	r, err := repo.New(a, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
