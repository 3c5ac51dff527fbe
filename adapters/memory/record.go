package memory

import (
	"fmt"

	"github.com/strata-go/strata/repo/driver"
)

// newRow checks rec against c and returns its key and a copy of its values
// by field name.
func newRow(c *driver.Collection, rec driver.Record) (rowKey, map[string]any, error) {
	if len(rec.Values) != len(c.Fields) {
		return rowKey{}, nil, fmt.Errorf("%w: record has %d values; %s has %d fields",
			driver.ErrInvalid, len(rec.Values), c.Name, len(c.Fields))
	}
	vals := make(map[string]any, len(c.Fields))
	for i, f := range c.Fields {
		if err := checkValue(f, rec.Values[i]); err != nil {
			return rowKey{}, nil, err
		}
		vals[f.Name] = driver.Clone(rec.Values[i])
	}
	k, err := keyOf(c, rec.Values[c.Key])
	return k, vals, err
}

// recordKey returns the primary key of rec for error messages, or nil.
func recordKey(c *driver.Collection, rec driver.Record) any {
	if c == nil || c.Key < 0 || c.Key >= len(rec.Values) {
		return nil
	}
	return rec.Values[c.Key]
}

// fieldValue returns the value of field f in stored values: NULL, or the
// zero value of a field that is not nullable, when they lack it.
func fieldValue(vals map[string]any, f driver.Field) any {
	if v, ok := vals[f.Name]; ok {
		return v
	}
	return zero(f)
}

// zero is the value of field f in a record that lacks it.
func zero(f driver.Field) any {
	if f.Nullable {
		return nil
	}
	return driver.Zero(f.Kind)
}

// materialize returns stored values in the order of c's fields. The slice
// is new; the values are shared with the store and must not be modified.
func materialize(c *driver.Collection, vals map[string]any) []any {
	out := make([]any, len(c.Fields))
	for i, f := range c.Fields {
		out[i] = fieldValue(vals, f)
	}
	return out
}

// record turns materialized values into a Record that shares no memory
// with the store, keeping only the fields marked in want (all when want is
// nil).
func record(vals []any, want []bool) driver.Record {
	for i, v := range vals {
		if want != nil && !want[i] {
			vals[i] = nil
			continue
		}
		vals[i] = driver.Clone(v)
	}
	return driver.Record{Values: vals}
}

// recordOf returns a copy of stored values as a Record of c.
func recordOf(c *driver.Collection, vals map[string]any) driver.Record {
	return record(materialize(c, vals), nil)
}
