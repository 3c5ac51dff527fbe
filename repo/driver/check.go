package driver

import (
	"encoding/json"
	"fmt"
	"time"
)

// The portable layer hands an adapter only valid input (see Store);
// these checks make the adapter fail with ErrInvalid rather than panic
// when a caller of the driver contract does not.

// Canonical reports whether v is nil or a value of kind k's canonical
// type.
func Canonical(k Kind, v any) bool {
	if v == nil {
		return true
	}
	switch v.(type) {
	case string:
		return k == KindString
	case int64:
		return k == KindInt
	case float64:
		return k == KindFloat
	case bool:
		return k == KindBool
	case time.Time:
		return k == KindTime
	case []byte:
		return k == KindBytes
	case []string:
		return k == KindStrings
	case json.RawMessage:
		return k == KindJSON
	}
	return false
}

// CheckKey checks that key is a primary key of c: not nil, of the key's
// kind.
func CheckKey(c *Collection, key any) error {
	if key == nil || !Canonical(c.Fields[c.Key].Kind, key) {
		return fmt.Errorf("%w: %s: a %T is not a key of kind %s", ErrInvalid, c.Name, key, c.Fields[c.Key].Kind)
	}
	return nil
}

// CheckRecord checks that rec has a canonical value for each field of c
// (nil only in nullable fields) and a key.
func CheckRecord(c *Collection, rec Record) error {
	if len(rec.Values) != len(c.Fields) {
		return fmt.Errorf("%w: %s: a record of %d values for %d fields", ErrInvalid, c.Name, len(rec.Values), len(c.Fields))
	}
	for i, f := range c.Fields {
		if !Canonical(f.Kind, rec.Values[i]) || (rec.Values[i] == nil && !f.Nullable) {
			return fmt.Errorf("%w: %s.%s: %T is not a %s value", ErrInvalid, c.Name, f.Name, rec.Values[i], f.Kind)
		}
	}
	return CheckKey(c, rec.Values[c.Key])
}

// CheckField checks that i is a field of c (a scalar one, if scalar).
func CheckField(c *Collection, i int, scalar bool) error {
	if i < 0 || i >= len(c.Fields) {
		return fmt.Errorf("%w: %s has no field %d", ErrInvalid, c.Name, i)
	}
	if scalar && !c.Fields[i].Kind.Scalar() {
		return fmt.Errorf("%w: %s.%s is a %s field, not a scalar", ErrInvalid, c.Name, c.Fields[i].Name, c.Fields[i].Kind)
	}
	return nil
}

// CheckQuery checks q against c: fields in range and scalar where
// filtered or ordered, filter values canonical for their fields, a cursor
// no longer than the order, no negative offset.
func CheckQuery(c *Collection, q *Query) error {
	for _, f := range q.Filters {
		if err := CheckField(c, f.Field, true); err != nil {
			return err
		}
		k := c.Fields[f.Field].Kind
		ok := true
		switch f.Op {
		case In:
			list, isList := f.Value.([]any)
			ok = isList
			for _, v := range list {
				ok = ok && Canonical(k, v)
			}
		case Eq, Ne, Lt, Lte, Gt, Gte:
			ok = Canonical(k, f.Value)
		case Prefix:
			_, isString := f.Value.(string)
			ok = f.Value == nil || (isString && k == KindString)
		default:
			ok = false
		}
		if !ok {
			return fmt.Errorf("%w: %s: filter %s %s %v (%T)", ErrInvalid, c.Name, c.Fields[f.Field].Name, f.Op, f.Value, f.Value)
		}
	}
	for _, o := range q.Order {
		if err := CheckField(c, o.Field, true); err != nil {
			return err
		}
	}
	for _, i := range q.Fields {
		if err := CheckField(c, i, false); err != nil {
			return err
		}
	}
	if len(q.After) > len(q.Order) {
		return fmt.Errorf("%w: %s: a cursor of %d values for %d sort keys", ErrInvalid, c.Name, len(q.After), len(q.Order))
	}
	for i, v := range q.After {
		if !Canonical(c.Fields[q.Order[i].Field].Kind, v) {
			return fmt.Errorf("%w: %s: cursor value %T", ErrInvalid, c.Name, v)
		}
	}
	if q.Offset < 0 {
		return fmt.Errorf("%w: %s: negative offset", ErrInvalid, c.Name)
	}
	return nil
}

// CheckChanges checks u's changes against c and the record's key: fields
// in range, values that fit the operation and the field (a canonical
// value for Set and SetMax, nil only where nullable; an int64 increment
// of an int field; a []string to add to or remove from a strings field),
// and the key unchanged. It returns the changes less those that set the
// key to itself.
func CheckChanges(c *Collection, key any, changes []Change) ([]Change, error) {
	out := changes[:0:0]
	for _, ch := range changes {
		if err := CheckField(c, ch.Field, false); err != nil {
			return nil, err
		}
		f := c.Fields[ch.Field]
		ok := true
		switch ch.Op {
		case Set:
			ok = Canonical(f.Kind, ch.Value) && (ch.Value != nil || f.Nullable)
		case SetMax:
			ok = Canonical(f.Kind, ch.Value) && ch.Value != nil && f.Kind.Scalar()
		case Increment:
			_, isInt := ch.Value.(int64)
			ok = isInt && f.Kind == KindInt
		case Add, Remove:
			_, isList := ch.Value.([]string)
			ok = isList && f.Kind == KindStrings
		default:
			return nil, fmt.Errorf("%w: unknown change operation %d", ErrInvalid, ch.Op)
		}
		if !ok {
			return nil, fmt.Errorf("%w: %s %s (a %s field) with a %T", ErrInvalid, ch.Op, f.Name, f.Kind, ch.Value)
		}
		if ch.Field == c.Key {
			if ch.Op == Set && Compare(ch.Value, key) == 0 {
				continue
			}
			return nil, fmt.Errorf("%w: the primary key %s cannot change", ErrInvalid, f.Name)
		}
		out = append(out, ch)
	}
	return out, nil
}
