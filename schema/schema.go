package schema

import (
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/strata-go/strata/repo/driver"
)

// Schema is the parsed form of a schema struct. It is immutable and shared;
// get one with [For] or [Of].
type Schema struct {
	// Type is the struct type.
	Type reflect.Type
	// Collection is what adapters see.
	Collection *driver.Collection
	// Fields are the stored fields, in the order of Collection.Fields.
	Fields []*Field
	// Key is the primary-key field.
	Key *Field
	// Version is the optimistic-lock field, or nil.
	Version *Field
	// InsertedAt and UpdatedAt are the timestamp fields, or nil.
	InsertedAt, UpdatedAt *Field
	// Assocs are the associations, in field order.
	Assocs []*Assoc

	meta    []int // index path of the Meta field, or nil
	byName  map[string]*Field
	uniques map[string]string // unique constraint name → its first field
}

// Meta holds store metadata for a record (such as Riak's causal context).
// Put a field of this type (often embedded) in a schema struct so that the
// repo can carry it from a read to the next write of the record; without
// one, adapters that need it read the record again before writing. Its
// content is opaque.
type Meta []byte

// Timestamps is an embeddable pair of inserted_at and updated_at fields.
type Timestamps struct {
	InsertedAt time.Time `strata:"inserted_at,inserted_at"`
	UpdatedAt  time.Time `strata:"updated_at,updated_at"`
}

// Name returns the collection name.
func (s *Schema) Name() string { return s.Collection.Name }

// Field returns the stored field with the given name, or nil.
func (s *Schema) Field(name string) *Field { return s.byName[name] }

// Assoc returns the association with the given name, or nil.
func (s *Schema) Assoc(name string) *Assoc {
	for _, a := range s.Assocs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// LookupField returns the named field or an error wrapping driver.ErrInvalid
// that names the schema and the field.
func (s *Schema) LookupField(name string) (*Field, error) {
	if f := s.byName[name]; f != nil {
		return f, nil
	}
	return nil, fmt.Errorf("%w: %s has no field %q", driver.ErrInvalid, s.Collection.Name, name)
}

// Meta returns the record metadata held by the struct v points to (nil if
// the schema has no Meta field).
func (s *Schema) Meta(v reflect.Value) []byte {
	if s.meta == nil {
		return nil
	}
	return v.FieldByIndex(s.meta).Bytes()
}

// SetMeta stores record metadata in the struct v points to, if the schema
// has a Meta field.
func (s *Schema) SetMeta(v reflect.Value, m []byte) {
	if s.meta != nil {
		v.FieldByIndex(s.meta).SetBytes(m)
	}
}

var cache sync.Map // reflect.Type → *cacheEntry

type cacheEntry struct {
	once sync.Once
	s    *Schema
	err  error
}

// Of returns the schema of struct type T.
func Of[T any]() (*Schema, error) {
	return ForType(reflect.TypeFor[T]())
}

// For returns the schema of the struct that v is, or points to, or whose
// slice v is (any depth of pointers and slices: User, *User, []User,
// *[]*User…). Anything else is an error wrapping driver.ErrInvalid.
func For(v any) (*Schema, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: nil value has no schema", driver.ErrInvalid)
	}
	return ForType(reflect.TypeOf(v))
}

// ForType is For for a reflect.Type.
func ForType(t reflect.Type) (*Schema, error) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType {
		return nil, fmt.Errorf("%w: %s is not a schema struct", driver.ErrInvalid, t)
	}
	e, ok := cache.Load(t)
	if !ok {
		e, _ = cache.LoadOrStore(t, new(cacheEntry))
	}
	ce := e.(*cacheEntry)
	ce.once.Do(func() { ce.s, ce.err = parse(t) })
	return ce.s, ce.err
}
