package sqlstore_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/strata-go/strata/adapters/sqlstore"
	"github.com/strata-go/strata/conformance"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/repo"
)

func TestConformanceSQLite(t *testing.T) {
	t.Parallel()
	conformance.Run(t, harness(func(t testing.TB) string {
		return "sqlite://" + t.TempDir() + "/test.db"
	}))
}

func TestConformancePostgres(t *testing.T) {
	t.Parallel()
	conformance.Run(t, harness(namespaces(t, testservers.PostgresURL(t), "schema")))
}

func TestConformanceMySQL(t *testing.T) {
	t.Parallel()
	conformance.Run(t, harness(namespaces(t, testservers.MySQLURL(t), "database")))
}

// harness opens a repo on the URL newURL gives for each case.
func harness(newURL func(t testing.TB) string) conformance.Harness {
	return conformance.HarnessFunc(func(t *testing.T, opts ...repo.Option) *repo.Repo {
		a, err := sqlstore.Open(context.Background(), newURL(t))
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

var namespaceSeq atomic.Int64

// namespaces returns a function that creates a fresh PostgreSQL schema or
// MySQL database for each case, dropped when the case ends, and returns
// the URL of a connection to it.
func namespaces(t testing.TB, serverURL, kind string) func(t testing.TB) string {
	admin, err := sqlstore.Open(context.Background(), serverURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	return func(t testing.TB) string {
		name := fmt.Sprintf("strata_t%d_%d", time.Now().UnixNano()%1e9, namespaceSeq.Add(1))
		ctx := context.Background()
		if _, err := admin.DB().ExecContext(ctx, "CREATE "+strings.ToUpper(kind)+" ?", bun.Ident(name)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			drop := "DROP " + strings.ToUpper(kind) + " ?"
			if kind == "schema" {
				drop += " CASCADE"
			}
			if _, err := admin.DB().ExecContext(context.Background(), drop, bun.Ident(name)); err != nil {
				t.Errorf("drop %s %s: %v", kind, name, err)
			}
		})
		u, err := url.Parse(serverURL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if kind == "schema" {
			q.Set("search_path", name)
		} else {
			u.Path = "/" + name
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
}

// dialectURLs gives each dialect's fresh-namespace URLs, skipping (or, in
// CI, failing) those without a server.
func dialectURLs() map[string]func(t *testing.T) func(t testing.TB) string {
	return map[string]func(t *testing.T) func(t testing.TB) string{
		"sqlite": func(*testing.T) func(t testing.TB) string {
			return func(t testing.TB) string { return "sqlite://" + t.TempDir() + "/m.db" }
		},
		"postgres": func(t *testing.T) func(t testing.TB) string {
			return namespaces(t, testservers.PostgresURL(t), "schema")
		},
		"mysql": func(t *testing.T) func(t testing.TB) string {
			return namespaces(t, testservers.MySQLURL(t), "database")
		},
	}
}

// eachDialect runs fn as a parallel subtest per dialect, with the
// function that gives that dialect's fresh-namespace URLs.
func eachDialect(t *testing.T, fn func(t *testing.T, newURL func(testing.TB) string)) {
	t.Parallel()
	for name, urls := range dialectURLs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, urls(t))
		})
	}
}
