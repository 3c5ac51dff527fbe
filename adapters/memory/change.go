package memory

import (
	"fmt"
	"math"

	"github.com/strata-go/strata/repo/driver"
)

// apply applies one change to vals, the values of a row being updated.
func apply(c *driver.Collection, vals map[string]any, ch driver.Change) error {
	if err := checkField(c, ch.Field, "changed"); err != nil {
		return err
	}
	f := c.Fields[ch.Field]
	cur := fieldValue(vals, f)
	var next any
	var err error
	switch ch.Op {
	case driver.Set:
		if err = checkValue(f, ch.Value); err == nil {
			next = driver.Clone(ch.Value)
		}
	case driver.Increment:
		next, err = increment(f, cur, ch.Value)
	case driver.Add, driver.Remove:
		next, err = setChange(f, cur, ch)
	case driver.SetMax:
		next, err = setMax(f, cur, ch.Value)
	default:
		err = fmt.Errorf("%w: unknown change operation %d", driver.ErrInvalid, ch.Op)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", ch.Op, f.Name, err)
	}
	if ch.Field == c.Key && driver.Compare(next, cur) != 0 {
		return fmt.Errorf("%w: the primary key %s cannot change", driver.ErrInvalid, f.Name)
	}
	vals[f.Name] = next
	return nil
}

// increment adds delta (an int64) to cur, the value of int field f; NULL
// counts as 0 and overflow is an error.
func increment(f driver.Field, cur, delta any) (any, error) {
	d, ok := delta.(int64)
	if !ok || f.Kind != driver.KindInt {
		return nil, fmt.Errorf("%w: want an int64 for an int field, have %T for a %s field", driver.ErrInvalid, delta, f.Kind)
	}
	n, err := intValue(f, cur)
	if err != nil {
		return nil, err
	}
	if (d > 0 && n > math.MaxInt64-d) || (d < 0 && n < math.MinInt64-d) {
		return nil, fmt.Errorf("%w: %d%+d overflows int64", driver.ErrInvalid, n, d)
	}
	return n + d, nil
}

// setChange adds (driver.Add) or removes (driver.Remove) the []string
// ch.Value to or from cur, the value of strings field f. The result keeps
// the order of first insertion and holds no duplicates; removing from NULL
// leaves NULL.
func setChange(f driver.Field, cur any, ch driver.Change) (any, error) {
	elems, ok := ch.Value.([]string)
	if !ok || f.Kind != driver.KindStrings {
		return nil, fmt.Errorf("%w: want a []string for a strings field, have %T for a %s field", driver.ErrInvalid, ch.Value, f.Kind)
	}
	have, ok := cur.([]string)
	if !ok && cur != nil {
		return nil, fmt.Errorf("%w: field %s holds a %T, not a []string", driver.ErrInvalid, f.Name, cur)
	}
	if ch.Op == driver.Remove && cur == nil {
		return nil, nil
	}
	skip := make(map[string]bool, len(have)+len(elems))
	if ch.Op == driver.Remove {
		for _, e := range elems {
			skip[e] = true
		}
		elems = nil
	}
	out := make([]string, 0, len(have)+len(elems))
	for _, list := range [][]string{have, elems} {
		for _, e := range list {
			if !skip[e] {
				skip[e] = true // from now on, a duplicate
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// setMax returns v if it is greater than cur (any value is greater than
// NULL), else cur.
func setMax(f driver.Field, cur, v any) (any, error) {
	if !f.Kind.Scalar() {
		return nil, fmt.Errorf("%w: %s fields cannot be compared", driver.ErrInvalid, f.Kind)
	}
	if err := checkValue(f, v); err != nil {
		return nil, err
	}
	if driver.Compare(v, cur) > 0 {
		return v, nil
	}
	return cur, nil
}
