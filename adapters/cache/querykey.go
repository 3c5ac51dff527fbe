package cache

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"time"

	"github.com/strata-go/strata/repo/driver"
)

// fingerprint returns the query cache's key of a query of kind ("q" for
// records, "c" for a count, "a…" for an aggregate) under the given
// generations, or false when a value in q is not canonical (such a query
// goes to the store, which reports it). The key encodes every part of q
// unambiguously: two queries share a key only if they are the same query.
func fingerprint(kind string, c *driver.Collection, q *driver.Query, gens ...uint64) (string, bool) {
	b := make([]byte, 0, 96)
	b = appendString(b, kind)
	b = appendString(b, c.Name)
	for _, g := range gens {
		b = binary.AppendUvarint(b, g)
	}
	b = binary.AppendUvarint(b, uint64(len(q.Filters)))
	for _, f := range q.Filters {
		b = binary.AppendUvarint(b, uint64(f.Field))
		b = append(b, byte(f.Op))
		var ok bool
		if b, ok = appendValue(b, f.Value); !ok {
			return "", false
		}
	}
	b = binary.AppendUvarint(b, uint64(len(q.Order)))
	for _, o := range q.Order {
		b = binary.AppendUvarint(b, uint64(o.Field))
		if o.Desc {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(q.After)))
	for _, v := range q.After {
		var ok bool
		if b, ok = appendValue(b, v); !ok {
			return "", false
		}
	}
	b = binary.AppendUvarint(b, uint64(q.Offset))
	b = binary.AppendUvarint(b, uint64(q.Limit))
	if q.Fields == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(q.Fields)))
		for _, f := range q.Fields {
			b = binary.AppendUvarint(b, uint64(f))
		}
	}
	if q.FullScan {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return string(b), true
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendValue appends a type tag and the value.
func appendValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, 'n'), true
	case string:
		return appendString(append(b, 's'), x), true
	case int64:
		return binary.AppendVarint(append(b, 'i'), x), true
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 'f'), math.Float64bits(x)), true
	case bool:
		if x {
			return append(b, 't'), true
		}
		return append(b, 'F'), true
	case time.Time:
		return binary.AppendVarint(append(b, 'T'), x.UnixMicro()), true
	case []byte:
		return appendString(append(b, 'b'), string(x)), true
	case json.RawMessage:
		return appendString(append(b, 'j'), string(x)), true
	case []string:
		b = binary.AppendUvarint(append(b, 'S'), uint64(len(x)))
		for _, s := range x {
			b = appendString(b, s)
		}
		return b, true
	case []any:
		b = binary.AppendUvarint(append(b, 'l'), uint64(len(x)))
		for _, e := range x {
			var ok bool
			if b, ok = appendValue(b, e); !ok {
				return b, false
			}
		}
		return b, true
	}
	return b, false
}
