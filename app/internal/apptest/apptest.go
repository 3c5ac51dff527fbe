// Package apptest holds the chat app's shared test fixtures: a fresh,
// migrated repo on each kind of store the app runs on, so that the
// service's and the API's tests run against every one.
package apptest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/adapters/riak/riaktest"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"

	_ "github.com/strata-go/strata/adapters/cache"
	_ "github.com/strata-go/strata/adapters/redis"
	_ "github.com/strata-go/strata/adapters/riak"
	_ "github.com/strata-go/strata/adapters/sqlstore"
)

var seq atomic.Int64

// unique returns a name no other test (of this process or another one
// sharing a server) uses.
func unique(prefix string) string {
	return fmt.Sprintf("%s%d_%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
}

// Stores opens, by name, a fresh repo for a test, closed when it ends:
// the embedded and served stores the app runs on, a router over Riak
// and PostgreSQL, and a cache in front of two of them.
var Stores = map[string]func(t *testing.T) *repo.Repo{
	"memory": func(t *testing.T) *repo.Repo {
		r, err := repo.New(memory.New())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	},
	"sqlite":   func(t *testing.T) *repo.Repo { return Open(t, "sqlite://"+t.TempDir()+"/chat.db") },
	"postgres": func(t *testing.T) *repo.Repo { return Open(t, testservers.PostgresSchema(t)) },
	"redis": func(t *testing.T) *repo.Repo {
		return Open(t, testservers.RedisURL(t)+"?namespace="+unique("chat"))
	},
	"riaktest": func(t *testing.T) *repo.Repo {
		c := riaktest.Start(t, riaktest.Options{Nodes: 3})
		return Open(t, "riak://"+strings.Join(c.Addrs(), ",")+"?n_val=3")
	},
	// The chat's messages (AP) on Riak, the rest (CP) on PostgreSQL,
	// through a router.
	"riaktest+postgres": func(t *testing.T) *repo.Repo {
		c := riaktest.Start(t, riaktest.Options{Nodes: 3})
		r, err := repo.OpenRouter(context.Background(), repo.RouteURLs{
			AP: "riak://" + strings.Join(c.Addrs(), ",") + "?n_val=3", CP: testservers.PostgresSchema(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	},
	"cache+sqlite": func(t *testing.T) *repo.Repo {
		return Open(t, "cache+sqlite://"+t.TempDir()+"/chat.db?cache.namespace="+unique("c")+"&cache.negative=1m")
	},
	"cache+redis": func(t *testing.T) *repo.Repo {
		u := testservers.RedisURL(t)
		return Open(t, "cache+"+u+"?namespace="+unique("chat")+"&cache.namespace="+unique("c")+"&cache.l2="+u+"&cache.bus="+u)
	},
}

// Open opens a repo on url, closed when t ends.
func Open(t *testing.T, url string) *repo.Repo {
	t.Helper()
	r, err := repo.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// Migrated returns a fresh repo of the store with the schema ms (the
// chat's: chat.Migrations(), which this package cannot import, as the
// chat's own tests use it).
func Migrated(t *testing.T, store string, ms *migrate.Migrations) *repo.Repo {
	t.Helper()
	r := Stores[store](t)
	var opts []migrate.Option
	if _, ok := driver.Find[driver.Locker](r.Driver()); !ok {
		opts = append(opts, migrate.WithoutLock()) // Riak: one test migrates its own store
	}
	m, err := migrate.New(r, ms, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// EachStore runs fn as a parallel subtest per store.
func EachStore(t *testing.T, fn func(t *testing.T, store string)) {
	t.Parallel()
	for name := range Stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, name)
		})
	}
}
