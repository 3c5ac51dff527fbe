package memory

import (
	"context"
	"fmt"

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
		out, err = driver.AggregateValues(fn, c.Fields[field], vals)
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
