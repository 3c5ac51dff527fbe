package driver

import "fmt"

// Op is a comparison operator of a [Filter].
type Op uint8

// The operators.
const (
	Eq Op = iota + 1
	Ne
	Lt
	Lte
	Gt
	Gte
	// In matches if the field equals one of the values; Filter.Value is a
	// []any of canonical values. An empty list matches nothing.
	In
	// Prefix matches a KindString field that starts with the string
	// Filter.Value, byte for byte (no wildcards: adapters that compile it
	// to LIKE must escape '%', '_' and their escape character).
	Prefix
)

var opNames = [...]string{Eq: "=", Ne: "!=", Lt: "<", Lte: "<=", Gt: ">", Gte: ">=", In: "in", Prefix: "prefix"}

func (op Op) String() string {
	if int(op) < len(opNames) && opNames[op] != "" {
		return opNames[op]
	}
	return fmt.Sprintf("Op(%d)", uint8(op))
}

// ParseOp parses an operator as String prints it.
func ParseOp(s string) (Op, error) {
	for op, name := range opNames {
		if name != "" && name == s {
			return Op(op), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown operator %q", ErrInvalid, s)
}

// Filter is one condition of a query. Field is an index into
// [Collection.Fields] of a field whose kind is Scalar; Value is a canonical
// value of the field's kind (a []any of them for In).
//
// NULL follows SQL: a NULL field matches no comparison, except that Eq with
// a nil Value matches exactly the NULL fields and Ne with a nil Value
// matches exactly the non-NULL ones. (So Ne "x" does not match NULL.)
type Filter struct {
	Field int
	Op    Op
	Value any
}

// Match reports whether the canonical value v satisfies the filter, by the
// rules above and [Compare]. It is the reference semantics; adapters that
// filter locally may use it.
func (f Filter) Match(v any) bool {
	if f.Value == nil {
		switch f.Op {
		case Eq:
			return v == nil
		case Ne:
			return v != nil
		}
		return false
	}
	if v == nil {
		return false
	}
	switch f.Op {
	case Eq:
		return Compare(v, f.Value) == 0
	case Ne:
		return Compare(v, f.Value) != 0
	case Lt:
		return Compare(v, f.Value) < 0
	case Lte:
		return Compare(v, f.Value) <= 0
	case Gt:
		return Compare(v, f.Value) > 0
	case Gte:
		return Compare(v, f.Value) >= 0
	case In:
		vals, _ := f.Value.([]any)
		for _, x := range vals {
			if x != nil && Compare(v, x) == 0 {
				return true
			}
		}
		return false
	case Prefix:
		s, ok1 := v.(string)
		p, ok2 := f.Value.(string)
		return ok1 && ok2 && len(s) >= len(p) && s[:len(p)] == p
	}
	return false
}

// Order is one sort key.
type Order struct {
	Field int
	Desc  bool
}

// Query selects records of a collection. The zero Query selects them all.
//
// Results are the records that match every filter, sorted by Order (with
// [Compare]'s order: NULL first when ascending, last when descending —
// SQL adapters say NULLS FIRST/LAST explicitly, as PostgreSQL's default
// is the reverse), then: those not after After dropped, Offset skipped,
// at most Limit returned. Records that tie on every Order key come in an
// order of the store's choosing; the portable layer always ends Order
// with the primary key when it pages, limits or offsets, so its results
// are deterministic.
type Query struct {
	// Filters must all match (AND).
	Filters []Filter
	// Order lists the sort keys, most significant first. Without Order,
	// the result order is the store's own.
	Order []Order
	// After, when not nil, is the keyset cursor: the values of the Order
	// fields of the last record of the previous page, one per Order key.
	// Only records that sort strictly after it are returned. The portable
	// layer uses After only when the last Order key is the primary key,
	// so the order is total and paging is stable under concurrent
	// inserts.
	After []any
	// Offset skips that many records (after After is applied).
	Offset int
	// Limit caps the number of records; 0 means no limit.
	Limit int
	// Fields, when not nil, lists the indexes of the fields the caller
	// needs; an adapter may return nil for the others. The primary key is
	// always among them.
	Fields []int
	// FullScan is set when the caller accepts a scan of the whole
	// collection for a query that no index can answer (see
	// CapUnindexedFilter and CapListAll).
	FullScan bool
}

// AfterCursor reports whether the record values v sort strictly after the
// keyset cursor q.After under q.Order. It is the reference semantics for
// After.
func (q *Query) AfterCursor(v []any) bool {
	for i, o := range q.Order {
		if i >= len(q.After) {
			break
		}
		c := Compare(v[o.Field], q.After[i])
		if o.Desc {
			c = -c
		}
		if c != 0 {
			return c > 0
		}
	}
	return false
}

// AggFunc is an aggregate function.
type AggFunc uint8

// The aggregate functions.
const (
	// AggSum of a KindInt (int64 result) or KindFloat (float64) field; 0 when
	// no record with a non-NULL value matches.
	AggSum AggFunc = iota + 1
	// AggAvg of a KindInt or KindFloat field as float64; nil when no record
	// matches.
	AggAvg
	// AggMin of a scalar field, as a value of the field's kind; nil when no
	// record (or only NULLs) matches.
	AggMin
	// AggMax likewise.
	AggMax
)

func (f AggFunc) String() string {
	switch f {
	case AggSum:
		return "sum"
	case AggAvg:
		return "avg"
	case AggMin:
		return "min"
	case AggMax:
		return "max"
	}
	return fmt.Sprintf("AggFunc(%d)", uint8(f))
}
