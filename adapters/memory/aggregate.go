package memory

import (
	"context"
	"fmt"
	"math"

	"github.com/strata-go/strata/repo/driver"
)

// Aggregate computes fn over field (an index into c.Fields) of the records
// that Query would return for q (a nil q selects all), ignoring NULLs:
//
//   - driver.AggSum of an int field is an int64 (an error if it overflows),
//     of a float field a float64; 0 when nothing is summed;
//   - driver.AggAvg of an int or float field is a float64, or nil when
//     nothing is averaged;
//   - driver.AggMin and driver.AggMax of a scalar field are a value of the
//     field's kind, or nil.
func (s store) Aggregate(ctx context.Context, c *driver.Collection, q *driver.Query, fn driver.AggFunc, field int) (any, error) {
	var out any
	err := s.r.read(ctx, "aggregate", c, nil, func(v view) error {
		if err := checkAggregate(c, fn, field); err != nil {
			return err
		}
		hits, err := selectRows(ctx, v, c, orZero(q))
		if err != nil {
			return err
		}
		vals := make([]any, 0, len(hits))
		for _, h := range hits {
			if x := h.vals[field]; x != nil {
				vals = append(vals, x)
			}
		}
		out, err = aggregate(fn, c.Fields[field], vals)
		return err
	})
	return out, err
}

func checkAggregate(c *driver.Collection, fn driver.AggFunc, field int) error {
	if err := checkField(c, field, "aggregated"); err != nil {
		return err
	}
	f := c.Fields[field]
	switch fn {
	case driver.AggSum, driver.AggAvg:
		if f.Kind == driver.KindInt || f.Kind == driver.KindFloat {
			return nil
		}
	case driver.AggMin, driver.AggMax:
		if f.Kind.Scalar() {
			return nil
		}
	default:
		return fmt.Errorf("%w: unknown aggregate function %s", driver.ErrInvalid, fn)
	}
	return fmt.Errorf("%w: cannot compute %s of %s field %s", driver.ErrInvalid, fn, f.Kind, f.Name)
}

// aggregate computes fn over vals, the non-NULL values of field f.
func aggregate(fn driver.AggFunc, f driver.Field, vals []any) (any, error) {
	switch fn {
	case driver.AggSum:
		if f.Kind == driver.KindInt {
			return sumInts(f, vals)
		}
		return sumFloats(vals), nil
	case driver.AggAvg:
		if len(vals) == 0 {
			return nil, nil
		}
		return sumFloats(vals) / float64(len(vals)), nil
	}
	var best any
	for _, v := range vals {
		n := driver.Compare(v, best)
		if best == nil || (fn == driver.AggMin && n < 0) || (fn == driver.AggMax && n > 0) {
			best = v
		}
	}
	return best, nil
}

func sumInts(f driver.Field, vals []any) (int64, error) {
	var sum int64
	for _, v := range vals {
		n, ok := v.(int64)
		if !ok {
			return 0, fmt.Errorf("%w: field %s holds a %T, not an int", driver.ErrInvalid, f.Name, v)
		}
		if (n > 0 && sum > math.MaxInt64-n) || (n < 0 && sum < math.MinInt64-n) {
			return 0, fmt.Errorf("%w: the sum of %s overflows int64", driver.ErrInvalid, f.Name)
		}
		sum += n
	}
	return sum, nil
}

// sumFloats sums int64 and float64 values as float64.
func sumFloats(vals []any) float64 {
	var sum float64
	for _, v := range vals {
		switch x := v.(type) {
		case int64:
			sum += float64(x)
		case float64:
			sum += x
		}
	}
	return sum
}
