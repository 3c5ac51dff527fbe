package redis

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/strata-go/strata/repo/driver"
)

// The portable layer hands an adapter only valid input (see driver.Store);
// these checks make the adapter fail with ErrInvalid rather than panic
// when a caller of the driver contract does not.

// canonical reports whether v is nil or a value of kind k's canonical type.
func canonical(k driver.Kind, v any) bool {
	if v == nil {
		return true
	}
	switch v.(type) {
	case string:
		return k == driver.KindString
	case int64:
		return k == driver.KindInt
	case float64:
		return k == driver.KindFloat
	case bool:
		return k == driver.KindBool
	case time.Time:
		return k == driver.KindTime
	case []byte:
		return k == driver.KindBytes
	case []string:
		return k == driver.KindStrings
	case json.RawMessage:
		return k == driver.KindJSON
	}
	return false
}

func checkKey(c *driver.Collection, key any) error {
	if key == nil || !canonical(c.Fields[c.Key].Kind, key) {
		return fmt.Errorf("%w: redis: %s: a %T is not a key of kind %s", driver.ErrInvalid, c.Name, key, c.Fields[c.Key].Kind)
	}
	return nil
}

func checkRecord(c *driver.Collection, rec driver.Record) error {
	if len(rec.Values) != len(c.Fields) {
		return fmt.Errorf("%w: redis: %s: a record of %d values for %d fields", driver.ErrInvalid, c.Name, len(rec.Values), len(c.Fields))
	}
	for i, f := range c.Fields {
		if !canonical(f.Kind, rec.Values[i]) || (rec.Values[i] == nil && !f.Nullable) {
			return fmt.Errorf("%w: redis: %s.%s: %T is not a %s value", driver.ErrInvalid, c.Name, f.Name, rec.Values[i], f.Kind)
		}
	}
	return checkKey(c, rec.Values[c.Key])
}

func checkField(c *driver.Collection, i int, scalar bool) error {
	if i < 0 || i >= len(c.Fields) {
		return fmt.Errorf("%w: redis: %s has no field %d", driver.ErrInvalid, c.Name, i)
	}
	if scalar && !c.Fields[i].Kind.Scalar() {
		return fmt.Errorf("%w: redis: %s.%s is a %s field, not a scalar", driver.ErrInvalid, c.Name, c.Fields[i].Name, c.Fields[i].Kind)
	}
	return nil
}

func checkQuery(c *driver.Collection, q *driver.Query) error {
	for _, f := range q.Filters {
		if err := checkField(c, f.Field, true); err != nil {
			return err
		}
		k := c.Fields[f.Field].Kind
		ok := true
		switch f.Op {
		case driver.In:
			list, isList := f.Value.([]any)
			ok = isList
			for _, v := range list {
				ok = ok && canonical(k, v)
			}
		case driver.Eq, driver.Ne, driver.Lt, driver.Lte, driver.Gt, driver.Gte:
			ok = canonical(k, f.Value)
		case driver.Prefix:
			_, isString := f.Value.(string)
			ok = f.Value == nil || (isString && k == driver.KindString)
		default:
			ok = false
		}
		if !ok {
			return fmt.Errorf("%w: redis: %s: filter %s %s %v (%T)", driver.ErrInvalid, c.Name, c.Fields[f.Field].Name, f.Op, f.Value, f.Value)
		}
	}
	for _, o := range q.Order {
		if err := checkField(c, o.Field, true); err != nil {
			return err
		}
	}
	for _, i := range q.Fields {
		if err := checkField(c, i, false); err != nil {
			return err
		}
	}
	if len(q.After) > len(q.Order) {
		return fmt.Errorf("%w: redis: %s: a cursor of %d values for %d sort keys", driver.ErrInvalid, c.Name, len(q.After), len(q.Order))
	}
	for i, v := range q.After {
		if !canonical(c.Fields[q.Order[i].Field].Kind, v) {
			return fmt.Errorf("%w: redis: %s: cursor value %T", driver.ErrInvalid, c.Name, v)
		}
	}
	if q.Offset < 0 {
		return fmt.Errorf("%w: redis: %s: negative offset", driver.ErrInvalid, c.Name)
	}
	return nil
}
