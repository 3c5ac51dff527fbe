package memory

import (
	"fmt"

	"github.com/strata-go/strata/repo/driver"
)

// apply applies one change to vals, the values of a row being updated. The
// memory adapter, being the reference, checks what the portable layer
// already promises (kinds, stored types) before it applies the change by
// driver.ApplyChange.
func apply(c *driver.Collection, vals map[string]any, ch driver.Change) error {
	if err := checkField(c, ch.Field, "changed"); err != nil {
		return err
	}
	f := c.Fields[ch.Field]
	cur := fieldValue(vals, f)
	err := checkChange(f, cur, ch)
	var next any
	if err == nil {
		next, err = driver.ApplyChange(cur, ch.Op, driver.Clone(ch.Value))
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

// checkChange checks that ch may apply to cur, the value of field f.
func checkChange(f driver.Field, cur any, ch driver.Change) error {
	switch ch.Op {
	case driver.Set:
		return checkValue(f, ch.Value)
	case driver.Increment:
		if _, ok := ch.Value.(int64); !ok || f.Kind != driver.KindInt {
			return fmt.Errorf("%w: want an int64 for an int field, have %T for a %s field", driver.ErrInvalid, ch.Value, f.Kind)
		}
		_, err := intValue(f, cur)
		return err
	case driver.Add, driver.Remove:
		if _, ok := ch.Value.([]string); !ok || f.Kind != driver.KindStrings {
			return fmt.Errorf("%w: want a []string for a strings field, have %T for a %s field", driver.ErrInvalid, ch.Value, f.Kind)
		}
		if _, ok := cur.([]string); !ok && cur != nil {
			return fmt.Errorf("%w: field %s holds a %T, not a []string", driver.ErrInvalid, f.Name, cur)
		}
		return nil
	case driver.SetMax:
		if !f.Kind.Scalar() {
			return fmt.Errorf("%w: %s fields cannot be compared", driver.ErrInvalid, f.Kind)
		}
		return checkValue(f, ch.Value)
	}
	return fmt.Errorf("%w: unknown change operation %d", driver.ErrInvalid, ch.Op)
}
