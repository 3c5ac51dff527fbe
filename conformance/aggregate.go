package conformance

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

var aggregateCases = []testCase{
	{"Ints", aggInts},
	{"Floats", aggFloats},
	{"Times", aggTimes},
	{"Strings", aggStrings},
	{"Nulls", aggNulls},
	{"Empty", aggEmpty},
	{"Invalid", aggInvalid},
	{"Unsupported", aggUnsupported},
}

type aggCase struct {
	fn    repo.AggFunc
	field string
	q     repo.Query
	scan  bool
	want  any
}

func checkAggs(t *testing.T, e *env, cases []aggCase) {
	t.Helper()
	for _, c := range cases {
		q := c.q
		if c.scan {
			q = e.scan(t, q)
		}
		got, err := repo.Aggregate[Item](e.ctx, e.r, q, c.fn, c.field)
		require.NoError(t, err, "%s(%s) where %v", c.fn, c.field, c.q)
		switch want := c.want.(type) {
		case float64:
			require.IsType(t, want, got, "%s(%s) where %v", c.fn, c.field, c.q)
			require.InDelta(t, want, got, 1e-9, "%s(%s) where %v", c.fn, c.field, c.q)
		case time.Time:
			require.IsType(t, want, got, "%s(%s) where %v", c.fn, c.field, c.q)
			require.True(t, want.Equal(got.(time.Time)), "%s(%s) where %v: got %v, want %v", c.fn, c.field, c.q, got, want)
		default:
			require.Equal(t, c.want, got, "%s(%s) where %v", c.fn, c.field, c.q)
		}
	}
}

func aggInts(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapAggregates)
	seedItems(t, e)
	all := repo.Where("rank", repo.Gte, 0)
	checkAggs(t, e, []aggCase{
		{repo.Sum, "rank", all, false, int64(13)},
		{repo.Avg, "rank", all, false, 2.6},
		{repo.Min, "rank", all, false, int64(1)},
		{repo.Max, "rank", all, false, int64(5)},
		{repo.Sum, "rank", repo.Where("rank", repo.Gte, 2).Where("done", repo.Eq, false), false, int64(7)},
		{repo.Avg, "rank", repo.Where("rank", repo.Lt, 3), false, 5.0 / 3},
		{repo.Max, "rank", repo.Where("rank", repo.Lt, 3), false, int64(2)},
		{repo.Min, "rank", repo.Where("done", repo.Eq, true), true, int64(2)},
		{repo.Sum, "id", repo.Query{}, true, int64(15)},
	})
}

func aggFloats(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapAggregates)
	seedItems(t, e)
	all := repo.Where("rank", repo.Gte, 0)
	checkAggs(t, e, []aggCase{
		{repo.Sum, "score", all, false, 6.5},
		{repo.Avg, "score", all, false, 1.3},
		{repo.Min, "score", all, false, -1.0},
		{repo.Max, "score", all, false, 3.5},
		{repo.Sum, "score", repo.Where("rank", repo.Eq, 2), false, 6.0},
		{repo.Max, "score", repo.Where("done", repo.Eq, true), true, 2.5},
	})
}

func aggTimes(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapAggregates)
	seedItems(t, e)
	checkAggs(t, e, []aggCase{
		{repo.Min, "at", repo.Where("rank", repo.Gte, 0), false, t0},
		{repo.Max, "at", repo.Where("rank", repo.Gte, 0), false, t0.Add(4 * time.Hour)},
		{repo.Min, "at", repo.Where("rank", repo.Gte, 3), false, t0.Add(3 * time.Hour)},
		{repo.Max, "at", repo.Where("rank", repo.Eq, 2), false, t0.Add(2 * time.Hour)},
	})
}

func aggStrings(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapAggregates)
	seedItems(t, e)
	checkAggs(t, e, []aggCase{
		{repo.Min, "name", repo.Where("rank", repo.Gte, 0), false, "apple"},
		{repo.Max, "name", repo.Where("rank", repo.Gte, 0), false, "date"},
		{repo.Min, "name", repo.Where("rank", repo.Eq, 2), false, "apricot"},
		{repo.Max, "name", repo.Where("name", repo.Prefix, "ap"), false, "apricot"},
	})
}

func aggNulls(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapAggregates)
	seedItems(t, e)
	checkAggs(t, e, []aggCase{
		{repo.Min, "label", repo.Where("rank", repo.Gte, 0), false, "red"},
		{repo.Max, "label", repo.Where("rank", repo.Gte, 0), false, "yellow"},
		{repo.Min, "label", repo.Where("id", repo.In, []int{2, 5}), false, nil},
		{repo.Max, "label", repo.Where("id", repo.In, []int{2, 3}), false, "yellow"},
	})
}

func aggEmpty(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapAggregates)
	none := repo.Where("rank", repo.Eq, 42)
	empty := []aggCase{
		{repo.Sum, "rank", none, false, int64(0)},
		{repo.Sum, "score", none, false, float64(0)},
		{repo.Avg, "rank", none, false, nil},
		{repo.Avg, "score", none, false, nil},
		{repo.Min, "rank", none, false, nil},
		{repo.Max, "rank", none, false, nil},
		{repo.Min, "at", none, false, nil},
		{repo.Max, "name", none, false, nil},
		{repo.Max, "score", none, false, nil},
	}
	checkAggs(t, e, empty) // an empty collection
	seedItems(t, e)
	checkAggs(t, e, empty) // no record matches
	checkAggs(t, e, []aggCase{{repo.Sum, "rank", repo.Query{}, true, int64(13)}})
}

func aggInvalid(t *testing.T, s *suite) {
	e := s.open(t)
	e.need(t, driver.CapAggregates)
	seedItems(t, e)
	all := repo.Where("rank", repo.Gte, 0)
	requireAllInvalid(t, []call{
		{"Sum of a string", func() error { _, err := repo.Aggregate[Item](e.ctx, e.r, all, repo.Sum, "name"); return err }},
		{"Avg of a time", func() error { _, err := repo.Aggregate[Item](e.ctx, e.r, all, repo.Avg, "at"); return err }},
		{"Sum of a bool", func() error { _, err := repo.Aggregate[Item](e.ctx, e.r, all, repo.Sum, "done"); return err }},
		{"unknown field", func() error { _, err := repo.Aggregate[Item](e.ctx, e.r, all, repo.Max, "nope"); return err }},
		{"unknown function", func() error { _, err := repo.Aggregate[Item](e.ctx, e.r, all, repo.AggFunc(42), "rank"); return err }},
		{"zero function", func() error { _, err := repo.Aggregate[Item](e.ctx, e.r, all, repo.AggFunc(0), "rank"); return err }},
		{"Max of []string", func() error {
			_, err := repo.Aggregate[Kinds](e.ctx, e.r, repo.Where("id", repo.Gt, 0), repo.Max, "strs")
			return err
		}},
		{"invalid query", func() error {
			_, err := repo.Aggregate[Item](e.ctx, e.r, repo.Where("rank", repo.Eq, "x"), repo.Max, "rank")
			return err
		}},
		{"not a schema", func() error { _, err := repo.Aggregate[int](e.ctx, e.r, all, repo.Max, "rank"); return err }},
	})
}

func aggUnsupported(t *testing.T, s *suite) {
	e := s.open(t)
	r := e.r
	if e.caps.Has(driver.CapAggregates) {
		r = e.masked(t, driver.CapAggregates)
	}
	_, err := repo.Aggregate[Item](e.ctx, r, repo.Where("rank", repo.Gte, 0), repo.Sum, "rank")
	require.ErrorIs(t, err, repo.ErrUnsupported)
}
