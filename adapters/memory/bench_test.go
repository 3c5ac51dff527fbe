package memory

import (
	"context"
	"testing"

	"github.com/strata-go/strata/repo/driver"
)

func BenchmarkInsert(b *testing.B) {
	ctx := context.Background()
	a, c := New(), users(b)
	var id int64
	for b.Loop() {
		id++
		if _, err := a.Insert(ctx, c, user(id, nil, "x"), driver.InsertOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	a, c := benchUsers(b)
	var id int64
	for b.Loop() {
		if _, err := a.Get(ctx, c, id%1000); err != nil {
			b.Fatal(err)
		}
		id++
	}
}

func BenchmarkQuery(b *testing.B) {
	ctx := context.Background()
	a, c := benchUsers(b)
	q := &driver.Query{
		Filters: []driver.Filter{{Field: fName, Op: driver.Eq, Value: "n3"}},
		Order:   []driver.Order{{Field: fAge, Desc: true}, {Field: fID}},
		Limit:   50,
	}
	for b.Loop() {
		n := 0
		for _, err := range a.Query(ctx, c, q) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 50 {
			b.Fatalf("got %d records, want 50", n)
		}
	}
}

// benchUsers returns an adapter with 1000 users over 10 names.
func benchUsers(b *testing.B) (*Adapter, *driver.Collection) {
	a, c := New(), users(b)
	recs := make([]driver.Record, 1000)
	for i := range recs {
		recs[i] = withValue(user(int64(i), nil, "n"+string(rune('0'+i%10))), fAge, int64(i%37))
	}
	if _, err := a.InsertAll(context.Background(), c, recs); err != nil {
		b.Fatal(err)
	}
	return a, c
}
