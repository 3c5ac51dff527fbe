package memory

import (
	"github.com/strata-go/strata/repo/driver"
)

// uniqIndex maps the encoded values of a unique index to the keys of the
// rows that hold them. A key list has more than one entry only when
// duplicates were stored before the index was declared.
type uniqIndex struct {
	name   string
	fields []driver.Field
	keys   map[string][]rowKey
}

func newUniqIndex(name string, fields []driver.Field) *uniqIndex {
	return &uniqIndex{name: name, fields: fields, keys: make(map[string][]rowKey)}
}

func (u *uniqIndex) add(k rowKey, r *row) {
	if t, ok := tuple(u.fields, r.vals); ok {
		u.keys[t] = append(u.keys[t], k)
	}
}

func (u *uniqIndex) remove(k rowKey, r *row) {
	t, ok := tuple(u.fields, r.vals)
	if !ok {
		return
	}
	keys := u.keys[t]
	for i, h := range keys {
		if h == k {
			// Copy rather than shift in place: a caller may hold the old
			// slice.
			keys = append(keys[:i:i], keys[i+1:]...)
			break
		}
	}
	if len(keys) == 0 {
		delete(u.keys, t)
		return
	}
	u.keys[t] = keys
}

// indexFields returns the fields of index ix of c (checkCollection has
// made sure they exist).
func indexFields(c *driver.Collection, ix driver.Index) []driver.Field {
	fields := make([]driver.Field, len(ix.Fields))
	for i, name := range ix.Fields {
		fields[i] = c.Fields[c.FieldIndex(name)]
	}
	return fields
}

// signature identifies an index definition: its name and fields.
func signature(ix driver.Index) string {
	return string(appendValue(appendValue(nil, ix.Name), ix.Fields))
}

// tuple encodes the values of fields in vals. ok is false when one of them
// is NULL: NULLs never collide in a unique index, as in SQL.
func tuple(fields []driver.Field, vals map[string]any) (string, bool) {
	var b []byte
	for _, f := range fields {
		v := fieldValue(vals, f)
		if v == nil {
			return "", false
		}
		b = appendValue(b, v)
	}
	return string(b), true
}

// checkUnique returns a *driver.ConstraintError if vals, stored under key
// k, would collide in a unique index of c with another row of v.
func checkUnique(v view, c *driver.Collection, k rowKey, vals map[string]any) error {
	for _, ix := range c.Indexes {
		if !ix.Unique {
			continue
		}
		t, ok := tuple(indexFields(c, ix), vals)
		if !ok {
			continue
		}
		for _, h := range v.holders(c, ix, t) {
			if h != k {
				return uniqueViolation(c, ix.Name)
			}
		}
	}
	return nil
}

func uniqueViolation(c *driver.Collection, name string) *driver.ConstraintError {
	return &driver.ConstraintError{Kind: driver.Unique, Collection: c.Name, Name: name}
}
