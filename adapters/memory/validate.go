package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/strata-go/strata/repo/driver"
)

// live returns ctx's error, if it is done (or nil).
func live(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("%w: nil context", driver.ErrInvalid)
	}
	return ctx.Err()
}

// enter checks what every record operation receives: a live context and a
// usable collection.
func enter(ctx context.Context, c *driver.Collection) error {
	if err := live(ctx); err != nil {
		return err
	}
	return checkCollection(c)
}

// checkCollection checks what the adapter relies on in a collection, so
// that a hand-built one cannot make it panic.
func checkCollection(c *driver.Collection) error {
	switch {
	case c == nil:
		return fmt.Errorf("%w: nil collection", driver.ErrInvalid)
	case c.Name == "":
		return fmt.Errorf("%w: collection has no name", driver.ErrInvalid)
	case c.Key < 0 || c.Key >= len(c.Fields):
		return fmt.Errorf("%w: %s: primary key index %d out of range", driver.ErrInvalid, c.Name, c.Key)
	case c.Fields[c.Key].Kind != driver.KindInt && c.Fields[c.Key].Kind != driver.KindString:
		return fmt.Errorf("%w: %s: primary key is %s; want string or int", driver.ErrInvalid, c.Name, c.Fields[c.Key].Kind)
	case c.Version < -1 || c.Version >= len(c.Fields):
		return fmt.Errorf("%w: %s: version index %d out of range", driver.ErrInvalid, c.Name, c.Version)
	case c.Version >= 0 && c.Fields[c.Version].Kind != driver.KindInt:
		return fmt.Errorf("%w: %s: version field is %s; want int", driver.ErrInvalid, c.Name, c.Fields[c.Version].Kind)
	}
	for _, ix := range c.Indexes {
		for _, name := range ix.Fields {
			if c.FieldIndex(name) < 0 {
				return fmt.Errorf("%w: %s: index %s names unknown field %q (build collections with driver.NewCollection)",
					driver.ErrInvalid, c.Name, ix.Name, name)
			}
		}
	}
	return nil
}

// checkValue checks that v may be stored in field f: nil in a nullable
// field, or a value of f's canonical type.
func checkValue(f driver.Field, v any) error {
	if v == nil {
		if f.Nullable {
			return nil
		}
		return fmt.Errorf("%w: field %s is not nullable", driver.ErrInvalid, f.Name)
	}
	if !isKind(f.Kind, v) {
		return fmt.Errorf("%w: field %s: %T %v is not a valid %s value", driver.ErrInvalid, f.Name, v, v, f.Kind)
	}
	return nil
}

// isKind reports whether v is a valid non-NULL value of kind k.
func isKind(k driver.Kind, v any) bool {
	switch x := v.(type) {
	case string:
		return k == driver.KindString
	case int64:
		return k == driver.KindInt
	case float64:
		return k == driver.KindFloat && !math.IsNaN(x) && !math.IsInf(x, 0)
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

// checkField checks that i is the index of a field of c.
func checkField(c *driver.Collection, i int, what string) error {
	if i < 0 || i >= len(c.Fields) {
		return fmt.Errorf("%w: %s field index %d out of range (%s has %d fields)", driver.ErrInvalid, what, i, c.Name, len(c.Fields))
	}
	return nil
}

// checkScalar checks that i is the index of a field of c that can be
// compared.
func checkScalar(c *driver.Collection, i int, what string) error {
	if err := checkField(c, i, what); err != nil {
		return err
	}
	if f := c.Fields[i]; !f.Kind.Scalar() {
		return fmt.Errorf("%w: cannot %s %s field %s", driver.ErrInvalid, what, f.Kind, f.Name)
	}
	return nil
}

// checkQuery checks that q is well-formed for c, so that running it cannot
// panic and every comparison it makes is between values of one kind.
func checkQuery(c *driver.Collection, q *driver.Query) error {
	for _, f := range q.Filters {
		if err := checkFilter(c, f); err != nil {
			return err
		}
	}
	for _, o := range q.Order {
		if err := checkScalar(c, o.Field, "order by"); err != nil {
			return err
		}
	}
	if q.After != nil {
		if len(q.After) == 0 || len(q.After) > len(q.Order) {
			return fmt.Errorf("%w: After has %d values for %d Order keys; want 1 to %d",
				driver.ErrInvalid, len(q.After), len(q.Order), len(q.Order))
		}
		for i, v := range q.After {
			if f := c.Fields[q.Order[i].Field]; v != nil && !isKind(f.Kind, v) {
				return fmt.Errorf("%w: After value %d: %T is not a %s value", driver.ErrInvalid, i, v, f.Kind)
			}
		}
	}
	if q.Offset < 0 || q.Limit < 0 {
		return fmt.Errorf("%w: negative offset %d or limit %d", driver.ErrInvalid, q.Offset, q.Limit)
	}
	for _, i := range q.Fields {
		if err := checkField(c, i, "selected"); err != nil {
			return err
		}
	}
	return nil
}

func checkFilter(c *driver.Collection, f driver.Filter) error {
	if err := checkScalar(c, f.Field, "filter on"); err != nil {
		return err
	}
	fd := c.Fields[f.Field]
	switch f.Op {
	case driver.Eq, driver.Ne, driver.Lt, driver.Lte, driver.Gt, driver.Gte:
		if f.Value == nil || isKind(fd.Kind, f.Value) {
			return nil
		}
	case driver.In:
		list, ok := f.Value.([]any)
		if !ok {
			return fmt.Errorf("%w: filter %s in: value is a %T; want []any", driver.ErrInvalid, fd.Name, f.Value)
		}
		for _, v := range list {
			if v != nil && !isKind(fd.Kind, v) {
				return fmt.Errorf("%w: filter %s in: %T is not a %s value", driver.ErrInvalid, fd.Name, v, fd.Kind)
			}
		}
		return nil
	case driver.Prefix:
		if _, ok := f.Value.(string); ok && fd.Kind == driver.KindString {
			return nil
		}
		return fmt.Errorf("%w: filter %s prefix: want a string field and a string value, have %s and %T",
			driver.ErrInvalid, fd.Name, fd.Kind, f.Value)
	default:
		return fmt.Errorf("%w: filter %s: unknown operator %s", driver.ErrInvalid, fd.Name, f.Op)
	}
	return fmt.Errorf("%w: filter %s %s: %T is not a %s value", driver.ErrInvalid, fd.Name, f.Op, f.Value, fd.Kind)
}
