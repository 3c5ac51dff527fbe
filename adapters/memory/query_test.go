package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

// people returns an adapter with four users:
//
//	id  name  email  age   score  active  born
//	1   ann   a@x    10    1.5    true    2001
//	2   bob   b@x    20    -2     false   2002
//	3   Cy    NULL   NULL  NULL   true    NULL
//	4   bea   NULL   30    0      false   2004
func people(t *testing.T) (*Adapter, *driver.Collection) {
	t.Helper()
	a, c := New(), users(t)
	year := func(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }
	rows := [][]any{
		{int64(1), "ann", "a@x", int64(10), 1.5, true, year(2001)},
		{int64(2), "bob", "b@x", int64(20), -2.0, false, year(2002)},
		{int64(3), "Cy", nil, nil, nil, true, nil},
		{int64(4), "bea", nil, int64(30), 0.0, false, year(2004)},
	}
	// Insert out of key order: results must not depend on it.
	for _, i := range []int{2, 0, 3, 1} {
		r := rows[i]
		rec := user(r[0].(int64), r[2], r[1].(string))
		rec.Values[fAge], rec.Values[fScore], rec.Values[fActive], rec.Values[fBorn] = r[3], r[4], r[5], r[6]
		_, err := a.Insert(context.Background(), c, rec, driver.InsertOptions{})
		require.NoError(t, err)
	}
	return a, c
}

func TestQueryFilters(t *testing.T) {
	a, c := people(t)
	y2002 := time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		filters []driver.Filter
		want    []any
	}{
		{"none", nil, []any{int64(1), int64(2), int64(3), int64(4)}},
		{"eq", []driver.Filter{{Field: fAge, Op: driver.Eq, Value: int64(20)}}, []any{int64(2)}},
		{"eq NULL matches NULLs", []driver.Filter{{Field: fAge, Op: driver.Eq, Value: nil}}, []any{int64(3)}},
		{"ne skips NULLs", []driver.Filter{{Field: fAge, Op: driver.Ne, Value: int64(20)}}, []any{int64(1), int64(4)}},
		{"ne NULL matches non-NULLs", []driver.Filter{{Field: fAge, Op: driver.Ne, Value: nil}}, []any{int64(1), int64(2), int64(4)}},
		{"lt", []driver.Filter{{Field: fAge, Op: driver.Lt, Value: int64(20)}}, []any{int64(1)}},
		{"lte", []driver.Filter{{Field: fAge, Op: driver.Lte, Value: int64(20)}}, []any{int64(1), int64(2)}},
		{"gt", []driver.Filter{{Field: fAge, Op: driver.Gt, Value: int64(20)}}, []any{int64(4)}},
		{"gte", []driver.Filter{{Field: fAge, Op: driver.Gte, Value: int64(20)}}, []any{int64(2), int64(4)}},
		{"lt NULL matches nothing", []driver.Filter{{Field: fAge, Op: driver.Lt, Value: nil}}, nil},
		{"gte NULL matches nothing", []driver.Filter{{Field: fAge, Op: driver.Gte, Value: nil}}, nil},
		{"in", []driver.Filter{{Field: fAge, Op: driver.In, Value: []any{int64(30), int64(10), int64(99)}}}, []any{int64(1), int64(4)}},
		{"in empty matches nothing", []driver.Filter{{Field: fAge, Op: driver.In, Value: []any{}}}, nil},
		{"in NULL never matches", []driver.Filter{{Field: fAge, Op: driver.In, Value: []any{nil, int64(20)}}}, []any{int64(2)}},
		{"prefix", []driver.Filter{{Field: fName, Op: driver.Prefix, Value: "b"}}, []any{int64(2), int64(4)}},
		{"prefix is case-sensitive", []driver.Filter{{Field: fName, Op: driver.Prefix, Value: "c"}}, nil},
		{"prefix has no wildcards", []driver.Filter{{Field: fName, Op: driver.Prefix, Value: "%"}}, nil},
		{"empty prefix matches non-NULLs", []driver.Filter{{Field: fEmail, Op: driver.Prefix, Value: ""}}, []any{int64(1), int64(2)}},
		{"strings compare by bytes", []driver.Filter{{Field: fName, Op: driver.Lt, Value: "a"}}, []any{int64(3)}},
		{"bool", []driver.Filter{{Field: fActive, Op: driver.Eq, Value: true}}, []any{int64(1), int64(3)}},
		{"false before true", []driver.Filter{{Field: fActive, Op: driver.Lt, Value: true}}, []any{int64(2), int64(4)}},
		{"float", []driver.Filter{{Field: fScore, Op: driver.Gte, Value: 0.0}}, []any{int64(1), int64(4)}},
		{"time", []driver.Filter{{Field: fBorn, Op: driver.Gt, Value: y2002}}, []any{int64(4)}},
		{"key", []driver.Filter{{Field: fID, Op: driver.In, Value: []any{int64(3), int64(1)}}}, []any{int64(1), int64(3)}},
		{"and", []driver.Filter{
			{Field: fAge, Op: driver.Gte, Value: int64(10)},
			{Field: fName, Op: driver.Ne, Value: "ann"},
		}, []any{int64(2), int64(4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &driver.Query{Filters: tt.filters}
			got := ids(collect(t, a.Query(context.Background(), c, q)))
			if tt.want == nil {
				require.Empty(t, got)
			} else {
				require.Equal(t, tt.want, got)
			}
			n, err := a.Count(context.Background(), c, q)
			require.NoError(t, err)
			require.Equal(t, int64(len(tt.want)), n)
		})
	}
}

func TestQueryOrder(t *testing.T) {
	a, c := people(t)
	ctx := context.Background()
	// Two more users that tie on name with 1 and 2.
	for _, r := range []driver.Record{user(6, nil, "bob"), user(5, nil, "ann")} {
		_, err := a.Insert(ctx, c, r, driver.InsertOptions{})
		require.NoError(t, err)
	}
	tests := []struct {
		name  string
		order []driver.Order
		want  []any
	}{
		{"none: by primary key", nil, []any{int64(1), int64(2), int64(3), int64(4), int64(5), int64(6)}},
		{"asc: NULL first", []driver.Order{{Field: fAge}}, []any{int64(3), int64(5), int64(6), int64(1), int64(2), int64(4)}},
		{"desc: NULL last", []driver.Order{{Field: fAge, Desc: true}}, []any{int64(4), int64(2), int64(1), int64(3), int64(5), int64(6)}},
		{"ties broken by primary key", []driver.Order{{Field: fName}}, []any{int64(3), int64(1), int64(5), int64(4), int64(2), int64(6)}},
		{"ties broken by primary key ascending, even under desc", []driver.Order{{Field: fName, Desc: true}}, []any{int64(2), int64(6), int64(4), int64(1), int64(5), int64(3)}},
		{"two keys", []driver.Order{{Field: fActive}, {Field: fAge, Desc: true}}, []any{int64(4), int64(2), int64(5), int64(6), int64(1), int64(3)}},
		{"by key desc", []driver.Order{{Field: fID, Desc: true}}, []any{int64(6), int64(5), int64(4), int64(3), int64(2), int64(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(collect(t, a.Query(ctx, c, &driver.Query{Order: tt.order})))
			require.Equal(t, tt.want, got)
		})
	}
}

func TestQueryStringKeyOrder(t *testing.T) {
	ctx := context.Background()
	a, m := New(), members(t)
	for _, id := range []string{"b", "a10", "a2", "B"} {
		_, err := a.Insert(ctx, m, driver.Record{Values: []any{id, "r" + id, nil}}, driver.InsertOptions{})
		require.NoError(t, err)
	}
	got := field(collect(t, a.Query(ctx, m, nil)), 0)
	require.Equal(t, []any{"B", "a10", "a2", "b"}, got, "byte order")
}

func TestQueryOffsetLimit(t *testing.T) {
	a, c := people(t)
	ctx := context.Background()
	tests := []struct {
		offset, limit int
		want          []any
	}{
		{0, 0, []any{int64(1), int64(2), int64(3), int64(4)}},
		{0, 2, []any{int64(1), int64(2)}},
		{1, 2, []any{int64(2), int64(3)}},
		{3, 0, []any{int64(4)}},
		{3, 5, []any{int64(4)}},
		{4, 0, nil},
		{10, 1, nil},
	}
	for _, tt := range tests {
		q := &driver.Query{Offset: tt.offset, Limit: tt.limit}
		got := ids(collect(t, a.Query(ctx, c, q)))
		if tt.want == nil {
			require.Empty(t, got, "offset %d limit %d", tt.offset, tt.limit)
		} else {
			require.Equal(t, tt.want, got, "offset %d limit %d", tt.offset, tt.limit)
		}
		n, err := a.Count(ctx, c, q)
		require.NoError(t, err)
		require.Equal(t, int64(len(tt.want)), n, "count with offset %d limit %d", tt.offset, tt.limit)
	}
}

func TestQueryAfterCursorPaging(t *testing.T) {
	ctx := context.Background()
	a, c := New(), users(t)
	// 25 users over 5 names and some NULL ages, so that Order keys tie.
	for i := int64(1); i <= 25; i++ {
		rec := user(i, nil, []string{"e", "a", "d", "b", "c"}[i%5])
		if i%3 != 0 {
			rec.Values[fAge] = i % 4
		}
		_, err := a.Insert(ctx, c, rec, driver.InsertOptions{})
		require.NoError(t, err)
	}
	orders := [][]driver.Order{
		{{Field: fID}},
		{{Field: fID, Desc: true}},
		{{Field: fName}, {Field: fID}},
		{{Field: fName, Desc: true}, {Field: fID}},
		{{Field: fAge}, {Field: fName, Desc: true}, {Field: fID, Desc: true}},
	}
	for _, order := range orders {
		all := ids(collect(t, a.Query(ctx, c, &driver.Query{Order: order})))
		require.Len(t, all, 25)

		var paged []any
		var after []any
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10, "paging must end")
			page := collect(t, a.Query(ctx, c, &driver.Query{Order: order, After: after, Limit: 4}))
			if len(page) == 0 {
				break
			}
			require.LessOrEqual(t, len(page), 4)
			paged = append(paged, ids(page)...)
			last := page[len(page)-1]
			after = make([]any, len(order))
			for i, o := range order {
				after[i] = last.Values[o.Field]
			}
		}
		require.Equal(t, all, paged, "order %v", order)
	}
}

func TestQueryAfterIsAppliedBeforeOffset(t *testing.T) {
	a, c := people(t)
	q := &driver.Query{Order: []driver.Order{{Field: fID}}, After: []any{int64(1)}, Offset: 1, Limit: 1}
	require.Equal(t, []any{int64(3)}, ids(collect(t, a.Query(context.Background(), c, q))))
}

func TestQueryAfterWithNullKey(t *testing.T) {
	a, c := people(t)
	// Ages in order: 3 (NULL), 1 (10), 2 (20), 4 (30).
	q := &driver.Query{Order: []driver.Order{{Field: fAge}, {Field: fID}}, After: []any{nil, int64(3)}}
	require.Equal(t, []any{int64(1), int64(2), int64(4)}, ids(collect(t, a.Query(context.Background(), c, q))))
}

func TestQueryFieldsProjection(t *testing.T) {
	a, c := people(t)
	recs := collect(t, a.Query(context.Background(), c, &driver.Query{Fields: []int{fName, fAge}, Limit: 1}))
	require.Len(t, recs, 1)
	want := make([]any, fVersion+1)
	want[fID], want[fName], want[fAge] = int64(1), "ann", int64(10)
	require.Equal(t, want, recs[0].Values, "only the key and the listed fields")
}

func TestQueryInvalid(t *testing.T) {
	a, c := people(t)
	tests := []struct {
		name string
		q    driver.Query
	}{
		{"filter field out of range", driver.Query{Filters: []driver.Filter{{Field: 99, Op: driver.Eq, Value: "x"}}}},
		{"filter on strings field", driver.Query{Filters: []driver.Filter{{Field: fTags, Op: driver.Eq, Value: []string{"a"}}}}},
		{"filter on bytes field", driver.Query{Filters: []driver.Filter{{Field: fBlob, Op: driver.Eq, Value: []byte("a")}}}},
		{"filter value of wrong kind", driver.Query{Filters: []driver.Filter{{Field: fAge, Op: driver.Eq, Value: "10"}}}},
		{"filter value int not int64", driver.Query{Filters: []driver.Filter{{Field: fAge, Op: driver.Gt, Value: 10}}}},
		{"unknown op", driver.Query{Filters: []driver.Filter{{Field: fAge, Op: 0, Value: int64(1)}}}},
		{"in without a list", driver.Query{Filters: []driver.Filter{{Field: fAge, Op: driver.In, Value: int64(1)}}}},
		{"in with a list of wrong kind", driver.Query{Filters: []driver.Filter{{Field: fAge, Op: driver.In, Value: []any{"1"}}}}},
		{"in with a typed list", driver.Query{Filters: []driver.Filter{{Field: fAge, Op: driver.In, Value: []int64{1}}}}},
		{"prefix on an int field", driver.Query{Filters: []driver.Filter{{Field: fAge, Op: driver.Prefix, Value: "1"}}}},
		{"prefix NULL", driver.Query{Filters: []driver.Filter{{Field: fName, Op: driver.Prefix, Value: nil}}}},
		{"order field out of range", driver.Query{Order: []driver.Order{{Field: -1}}}},
		{"order by json", driver.Query{Order: []driver.Order{{Field: fDoc}}}},
		{"after without order", driver.Query{After: []any{int64(1)}}},
		{"after longer than order", driver.Query{Order: []driver.Order{{Field: fID}}, After: []any{int64(1), int64(2)}}},
		{"empty after", driver.Query{Order: []driver.Order{{Field: fID}}, After: []any{}}},
		{"after of wrong kind", driver.Query{Order: []driver.Order{{Field: fID}}, After: []any{"1"}}},
		{"negative offset", driver.Query{Offset: -1}},
		{"negative limit", driver.Query{Limit: -1}},
		{"selected field out of range", driver.Query{Fields: []int{99}}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs int
			for rec, err := range a.Query(ctx, c, &tt.q) {
				require.ErrorIs(t, err, driver.ErrInvalid)
				require.Nil(t, rec.Values)
				errs++
			}
			require.Equal(t, 1, errs, "exactly one error, then the sequence ends")
			_, err := a.Count(ctx, c, &tt.q)
			require.ErrorIs(t, err, driver.ErrInvalid)
			_, err = a.DeleteAll(ctx, c, &tt.q)
			require.ErrorIs(t, err, driver.ErrInvalid)
			_, err = a.Aggregate(ctx, c, &tt.q, driver.AggSum, fAge)
			require.ErrorIs(t, err, driver.ErrInvalid)
		})
	}
	n, err := a.Count(ctx, c, nil)
	require.NoError(t, err)
	require.Equal(t, int64(4), n, "no invalid DeleteAll deleted anything")
}

func TestQueryBreakAndWriteWhileIterating(t *testing.T) {
	a, c := people(t)
	ctx := context.Background()

	for range a.Query(ctx, c, nil) {
		break
	}

	// The loop body writes (this would deadlock if Query held the lock
	// while yielding); the records yielded are those selected when the loop
	// started.
	var seen []any
	for rec, err := range a.Query(ctx, c, &driver.Query{Order: []driver.Order{{Field: fID}}}) {
		require.NoError(t, err)
		seen = append(seen, rec.Values[fID])
		id := rec.Values[fID].(int64)
		_, err := a.Update(ctx, c, driver.Update{Key: id, Changes: []driver.Change{{Field: fLikes, Op: driver.Increment, Value: int64(1)}}})
		require.NoError(t, err)
		require.NoError(t, a.Delete(ctx, c, driver.Delete{Key: id}))
		_, err = a.Insert(ctx, c, user(id+100, nil, "new"), driver.InsertOptions{})
		require.NoError(t, err)
	}
	require.Equal(t, []any{int64(1), int64(2), int64(3), int64(4)}, seen)
	require.Equal(t, []any{int64(101), int64(102), int64(103), int64(104)}, ids(collect(t, a.Query(ctx, c, nil))))
}

func TestDeleteAll(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		q    *driver.Query
		want []any // ids left
	}{
		{"all", nil, nil},
		{"filter", &driver.Query{Filters: []driver.Filter{{Field: fAge, Op: driver.Gte, Value: int64(20)}}}, []any{int64(1), int64(3)}},
		{"order and limit", &driver.Query{Order: []driver.Order{{Field: fAge, Desc: true}}, Limit: 2}, []any{int64(1), int64(3)}},
		{"offset", &driver.Query{Order: []driver.Order{{Field: fName}}, Offset: 1, Limit: 2}, []any{int64(2), int64(3)}},
		{"after", &driver.Query{Order: []driver.Order{{Field: fID}}, After: []any{int64(2)}}, []any{int64(1), int64(2)}},
		{"nothing", &driver.Query{Filters: []driver.Filter{{Field: fAge, Op: driver.Eq, Value: int64(99)}}}, []any{int64(1), int64(2), int64(3), int64(4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, c := people(t)
			selected := collect(t, a.Query(ctx, c, tt.q))
			n, err := a.DeleteAll(ctx, c, tt.q)
			require.NoError(t, err)
			require.Equal(t, int64(len(selected)), n)
			require.Equal(t, int64(4-len(tt.want)), n)
			left := ids(collect(t, a.Query(ctx, c, nil)))
			if tt.want == nil {
				require.Empty(t, left)
			} else {
				require.Equal(t, tt.want, left)
			}
		})
	}
}

func TestQueryMissingCollectionIsEmpty(t *testing.T) {
	a := New()
	require.Empty(t, collect(t, a.Query(context.Background(), users(t), nil)))
	n, err := a.DeleteAll(context.Background(), users(t), nil)
	require.NoError(t, err)
	require.Zero(t, n)
}
