package driver

import "fmt"

// MergePolicy says how concurrent writes to one field combine. On stores
// with atomic updates the policies compile to atomic operations; on stores
// with siblings (Riak) the adapter merges siblings by them on read. Either
// way the observable result is the same.
type MergePolicy uint8

// The merge policies.
const (
	// MergeLWW: last writer wins (the default). On stores with siblings the
	// winner is chosen deterministically by a hybrid logical clock.
	MergeLWW MergePolicy = iota
	// MergeCounter: an integer that concurrent increments add up in; no
	// increment is ever lost.
	MergeCounter
	// MergeSet: a []string that concurrent additions and removals combine in
	// (add wins over a concurrent remove); no added element is lost.
	MergeSet
	// MergeMax: the greatest value written wins; the field never decreases.
	MergeMax
	// MergeFlag: a bool where enable wins over a concurrent disable.
	MergeFlag
)

var policyNames = [...]string{MergeLWW: "lww", MergeCounter: "counter", MergeSet: "set", MergeMax: "max", MergeFlag: "flag"}

func (p MergePolicy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("MergePolicy(%d)", uint8(p))
}

// ParseMergePolicy parses the name of a merge policy ("lww", "counter",
// "set", "max", "flag").
func ParseMergePolicy(s string) (MergePolicy, error) {
	for p, name := range policyNames {
		if name == s {
			return MergePolicy(p), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown merge policy %q (want lww, counter, set, max or flag)", ErrInvalid, s)
}

// Consistency is the consistency a schema asks for; a repo.Router sends
// each schema to a store of its consistency.
type Consistency uint8

// The consistencies.
const (
	// AnyConsistency: the schema does not care; it goes to the default repo.
	AnyConsistency Consistency = iota
	// AP: available under partition, eventually consistent (Riak, Redis).
	AP
	// CP: consistent under partition, linearizable writes (SQL stores).
	CP
)

func (c Consistency) String() string {
	switch c {
	case AP:
		return "ap"
	case CP:
		return "cp"
	}
	return "any"
}

// Field describes one stored field of a collection.
type Field struct {
	// Name is the store-side name (column, hash field, JSON key).
	Name string
	Kind Kind
	// Bits is the width of the Go type for KindInt (8, 16, 32, 64) and
	// KindFloat (32, 64); adapters may use it to choose column types. The
	// portable layer checks ranges, so adapters need not.
	Bits int
	// Unsigned is set for Go's unsigned integer types (KindInt); values
	// are still int64 and never negative.
	Unsigned bool
	// Nullable fields may hold nil. Others never do.
	Nullable bool
	// Merge is the field's merge policy.
	Merge MergePolicy
	// Size, when not 0, is the most characters a KindString value (or
	// bytes a KindBytes value) holds; the portable layer refuses longer
	// ones. SQL adapters use it for VARCHAR(n), which MariaDB needs to
	// index a string.
	Size int
}

// Index is a secondary index over one or more fields.
type Index struct {
	// Name is unique in the store for this collection; adapters report it
	// in a ConstraintError when a unique index is violated.
	Name   string
	Fields []string
	Unique bool
}

// Collection is the store-side description of one schema. It is built
// with NewCollection (package schema does it for every schema) and must be
// treated as read-only; a Collection literal lacks the name index that
// FieldIndex uses.
type Collection struct {
	// Name is the table, bucket or key prefix.
	Name   string
	Fields []Field
	// Key is the index in Fields of the primary key. Primary keys are
	// KindString or KindInt and never nil.
	Key int
	// Version is the index in Fields of the optimistic-lock version field
	// (KindInt), or -1.
	Version     int
	Indexes     []Index
	Consistency Consistency

	byName map[string]int
}

// NewCollection returns a collection with the given fields, validating it.
// key and version are field names; version may be empty.
func NewCollection(name string, fields []Field, key, version string, indexes []Index, c Consistency) (*Collection, error) {
	col := &Collection{Name: name, Fields: fields, Key: -1, Version: -1, Indexes: indexes, Consistency: c,
		byName: make(map[string]int, len(fields))}
	if name == "" {
		return nil, fmt.Errorf("%w: collection has no name", ErrInvalid)
	}
	for i, f := range fields {
		if f.Name == "" {
			return nil, fmt.Errorf("%w: %s: field %d has no name", ErrInvalid, name, i)
		}
		if _, dup := col.byName[f.Name]; dup {
			return nil, fmt.Errorf("%w: %s: two fields are named %q", ErrInvalid, name, f.Name)
		}
		col.byName[f.Name] = i
	}
	var ok bool
	if col.Key, ok = col.byName[key]; !ok {
		return nil, fmt.Errorf("%w: %s: primary key %q is not a field", ErrInvalid, name, key)
	}
	if k := fields[col.Key].Kind; k != KindString && k != KindInt {
		return nil, fmt.Errorf("%w: %s: primary key %q is %s; want string or int", ErrInvalid, name, key, k)
	}
	if version != "" {
		if col.Version, ok = col.byName[version]; !ok {
			return nil, fmt.Errorf("%w: %s: version field %q is not a field", ErrInvalid, name, version)
		}
	}
	for _, ix := range indexes {
		for _, f := range ix.Fields {
			if _, ok := col.byName[f]; !ok {
				return nil, fmt.Errorf("%w: %s: index %s names unknown field %q", ErrInvalid, name, ix.Name, f)
			}
		}
	}
	return col, nil
}

// FieldIndex returns the position of the named field in Fields, or -1.
func (c *Collection) FieldIndex(name string) int {
	if i, ok := c.byName[name]; ok {
		return i
	}
	return -1
}

// KeyField returns the primary-key field.
func (c *Collection) KeyField() Field { return c.Fields[c.Key] }

// Indexed reports whether some index starts with the named field, so that
// equality and range filters on it can use an index.
func (c *Collection) Indexed(field string) bool {
	if c.Fields[c.Key].Name == field {
		return true
	}
	for _, ix := range c.Indexes {
		if len(ix.Fields) > 0 && ix.Fields[0] == field {
			return true
		}
	}
	return false
}

// IsIdentifier reports whether s is a plain identifier, the form every
// stored name (collection, field, index) takes so that every store can
// use it unquoted: ASCII letters, digits and '_', not starting with a
// digit.
func IsIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
