package riak_test

// Regression tests from a review of the adapter (each failed before its
// fix), and a differential test of random queries against the reference
// semantics.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/strata-go/strata/adapters/riak"
	"github.com/strata-go/strata/adapters/riak/riaktest"
	"github.com/strata-go/strata/repo/driver"
)

// openRaw opens an adapter (no repo) on some nodes of cl, in namespace ns.
func openRaw(t *testing.T, cl *riaktest.Cluster, ns string, nodes ...int) *riak.Adapter {
	t.Helper()
	a, _ := openOn(t, cl, ns, nodes...)
	return a
}

// counters: id int pk, n counter, tags set, title lww, score int (indexed), flag.
func reviewColl(t *testing.T) *driver.Collection {
	c, err := driver.NewCollection("things", []driver.Field{
		{Name: "id", Kind: driver.KindInt, Bits: 64},
		{Name: "n", Kind: driver.KindInt, Bits: 64, Merge: driver.MergeCounter, Nullable: true},
		{Name: "tags", Kind: driver.KindStrings, Merge: driver.MergeSet, Nullable: true},
		{Name: "title", Kind: driver.KindString},
		{Name: "score", Kind: driver.KindInt, Bits: 64, Nullable: true},
		{Name: "on", Kind: driver.KindBool, Merge: driver.MergeFlag},
		{Name: "ver", Kind: driver.KindInt, Bits: 64},
	}, "id", "ver", []driver.Index{{Name: "score", Fields: []string{"score"}}}, driver.AP)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func reviewNS() string { return freshNamespace("r") }

func reviewRec(id int64, n any, tags any, title string, score any) driver.Record {
	return driver.Record{Values: []any{id, n, tags, title, score, false, int64(1)}}
}

// Lte on the leading field of a two-field index misses the records equal
// to the bound.
func TestLteOnCompositeIndex(t *testing.T) {
	cl := riaktest.Start(t, riaktest.Options{Nodes: 3})
	ctx := context.Background()
	c, err := driver.NewCollection("m", []driver.Field{
		{Name: "id", Kind: driver.KindInt, Bits: 64},
		{Name: "a", Kind: driver.KindInt, Bits: 64},
		{Name: "b", Kind: driver.KindString},
	}, "id", "", []driver.Index{{Name: "ab", Fields: []string{"a", "b"}}}, driver.AP)
	must(t, err)
	a := openRaw(t, cl, reviewNS(), 0)
	must(t, a.Migrate(ctx, driver.CreateCollection{Collection: c}))
	for i := range int64(4) {
		_, err := a.Insert(ctx, c, driver.Record{Values: []any{i, i, "x"}}, driver.InsertOptions{})
		must(t, err)
	}
	n, err := a.Count(ctx, c, &driver.Query{Filters: []driver.Filter{{Field: 1, Op: driver.Lte, Value: int64(2)}}})
	must(t, err)
	if n != 3 {
		t.Errorf("a <= 2 counted %d records, want 3 (a=0,1,2)", n)
	}
}

func try(t *testing.T, name string, fn func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: PANIC: %v", name, r)
		}
	}()
	fn()
}

func TestNoPanics(t *testing.T) {
	cl := riaktest.Start(t, riaktest.Options{Nodes: 3})
	ctx := context.Background()
	a := openRaw(t, cl, reviewNS(), 0, 1, 2)
	c := reviewColl(t)
	if err := a.Migrate(ctx, driver.CreateCollection{Collection: c}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Insert(ctx, c, reviewRec(1, int64(1), []string{"a"}, "x", int64(5)), driver.InsertOptions{}); err != nil {
		t.Fatal(err)
	}
	try(t, "Get int key", func() { _, err := a.Get(ctx, c, 1); t.Log("Get(int):", err) })
	try(t, "Get []byte key", func() { _, err := a.Get(ctx, c, []byte("x")); t.Log(err) })
	try(t, "Update int key", func() { _, err := a.Update(ctx, c, driver.Update{Key: 1}); t.Log(err) })
	try(t, "Delete int key", func() { err := a.Delete(ctx, c, driver.Delete{Key: int32(1)}); t.Log(err) })
	try(t, "Insert int key", func() {
		_, err := a.Insert(ctx, c, driver.Record{Values: []any{2, nil, nil, "x", nil, false, int64(1)}}, driver.InsertOptions{})
		t.Log("insert int key:", err)
	})
	try(t, "Insert int score (indexed)", func() {
		_, err := a.Insert(ctx, c, driver.Record{Values: []any{int64(3), nil, nil, "x", 7, false, int64(1)}}, driver.InsertOptions{})
		t.Log("insert int score:", err)
	})
	try(t, "Query field out of range", func() {
		for _, err := range a.Query(ctx, c, &driver.Query{Filters: []driver.Filter{{Field: 99, Op: driver.Eq, Value: int64(1)}}, FullScan: true}) {
			t.Log(err)
		}
	})
	try(t, "Query order out of range", func() {
		for _, err := range a.Query(ctx, c, &driver.Query{Order: []driver.Order{{Field: 99}}, FullScan: true}) {
			t.Log(err)
		}
	})
	try(t, "Query In non-slice", func() {
		for _, err := range a.Query(ctx, c, &driver.Query{Filters: []driver.Filter{{Field: 4, Op: driver.In, Value: int64(5)}}}) {
			t.Log(err)
		}
	})
	try(t, "Query After shorter", func() {
		for _, err := range a.Query(ctx, c, &driver.Query{Order: []driver.Order{{Field: 4}, {Field: 0}}, After: []any{int64(1)}, FullScan: true}) {
			t.Log(err)
		}
	})
	try(t, "Aggregate out of range", func() {
		_, err := a.Aggregate(ctx, c, &driver.Query{FullScan: true}, driver.AggSum, 99)
		t.Log(err)
	})
	try(t, "Update change bad value", func() {
		_, err := a.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{{Field: 4, Op: driver.Set, Value: 3}}})
		t.Log("update score=int:", err)
	})
	try(t, "Update SetMax on lww with wrong type", func() {
		_, err := a.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{{Field: 3, Op: driver.SetMax, Value: 3}}})
		t.Log("setmax:", err)
	})
	try(t, "Insert wrong length", func() {
		_, err := a.Insert(ctx, c, driver.Record{Values: []any{int64(9)}}, driver.InsertOptions{})
		t.Log(err)
	})
	try(t, "Get nil key", func() { _, err := a.Get(ctx, c, nil); t.Log(err) })
}

// A record with siblings has the 2i entries of every sibling: a query in
// the index's order meets it first at a stale term.
func TestStaleTermOrder(t *testing.T) {
	cl := riaktest.Start(t, riaktest.Options{Nodes: 3})
	space := reviewNS()
	c := reviewColl(t)
	ctx := context.Background()
	all := openRaw(t, cl, space, 0, 1, 2)
	must(t, all.Migrate(ctx, driver.CreateCollection{Collection: c}))
	for id, score := range map[int64]int64{1: 10, 2: 50} {
		_, err := all.Insert(ctx, c, reviewRec(id, int64(0), []string{}, "x", score), driver.InsertOptions{})
		must(t, err)
	}
	cl.Partition([]int{0}, []int{1, 2})
	left, right := openRaw(t, cl, space, 0), openRaw(t, cl, space, 1, 2)
	_, err := left.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{{Field: 4, Op: driver.Set, Value: int64(1)}}})
	must(t, err)
	time.Sleep(2 * time.Millisecond)
	_, err = right.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{{Field: 4, Op: driver.Set, Value: int64(100)}}})
	must(t, err)
	cl.Heal()
	cl.Converge()
	q := &driver.Query{Filters: []driver.Filter{{Field: 4, Op: driver.Gte, Value: int64(0)}}, Order: []driver.Order{{Field: 4}, {Field: 0}}, Limit: 1}
	for r, err := range all.Query(ctx, c, q) {
		must(t, err)
		t.Logf("lowest score: id=%v score=%v", r.Values[0], r.Values[4])
		if r.Values[0] != int64(2) {
			t.Errorf("ORDER BY score LIMIT 1 returned id %v with score %v; id 2 has score 50", r.Values[0], r.Values[4])
		}
	}
	q.Limit = 0
	for r, err := range all.Query(ctx, c, q) {
		must(t, err)
		t.Logf("all: id=%v score=%v", r.Values[0], r.Values[4])
	}
}

func TestRenameFields(t *testing.T) {
	cl := riaktest.Start(t, riaktest.Options{Nodes: 3})
	ctx := context.Background()
	a := openRaw(t, cl, reviewNS(), 0, 1, 2)
	c := reviewColl(t)
	must(t, a.Migrate(ctx, driver.CreateCollection{Collection: c}))
	_, err := a.Insert(ctx, c, reviewRec(1, int64(3), []string{"x"}, "t", int64(5)), driver.InsertOptions{})
	must(t, err)
	t.Logf("rename version field: %v", a.Migrate(ctx, driver.RenameField{Collection: "things", From: "ver", To: "version"}))
	t.Logf("rename key field: %v", a.Migrate(ctx, driver.RenameField{Collection: "things", From: "id", To: "ident"}))
	t.Logf("rename indexed field: %v", a.Migrate(ctx, driver.RenameField{Collection: "things", From: "score", To: "points"}))
	t.Logf("drop collection: %v", a.Migrate(ctx, driver.DropCollection{Name: "things"}))
	_, err = a.Get(ctx, c, int64(1))
	t.Logf("get after drop: %v", err)
}

// TestRandomQueries compares random filters, orders, cursors, offsets and
// limits against the reference semantics, with int and string keys.
func TestRandomQueries(t *testing.T) {
	t.Parallel()
	for _, strKey := range []bool{false, true} {
		t.Run(fmt.Sprint("strkey=", strKey), func(t *testing.T) {
			t.Parallel()
			randomQueries(t, strKey)
		})
	}
}

func randomQueries(t *testing.T, strKey bool) {
	cl := riaktest.Start(t, riaktest.Options{Nodes: 3})
	ctx := context.Background()
	keyKind := driver.KindInt
	if strKey {
		keyKind = driver.KindString
	}
	c, err := driver.NewCollection("q", []driver.Field{
		{Name: "id", Kind: keyKind, Bits: 64},
		{Name: "a", Kind: driver.KindInt, Bits: 64, Nullable: true},
		{Name: "b", Kind: driver.KindString},
		{Name: "f", Kind: driver.KindFloat, Bits: 64, Nullable: true},
	}, "id", "", []driver.Index{{Name: "ab", Fields: []string{"a", "b"}}, {Name: "b", Fields: []string{"b"}}, {Name: "f", Fields: []string{"f"}}}, driver.AP)
	must(t, err)
	a := openRaw(t, cl, reviewNS(), 0, 1, 2)
	must(t, a.Migrate(ctx, driver.CreateCollection{Collection: c}))
	rng := rand.New(rand.NewPCG(1, uint64(len(fmt.Sprint(strKey)))))
	strs := []string{"", "a", "ab", "abc", "b", "ba", "z", "aé", "~", "é"}
	key := func(i int) any {
		if strKey {
			return strs[(i%len(strs)+len(strs))%len(strs)] + fmt.Sprint(i)
		}
		return int64(i - 20)
	}
	var recs [][]any
	for i := range 60 {
		var av any
		if rng.IntN(5) > 0 {
			av = int64(rng.IntN(9) - 4)
		}
		var fv any
		if rng.IntN(5) > 0 {
			fv = []float64{-1.5, 0, 2.25, -0.0, 1e9}[rng.IntN(5)]
		}
		vals := []any{key(i), av, strs[rng.IntN(len(strs))], fv}
		_, err := a.Insert(ctx, c, driver.Record{Values: vals}, driver.InsertOptions{})
		must(t, err)
		recs = append(recs, vals)
	}
	randVal := func(field int) any {
		switch field {
		case 0:
			if rng.IntN(3) == 0 {
				return recs[rng.IntN(len(recs))][0]
			}
			return key(rng.IntN(80) - 10)
		case 1:
			if rng.IntN(8) == 0 {
				return nil
			}
			return int64(rng.IntN(11) - 5)
		case 2:
			return strs[rng.IntN(len(strs))]
		case 3:
			if rng.IntN(8) == 0 {
				return nil
			}
			return []float64{-1.5, 0, 2.25, 1e9, 3}[rng.IntN(5)]
		}
		return nil
	}
	ops := []driver.Op{driver.Eq, driver.Ne, driver.Lt, driver.Lte, driver.Gt, driver.Gte, driver.In, driver.Prefix}
	bad := 0
	for iter := range 500 {
		q := &driver.Query{FullScan: true}
		for range rng.IntN(3) {
			f := rng.IntN(4)
			op := ops[rng.IntN(len(ops))]
			if f == 1 && op == driver.Lte && noLte {
				op = driver.Gte
			}
			if op == driver.Prefix && c.Fields[f].Kind != driver.KindString {
				op = driver.Eq
			}
			var v any
			switch op {
			case driver.In:
				var l []any
				for range rng.IntN(4) {
					l = append(l, randVal(f))
				}
				v = l
			case driver.Prefix:
				s, _ := randVal(f).(string)
				if len(s) > 1 {
					s = s[:rng.IntN(len(s))]
				}
				v = s
			default:
				v = randVal(f)
				if v == nil && op != driver.Eq && op != driver.Ne {
					v = randVal(f)
					if v == nil {
						op = driver.Eq
					}
				}
			}
			if f == 0 && v == nil {
				continue
			}
			q.Filters = append(q.Filters, driver.Filter{Field: f, Op: op, Value: v})
		}
		for range rng.IntN(3) {
			o := driver.Order{Field: 1 + rng.IntN(3), Desc: rng.IntN(2) == 0}
			if !slices.ContainsFunc(q.Order, func(x driver.Order) bool { return x.Field == o.Field }) {
				q.Order = append(q.Order, o)
			}
		}
		q.Order = append(q.Order, driver.Order{Field: 0, Desc: rng.IntN(2) == 0})
		// reference
		var want [][]any
		for _, r := range recs {
			ok := true
			for _, f := range q.Filters {
				ok = ok && f.Match(r[f.Field])
			}
			if ok {
				want = append(want, r)
			}
		}
		slices.SortFunc(want, func(x, y []any) int {
			for _, o := range q.Order {
				n := driver.Compare(x[o.Field], y[o.Field])
				if o.Desc {
					n = -n
				}
				if n != 0 {
					return n
				}
			}
			return 0
		})
		if rng.IntN(2) == 0 {
			var cur []any
			if len(want) > 0 && rng.IntN(4) > 0 {
				pick := want[rng.IntN(len(want))]
				for _, o := range q.Order {
					cur = append(cur, pick[o.Field])
				}
			} else {
				pick := recs[rng.IntN(len(recs))]
				for _, o := range q.Order {
					cur = append(cur, pick[o.Field])
				}
			}
			q.After = cur
			want = slices.DeleteFunc(want, func(r []any) bool { return !q.AfterCursor(r) })
		}
		if rng.IntN(3) == 0 {
			q.Offset = rng.IntN(5)
		}
		if rng.IntN(2) == 0 {
			q.Limit = 1 + rng.IntN(6)
		}
		want = want[min(q.Offset, len(want)):]
		if q.Limit > 0 && len(want) > q.Limit {
			want = want[:q.Limit]
		}
		var got [][]any
		var qerr error
		for r, err := range a.Query(ctx, c, q) {
			if err != nil {
				qerr = err
				break
			}
			got = append(got, r.Values)
		}
		if qerr != nil || !reflect.DeepEqual(keys(got), keys(want)) {
			bad++
			if bad <= 8 {
				t.Errorf("iter %d: query filters=%v order=%v after=%v off=%d lim=%d\n got  %v (err %v)\n want %v", iter, q.Filters, q.Order, q.After, q.Offset, q.Limit, got, qerr, want)
			}
		}
	}
	t.Logf("%d mismatches", bad)
}

var noLte = false

func keys(rs [][]any) []any {
	var out []any
	for _, r := range rs {
		out = append(out, r[0])
	}
	return out
}
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// One adapter's writers write under sloppy quorum (fallbacks) with one
// side of the cluster down, then the other: a writer whose read misses its
// own last write (on the other fallbacks) must not reuse its counter total
// or its dot numbers, or increments and additions are lost at the merge.
func TestActorReuseSloppyQuorum(t *testing.T) {
	cl := riaktest.Start(t, riaktest.Options{Nodes: 3})
	ctx := context.Background()
	a := openRaw(t, cl, reviewNS(), 0, 1, 2)
	c := reviewColl(t)
	if err := a.Migrate(ctx, driver.CreateCollection{Collection: c}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Insert(ctx, c, reviewRec(1, int64(0), []string{}, "x", int64(5)), driver.InsertOptions{}); err != nil {
		t.Fatal(err)
	}
	upd := func(i int) {
		var err error
		for range 100 {
			_, err = a.Update(ctx, c, driver.Update{Key: int64(1), Changes: []driver.Change{
				{Field: 1, Op: driver.Increment, Value: int64(1)},
				{Field: 2, Op: driver.Add, Value: []string{fmt.Sprint(i)}},
			}})
			if err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal(err)
	}
	cl.NodeDown(1)
	cl.NodeDown(2)
	for i := range 64 {
		upd(i)
	}
	cl.NodeUp(1)
	cl.NodeUp(2)
	cl.NodeDown(0)
	for i := 64; i < 128; i++ {
		upd(i)
	}
	cl.NodeUp(0)
	cl.Converge()
	r, err := a.Get(ctx, c, int64(1))
	if err != nil {
		t.Fatal(err)
	}
	n := r.Values[1].(int64)
	tags := r.Values[2].([]string)
	t.Logf("after 128 increments and adds: counter=%d, set has %d elements", n, len(tags))
	if n != 128 || len(tags) != 128 {
		t.Errorf("lost updates: counter %d (want 128), set %d elements (want 128)", n, len(tags))
	}
}
