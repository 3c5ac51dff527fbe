package repo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// The benchmarks run each operation through the repo and, in the same run,
// straight against the adapter ("driver"), so that the ratio is the cost of
// the portable layer (reflection, validation, wrapping). See BENCHMARKS.md.

type benchDoc struct {
	_     struct{} `strata:"table=bench"`
	ID    int64
	Name  string `strata:"name,index"`
	Score int64
	Tags  []string
	schema.Timestamps
}

func benchRepo(b *testing.B) (*repo.Repo, *memory.Adapter, *driver.Collection) {
	a := memory.New()
	r, err := repo.New(a, repo.WithNode(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	s, err := schema.Of[benchDoc]()
	if err != nil {
		b.Fatal(err)
	}
	return r, a, s.Collection
}

func BenchmarkInsert(b *testing.B) {
	ctx := context.Background()
	b.Run("repo", func(b *testing.B) {
		r, _, _ := benchRepo(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := r.Insert(ctx, &benchDoc{Name: "n", Score: 3, Tags: []string{"a"}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("driver", func(b *testing.B) {
		r, a, c := benchRepo(b)
		b.ReportAllocs()
		for b.Loop() {
			now := time.Now().UTC().Truncate(time.Microsecond)
			id, err := r.NewID()
			if err != nil {
				b.Fatal(err)
			}
			rec := driver.Record{Values: []any{int64(id), "n", int64(3), []string{"a"}, now, now}}
			if _, err := a.Insert(ctx, c, rec, driver.InsertOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	r, a, c := benchRepo(b)
	d := &benchDoc{Name: "n", Score: 3, Tags: []string{"a"}}
	if err := r.Insert(ctx, d); err != nil {
		b.Fatal(err)
	}
	b.Run("repo", func(b *testing.B) {
		b.ReportAllocs()
		var got benchDoc
		for b.Loop() {
			if err := r.Get(ctx, &got, d.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("driver", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Get(ctx, c, d.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAll(b *testing.B) {
	ctx := context.Background()
	r, a, c := benchRepo(b)
	for i := range 1000 {
		if err := r.Insert(ctx, &benchDoc{Name: fmt.Sprint("n", i%10), Score: int64(i)}); err != nil {
			b.Fatal(err)
		}
	}
	q := repo.Where("name", repo.Eq, "n3").OrderBy("-score").Limit(50)
	b.Run("repo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			docs, err := repo.All[benchDoc](ctx, r, q)
			if err != nil || len(docs) != 50 {
				b.Fatal(err, len(docs))
			}
		}
	})
	b.Run("driver", func(b *testing.B) {
		b.ReportAllocs()
		dq := &driver.Query{Filters: []driver.Filter{{Field: 1, Op: driver.Eq, Value: "n3"}},
			Order: []driver.Order{{Field: 2, Desc: true}}, Limit: 50}
		for b.Loop() {
			n := 0
			for _, err := range a.Query(ctx, c, dq) {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != 50 {
				b.Fatal(n)
			}
		}
	})
}

// BenchmarkSchemaOf shows that reflection is paid once per type: the
// cached lookup allocates nothing, however often it runs.
func BenchmarkSchemaOf(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schema.Of[benchDoc](); err != nil {
			b.Fatal(err)
		}
	}
}
