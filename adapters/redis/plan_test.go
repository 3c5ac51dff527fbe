package redis

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/internal/valuecodec/codectest"
	"github.com/strata-go/strata/repo/driver"
)

// The fields of the collections of the plan tests.
const (
	fID   = iota // string primary key
	fA           // int
	fB           // string
	fC           // float
	fD           // time
	fE           // bool
	fU           // int, in no index
	fTags        // strings
)

var planIndexes = []driver.Index{
	{Name: "a", Fields: []string{"a"}},
	{Name: "ab", Fields: []string{"a", "b"}},
	{Name: "c", Fields: []string{"c"}},
	{Name: "d", Fields: []string{"d"}},
	{Name: "eb", Fields: []string{"e", "b"}},
	{Name: "ba", Fields: []string{"b", "a"}},
}

// planCollection returns the adapter's view of a collection with the
// fields above and the named indexes of planIndexes (no server needed).
func planCollection(t testing.TB, pk driver.Kind, names ...string) *collection {
	t.Helper()
	fields := []driver.Field{
		{Name: "id", Kind: pk},
		{Name: "a", Kind: driver.KindInt, Nullable: true},
		{Name: "b", Kind: driver.KindString, Nullable: true},
		{Name: "c", Kind: driver.KindFloat, Nullable: true},
		{Name: "d", Kind: driver.KindTime, Nullable: true},
		{Name: "e", Kind: driver.KindBool, Nullable: true},
		{Name: "u", Kind: driver.KindInt, Nullable: true},
		{Name: "tags", Kind: driver.KindStrings, Nullable: true},
	}
	var ixs []driver.Index
	for _, n := range names {
		i := slices.IndexFunc(planIndexes, func(ix driver.Index) bool { return ix.Name == n })
		require.GreaterOrEqual(t, i, 0, "no index %s", n)
		ixs = append(ixs, planIndexes[i])
	}
	c, err := driver.NewCollection("things", fields, "id", "", ixs, driver.AP)
	require.NoError(t, err)
	col, err := (&Adapter{}).collectionOf(c)
	require.NoError(t, err)
	return col
}

// planMember returns the index member of values vals in plan p.
func planMember(p plan, vals []any) []byte {
	var m []byte
	for _, f := range p.fields {
		m = valuecodec.AppendComponent(m, vals[f])
	}
	return m
}

// rangeHolds reports whether member m is in r.
func rangeHolds(r lexRange, m []byte) bool {
	return bytes.Compare(m, r.lo) >= 0 && (r.hi == nil || bytes.Compare(m, r.hi) < 0)
}

// rangesHolding returns the indexes of p's ranges that hold m.
func rangesHolding(p plan, m []byte) []int {
	var out []int
	for i, r := range p.ranges {
		if rangeHolds(r, m) {
			out = append(out, i)
		}
	}
	return out
}

func qf(field int, op driver.Op, v any) driver.Filter {
	return driver.Filter{Field: field, Op: op, Value: v}
}

func TestPlanQueryChoice(t *testing.T) {
	t.Parallel()
	t0 := codectest.UTC(2024, 1, 2, 3, 4, 5, 6)
	cases := []struct {
		name    string
		indexes []string
		q       driver.Query
		suffix  string
		native  bool
		desc    bool
		exact   bool
		nranges int
	}{
		{name: "no filter", indexes: []string{"a", "ab"}, q: driver.Query{},
			suffix: ":k", native: true, exact: true, nranges: 1},
		{name: "no filter, order by pk desc", q: driver.Query{Order: []driver.Order{{Field: fID, Desc: true}}},
			suffix: ":k", native: true, desc: true, exact: true, nranges: 1},
		{name: "eq pk", indexes: []string{"a"}, q: driver.Query{Filters: []driver.Filter{qf(fID, driver.Eq, "x")}},
			suffix: ":k", native: true, exact: true, nranges: 1},
		{name: "in pk", q: driver.Query{Filters: []driver.Filter{qf(fID, driver.In, []any{"c", "a", "b", "a", nil})}},
			suffix: ":k", native: true, exact: true, nranges: 3},
		{name: "in pk, empty list", q: driver.Query{Filters: []driver.Filter{qf(fID, driver.In, []any{})}},
			suffix: ":k", native: true, exact: true, nranges: 0},
		{name: "eq indexed field, order by pk desc", indexes: []string{"a", "c"},
			q:      driver.Query{Filters: []driver.Filter{qf(fA, driver.Eq, int64(5))}, Order: []driver.Order{{Field: fID, Desc: true}}},
			suffix: ":i:a", native: true, desc: true, exact: true, nranges: 1},
		{name: "eq nil on indexed field", indexes: []string{"a"}, q: driver.Query{Filters: []driver.Filter{qf(fA, driver.Eq, nil)}},
			suffix: ":i:a", native: true, exact: true, nranges: 1},
		{name: "gt and lt on one field", indexes: []string{"a", "c"},
			q:      driver.Query{Filters: []driver.Filter{qf(fC, driver.Gt, 1.5), qf(fC, driver.Lt, 9.0)}},
			suffix: ":i:c", native: true, exact: true, nranges: 1},
		{name: "range beats nothing", indexes: []string{"d"},
			q:      driver.Query{Filters: []driver.Filter{qf(fD, driver.Gte, t0)}, Order: []driver.Order{{Field: fID}}},
			suffix: ":i:d", native: false, exact: true, nranges: 1},
		{name: "empty range", indexes: []string{"a"},
			q:      driver.Query{Filters: []driver.Filter{qf(fA, driver.Gt, int64(5)), qf(fA, driver.Lt, int64(3))}},
			suffix: ":i:a", native: true, exact: true, nranges: 0},
		{name: "prefix", indexes: []string{"ba"},
			q:      driver.Query{Filters: []driver.Filter{qf(fB, driver.Prefix, "ab")}, Order: []driver.Order{{Field: fB}}},
			suffix: ":i:ba", native: true, exact: true, nranges: 1},
		{name: "unindexed field", indexes: []string{"a"}, q: driver.Query{Filters: []driver.Filter{qf(fU, driver.Eq, int64(1))}},
			suffix: ":k", native: true, exact: false, nranges: 1},
		{name: "indexed eq and unindexed eq", indexes: []string{"a"},
			q:      driver.Query{Filters: []driver.Filter{qf(fU, driver.Eq, int64(1)), qf(fA, driver.Eq, int64(2))}},
			suffix: ":i:a", native: true, exact: false, nranges: 1},
		{name: "ne is not a range", indexes: []string{"a"}, q: driver.Query{Filters: []driver.Filter{qf(fA, driver.Ne, int64(1))}},
			suffix: ":k", native: true, exact: false, nranges: 1},
		{name: "composite: eq first field, order by second", indexes: []string{"a", "ab"},
			q:      driver.Query{Filters: []driver.Filter{qf(fA, driver.Eq, int64(1))}, Order: []driver.Order{{Field: fB}}},
			suffix: ":i:ab", native: true, exact: true, nranges: 1},
		{name: "composite: eq both fields", indexes: []string{"a", "ab"},
			q:      driver.Query{Filters: []driver.Filter{qf(fA, driver.Eq, int64(1)), qf(fB, driver.Eq, "x")}},
			suffix: ":i:ab", native: true, exact: true, nranges: 1},
		{name: "composite: in x in", indexes: []string{"ab"},
			q: driver.Query{Filters: []driver.Filter{qf(fA, driver.In, []any{int64(1), int64(2)}),
				qf(fB, driver.In, []any{"x", "y", "z"})}},
			suffix: ":i:ab", native: true, exact: true, nranges: 6},
		{name: "composite: eq first, range second", indexes: []string{"ab"},
			q:      driver.Query{Filters: []driver.Filter{qf(fA, driver.Eq, int64(1)), qf(fB, driver.Lte, "m")}},
			suffix: ":i:ab", native: true, exact: true, nranges: 1},
		{name: "composite: range first, eq second", indexes: []string{"ab"},
			q:      driver.Query{Filters: []driver.Filter{qf(fA, driver.Gt, int64(1)), qf(fB, driver.Eq, "x")}},
			suffix: ":i:ab", native: true, exact: false, nranges: 1},
		{name: "order by unindexed field", indexes: []string{"a"},
			q:      driver.Query{Filters: []driver.Filter{qf(fA, driver.Eq, int64(1))}, Order: []driver.Order{{Field: fU}}},
			suffix: ":i:a", native: false, exact: true, nranges: 1},
		{name: "order not matching the index", indexes: []string{"ab"},
			q:      driver.Query{Filters: []driver.Filter{qf(fA, driver.Gt, int64(1))}, Order: []driver.Order{{Field: fB}}},
			suffix: ":i:ab", native: false, exact: true, nranges: 1},
		{name: "mixed directions", indexes: []string{"ab"},
			q:      driver.Query{Order: []driver.Order{{Field: fA}, {Field: fB, Desc: true}}},
			suffix: ":k", native: false, exact: true, nranges: 1},
		{name: "order picks the index", indexes: []string{"c", "ab"},
			q:      driver.Query{Order: []driver.Order{{Field: fA, Desc: true}, {Field: fB, Desc: true}, {Field: fID, Desc: true}}},
			suffix: ":i:ab", native: true, desc: true, exact: true, nranges: 1},
		{name: "in on first field is not one order", indexes: []string{"ab"},
			q:      driver.Query{Filters: []driver.Filter{qf(fA, driver.In, []any{int64(1), int64(2)})}, Order: []driver.Order{{Field: fB}}},
			suffix: ":i:ab", native: false, exact: true, nranges: 2},
		{name: "lt nil", indexes: []string{"a"}, q: driver.Query{Filters: []driver.Filter{qf(fA, driver.Lt, nil)}},
			suffix: ":i:a", native: true, exact: true, nranges: 0},
		{name: "gte nil on pk", q: driver.Query{Filters: []driver.Filter{qf(fID, driver.Gte, nil)}},
			suffix: ":k", native: true, exact: true, nranges: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			col := planCollection(t, driver.KindString, c.indexes...)
			p := planQuery(col, &c.q)
			assert.Equal(t, c.suffix, p.suffix, "index")
			assert.Equal(t, c.native, p.native, "native")
			if c.native {
				assert.Equal(t, c.desc, p.desc, "desc")
			}
			assert.Equal(t, c.exact, p.exact, "exact")
			assert.Len(t, p.ranges, c.nranges, "ranges: %q", p.ranges)
			require.NotEmpty(t, p.fields)
			assert.Equal(t, col.Key, p.fields[len(p.fields)-1], "the key ends every member")
			assert.Equal(t, len(p.fields)-1, p.nfields)
			for _, r := range p.ranges {
				if r.hi != nil {
					assert.Negative(t, bytes.Compare(r.lo, r.hi), "empty range %q", r)
				}
			}
		})
	}
}

func TestPlanEqPrimaryKey(t *testing.T) {
	t.Parallel()
	for _, kind := range []driver.Kind{driver.KindString, driver.KindInt} {
		col := planCollection(t, kind, "a")
		var key any = "k1"
		if kind == driver.KindInt {
			key = int64(-17)
		}
		p := planQuery(col, &driver.Query{Filters: []driver.Filter{qf(fID, driver.Eq, key)}})
		require.Len(t, p.ranges, 1)
		comp := valuecodec.AppendComponent(nil, key)
		assert.Equal(t, string(comp), p.ranges[0].pk, "the range knows its key's shard")
		assert.True(t, rangeHolds(p.ranges[0], comp), "the key's member is in the range")
		for _, other := range []any{"k", "k10", "k2", "", int64(-16), int64(-18), int64(17), int64(0)} {
			if driver.Compare(other, key) != 0 {
				assert.False(t, rangeHolds(p.ranges[0], valuecodec.AppendComponent(nil, other)), "%v is in the range of %v", other, key)
			}
		}
	}
}

func TestPlanInPrimaryKey(t *testing.T) {
	t.Parallel()
	col := planCollection(t, driver.KindInt)
	vals := []any{int64(30), int64(-2), int64(7), int64(30), nil, int64(100), int64(-2)}
	p := planQuery(col, &driver.Query{Filters: []driver.Filter{qf(fID, driver.In, vals)}})
	want := []int64{-2, 7, 30, 100} // distinct, sorted, no NULL
	require.Len(t, p.ranges, len(want))
	assert.True(t, p.exact)
	for i, v := range want {
		r := p.ranges[i]
		assert.Equal(t, string(valuecodec.AppendComponent(nil, v)), r.pk, "range %d", i)
		for _, other := range []int64{-3, -2, 0, 7, 8, 30, 31, 100, 1000} {
			assert.Equal(t, other == v, rangeHolds(r, valuecodec.AppendComponent(nil, other)), "range %d (%d) holds %d", i, v, other)
		}
		if i > 0 {
			assert.Negative(t, bytes.Compare(p.ranges[i-1].lo, r.lo), "ranges in member order")
		}
	}
}

func TestPlanRangeBounds(t *testing.T) {
	t.Parallel()
	col := planCollection(t, driver.KindString, "a")
	vals := []any{nil, int64(math.MinInt64), int64(-10), int64(-1), int64(0), int64(1), int64(2), int64(9), int64(10), int64(11), int64(math.MaxInt64)}
	ops := []driver.Op{driver.Lt, driver.Lte, driver.Gt, driver.Gte}
	keys := []any{"", "a", "zz"}
	for _, op := range ops {
		for _, bound := range vals[1:] {
			flt := qf(fA, op, bound)
			p := planQuery(col, &driver.Query{Filters: []driver.Filter{flt}})
			require.Equal(t, ":i:a", p.suffix)
			require.True(t, p.exact)
			for _, v := range vals {
				for _, k := range keys {
					m := valuecodec.AppendComponent(valuecodec.AppendComponent(nil, v), k)
					assert.Equal(t, flt.Match(v), len(rangesHolding(p, m)) == 1, "a %s %v: member of %v", op, bound, v)
				}
			}
		}
	}
	// Two bounds make one range.
	for _, lo := range vals[1:] {
		for _, hi := range vals[1:] {
			q := &driver.Query{Filters: []driver.Filter{qf(fA, driver.Gt, lo), qf(fA, driver.Lte, hi)}}
			p := planQuery(col, q)
			assert.LessOrEqual(t, len(p.ranges), 1)
			for _, v := range vals {
				m := valuecodec.AppendComponent(valuecodec.AppendComponent(nil, v), "k")
				want := q.Filters[0].Match(v) && q.Filters[1].Match(v)
				assert.Equal(t, want, len(rangesHolding(p, m)) == 1, "%v < a <= %v: %v", lo, hi, v)
			}
		}
	}
}

func TestPlanNilBoundSelectsNothing(t *testing.T) {
	t.Parallel()
	for _, op := range []driver.Op{driver.Lt, driver.Lte, driver.Gt, driver.Gte, driver.Prefix} {
		col := planCollection(t, driver.KindString, "ba")
		p := planQuery(col, &driver.Query{Filters: []driver.Filter{qf(fB, op, nil)}})
		assert.Empty(t, p.ranges, "b %s nil", op)
		assert.True(t, p.exact, "b %s nil", op)
	}
}

func TestPlanKeysetCursor(t *testing.T) {
	t.Parallel()
	col := planCollection(t, driver.KindString, "a", "c")
	as := []any{nil, int64(-5), int64(1), int64(2), int64(30)}
	ids := []any{"", "a", "b", "bb", "c"}
	for _, desc := range []bool{false, true} {
		for _, ca := range as {
			for _, cid := range ids[1:] {
				q := &driver.Query{
					Order: []driver.Order{{Field: fA, Desc: desc}, {Field: fID, Desc: desc}},
					After: []any{ca, cid},
				}
				p := planQuery(col, q)
				require.Equal(t, ":i:a", p.suffix)
				require.True(t, p.native)
				require.Equal(t, desc, p.desc)
				for _, a := range as {
					for _, id := range ids {
						vals := make([]any, fTags+1)
						vals[fA], vals[fID] = a, id
						m := planMember(p, vals)
						assert.Equal(t, q.AfterCursor(vals), len(rangesHolding(p, m)) == 1,
							"desc=%v cursor (%v,%q): member (%v,%q)", desc, ca, cid, a, id)
					}
				}
			}
		}
	}
	// With an equality on the index's field, the cursor is over the key.
	q := &driver.Query{
		Filters: []driver.Filter{qf(fA, driver.Eq, int64(2))},
		Order:   []driver.Order{{Field: fID}},
		After:   []any{"b"},
	}
	p := planQuery(col, q)
	require.Equal(t, ":i:a", p.suffix)
	require.True(t, p.native)
	require.Len(t, p.ranges, 1)
	for _, id := range ids {
		m := valuecodec.AppendComponent(valuecodec.AppendComponent(nil, int64(2)), id)
		assert.Equal(t, driver.Compare(id, "b") > 0, rangeHolds(p.ranges[0], m), "id %q", id)
	}
	// In on the key with a cursor: the ranges at or before it go.
	q = &driver.Query{
		Filters: []driver.Filter{qf(fID, driver.In, []any{"a", "b", "c", "d"})},
		Order:   []driver.Order{{Field: fID}},
		After:   []any{"b"},
	}
	p = planQuery(col, q)
	for _, id := range []string{"a", "b"} {
		assert.Empty(t, rangesHolding(p, valuecodec.AppendComponent(nil, id)), "%q is at or before the cursor", id)
	}
	for _, id := range []string{"c", "d"} {
		assert.Len(t, rangesHolding(p, valuecodec.AppendComponent(nil, id)), 1, "%q is after the cursor", id)
	}
}

// The randomized test below checks planQuery against the reference
// semantics (driver.Filter.Match, driver.Query.AfterCursor,
// driver.Compare) over random records and queries.

var (
	planT0      = codectest.UTC(2024, 5, 6, 7, 8, 9, 10)
	planDomains = map[int][]any{
		fA: {nil, int64(math.MinInt64), int64(-10), int64(-1), int64(0), int64(1), int64(2), int64(10), int64(100), int64(math.MaxInt64)},
		fB: {nil, "", "a", "ab", "abc", "b", "ba", "é", "\x01"},
		fC: {nil, -1.5, math.Copysign(0, -1), 0.0, 0.5, 2.0, math.MaxFloat64},
		fD: {nil, codectest.UTC(1, 1, 1, 0, 0, 0, 0), planT0, planT0.Add(time.Microsecond), codectest.UTC(1969, 12, 31, 23, 59, 59, 999999), codectest.UTC(9999, 12, 31, 0, 0, 0, 0)},
		fE: {nil, false, true},
		fU: {nil, int64(1), int64(2)},
	}
	planScalars = []int{fID, fA, fB, fC, fD, fE, fU}
)

func randomValue(r *rand.Rand, field int, keys []any) any {
	if field == fID {
		return keys[r.IntN(len(keys))]
	}
	d := planDomains[field]
	return d[r.IntN(len(d))]
}

func randomFilter(r *rand.Rand, keys []any) driver.Filter {
	field := planScalars[r.IntN(len(planScalars))]
	ops := []driver.Op{driver.Eq, driver.Eq, driver.In, driver.In, driver.Ne, driver.Lt, driver.Lte, driver.Gt, driver.Gte}
	if _, str := keys[0].(string); field == fB || (field == fID && str) {
		ops = append(ops, driver.Prefix, driver.Prefix)
	}
	op := ops[r.IntN(len(ops))]
	switch op {
	case driver.In:
		var list []any
		for range r.IntN(4) {
			list = append(list, randomValue(r, field, keys))
		}
		return qf(field, op, list)
	case driver.Prefix:
		s, _ := randomValue(r, field, keys).(string)
		if len(s) > 0 && r.IntN(2) == 0 {
			s = s[:r.IntN(len(s))]
		}
		return qf(field, op, s)
	}
	v := randomValue(r, field, keys)
	if field == fID && v == nil {
		v = "a"
	}
	return qf(field, op, v)
}

func TestPlanRandomAgainstReference(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	collections := []*collection{
		planCollection(t, driver.KindString),
		planCollection(t, driver.KindString, "a", "ab", "c", "d", "eb", "ba"),
		planCollection(t, driver.KindString, "ab", "d"),
		planCollection(t, driver.KindInt, "ba", "eb", "c"),
	}
	const queries = 2500
	// How often each interesting case came up, so that a change to the
	// generator that stops exercising one fails.
	var indexed, exact, nativeSorted, narrowed, pkRanges, hits int
	t.Cleanup(func() {
		t.Logf("%d queries: %d on a secondary index, %d exact, %d native with a cursor, %d narrowed by it, %d with key ranges, %d records read",
			queries, indexed, exact, nativeSorted, narrowed, pkRanges, hits)
		assert.Greater(t, indexed, queries/4)
		assert.Greater(t, exact, queries/10)
		assert.Greater(t, nativeSorted, queries/50)
		assert.Greater(t, narrowed, queries/100)
		assert.Greater(t, pkRanges, queries/50)
		assert.Greater(t, hits, queries)
	})
	for n := range queries {
		col := collections[n%len(collections)]
		var keys []any
		for i := range 24 {
			if col.Fields[fID].Kind == driver.KindInt {
				keys = append(keys, int64(i*7-80))
			} else {
				keys = append(keys, fmt.Sprintf("%c%d", 'a'+i%3, i))
			}
		}
		var recs [][]any
		for _, k := range keys {
			vals := make([]any, fTags+1)
			for _, fld := range planScalars {
				vals[fld] = randomValue(r, fld, keys)
			}
			vals[fID] = k
			recs = append(recs, vals)
		}
		q := &driver.Query{}
		for range r.IntN(4) {
			q.Filters = append(q.Filters, randomFilter(r, keys))
		}
		desc := r.IntN(2) == 0
		for range r.IntN(3) {
			fld := planScalars[1+r.IntN(len(planScalars)-1)]
			if !slices.ContainsFunc(q.Order, func(o driver.Order) bool { return o.Field == fld }) {
				q.Order = append(q.Order, driver.Order{Field: fld, Desc: desc != (r.IntN(8) == 0)})
			}
		}
		if len(q.Order) > 0 || r.IntN(2) == 0 {
			q.Order = append(q.Order, driver.Order{Field: fID, Desc: desc})
		}
		matches := func(vals []any) bool {
			for _, flt := range q.Filters {
				if !flt.Match(vals[flt.Field]) {
					return false
				}
			}
			return true
		}
		// A realistic cursor: the last record of a previous page, which
		// matched the filters.
		if r.IntN(2) == 0 {
			var cands [][]any
			for _, vals := range recs {
				if matches(vals) {
					cands = append(cands, vals)
				}
			}
			if len(cands) > 0 {
				c := cands[r.IntN(len(cands))]
				for _, o := range q.Order {
					q.After = append(q.After, c[o.Field])
				}
			}
		}
		p := planQuery(col, q)
		if p.suffix != ":k" {
			indexed++
		}
		if p.exact {
			exact++
		}
		if p.native && q.After != nil {
			nativeSorted++
			// Would the ranges have held the cursor's own record?
			if cursor := slices.IndexFunc(recs, func(v []any) bool { return driver.Compare(v[fID], q.After[len(q.After)-1]) == 0 }); cursor >= 0 &&
				len(rangesHolding(p, planMember(p, recs[cursor]))) == 0 {
				narrowed++
			}
		}
		if len(p.ranges) > 0 && p.ranges[0].pk != "" {
			pkRanges++
		}
		desc0 := fmt.Sprintf("query %d on %s%v: filters %v order %v after %v: plan %s native=%v desc=%v exact=%v ranges %q",
			n, col.Name, indexNames(col), q.Filters, q.Order, q.After, p.suffix, p.native, p.desc, p.exact, p.ranges)

		type hit struct {
			m    []byte
			vals []any
		}
		var read []hit
		for _, vals := range recs {
			m := planMember(p, vals)
			in := rangesHolding(p, m)
			require.LessOrEqual(t, len(in), 1, "member %x of %v in ranges %v (overlap): %s", m, vals, in, desc0)
			want := matches(vals) && (q.After == nil || q.AfterCursor(vals))
			if want {
				require.Len(t, in, 1, "record %v is missing from the ranges: %s", vals, desc0)
			}
			if p.exact && q.After == nil && len(in) == 1 {
				require.True(t, matches(vals), "exact plan selects %v, which does not match: %s", vals, desc0)
			}
			if len(in) == 1 {
				if pk := p.ranges[in[0]].pk; pk != "" {
					require.Equal(t, string(valuecodec.AppendComponent(nil, vals[fID])), pk, "range with key %q holds %v: %s", pk, vals, desc0)
				}
				if want {
					hits++
					read = append(read, hit{m, vals})
				}
			}
		}
		if !p.native {
			continue
		}
		slices.SortFunc(read, func(x, y hit) int {
			if p.desc {
				return bytes.Compare(y.m, x.m)
			}
			return bytes.Compare(x.m, y.m)
		})
		for i := 1; i < len(read); i++ {
			prev, cur := read[i-1].vals, read[i].vals
			c := 0
			for _, o := range q.Order {
				c = driver.Compare(prev[o.Field], cur[o.Field])
				if o.Desc {
					c = -c
				}
				if c != 0 {
					break
				}
			}
			require.LessOrEqual(t, c, 0, "native read order gives %v before %v: %s", prev, cur, desc0)
		}
	}
}

func indexNames(col *collection) []string {
	var out []string
	for _, ix := range col.indexes {
		out = append(out, ix.name)
	}
	return out
}
