package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"github.com/strata-go/strata/adapters/sqlstore"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// The benchmarks do the same work on the same table through the repo and
// through raw bun (a bun model struct), in one run, per dialect:
//
//	go test -run '^$' -bench . -benchmem -count 8 ./adapters/sqlstore/ | tee bench.txt
//	benchstat -col /via bench.txt

// benchDoc is the schema the repo uses…
type benchDoc struct {
	_     struct{} `strata:"table=bench_rows"`
	ID    int64
	Name  string `strata:"name,size=64,index"`
	Score int64
	Note  string
}

// …and benchRow the bun model of the same table.
type benchRow struct {
	bun.BaseModel `bun:"table:bench_rows"`
	ID            int64  `bun:"id,pk"`
	Name          string `bun:"name"`
	Score         int64  `bun:"score"`
	Note          string `bun:"note"`
}

type benchTarget struct {
	r  *repo.Repo
	db *bun.DB
}

func benchTargets(b *testing.B) map[string]func(b *testing.B) benchTarget {
	return map[string]func(b *testing.B) benchTarget{
		"sqlite": func(b *testing.B) benchTarget { return openBench(b, "sqlite://"+b.TempDir()+"/bench.db") },
		"postgres": func(b *testing.B) benchTarget {
			return openBench(b, benchNamespace(b, testservers.PostgresURL(b), "schema"))
		},
	}
}

func openBench(b *testing.B, u string) benchTarget {
	ctx := context.Background()
	a, err := sqlstore.Open(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	r, err := repo.New(a, repo.WithNode(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	s, err := schema.Of[benchDoc]()
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Migrate(ctx, driver.CreateCollection{Collection: s.Collection}); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if err := r.Insert(ctx, &benchDoc{Name: fmt.Sprint("n", i%20), Score: int64(i), Note: "seed"}); err != nil {
			b.Fatal(err)
		}
	}
	return benchTarget{r: r, db: a.DB()}
}

// benchNamespace makes a schema or database for one benchmark.
func benchNamespace(b *testing.B, serverURL, kind string) string {
	if os.Getenv("STRATA_BENCH_SERVERS") == "" && !testservers.Required() {
		b.Skip("set STRATA_BENCH_SERVERS=1 to benchmark against the test servers")
	}
	return namespaces(b, serverURL, kind)(b)
}

var rawIDs atomic.Int64

func BenchmarkInsert(b *testing.B) {
	ctx := context.Background()
	for name, open := range benchTargets(b) {
		b.Run(name+"/via=repo", func(b *testing.B) {
			t := open(b)
			b.ReportAllocs()
			for b.Loop() {
				if err := t.r.Insert(ctx, &benchDoc{Name: "x", Score: 1, Note: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/via=bun", func(b *testing.B) {
			t := open(b)
			b.ReportAllocs()
			for b.Loop() {
				row := &benchRow{ID: 1<<40 + rawIDs.Add(1), Name: "x", Score: 1, Note: "bench"}
				if _, err := t.db.NewInsert().Model(row).Exec(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	for name, open := range benchTargets(b) {
		b.Run(name+"/via=repo", func(b *testing.B) {
			t := open(b)
			d := &benchDoc{Name: "get", Note: "bench"}
			if err := t.r.Insert(ctx, d); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var got benchDoc
			for b.Loop() {
				if err := t.r.Get(ctx, &got, d.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/via=bun", func(b *testing.B) {
			t := open(b)
			d := &benchDoc{Name: "get", Note: "bench"}
			if err := t.r.Insert(ctx, d); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var got benchRow
			for b.Loop() {
				if err := t.db.NewSelect().Model(&got).Where("id = ?", d.ID).Scan(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAll50(b *testing.B) {
	ctx := context.Background()
	for name, open := range benchTargets(b) {
		b.Run(name+"/via=repo", func(b *testing.B) {
			t := open(b)
			q := repo.Where("name", repo.Eq, "n7").OrderBy("id").Limit(50)
			b.ReportAllocs()
			for b.Loop() {
				docs, err := repo.All[benchDoc](ctx, t.r, q)
				if err != nil || len(docs) != 50 {
					b.Fatal(err, len(docs))
				}
			}
		})
		b.Run(name+"/via=bun", func(b *testing.B) {
			t := open(b)
			b.ReportAllocs()
			for b.Loop() {
				var rows []benchRow
				if err := t.db.NewSelect().Model(&rows).Where("name = ?", "n7").Order("id").Limit(50).Scan(ctx); err != nil || len(rows) != 50 {
					b.Fatal(err, len(rows))
				}
			}
		})
	}
}
