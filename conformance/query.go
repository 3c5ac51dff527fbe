package conformance

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

var queryCases = []testCase{
	{"Operators", queryOperators},
	{"OperatorKinds", queryOperatorKinds},
	{"Combined", queryCombined},
	{"Null", queryNull},
	{"PrefixIsLiteral", queryPrefix},
	{"Order", queryOrder},
	{"OrderNull", queryOrderNull},
	{"LimitOffset", queryLimitOffset},
	{"Select", querySelect},
	{"Count", queryCount},
	{"DeleteAll", queryDeleteAll},
	{"Stream", queryStream},
	{"UnknownField", queryUnknownField},
	{"WrongValueType", queryWrongType},
	{"IndexedOrFullScan", queryFullScan},
}

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)

// seedItems stores five items with IDs 1–5:
//
//	id name    rank score label   at      done
//	1  apple   1     1.5  red     t0      false
//	2  apricot 2     2.5  NULL    t0+1h   true
//	3  banana  2     3.5  yellow  t0+2h   false
//	4  cherry  3    -1    red     t0+3h   true
//	5  date    5     0    NULL    t0+4h   false
func seedItems(t *testing.T, e *env) []Item {
	t.Helper()
	items := []Item{
		{ID: 1, Name: "apple", Rank: 1, Score: 1.5, Label: ptr("red"), At: t0},
		{ID: 2, Name: "apricot", Rank: 2, Score: 2.5, At: t0.Add(time.Hour), Done: true},
		{ID: 3, Name: "banana", Rank: 2, Score: 3.5, Label: ptr("yellow"), At: t0.Add(2 * time.Hour)},
		{ID: 4, Name: "cherry", Rank: 3, Score: -1, Label: ptr("red"), At: t0.Add(3 * time.Hour), Done: true},
		{ID: 5, Name: "date", Rank: 5, Score: 0, At: t0.Add(4 * time.Hour)},
	}
	for i := range items {
		require.NoError(t, e.r.Insert(e.ctx, &items[i]))
	}
	awaitCount[Item](t, e, repo.Where("rank", repo.Gte, 0), 5)
	return items
}

// queryIDs returns the IDs of the items q selects, in result order.
func queryIDs(t *testing.T, e *env, q repo.Query) []int64 {
	t.Helper()
	items, err := repo.All[Item](e.ctx, e.r, q)
	require.NoError(t, err, "query %v", q)
	return itemIDs(items)
}

type selection struct {
	name string
	q    repo.Query
	// scan: the query has no condition on an indexed field.
	scan bool
	want []int64
}

func checkSelections(t *testing.T, e *env, cases []selection) {
	t.Helper()
	// Those that need a scan last, as e.scan may skip the case.
	slices.SortStableFunc(cases, func(a, b selection) int { return cmpBool(a.scan, b.scan) })
	for _, c := range cases {
		q := c.q
		if c.scan {
			q = e.scan(t, q)
		}
		got := queryIDs(t, e, q)
		if c.want == nil {
			c.want = []int64{}
		}
		require.ElementsMatch(t, c.want, got, "%s: %v", c.name, c.q)
		n, err := repo.Count[Item](e.ctx, e.r, q)
		require.NoError(t, err)
		require.EqualValues(t, len(c.want), n, "%s: Count(%v)", c.name, c.q)
	}
}

func queryOperators(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	checkSelections(t, e, []selection{
		{"Eq", repo.Where("rank", repo.Eq, 2), false, []int64{2, 3}},
		{"Eq none", repo.Where("rank", repo.Eq, 4), false, nil},
		{"Ne", repo.Where("rank", repo.Ne, 2), true, []int64{1, 4, 5}},
		{"Lt", repo.Where("rank", repo.Lt, 2), false, []int64{1}},
		{"Lte", repo.Where("rank", repo.Lte, 2), false, []int64{1, 2, 3}},
		{"Gt", repo.Where("rank", repo.Gt, 2), false, []int64{4, 5}},
		{"Gte", repo.Where("rank", repo.Gte, 2), false, []int64{2, 3, 4, 5}},
		{"In", repo.Where("rank", repo.In, []int{1, 5, 99}), false, []int64{1, 5}},
		{"In one", repo.Where("rank", repo.In, []int64{3}), false, []int64{4}},
		{"In of any", repo.Where("rank", repo.In, []any{2, int8(3)}), false, []int64{2, 3, 4}},
		{"In empty", repo.Where("rank", repo.In, []int{}), false, nil},
		{"In nil slice", repo.Where("rank", repo.In, []int(nil)), false, nil},
		{"Prefix", repo.Where("name", repo.Prefix, "ap"), false, []int64{1, 2}},
		{"Prefix whole", repo.Where("name", repo.Prefix, "date"), false, []int64{5}},
		{"Prefix longer", repo.Where("name", repo.Prefix, "dates"), false, nil},
		{"Prefix empty", repo.Where("name", repo.Prefix, ""), false, []int64{1, 2, 3, 4, 5}},
		{"Prefix case", repo.Where("name", repo.Prefix, "Ap"), false, nil},
		{"Eq key", repo.Where("id", repo.Eq, 3), false, []int64{3}},
		{"In keys", repo.Where("id", repo.In, []int64{3, 4, 42}), false, []int64{3, 4}},
		{"Range key", repo.Where("id", repo.Gt, 1).Where("id", repo.Lt, 4), false, []int64{2, 3}},
	})
}

// queryOperatorKinds: the operators on every scalar kind.
func queryOperatorKinds(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	checkSelections(t, e, []selection{
		{"string Eq", repo.Where("name", repo.Eq, "banana"), false, []int64{3}},
		{"string Gt", repo.Where("name", repo.Gt, "banana"), false, []int64{4, 5}},
		{"string Lte", repo.Where("name", repo.Lte, "apricot"), false, []int64{1, 2}},
		{"string In", repo.Where("name", repo.In, []string{"date", "apple", "fig"}), false, []int64{1, 5}},
		{"float Lt", repo.Where("score", repo.Lt, 0), true, []int64{4}},
		{"float Gte", repo.Where("score", repo.Gte, 2.5), true, []int64{2, 3}},
		{"float Eq", repo.Where("score", repo.Eq, 0.0), true, []int64{5}},
		{"float Eq int value", repo.Where("score", repo.Eq, 0), true, []int64{5}},
		{"float Ne", repo.Where("score", repo.Ne, 1.5), true, []int64{2, 3, 4, 5}},
		{"time Eq", repo.Where("at", repo.Eq, t0.Add(time.Hour)), true, []int64{2}},
		{"time Gte", repo.Where("at", repo.Gte, t0.Add(2*time.Hour)), true, []int64{3, 4, 5}},
		{"time Lt other zone", repo.Where("at", repo.Lt, t0.Add(time.Hour).In(time.FixedZone("X", -7*3600))), true, []int64{1}},
		{"time In", repo.Where("at", repo.In, []time.Time{t0, t0.Add(4 * time.Hour)}), true, []int64{1, 5}},
		{"bool Eq true", repo.Where("done", repo.Eq, true), true, []int64{2, 4}},
		{"bool Eq false", repo.Where("done", repo.Eq, false), true, []int64{1, 3, 5}},
		{"bool Ne", repo.Where("done", repo.Ne, true), true, []int64{1, 3, 5}},
		{"bool Gt", repo.Where("done", repo.Gt, false), true, []int64{2, 4}},
	})
}

func queryCombined(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	checkSelections(t, e, []selection{
		{"range", repo.Where("rank", repo.Gt, 1).Where("rank", repo.Lt, 5), false, []int64{2, 3, 4}},
		{"indexed and unindexed", repo.Where("rank", repo.Gte, 2).Where("done", repo.Eq, false), false, []int64{3, 5}},
		{"two indexed", repo.Where("name", repo.Prefix, "a").Where("rank", repo.Eq, 2), false, []int64{2}},
		{"contradiction", repo.Where("rank", repo.Eq, 2).Where("rank", repo.Eq, 3), false, nil},
		{"same field twice", repo.Where("rank", repo.In, []int{1, 2, 3}).Where("rank", repo.Ne, 2), false, []int64{1, 4}},
		{"In and Prefix", repo.Where("rank", repo.In, []int{2, 3}).Where("name", repo.Prefix, "b"), false, []int64{3}},
		{"three", repo.Where("rank", repo.Gte, 1).Where("score", repo.Gt, 0).Where("label", repo.Ne, nil), false, []int64{1, 3}},
		{"unindexed only", repo.Where("score", repo.Gt, 0).Where("done", repo.Eq, true), true, []int64{2}},
	})
}

func queryNull(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	checkSelections(t, e, []selection{
		{"Eq nil", repo.Where("label", repo.Eq, nil), true, []int64{2, 5}},
		{"Eq typed nil", repo.Where("label", repo.Eq, (*string)(nil)), true, []int64{2, 5}},
		{"Ne nil", repo.Where("label", repo.Ne, nil), true, []int64{1, 3, 4}},
		{"Eq value", repo.Where("label", repo.Eq, "red"), true, []int64{1, 4}},
		{"Eq pointer value", repo.Where("label", repo.Eq, ptr("red")), true, []int64{1, 4}},
		{"Ne value excludes NULL", repo.Where("label", repo.Ne, "red"), true, []int64{3}},
		{"Lt excludes NULL", repo.Where("label", repo.Lt, "s"), true, []int64{1, 4}},
		{"Gt excludes NULL", repo.Where("label", repo.Gt, ""), true, []int64{1, 3, 4}},
		{"In excludes NULL", repo.Where("label", repo.In, []any{"yellow", nil}), true, []int64{3}},
		{"Prefix excludes NULL", repo.Where("label", repo.Prefix, ""), true, []int64{1, 3, 4}},
		{"Eq nil with indexed", repo.Where("rank", repo.Eq, 2).Where("label", repo.Eq, nil), false, []int64{2}},
	})
	// NULL set by an update is NULL for queries too.
	it := Item{ID: 3}
	require.NoError(t, e.r.Get(e.ctx, &it, 3))
	it.Label = nil
	require.NoError(t, e.r.Update(e.ctx, &it))
	nulls := e.scan(t, repo.Where("label", repo.Eq, nil))
	e.eventually(t, func(c require.TestingT) {
		items, err := repo.All[Item](e.ctx, e.r, nulls)
		require.NoError(c, err)
		require.ElementsMatch(c, []int64{2, 3, 5}, itemIDs(items))
	})
}

func queryPrefix(t *testing.T, s *suite) {
	e := s.open(t)
	names := []string{"50%off", "50xoff", "5", "a_b", "axb", `c\d`, `c\\d`, "c", "[ab]", "a", "e\u0301", "\u00e9", "*x", "x*"}
	for _, n := range names {
		insert(t, e, &Item{Name: n})
	}
	awaitCount[Item](t, e, repo.Where("name", repo.Prefix, ""), int64(len(names)))
	for prefix, want := range map[string][]string{
		"50%":    {"50%off"},
		"%":      {},
		"5%":     {},
		"a_":     {"a_b"},
		"_":      {},
		`c\`:     {`c\d`, `c\\d`},
		`c\\`:    {`c\\d`},
		`c\d`:    {`c\d`},
		"[":      {"[ab]"},
		"[a":     {"[ab]"},
		"*":      {"*x"},
		"x*":     {"x*"},
		"e":      {"e\u0301"},
		"\u00e9": {"\u00e9"},
		"a":      {"a_b", "axb", "a"},
	} {
		items, err := repo.All[Item](e.ctx, e.r, repo.Where("name", repo.Prefix, prefix))
		require.NoError(t, err)
		var got []string
		for _, it := range items {
			got = append(got, it.Name)
		}
		require.ElementsMatch(t, want, got, "prefix %q matches byte for byte, without wildcards", prefix)
	}
}

func queryOrder(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	// Filters and order together.
	require.Equal(t, []int64{5, 4, 3}, queryIDs(t, e, repo.Where("rank", repo.Gt, 1).Where("name", repo.Gt, "apricot").OrderBy("-rank")))

	// Strings order byte for byte (upper case before lower case, then
	// multi-byte characters).
	e2 := s.open(t)
	for i, n := range []string{"b", "B", "a", "é", "Z", "ab", "", "~"} {
		insert(t, e2, &Item{ID: int64(i + 1), Name: n})
	}
	awaitCount[Item](t, e2, repo.Where("name", repo.Gte, ""), 8)
	items, err := repo.All[Item](e2.ctx, e2.r, repo.Where("name", repo.Gte, "").OrderBy("name"))
	require.NoError(t, err)
	var got []string
	for _, it := range items {
		got = append(got, it.Name)
	}
	require.Equal(t, []string{"", "B", "Z", "a", "ab", "b", "~", "é"}, got)

	orders := []struct {
		order []string
		scan  bool
		want  []int64
	}{
		{[]string{"id"}, false, []int64{1, 2, 3, 4, 5}},
		{[]string{"-id"}, false, []int64{5, 4, 3, 2, 1}},
		{[]string{"rank", "name"}, false, []int64{1, 2, 3, 4, 5}},
		{[]string{"rank", "-name"}, false, []int64{1, 3, 2, 4, 5}},
		{[]string{"-rank", "name"}, false, []int64{5, 4, 2, 3, 1}},
		{[]string{"-rank", "-id"}, false, []int64{5, 4, 3, 2, 1}},
		{[]string{"name"}, false, []int64{1, 2, 3, 4, 5}},
		{[]string{"-name"}, false, []int64{5, 4, 3, 2, 1}},
		{[]string{"score"}, true, []int64{4, 5, 1, 2, 3}},
		{[]string{"-score"}, true, []int64{3, 2, 1, 5, 4}},
		{[]string{"-at"}, true, []int64{5, 4, 3, 2, 1}},
		{[]string{"done", "id"}, true, []int64{1, 3, 5, 2, 4}},
		{[]string{"-done", "-rank"}, true, []int64{4, 2, 5, 3, 1}},
	}
	slices.SortStableFunc(orders, func(a, b struct {
		order []string
		scan  bool
		want  []int64
	}) int {
		return cmpBool(a.scan, b.scan)
	})
	for _, c := range orders {
		q := repo.Where("rank", repo.Gte, 0).OrderBy(c.order...)
		if c.scan {
			q = e.scan(t, q)
		}
		require.Equal(t, c.want, queryIDs(t, e, q), "order by %v", c.order)
	}
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func queryOrderNull(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	asc := queryIDs(t, e, e.scan(t, repo.Query{}.OrderBy("label", "id")))
	require.Equal(t, []int64{2, 5, 1, 4, 3}, asc, "NULL sorts first ascending")
	desc := queryIDs(t, e, e.scan(t, repo.Query{}.OrderBy("-label", "id")))
	require.Equal(t, []int64{3, 1, 4, 2, 5}, desc, "and last descending")
}

func queryLimitOffset(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	base := repo.Where("rank", repo.Gte, 0)
	require.Equal(t, []int64{1, 2}, queryIDs(t, e, base.OrderBy("id").Limit(2)))
	require.Equal(t, []int64{5, 4, 2}, queryIDs(t, e, base.OrderBy("-rank", "name").Limit(3)))
	require.Len(t, queryIDs(t, e, base.Limit(3)), 3, "a limit without order")
	require.Len(t, queryIDs(t, e, base.Limit(0)), 5, "Limit(0) means no limit")
	require.Len(t, queryIDs(t, e, base.Limit(10)), 5)
	require.Equal(t, []int64{2, 3}, queryIDs(t, e, repo.Where("rank", repo.Eq, 2).OrderBy("id").Limit(5)))

	e.need(t, driver.CapOffset)
	require.Equal(t, []int64{2, 3}, queryIDs(t, e, base.OrderBy("id").Offset(1).Limit(2)))
	require.Equal(t, []int64{4, 5}, queryIDs(t, e, base.OrderBy("id").Offset(3)))
	require.Equal(t, []int64{2, 1}, queryIDs(t, e, base.OrderBy("-id").Offset(3).Limit(10)))
	require.Empty(t, queryIDs(t, e, base.OrderBy("id").Offset(5)))
	require.Empty(t, queryIDs(t, e, base.OrderBy("id").Offset(100).Limit(1)))
	require.Equal(t, []int64{3}, queryIDs(t, e, repo.Where("rank", repo.Eq, 2).OrderBy("id").Offset(1)))
}

func querySelect(t *testing.T, s *suite) {
	e := s.open(t)
	items := seedItems(t, e)
	got, err := repo.All[Item](e.ctx, e.r, repo.Where("rank", repo.Gte, 0).Select("name", "label").OrderBy("id"))
	require.NoError(t, err)
	require.Len(t, got, 5)
	for i, it := range got {
		want := Item{ID: items[i].ID, Name: items[i].Name, Label: items[i].Label}
		require.Equal(t, want, it, "Select loads the listed fields and the key; the others keep their zero values")
	}
	got, err = repo.All[Item](e.ctx, e.r, repo.Where("id", repo.Eq, 4).Select("id"))
	require.NoError(t, err)
	require.Equal(t, []Item{{ID: 4}}, got)
	var one Item
	require.NoError(t, e.r.One(e.ctx, &one, repo.Where("id", repo.Eq, 3).Select("score")))
	require.Equal(t, Item{ID: 3, Score: 3.5}, one)
	page, err := repo.Paginate[Item](e.ctx, e.r, repo.Where("rank", repo.Gte, 5).Select("rank").Limit(2))
	require.NoError(t, err)
	require.Equal(t, []Item{{ID: 5, Rank: 5}}, page.Items)
}

func queryCount(t *testing.T, s *suite) {
	e := s.open(t)
	n, err := repo.Count[Item](e.ctx, e.r, everything[Item]())
	require.NoError(t, err)
	require.Zero(t, n, "an empty collection")
	seedItems(t, e)
	if e.caps.Has(driver.CapOffset) {
		n, err := repo.Count[Item](e.ctx, e.r, repo.Where("rank", repo.Gte, 0).Offset(4))
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "Count applies Offset")
	}
	for _, c := range []struct {
		q    repo.Query
		scan bool
		want int64
	}{
		{repo.Where("rank", repo.Eq, 2), false, 2},
		{repo.Where("rank", repo.Gte, 2).Where("done", repo.Eq, true), false, 2},
		{repo.Where("rank", repo.Gte, 0).Limit(3), false, 3},
		{repo.Where("rank", repo.Eq, 99), false, 0},
		{repo.Query{}, true, 5},
		{repo.Where("label", repo.Eq, nil), true, 2},
	} {
		q := c.q
		if c.scan {
			q = e.scan(t, q)
		}
		n, err := repo.Count[Item](e.ctx, e.r, q)
		require.NoError(t, err)
		require.Equal(t, c.want, n, "Count(%v)", c.q)
	}
}

func queryDeleteAll(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	n, err := repo.DeleteAll[Item](e.ctx, e.r, repo.Where("rank", repo.Eq, 2))
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	var got Item
	require.ErrorIs(t, e.r.Get(e.ctx, &got, 2), repo.ErrNotFound)
	require.ErrorIs(t, e.r.Get(e.ctx, &got, 3), repo.ErrNotFound)
	awaitCount[Item](t, e, repo.Where("rank", repo.Gte, 0), 3)
	require.ElementsMatch(t, []int64{1, 4, 5}, queryIDs(t, e, repo.Where("rank", repo.Gte, 0)))

	n, err = repo.DeleteAll[Item](e.ctx, e.r, repo.Where("rank", repo.Eq, 42))
	require.NoError(t, err)
	require.Zero(t, n, "nothing matches")

	redOnes := repo.Where("id", repo.In, []int{1, 4})
	if e.canScan() {
		redOnes = e.scan(t, repo.Where("label", repo.Eq, "red"))
	}
	n, err = repo.DeleteAll[Item](e.ctx, e.r, redOnes)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	require.NoError(t, e.r.Get(e.ctx, &got, 5))

	n, err = repo.DeleteAll[Item](e.ctx, e.r, everything[Item]())
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	awaitCount[Item](t, e, everything[Item](), 0)
	require.ErrorIs(t, e.r.Get(e.ctx, &got, 5), repo.ErrNotFound)
}

func queryStream(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	var ids []int64
	for it, err := range repo.Stream[Item](e.ctx, e.r, repo.Where("rank", repo.Gte, 0).OrderBy("-id")) {
		require.NoError(t, err)
		ids = append(ids, it.ID)
	}
	require.Equal(t, []int64{5, 4, 3, 2, 1}, ids)

	// Breaking out early releases the query; the repo stays usable, also
	// for writes made from inside the loop.
	ids = nil
	for it, err := range repo.Stream[Item](e.ctx, e.r, repo.Where("rank", repo.Gte, 0).OrderBy("id")) {
		require.NoError(t, err)
		ids = append(ids, it.ID)
		insert(t, e, &Item{ID: 100 + it.ID, Rank: -1})
		if len(ids) == 2 {
			break
		}
	}
	require.Equal(t, []int64{1, 2}, ids)
	awaitCount[Item](t, e, repo.Where("rank", repo.Eq, -1), 2)
}

func queryUnknownField(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	for what, q := range map[string]repo.Query{
		"Where":         repo.Where("nope", repo.Eq, 1),
		"Where Go name": repo.Where("Name", repo.Eq, "apple"),
		"second Where":  repo.Where("rank", repo.Eq, 1).Where("nope", repo.Eq, 1),
		"OrderBy":       repo.Where("rank", repo.Eq, 1).OrderBy("nope"),
		"OrderBy desc":  repo.Where("rank", repo.Eq, 1).OrderBy("-nope"),
		"Select":        repo.Where("rank", repo.Eq, 1).Select("name", "nope"),
	} {
		requireInvalid(t, "All: "+what, func() error { _, err := repo.All[Item](e.ctx, e.r, q); return err })
		requireInvalid(t, "Count: "+what, func() error { _, err := repo.Count[Item](e.ctx, e.r, q); return err })
		requireInvalid(t, "DeleteAll: "+what, func() error { _, err := repo.DeleteAll[Item](e.ctx, e.r, q); return err })
		requireInvalid(t, "Paginate: "+what, func() error { _, err := repo.Paginate[Item](e.ctx, e.r, q.Limit(2)); return err })
		var it Item
		requireInvalid(t, "One: "+what, func() error { return e.r.One(e.ctx, &it, q) })
	}
	n, err := repo.Count[Item](e.ctx, e.r, repo.Where("rank", repo.Gte, 0))
	require.NoError(t, err)
	require.EqualValues(t, 5, n, "an invalid DeleteAll deleted nothing")
}

func queryWrongType(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	for what, q := range map[string]repo.Query{
		"string for int":         repo.Where("rank", repo.Eq, "two"),
		"int for string":         repo.Where("name", repo.Eq, 5),
		"string for time":        repo.Where("at", repo.Gt, "yesterday"),
		"int for bool":           repo.Where("done", repo.Eq, 1),
		"string for float":       repo.Where("score", repo.Lt, "1.5"),
		"NaN":                    repo.Where("score", repo.Lt, math.NaN()),
		"Inf":                    repo.Where("score", repo.Lt, math.Inf(1)),
		"invalid UTF-8":          repo.Where("name", repo.Eq, "\xff"),
		"NUL":                    repo.Where("name", repo.Prefix, "a\x00"),
		"uint64 overflow":        repo.Where("rank", repo.Eq, uint64(math.MaxUint64)),
		"In non-slice":           repo.Where("rank", repo.In, 1),
		"In nil":                 repo.Where("rank", repo.In, nil),
		"In wrong element":       repo.Where("rank", repo.In, []any{1, "two"}),
		"Prefix on int":          repo.Where("rank", repo.Prefix, "1"),
		"Prefix non-string":      repo.Where("name", repo.Prefix, 1),
		"Lt nil":                 repo.Where("rank", repo.Lt, nil),
		"Gte nil":                repo.Where("label", repo.Gte, nil),
		"unknown operator":       repo.Where("rank", repo.Op(99), 1),
		"zero operator":          repo.Where("rank", repo.Op(0), 1),
		"struct value":           repo.Where("name", repo.Eq, struct{}{}),
		"negative limit":         repo.Where("rank", repo.Eq, 1).Limit(-1),
		"negative offset":        repo.Where("rank", repo.Eq, 1).Offset(-1),
		"After outside Paginate": repo.Where("rank", repo.Eq, 1).After("WzFd"),
	} {
		requireInvalid(t, "All: "+what, func() error { _, err := repo.All[Item](e.ctx, e.r, q); return err })
		requireInvalid(t, "Count: "+what, func() error { _, err := repo.Count[Item](e.ctx, e.r, q); return err })
		requireInvalid(t, "DeleteAll: "+what, func() error { _, err := repo.DeleteAll[Item](e.ctx, e.r, q); return err })
	}
	// Only scalar fields can be filtered on or ordered by.
	for what, q := range map[string]repo.Query{
		"filter on []string": repo.Where("strs", repo.Eq, "x"),
		"filter on []byte":   repo.Where("bytes", repo.Eq, []byte("x")),
		"filter on JSON":     repo.Where("nested", repo.Eq, Nested{}),
		"order by []string":  repo.Where("id", repo.Gt, 0).OrderBy("strs"),
		"order by JSON":      repo.Where("id", repo.Gt, 0).OrderBy("map"),
	} {
		requireInvalid(t, what, func() error { _, err := repo.All[Kinds](e.ctx, e.r, q); return err })
	}
	n, err := repo.Count[Item](e.ctx, e.r, repo.Where("rank", repo.Gte, 0))
	require.NoError(t, err)
	require.EqualValues(t, 5, n, "an invalid DeleteAll deleted nothing")
}

// queryFullScan: a query without a condition on an indexed field runs
// where the store lists collections cheaply (CapListAll), and elsewhere
// only with FullScan: without it, ErrUnsupported.
func queryFullScan(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	unindexed := repo.Where("score", repo.Gt, 0)
	check := func(r *repo.Repo, caps driver.Capabilities, what string) {
		t.Helper()
		// A filter on an unindexed field only.
		ids, err := repo.All[Item](e.ctx, r, unindexed)
		if caps.Has(driver.CapListAll | driver.CapUnindexedFilter) {
			require.NoError(t, err, what)
			require.ElementsMatch(t, []int64{1, 2, 3}, itemIDs(ids), what)
		} else {
			require.ErrorIs(t, err, repo.ErrUnsupported, "%s: a query without an indexed condition needs FullScan", what)
			require.Contains(t, err.Error(), "FullScan", "%s: the message says what to do", what)
			_, err = repo.DeleteAll[Item](e.ctx, r, repo.Where("label", repo.Ne, nil))
			require.ErrorIs(t, err, repo.ErrUnsupported, what)
		}
		// No filter at all.
		n, err := repo.Count[Item](e.ctx, r, repo.Query{})
		if caps.Has(driver.CapListAll) {
			require.NoError(t, err, what)
			require.EqualValues(t, 5, n, what)
		} else {
			require.ErrorIs(t, err, repo.ErrUnsupported, "%s: listing a collection needs FullScan", what)
		}
		// Ordering by an unindexed field.
		ids, err = repo.All[Item](e.ctx, r, repo.Where("rank", repo.Gte, 0).OrderBy("score"))
		if caps.Has(driver.CapUnindexedFilter) {
			require.NoError(t, err, what)
			require.Equal(t, []int64{4, 5, 1, 2, 3}, itemIDs(ids), what)
		} else {
			require.ErrorIs(t, err, repo.ErrUnsupported, "%s: ordering by an unindexed field", what)
		}
		// FullScan opts in.
		if caps.Has(driver.CapListAll) || caps.Has(driver.CapFullScan) {
			ids, err := repo.All[Item](e.ctx, r, unindexed.FullScan())
			require.NoError(t, err, what)
			require.ElementsMatch(t, []int64{1, 2, 3}, itemIDs(ids), what)
			n, err := repo.Count[Item](e.ctx, r, repo.Query{}.FullScan())
			require.NoError(t, err, what)
			require.EqualValues(t, 5, n, what)
			ids, err = repo.All[Item](e.ctx, r, repo.Query{}.OrderBy("-score").FullScan())
			require.NoError(t, err, what)
			require.Equal(t, []int64{3, 2, 1, 5, 4}, itemIDs(ids), what)
		} else {
			_, err := repo.All[Item](e.ctx, r, unindexed.FullScan())
			require.ErrorIs(t, err, repo.ErrUnsupported, "%s: a store that cannot scan", what)
		}
		// A condition on an indexed field (here with one on an unindexed
		// field) needs no scan anywhere.
		ids, err = repo.All[Item](e.ctx, r, repo.Where("rank", repo.Eq, 2).Where("score", repo.Gt, 3))
		require.NoError(t, err, what)
		require.Equal(t, []int64{3}, itemIDs(ids), what)
	}
	check(e.r, e.caps, "this store")
	m := e.masked(t, driver.CapListAll|driver.CapUnindexedFilter)
	check(m, m.Capabilities(), "a store without list-all and unindexed-filter")
	m = e.masked(t, driver.CapListAll|driver.CapUnindexedFilter|driver.CapFullScan)
	check(m, m.Capabilities(), "a store that cannot list or scan")

	if !e.caps.Has(driver.CapOffset) {
		_, err := repo.All[Item](e.ctx, e.r, repo.Where("rank", repo.Gte, 0).Offset(1))
		require.ErrorIs(t, err, repo.ErrUnsupported)
	}
	m = e.masked(t, driver.CapOffset)
	_, err := repo.All[Item](e.ctx, m, repo.Where("rank", repo.Gte, 0).OrderBy("id").Offset(1))
	require.ErrorIs(t, err, repo.ErrUnsupported, "Offset without CapOffset")
	require.True(t, strings.Contains(err.Error(), "Paginate"), "the message says what to do: %v", err)
}
