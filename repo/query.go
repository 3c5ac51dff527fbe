package repo

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// Op is a filter operator.
type Op = driver.Op

// The filter operators. In takes a slice of values (an empty one matches
// nothing); Prefix matches strings that start with the value, with no
// wildcards. A nil value with Eq matches NULL and with Ne non-NULL; NULL
// fields match no other comparison.
const (
	Eq     = driver.Eq
	Ne     = driver.Ne
	Lt     = driver.Lt
	Lte    = driver.Lte
	Gt     = driver.Gt
	Gte    = driver.Gte
	In     = driver.In
	Prefix = driver.Prefix
)

type cond struct {
	field string
	op    Op
	value any
}

// Query describes which records to read, count or delete. The zero Query
// selects every record. A Query is an immutable value: each method returns
// a new Query, so a base query can be shared and refined safely.
//
// Field names are the stored names of the schema the query runs against;
// they and the values' types are checked when the query runs, and a
// mismatch is an error wrapping ErrInvalid.
type Query struct {
	conds    []cond
	orderBy  []string
	fields   []string
	limit    int
	offset   int
	after    string
	fullScan bool
}

// Where returns a query with the single condition field op value.
func Where(field string, op Op, value any) Query { return Query{}.Where(field, op, value) }

// Where adds a condition; all conditions must hold.
func (q Query) Where(field string, op Op, value any) Query {
	q.conds = append(slices.Clip(q.conds), cond{field, op, value})
	return q
}

// OrderBy adds sort keys: a field name sorts ascending, "-name"
// descending. Earlier keys are more significant.
func (q Query) OrderBy(fields ...string) Query {
	q.orderBy = append(slices.Clip(q.orderBy), fields...)
	return q
}

// Limit caps the number of records (0: no limit). With Paginate it is the
// page size.
func (q Query) Limit(n int) Query { q.limit = n; return q }

// Offset skips the first n records. Prefer cursors (After) for paging:
// offsets cost O(n) and shift under concurrent inserts.
func (q Query) Offset(n int) Query { q.offset = n; return q }

// After continues from a cursor that Paginate returned as Page.Next.
func (q Query) After(cursor string) Query { q.after = cursor; return q }

// Select lists the fields to load; the others keep their zero values. The
// primary key is always loaded.
func (q Query) Select(fields ...string) Query {
	q.fields = append(slices.Clip(q.fields), fields...)
	return q
}

// FullScan allows the store to scan the whole collection when no index can
// answer the query. Stores without cheap listing (Riak, Redis) refuse such
// queries with ErrUnsupported unless this is set.
func (q Query) FullScan() Query { q.fullScan = true; return q }

// String describes the query, for logs.
func (q Query) String() string {
	var b strings.Builder
	for i, c := range q.conds {
		if i > 0 {
			b.WriteString(" and ")
		}
		fmt.Fprintf(&b, "%s %s %v", c.field, c.op, c.value)
	}
	if len(q.orderBy) > 0 {
		fmt.Fprintf(&b, " order by %s", strings.Join(q.orderBy, ", "))
	}
	if q.limit > 0 {
		fmt.Fprintf(&b, " limit %d", q.limit)
	}
	if q.offset > 0 {
		fmt.Fprintf(&b, " offset %d", q.offset)
	}
	return strings.TrimSpace(b.String())
}

// compile checks q against s and the adapter's capabilities and builds the
// driver query. page makes the order total by appending the primary key,
// for cursors.
func compile(s *schema.Schema, caps driver.Capabilities, q Query, page bool) (*driver.Query, error) {
	dq := &driver.Query{Limit: q.limit, Offset: q.offset, FullScan: q.fullScan}
	if q.limit < 0 || q.offset < 0 {
		return nil, fmt.Errorf("%w: negative limit or offset", driver.ErrInvalid)
	}
	indexed := false
	for _, c := range q.conds {
		f, err := s.LookupField(c.field)
		if err != nil {
			return nil, err
		}
		if !f.Kind.Scalar() {
			return nil, fmt.Errorf("%w: %s is a %s field; only scalar fields can be filtered on", driver.ErrInvalid, f, f.Kind)
		}
		v, err := filterValue(f, c.op, c.value)
		if err != nil {
			return nil, err
		}
		if f.Indexed && c.op != Ne {
			indexed = true
		}
		dq.Filters = append(dq.Filters, driver.Filter{Field: f.Pos, Op: c.op, Value: v})
	}
	keyOrdered := false
	for _, name := range q.orderBy {
		desc := strings.HasPrefix(name, "-")
		f, err := s.LookupField(strings.TrimPrefix(name, "-"))
		if err != nil {
			return nil, err
		}
		if !f.Kind.Scalar() {
			return nil, fmt.Errorf("%w: cannot order by %s, a %s field", driver.ErrInvalid, f, f.Kind)
		}
		if !f.Indexed && !caps.Has(driver.CapUnindexedFilter) && !q.fullScan && !orderedByIndex(s, dq.Filters, f.Name) {
			return nil, fmt.Errorf("%w: ordering by %s needs an index on it in this store: tag the field `index` (or make it follow, in a composite index, fields the query binds by equality), or call FullScan()",
				driver.ErrUnsupported, f)
		}
		keyOrdered = keyOrdered || f == s.Key
		dq.Order = append(dq.Order, driver.Order{Field: f.Pos, Desc: desc})
	}
	// Paging, limits and offsets need a total order to be deterministic.
	if !keyOrdered && (page || q.limit > 0 || q.offset > 0) {
		dq.Order = append(dq.Order, driver.Order{Field: s.Key.Pos})
	}
	if q.fields != nil {
		dq.Fields = []int{s.Key.Pos}
		for _, name := range q.fields {
			f, err := s.LookupField(name)
			if err != nil {
				return nil, err
			}
			if f != s.Key {
				dq.Fields = append(dq.Fields, f.Pos)
			}
		}
		// The sort keys too: a page's cursor is made of them. (The
		// records are decoded with selectOnly, so that the fields not
		// selected still keep their zero values.)
		for _, o := range dq.Order {
			if !slices.Contains(dq.Fields, o.Field) {
				dq.Fields = append(dq.Fields, o.Field)
			}
		}
	}
	if q.after != "" {
		if !page {
			return nil, fmt.Errorf("%w: After(cursor) works with Paginate", driver.ErrInvalid)
		}
		after, err := decodeCursor(s, dq, q.after)
		if err != nil {
			return nil, err
		}
		dq.After = after
	}
	switch {
	case q.offset > 0 && !caps.Has(driver.CapOffset):
		return nil, fmt.Errorf("%w: this store cannot skip records by offset; page with Paginate and After(cursor)", driver.ErrUnsupported)
	case !indexed && !caps.Has(driver.CapListAll) && !q.fullScan:
		return nil, fmt.Errorf("%w: query on %s has no condition on an indexed field, and this store cannot list a collection cheaply: add a condition on an indexed field, or call FullScan()",
			driver.ErrUnsupported, s.Name())
	case q.fullScan && !indexed && !caps.Has(driver.CapListAll) && !caps.Has(driver.CapFullScan):
		return nil, fmt.Errorf("%w: this store cannot scan %s", driver.ErrUnsupported, s.Name())
	}
	if !indexed && !caps.Has(driver.CapUnindexedFilter) && !q.fullScan && len(dq.Filters) > 0 {
		return nil, fmt.Errorf("%w: query on %s filters only on fields without an index, which this store cannot do cheaply: tag one of them `index`, or call FullScan()",
			driver.ErrUnsupported, s.Name())
	}
	return dq, nil
}

// orderedByIndex reports whether some index of s holds field right after
// fields that filters all bind by equality (as (conversation, pos) orders
// by pos the records of one conversation), so that the store can read
// the records in field's order from that index.
func orderedByIndex(s *schema.Schema, filters []driver.Filter, field string) bool {
	bound := map[string]bool{}
	for _, f := range filters {
		if f.Op == driver.Eq && f.Value != nil {
			bound[s.Collection.Fields[f.Field].Name] = true
		}
	}
	for _, ix := range s.Collection.Indexes {
		for _, name := range ix.Fields {
			if name == field {
				return true
			}
			if !bound[name] {
				break
			}
		}
	}
	return false
}

// selectOnly returns rec with nil (so, once decoded, the zero value) for
// every field that q does not select: an adapter may return more than it
// was asked for, and is asked for the sort keys as well.
func (q Query) selectOnly(s *schema.Schema, rec driver.Record) driver.Record {
	if q.fields == nil || len(rec.Values) != len(s.Fields) {
		return rec // (a wrong length is Decode's error to report)
	}
	vals := make([]any, len(rec.Values))
	vals[s.Key.Pos] = rec.Values[s.Key.Pos]
	for _, name := range q.fields {
		if f := s.Field(name); f != nil {
			vals[f.Pos] = rec.Values[f.Pos]
		}
	}
	rec.Values = vals
	return rec
}

func filterValue(f *schema.Field, op Op, value any) (any, error) {
	switch op {
	case Eq, Ne:
		return f.Canonical(value)
	case Lt, Lte, Gt, Gte:
		if value == nil {
			return nil, fmt.Errorf("%w: %s %s nil: only = and != compare with nil", driver.ErrInvalid, f, op)
		}
		return f.Canonical(value)
	case Prefix:
		if f.Kind != driver.KindString {
			return nil, fmt.Errorf("%w: prefix on %s, which is not a string field", driver.ErrInvalid, f)
		}
		if _, ok := value.(string); !ok {
			return nil, fmt.Errorf("%w: prefix on %s needs a string, not %T", driver.ErrInvalid, f, value)
		}
		return f.Canonical(value)
	case In:
		rv := reflect.ValueOf(value)
		if value == nil || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) {
			return nil, fmt.Errorf("%w: in on %s needs a slice, not %T", driver.ErrInvalid, f, value)
		}
		vals := make([]any, 0, rv.Len())
		for i := range rv.Len() {
			v, err := f.Canonical(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
		}
		return vals, nil
	}
	return nil, fmt.Errorf("%w: unknown operator %v", driver.ErrInvalid, op)
}
