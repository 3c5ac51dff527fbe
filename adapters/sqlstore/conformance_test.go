package sqlstore_test

import (
	"context"
	"testing"

	"github.com/strata-go/strata/adapters/sqlstore"
	"github.com/strata-go/strata/conformance"
	"github.com/strata-go/strata/repo"
)

func TestConformanceSQLite(t *testing.T) {
	t.Parallel()
	conformance.Run(t, conformance.HarnessFunc(func(t *testing.T, opts ...repo.Option) *repo.Repo {
		a, err := sqlstore.Open(context.Background(), "sqlite://"+t.TempDir()+"/test.db")
		if err != nil {
			t.Fatal(err)
		}
		r, err := repo.New(a, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}))
}
