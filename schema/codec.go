package schema

import (
	"fmt"
	"reflect"

	"github.com/strata-go/strata/repo/driver"
)

// Encode returns the canonical values of every stored field of the struct
// v (a struct value, not a pointer), in field order.
func (s *Schema) Encode(v reflect.Value) ([]any, error) {
	vals := make([]any, len(s.Fields))
	for i, f := range s.Fields {
		x, err := f.Value(v)
		if err != nil {
			return nil, err
		}
		vals[i] = x
	}
	return vals, nil
}

// Decode stores a record into the struct v (addressable): every field from
// rec.Values (nil values set zero values) and the record's metadata.
func (s *Schema) Decode(v reflect.Value, rec driver.Record) error {
	if len(rec.Values) != len(s.Fields) {
		return fmt.Errorf("%w: adapter returned %d values for %s, which has %d fields",
			driver.ErrInvalid, len(rec.Values), s.Name(), len(s.Fields))
	}
	for i, f := range s.Fields {
		if err := f.Set(v, rec.Values[i]); err != nil {
			return err
		}
	}
	s.SetMeta(v, rec.Meta)
	return nil
}

// New returns a pointer to a new zero struct of the schema's type.
func (s *Schema) New() reflect.Value { return reflect.New(s.Type) }
