package memory

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

func TestAggregate(t *testing.T) {
	a, c := people(t) // ages 10, 20, NULL, 30; scores 1.5, -2, NULL, 0
	none := &driver.Query{Filters: []driver.Filter{{Field: fID, Op: driver.Gt, Value: int64(99)}}}
	onlyNull := &driver.Query{Filters: []driver.Filter{{Field: fID, Op: driver.Eq, Value: int64(3)}}}
	twoOldest := &driver.Query{Order: []driver.Order{{Field: fAge, Desc: true}}, Limit: 2}
	tests := []struct {
		name  string
		q     *driver.Query
		fn    driver.AggFunc
		field int
		want  any
	}{
		{"sum int", nil, driver.AggSum, fAge, int64(60)},
		{"sum float", nil, driver.AggSum, fScore, -0.5},
		{"sum of nothing is 0", none, driver.AggSum, fAge, int64(0)},
		{"float sum of nothing is 0.0", none, driver.AggSum, fScore, 0.0},
		{"sum of NULLs is 0", onlyNull, driver.AggSum, fAge, int64(0)},
		{"avg int", nil, driver.AggAvg, fAge, 20.0},
		{"avg float", nil, driver.AggAvg, fScore, -0.5 / 3},
		{"avg of nothing is nil", none, driver.AggAvg, fAge, nil},
		{"avg of NULLs is nil", onlyNull, driver.AggAvg, fScore, nil},
		{"min int", nil, driver.AggMin, fAge, int64(10)},
		{"max int", nil, driver.AggMax, fAge, int64(30)},
		{"min float", nil, driver.AggMin, fScore, -2.0},
		{"min string", nil, driver.AggMin, fName, "Cy"},
		{"max string", nil, driver.AggMax, fName, "bob"},
		{"min bool", nil, driver.AggMin, fActive, false},
		{"max time", nil, driver.AggMax, fBorn, time.Date(2004, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"min of nothing is nil", none, driver.AggMin, fAge, nil},
		{"max of NULLs is nil", onlyNull, driver.AggMax, fAge, nil},
		{"filtered", &driver.Query{Filters: []driver.Filter{{Field: fActive, Op: driver.Eq, Value: false}}}, driver.AggSum, fAge, int64(50)},
		{"limit applies", twoOldest, driver.AggSum, fAge, int64(50)},
		{"offset applies", &driver.Query{Order: []driver.Order{{Field: fAge}}, Offset: 2}, driver.AggMin, fAge, int64(20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Aggregate(context.Background(), c, tt.q, tt.fn, tt.field)
			require.NoError(t, err)
			if f, ok := tt.want.(float64); ok {
				require.IsType(t, f, got)
				require.InDelta(t, f, got, 1e-12)
				return
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestAggregateInvalid(t *testing.T) {
	a, c := people(t)
	tests := []struct {
		name  string
		fn    driver.AggFunc
		field int
	}{
		{"unknown function", 0, fAge},
		{"field out of range", driver.AggSum, 99},
		{"sum of strings", driver.AggSum, fName},
		{"avg of time", driver.AggAvg, fBorn},
		{"min of bytes", driver.AggMin, fBlob},
		{"max of json", driver.AggMax, fDoc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Aggregate(context.Background(), c, nil, tt.fn, tt.field)
			require.ErrorIs(t, err, driver.ErrInvalid)
		})
	}
}

func TestAggregateSumOverflow(t *testing.T) {
	ctx := context.Background()
	a, c := New(), users(t)
	for id := int64(1); id <= 2; id++ {
		_, err := a.Insert(ctx, c, withValue(user(id, nil, "x"), fAge, int64(math.MaxInt64)), driver.InsertOptions{})
		require.NoError(t, err)
	}
	_, err := a.Aggregate(ctx, c, nil, driver.AggSum, fAge)
	require.ErrorIs(t, err, driver.ErrInvalid)
	avg, err := a.Aggregate(ctx, c, nil, driver.AggAvg, fAge)
	require.NoError(t, err)
	require.InDelta(t, float64(math.MaxInt64), avg, 1e6)
}
