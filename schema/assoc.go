package schema

import (
	"fmt"
	"reflect"

	"github.com/strata-go/strata/repo/driver"
)

// AssocKind is the kind of an association.
type AssocKind uint8

// The association kinds.
const (
	// BelongsTo: this schema holds the related record's primary key in
	// its ForeignKey field.
	BelongsTo AssocKind = iota + 1
	// HasMany: the related schema holds this record's primary key in its
	// ForeignKey field; many records relate.
	HasMany
	// HasOne: like HasMany, with at most one related record.
	HasOne
)

func (k AssocKind) String() string {
	switch k {
	case BelongsTo:
		return "belongs_to"
	case HasMany:
		return "has_many"
	case HasOne:
		return "has_one"
	}
	return fmt.Sprintf("AssocKind(%d)", uint8(k))
}

// Assoc is an association of a schema.
type Assoc struct {
	Name string
	Kind AssocKind
	// ForeignKey is the stored name of the foreign-key field: in the
	// owner schema for BelongsTo, in the related schema otherwise.
	ForeignKey string

	owner *Schema
	path  []int
	elem  reflect.Type // the related struct type
	ptr   bool         // HasMany: the slice holds pointers
}

// Related returns the related schema, checking at this first use that the
// foreign key exists and that its kind matches the key it refers to.
func (a *Assoc) Related() (*Schema, error) {
	rel, err := ForType(a.elem)
	if err != nil {
		return nil, fmt.Errorf("%s.%s: %w", a.owner.Type, a.Name, err)
	}
	var fk, key *Field
	if a.Kind == BelongsTo {
		fk, key = a.owner.byName[a.ForeignKey], rel.Key
	} else {
		fk, key = rel.byName[a.ForeignKey], a.owner.Key
		if fk == nil {
			return nil, fmt.Errorf("%w: schema %s, field %s: %s=%s: %s has no such field",
				driver.ErrInvalid, a.owner.Type, a.Name, a.Kind, a.ForeignKey, rel.Type)
		}
	}
	if fk.Kind != key.Kind {
		return nil, fmt.Errorf("%w: schema %s, field %s: foreign key %s is %s but %s is %s",
			driver.ErrInvalid, a.owner.Type, a.Name, fk, fk.Kind, key, key.Kind)
	}
	return rel, nil
}

// Field returns the association's field in the struct v (addressable).
func (a *Assoc) Field(v reflect.Value) reflect.Value { return v.FieldByIndex(a.path) }

// ElemIsPointer reports whether a HasMany slice holds pointers.
func (a *Assoc) ElemIsPointer() bool { return a.ptr }
