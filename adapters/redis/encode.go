package redis

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

// A record is a hash whose fields are the record's non-NULL fields, each
// as a string (NULL is an absent hash field):
//
//	string    the string
//	int       decimal (so HINCRBY works on counters)
//	float     strconv's shortest form that parses back exactly
//	bool      "0" or "1"
//	time      microseconds since the Unix epoch, decimal
//	bytes     the bytes
//	strings   a JSON array
//	json      the JSON text

// encodeValue returns the hash-field form of the canonical value v of kind
// k; v is not nil.
func encodeValue(k driver.Kind, v any) (string, error) {
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

// decodeValue parses the hash-field form s of a value of kind k.
func decodeValue(k driver.Kind, s string) (any, error) {
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
// Decimal digits rather than binary for integers because the Lua side
// (index maintenance after HINCRBY) has only doubles, and can transform a
// decimal string exactly. lua/strata.lua has the same encoding; the tests
// check that the two agree.
const (
	tagNull   = 0x01
	tagBool   = 0x10
	tagInt    = 0x20
	tagFloat  = 0x30
	tagString = 0x40
)

// kindTag returns the tag of the values of kind k, for scalar kinds.
func kindTag(k driver.Kind) byte {
	switch k {
	case driver.KindBool:
		return tagBool
	case driver.KindInt, driver.KindTime:
		return tagInt
	case driver.KindFloat:
		return tagFloat
	case driver.KindString:
		return tagString
	}
	return 0
}

// appendComponent appends the index component of the canonical scalar
// value v (nil for NULL).
func appendComponent(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, tagNull)
	case bool:
		if x {
			return append(b, tagBool, 1)
		}
		return append(b, tagBool, 0)
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
		b = append(b, tagFloat)
		for i := 7; i >= 0; i-- {
			b = append(b, byte(u>>(8*i)))
		}
		return b
	case string:
		b = append(b, tagString)
		b = append(b, x...)
		return append(b, 0)
	}
	panic(fmt.Sprintf("redis: appendComponent of %T", v)) // unreachable: callers pass canonical scalars
}

func appendInt(b []byte, n int64) []byte {
	b = append(b, tagInt)
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

// componentEnd returns the index in m just after the component that starts
// at i, or -1 if m is malformed there.
func componentEnd(m []byte, i int) int {
	if i < 0 || i >= len(m) {
		return -1
	}
	switch m[i] {
	case tagNull:
		return i + 1
	case tagBool:
		if i+2 > len(m) {
			return -1
		}
		return i + 2
	case tagInt:
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
	case tagFloat:
		if i+9 <= len(m) {
			return i + 9
		}
	case tagString:
		if j := bytes.IndexByte(m[i+1:], 0); j >= 0 {
			return i + 1 + j + 1
		}
	}
	return -1
}

// successor returns the least byte string greater than every string that
// starts with p, or nil if there is none (p is all 0xff).
func successor(p []byte) []byte {
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
