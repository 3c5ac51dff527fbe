package memory

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/strata-go/strata/repo/driver"
)

// rowKey is a primary-key value used as a map key. The kind is part of the
// key, so the int 1 and the string "1" never collide.
type rowKey struct {
	str bool
	s   string
	n   int64
}

// keyOf converts a primary-key value of collection c to a rowKey; a value
// that is not of the key field's kind is invalid.
func keyOf(c *driver.Collection, v any) (rowKey, error) {
	kind := c.Fields[c.Key].Kind
	switch x := v.(type) {
	case nil:
		return rowKey{}, fmt.Errorf("%w: primary key is nil", driver.ErrInvalid)
	case int64:
		if kind == driver.KindInt {
			return rowKey{n: x}, nil
		}
	case string:
		if kind == driver.KindString {
			return rowKey{str: true, s: x}, nil
		}
	}
	return rowKey{}, fmt.Errorf("%w: primary key %v is a %T; %s has %s keys", driver.ErrInvalid, v, v, c.Name, kind)
}

// value returns the key as a canonical value.
func (k rowKey) value() any {
	if k.str {
		return k.s
	}
	return k.n
}

// compareKeys orders keys: ints before strings, then by value.
func compareKeys(a, b rowKey) int {
	switch {
	case a.str != b.str && a.str:
		return 1
	case a.str != b.str:
		return -1
	case a.str:
		return strings.Compare(a.s, b.s)
	}
	return cmp.Compare(a.n, b.n)
}

// appendValue appends an encoding of the canonical value v to b. Values
// that Compare finds equal encode the same, and values of different types
// or different values never do, so concatenated encodings can be compared
// as map keys.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendBytes(append(b, 's'), []byte(x))
	case int64:
		return binary.BigEndian.AppendUint64(append(b, 'i'), uint64(x))
	case float64:
		if x == 0 {
			x = 0 // -0 and +0 compare equal
		}
		return binary.BigEndian.AppendUint64(append(b, 'f'), math.Float64bits(x))
	case bool:
		if x {
			return append(b, 'b', 1)
		}
		return append(b, 'b', 0)
	case time.Time:
		b = binary.BigEndian.AppendUint64(append(b, 't'), uint64(x.Unix()))
		return binary.BigEndian.AppendUint32(b, uint32(x.Nanosecond()))
	case []byte:
		return appendBytes(append(b, 'y'), x)
	case json.RawMessage:
		return appendBytes(append(b, 'j'), x)
	case []string:
		b = binary.AppendUvarint(append(b, 'l'), uint64(len(x)))
		for _, s := range x {
			b = appendBytes(b, []byte(s))
		}
		return b
	}
	// Writes accept canonical values only; anything else gets its printed
	// form, which cannot collide with the encodings above.
	return appendBytes(append(b, '?'), fmt.Appendf(nil, "%T %#v", v, v))
}

func appendBytes(b, x []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(x))), x...)
}
