package driver

import (
	"fmt"
	"math"
)

// AggregateValues computes fn over vals, the non-NULL values of field f,
// with the result types [Aggregator] promises (an int64 Sum that
// overflows is ErrInvalid). It is the reference semantics of the
// aggregate functions, for adapters that compute them themselves.
func AggregateValues(fn AggFunc, f Field, vals []any) (any, error) {
	switch fn {
	case AggSum:
		if f.Kind == KindInt {
			return sumInts(f, vals)
		}
		return sumFloats(vals), nil
	case AggAvg:
		if len(vals) == 0 {
			return nil, nil
		}
		return sumFloats(vals) / float64(len(vals)), nil
	}
	var best any
	for _, v := range vals {
		n := Compare(v, best)
		if best == nil || (fn == AggMin && n < 0) || (fn == AggMax && n > 0) {
			best = v
		}
	}
	return best, nil
}

func sumInts(f Field, vals []any) (int64, error) {
	var sum int64
	for _, v := range vals {
		n, ok := v.(int64)
		if !ok {
			return 0, fmt.Errorf("%w: field %s holds a %T, not an int", ErrInvalid, f.Name, v)
		}
		if (n > 0 && sum > math.MaxInt64-n) || (n < 0 && sum < math.MinInt64-n) {
			return 0, fmt.Errorf("%w: the sum of %s overflows int64", ErrInvalid, f.Name)
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
