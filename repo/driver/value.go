package driver

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Kind is the store-independent type of a field. Each kind has one
// canonical Go type, which is the only type a [Record] value of that kind
// may have (besides nil, for NULL):
//
//	Kind        Go type          notes
//	String      string           valid UTF-8, no NUL byte
//	Int         int64            all signed and unsigned Go integers; see Field.Bits, Field.Unsigned
//	Float       float64          finite (no NaN or ±Inf)
//	Bool        bool
//	Time        time.Time        UTC, truncated to microseconds, years 1–9999
//	Bytes       []byte
//	Strings     []string         a list or, with the set merge policy, a set
//	JSON        json.RawMessage  nested structs and maps, encoded by the portable layer
//
// The portable layer enforces the notes before a value reaches an adapter,
// so an adapter may rely on them.
type Kind uint8

// The kinds.
const (
	KindString Kind = iota + 1
	KindInt
	KindFloat
	KindBool
	KindTime
	KindBytes
	KindStrings
	KindJSON
)

var kindNames = [...]string{
	KindString:  "string",
	KindInt:     "int",
	KindFloat:   "float",
	KindBool:    "bool",
	KindTime:    "time",
	KindBytes:   "bytes",
	KindStrings: "strings",
	KindJSON:    "json",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Scalar reports whether values of the kind can be compared, filtered on
// and ordered by.
func (k Kind) Scalar() bool {
	switch k {
	case KindString, KindInt, KindFloat, KindBool, KindTime:
		return true
	}
	return false
}

// TimePrecision is the precision Strata keeps for time values.
const TimePrecision = time.Microsecond

// Normalize converts v to the canonical Go type of kind k, accepting the
// alternatives that store client libraries commonly return: any integer
// type, float32, a decimal string or []byte for numbers, int64 0/1 for
// bools, []byte for strings, string or []byte for JSON, []any of strings
// for Strings, and a time in any location. nil stays nil. Anything else is
// an error wrapping ErrInvalid.
func Normalize(k Kind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case KindString:
		switch x := v.(type) {
		case string:
			return v, nil // the canonical type: no new allocation
		case []byte:
			return string(x), nil
		}
	case KindInt:
		switch x := v.(type) {
		case int64:
			return v, nil
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case int16:
			return int64(x), nil
		case int8:
			return int64(x), nil
		case uint64:
			if x > math.MaxInt64 {
				return nil, fmt.Errorf("%w: %d overflows int64", ErrInvalid, x)
			}
			return int64(x), nil
		case uint:
			if uint64(x) > math.MaxInt64 {
				return nil, fmt.Errorf("%w: %d overflows int64", ErrInvalid, x)
			}
			return int64(x), nil
		case uint32:
			return int64(x), nil
		case uint16:
			return int64(x), nil
		case uint8:
			return int64(x), nil
		case float64:
			if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
				return nil, fmt.Errorf("%w: %v is not an int64", ErrInvalid, x)
			}
			return int64(x), nil
		case string:
			return parseInt(x)
		case []byte:
			return parseInt(string(x))
		}
	case KindFloat:
		switch x := v.(type) {
		case float64:
			return v, nil
		case float32:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case int:
			return float64(x), nil
		case string:
			return parseFloat(x)
		case []byte:
			return parseFloat(string(x))
		}
	case KindBool:
		switch x := v.(type) {
		case bool:
			return v, nil
		case int64:
			return x != 0, nil
		case int:
			return x != 0, nil
		}
	case KindTime:
		if x, ok := v.(time.Time); ok {
			return x.UTC().Truncate(TimePrecision), nil
		}
	case KindBytes:
		switch x := v.(type) {
		case []byte:
			return v, nil
		case string:
			return []byte(x), nil
		}
	case KindStrings:
		switch x := v.(type) {
		case []string:
			return v, nil
		case []any:
			out := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%w: %T in a list of strings", ErrInvalid, e)
				}
				out[i] = s
			}
			return out, nil
		}
	case KindJSON:
		switch x := v.(type) {
		case json.RawMessage:
			return v, nil
		case []byte:
			return json.RawMessage(x), nil
		case string:
			return json.RawMessage(x), nil
		}
	}
	return nil, fmt.Errorf("%w: %T is not a %s value", ErrInvalid, v, k)
}

func parseInt(s string) (any, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not an int64", ErrInvalid, s)
	}
	return n, nil
}

func parseFloat(s string) (any, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a float64", ErrInvalid, s)
	}
	return f, nil
}

// Zero returns the canonical zero value of a kind: "", 0, 0.0, false, the
// zero time, empty bytes, an empty list, JSON null. It is what a record
// holds in a non-nullable field that was added after it was stored (see
// AddField).
func Zero(k Kind) any {
	switch k {
	case KindString:
		return ""
	case KindInt:
		return int64(0)
	case KindFloat:
		return 0.0
	case KindBool:
		return false
	case KindTime:
		return time.Time{}
	case KindBytes:
		return []byte{}
	case KindStrings:
		return []string{}
	case KindJSON:
		return json.RawMessage("null")
	}
	return nil
}

// Compare orders two canonical values of the same scalar kind: it returns
// -1, 0 or +1. nil (NULL) orders before every value. Strings and bytes
// order by bytes (adapters over SQL use a binary collation so that every
// store agrees); false orders before true. Values of different types
// never compare equal: they order by type, so that a value of a wrong
// type can never match a filter. Compare is what the memory adapter uses,
// and so it is the reference order for every adapter.
func Compare(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return cmp.Compare(x, y)
		}
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			return cmp.Compare(x, y)
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case []byte:
		if y, ok := b.([]byte); ok {
			return bytes.Compare(x, y)
		}
	}
	return cmp.Compare(typeRank(a), typeRank(b))
}

// typeRank orders values of different types for Compare. Two values of
// one type that Compare does not order (lists, JSON) rank equal.
func typeRank(v any) int {
	switch v.(type) {
	case bool:
		return 1
	case int64:
		return 2
	case float64:
		return 3
	case string:
		return 4
	case time.Time:
		return 5
	case []byte:
		return 6
	}
	return 7
}

// Clone returns a copy of a canonical value that shares no memory with it
// (for []byte, []string and json.RawMessage); other values are returned as
// they are. Adapters that keep values in memory use it so that callers can
// never mutate stored data.
func Clone(v any) any {
	switch x := v.(type) {
	case []byte:
		return bytes.Clone(x)
	case json.RawMessage:
		return json.RawMessage(bytes.Clone(x))
	case []string:
		return slices.Clone(x)
	}
	return v
}
