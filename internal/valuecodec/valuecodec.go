// Package valuecodec encodes Strata's canonical values (see driver.Kind)
// for key-value stores: as text, the form a Redis hash field or a Riak
// object field holds, and as order-preserving byte strings, the
// components of index entries (Redis sorted-set members, Riak 2i terms),
// whose byte order is driver.Compare's order.
//
// It is shared by the adapters that need it; they do not depend on each
// other. The Redis adapter's Lua functions implement the same encodings
// (adapters/redis/lua/strata.lua), and its tests check that the two agree.
package valuecodec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/strata-go/strata/repo/driver"
)

// The text forms of the kinds (a store keeps NULL as an absent field):
//
//	string    the string
//	int       decimal (so HINCRBY works on counters)
//	float     strconv's shortest form that parses back exactly
//	bool      "0" or "1"
//	time      microseconds since the Unix epoch, decimal
//	bytes     the bytes
//	strings   a JSON array
//	json      the JSON text

// Encode returns the text form of the canonical value v of kind k; v is
// not nil.
func Encode(k driver.Kind, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	case time.Time:
		return strconv.FormatInt(x.UnixMicro(), 10), nil
	case []byte:
		return string(x), nil
	case []string:
		if x == nil {
			x = []string{}
		}
		b, err := json.Marshal(x)
		return string(b), err
	case json.RawMessage:
		return string(x), nil
	}
	return "", fmt.Errorf("%w: %T is not a canonical %s value", driver.ErrInvalid, v, k)
}

// Decode parses the text form s of a value of kind k.
func Decode(k driver.Kind, s string) (any, error) {
	switch k {
	case driver.KindString:
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			return nil, fmt.Errorf("not valid UTF-8 without NUL: %q", s)
		}
		return s, nil
	case driver.KindInt:
		return strconv.ParseInt(s, 10, 64)
	case driver.KindFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return nil, fmt.Errorf("not a finite float: %q", s)
		}
		return f, err
	case driver.KindBool:
		switch s {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return nil, fmt.Errorf("bad bool %q", s)
	case driver.KindTime:
		us, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, err
		}
		return time.UnixMicro(us).UTC(), nil
	case driver.KindBytes:
		return []byte(s), nil
	case driver.KindStrings:
		var out []string
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			return nil, err
		}
		if out == nil {
			out = []string{}
		}
		return out, nil
	case driver.KindJSON:
		if !json.Valid([]byte(s)) {
			return nil, fmt.Errorf("bad JSON %q", s)
		}
		return json.RawMessage(s), nil
	}
	return nil, fmt.Errorf("unknown kind %s", k)
}

// Index entries are members of sorted sets whose scores are all 0, so that
// Redis orders them byte by byte (ZRANGE BYLEX). A member is the
// concatenation of one component per indexed field and then the primary
// key; each component is self-delimiting and order-preserving, so that the
// byte order of members is the order of driver.Compare over the fields,
// then the key:
//
//	NULL      0x01
//	bool      0x10, then 0x00 or 0x01
//	int, time 0x20, then m and the decimal digits of |n| (of microseconds
//	          for a time), where m = 0x80 + len(digits) for n > 0, 0x80 for
//	          0, and 0x80 - len(digits) for n < 0, whose digits are also
//	          complemented ('9'-d), so that larger magnitudes sort first
//	float     0x30, then the 8 bytes of the IEEE 754 bits, big-endian, with
//	          the sign bit flipped for positive numbers and every bit
//	          flipped for negative ones
//	string    0x40, then the bytes and 0x00 (strings hold no NUL)
//
// Decimal digits rather than binary for integers because the Redis
// adapter's Lua code (index maintenance after an increment) has only
// doubles, and can transform a decimal string exactly;
// adapters/redis/lua/strata.lua has the same encoding, and the Redis
// adapter's tests check that the two agree.
const (
	TagNull   = 0x01
	TagBool   = 0x10
	TagInt    = 0x20
	TagFloat  = 0x30
	TagString = 0x40
)

// KindTag returns the tag of the values of kind k, for scalar kinds.
func KindTag(k driver.Kind) byte {
	switch k {
	case driver.KindBool:
		return TagBool
	case driver.KindInt, driver.KindTime:
		return TagInt
	case driver.KindFloat:
		return TagFloat
	case driver.KindString:
		return TagString
	}
	return 0
}

// AppendComponent appends the index component of the canonical scalar
// value v (nil for NULL).
func AppendComponent(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, TagNull)
	case bool:
		if x {
			return append(b, TagBool, 1)
		}
		return append(b, TagBool, 0)
	case int64:
		return appendInt(b, x)
	case time.Time:
		return appendInt(b, x.UnixMicro())
	case float64:
		u := math.Float64bits(x)
		if x == 0 {
			u = 0 // -0 and +0 are one value
		}
		if u>>63 == 1 {
			u = ^u
		} else {
			u |= 1 << 63
		}
		b = append(b, TagFloat)
		for i := 7; i >= 0; i-- {
			b = append(b, byte(u>>(8*i)))
		}
		return b
	case string:
		b = append(b, TagString)
		b = append(b, x...)
		return append(b, 0)
	}
	panic(fmt.Sprintf("redis: AppendComponent of %T", v)) // unreachable: callers pass canonical scalars
}

func appendInt(b []byte, n int64) []byte {
	b = append(b, TagInt)
	switch {
	case n == 0:
		return append(b, 0x80)
	case n > 0:
		var d [20]byte
		digits := strconv.AppendInt(d[:0], n, 10)
		b = append(b, 0x80+byte(len(digits)))
		return append(b, digits...)
	}
	var d [21]byte
	digits := strconv.AppendInt(d[:0], n, 10)[1:] // without '-'
	b = append(b, 0x80-byte(len(digits)))
	for _, c := range digits {
		b = append(b, '9'-c+'0')
	}
	return b
}

// ComponentEnd returns the index in m just after the component that starts
// at i, or -1 if m is malformed there.
func ComponentEnd(m []byte, i int) int {
	if i < 0 || i >= len(m) {
		return -1
	}
	switch m[i] {
	case TagNull:
		return i + 1
	case TagBool:
		if i+2 > len(m) {
			return -1
		}
		return i + 2
	case TagInt:
		if i+1 >= len(m) {
			return -1
		}
		n := int(m[i+1]) - 0x80
		if n < 0 {
			n = -n
		}
		if end := i + 2 + n; end <= len(m) {
			return end
		}
	case TagFloat:
		if i+9 <= len(m) {
			return i + 9
		}
	case TagString:
		if j := bytes.IndexByte(m[i+1:], 0); j >= 0 {
			return i + 1 + j + 1
		}
	}
	return -1
}

// Successor returns the least byte string greater than every string that
// starts with p, or nil if there is none (p is all 0xff).
func Successor(p []byte) []byte {
	s := bytes.Clone(p)
	for len(s) > 0 && s[len(s)-1] == 0xff {
		s = s[:len(s)-1]
	}
	if len(s) == 0 {
		return nil
	}
	s[len(s)-1]++
	return s
}
