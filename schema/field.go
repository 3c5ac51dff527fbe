package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/strata-go/strata/repo/driver"
)

var (
	timeType    = reflect.TypeFor[time.Time]()
	metaType    = reflect.TypeFor[Meta]()
	stringsType = reflect.TypeFor[[]string]()
	stringType  = reflect.TypeFor[string]()
)

// Field is one stored field of a schema.
type Field struct {
	// Name is the stored name; GoName the struct field's name.
	Name, GoName string
	// Pos is the field's position in Schema.Fields and in records.
	Pos  int
	Kind driver.Kind
	// Type is the struct field's Go type.
	Type     reflect.Type
	Nullable bool
	Merge    driver.MergePolicy
	// Indexed is set when an index starts with this field (or it is the
	// primary key).
	Indexed bool
	// Size is the most characters (bytes for []byte) a value may have, or
	// 0 for no limit (tag option size=N).
	Size int

	schema   string // collection name, for messages
	path     []int
	base     reflect.Type // Type without the pointer of a nullable field
	bits     int
	unsigned bool
}

// is64 reports whether an int field is a signed 64-bit Go integer.
func (f *Field) is64() bool { return f.Kind == driver.KindInt && f.bits == 64 && !f.unsigned }

// String returns "collection.field".
func (f *Field) String() string { return f.schema + "." + f.Name }

func (f *Field) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", driver.ErrInvalid, f, fmt.Sprintf(format, args...))
}

// Value returns the canonical value of the field in the struct v (a
// struct value, not a pointer).
func (f *Field) Value(v reflect.Value) (any, error) {
	return f.canonical(v.FieldByIndex(f.path))
}

// Canonical converts a Go value given for this field (in a filter, a
// changeset's Put, an inclusion list…) to the field's canonical driver
// value. It accepts values of the field's Go type and of any type of the
// same kind (any integer for an int field, a named string type for a
// string field, a pointer to either); anything else is an error wrapping
// driver.ErrInvalid.
func (f *Field) Canonical(x any) (any, error) {
	if x == nil {
		return nil, nil
	}
	return f.canonical(reflect.ValueOf(x))
}

func (f *Field) canonical(rv reflect.Value) (any, error) {
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			if f.Kind == driver.KindJSON && !f.Nullable {
				return json.RawMessage("null"), nil // a nil map or any is JSON null, never NULL
			}
			return nil, nil
		}
		rv = rv.Elem()
	}
	switch f.Kind {
	case driver.KindString:
		if rv.Kind() == reflect.String {
			return f.checkString(rv.String())
		}
	case driver.KindInt:
		switch {
		case rv.CanInt():
			n := rv.Int()
			if f.unsigned && n < 0 {
				return nil, f.errorf("%d is negative for an unsigned field", n)
			}
			return n, nil
		case rv.CanUint():
			u := rv.Uint()
			if u > math.MaxInt64 {
				return nil, f.errorf("%d is above the largest storable integer (MaxInt64)", u)
			}
			return int64(u), nil
		}
	case driver.KindFloat:
		var x float64
		switch {
		case rv.CanFloat():
			x = rv.Float()
		case rv.CanInt():
			x = float64(rv.Int())
		default:
			return nil, f.errorf("%s is not a float", rv.Type())
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, f.errorf("%v cannot be stored (only finite floats can)", x)
		}
		return x, nil
	case driver.KindBool:
		if rv.Kind() == reflect.Bool {
			return rv.Bool(), nil
		}
	case driver.KindTime:
		if rv.Type() == timeType {
			return f.checkTime(rv.Interface().(time.Time))
		}
	case driver.KindBytes:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			if f.Size > 0 && rv.Len() > f.Size {
				return nil, f.errorf("%d bytes; the field holds at most %d", rv.Len(), f.Size)
			}
			return rv.Bytes(), nil
		}
	case driver.KindStrings:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.String {
			if rv.IsNil() {
				return []string(nil), nil
			}
			out := make([]string, rv.Len())
			for i := range out {
				s, err := f.checkString(rv.Index(i).String())
				if err != nil {
					return nil, err
				}
				out[i] = s.(string)
			}
			return out, nil
		}
	case driver.KindJSON:
		b, err := json.Marshal(rv.Interface())
		if err != nil {
			return nil, f.errorf("cannot encode as JSON: %v", err)
		}
		return json.RawMessage(b), nil
	}
	return nil, f.errorf("%s is not a valid value for a %s field", rv.Type(), f.Kind)
}

func (f *Field) checkString(s string) (any, error) {
	if !utf8.ValidString(s) {
		return nil, f.errorf("string is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return nil, f.errorf("string holds a NUL byte")
	}
	if f.Size > 0 && len(s) > f.Size { // (bytes ≥ characters: count only then)
		if n := utf8.RuneCountInString(s); n > f.Size {
			return nil, f.errorf("%d characters; the field holds at most %d", n, f.Size)
		}
	}
	return s, nil
}

func (f *Field) checkTime(t time.Time) (any, error) {
	t = t.UTC().Truncate(driver.TimePrecision)
	if y := t.Year(); y < 1 || y > 9999 {
		return nil, f.errorf("year %d is outside 1–9999", y)
	}
	return t, nil
}

// Set stores the canonical value x (as returned by an adapter) in the
// field of the struct v, which must be addressable. nil sets the zero
// value. A value that does not fit the Go type (an int64 too large for an
// int8, say) is an error wrapping driver.ErrInvalid.
func (f *Field) Set(v reflect.Value, x any) error {
	return f.set(v.FieldByIndex(f.path), x)
}

func (f *Field) set(rv reflect.Value, x any) error {
	if x == nil {
		rv.SetZero()
		return nil
	}
	if _, isTime := x.(time.Time); !isTime || f.Kind != driver.KindTime {
		// (a time is normalized in setBase, without boxing it again)
		var err error
		if x, err = driver.Normalize(f.Kind, x); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	if f.Nullable {
		p := reflect.New(f.base)
		if err := f.setBase(p.Elem(), x); err != nil {
			return err
		}
		rv.Set(p)
		return nil
	}
	return f.setBase(rv, x)
}

func (f *Field) setBase(rv reflect.Value, x any) error {
	switch f.Kind {
	case driver.KindString:
		rv.SetString(x.(string))
	case driver.KindInt:
		n := x.(int64)
		if f.unsigned {
			if n < 0 || rv.OverflowUint(uint64(n)) {
				return f.errorf("stored value %d does not fit %s", n, rv.Type())
			}
			rv.SetUint(uint64(n))
			return nil
		}
		if rv.OverflowInt(n) {
			return f.errorf("stored value %d does not fit %s", n, rv.Type())
		}
		rv.SetInt(n)
	case driver.KindFloat:
		x := x.(float64)
		if rv.OverflowFloat(x) {
			return f.errorf("stored value %v does not fit %s", x, rv.Type())
		}
		rv.SetFloat(x)
	case driver.KindBool:
		rv.SetBool(x.(bool))
	case driver.KindTime:
		// Through a pointer: reflect.ValueOf(time.Time) would allocate.
		*rv.Addr().Interface().(*time.Time) = x.(time.Time).UTC().Truncate(driver.TimePrecision)
	case driver.KindBytes:
		rv.SetBytes(x.([]byte))
	case driver.KindStrings:
		ss := x.([]string)
		switch {
		case rv.Type() == stringsType:
			*rv.Addr().Interface().(*[]string) = ss
		case ss == nil:
			rv.SetZero()
		case rv.Type().Elem() != stringType:
			// A slice of a named string type ([]Role) does not convert
			// from []string: copy element by element.
			out := reflect.MakeSlice(rv.Type(), len(ss), len(ss))
			for i, e := range ss {
				out.Index(i).SetString(e)
			}
			rv.Set(out)
		default:
			rv.Set(reflect.ValueOf(ss).Convert(rv.Type()))
		}
	case driver.KindJSON:
		rv.SetZero()
		if err := json.Unmarshal(x.(json.RawMessage), rv.Addr().Interface()); err != nil {
			return f.errorf("stored JSON does not decode into %s: %v", rv.Type(), err)
		}
	}
	return nil
}

// Zero returns the canonical value of the field's zero Go value.
func (f *Field) Zero() any {
	if f.Nullable {
		return nil
	}
	v, _ := f.canonical(reflect.Zero(f.Type))
	return v
}

// kindOf returns the driver kind a Go type is stored as, whether it is
// nullable, and its width.
func kindOf(t reflect.Type) (k driver.Kind, nullable bool, base reflect.Type, bits int, unsigned bool, err error) {
	base = t
	if t.Kind() == reflect.Pointer {
		nullable, base = true, t.Elem()
		if base.Kind() == reflect.Pointer {
			return 0, false, nil, 0, false, fmt.Errorf("pointer to pointer %s is not supported", t)
		}
	}
	switch {
	case base == timeType:
		return driver.KindTime, nullable, base, 0, false, nil
	case base == metaType:
		return 0, false, nil, 0, false, fmt.Errorf("schema.Meta cannot be stored")
	}
	switch base.Kind() {
	case reflect.String:
		k = driver.KindString
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		k, bits = driver.KindInt, base.Bits()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		k, bits, unsigned = driver.KindInt, base.Bits(), true
	case reflect.Float32, reflect.Float64:
		k, bits = driver.KindFloat, base.Bits()
	case reflect.Bool:
		k = driver.KindBool
	case reflect.Slice:
		switch base.Elem().Kind() {
		case reflect.Uint8:
			k = driver.KindBytes
		case reflect.String:
			k = driver.KindStrings
		default:
			k = driver.KindJSON
		}
	case reflect.Struct, reflect.Map, reflect.Array, reflect.Interface:
		k = driver.KindJSON
	default:
		return 0, false, nil, 0, false, fmt.Errorf("type %s cannot be stored", t)
	}
	if nullable && (k == driver.KindBytes || k == driver.KindStrings) {
		// A nil slice already says "absent"; a pointer to one adds nothing.
		return 0, false, nil, 0, false, fmt.Errorf("pointer to slice %s is not supported; use the slice", t)
	}
	return k, nullable, base, bits, unsigned, nil
}
