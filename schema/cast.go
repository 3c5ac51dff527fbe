package schema

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/strata-go/strata/repo/driver"
)

// Cast starts a changeset on data (a pointer to a schema struct) and
// casts params onto it; see [Changeset.Cast].
func Cast(data any, params any, permitted ...string) *Changeset {
	return NewChangeset(data).Cast(params, permitted...)
}

// Cast converts the permitted fields present in params to their Go types
// and records them as changes. params is a map[string]any (as decoded from
// JSON), a map[string]string, url.Values, or a JSON object as []byte or
// json.RawMessage; nil casts nothing. Keys that are not permitted are
// ignored. A value that does not convert is a field error with rule "cast"
// ("is invalid"), not a Go error: casting is for outside input.
//
// Conversions: strings parse to numbers, bools ("true", "false", "1",
// "0", "on", "off"), times (RFC 3339, or a date) and, as JSON, to nested
// values; an empty string is nil for every field but strings; JSON numbers
// convert to integer fields only when whole and in range; base64 strings
// convert to []byte; a single string converts to a one-element []string.
func (cs *Changeset) Cast(params any, permitted ...string) *Changeset {
	if cs.err != nil {
		return cs
	}
	m, err := paramsMap(params)
	if err != nil {
		cs.err = err
		return cs
	}
	if m == nil {
		if params != nil {
			cs.addError("", "is not a JSON object", "cast")
		}
		return cs
	}
	for _, name := range permitted {
		f := cs.field(name)
		if f == nil {
			return cs
		}
		raw, ok := m[name]
		if !ok {
			continue
		}
		v, ok := f.cast(raw)
		if !ok {
			cs.changes = deleteChanges(cs.changes, f)
			cs.addError(name, "is invalid", "cast")
			continue
		}
		cs.put(f, v)
		if raw == nil || raw == "" {
			if cs.empty == nil {
				cs.empty = map[*Field]bool{}
			}
			cs.empty[f] = true
		}
	}
	return cs
}

func deleteChanges(cs []Change, f *Field) []Change {
	out := cs[:0]
	for _, c := range cs {
		if c.Field != f {
			out = append(out, c)
		}
	}
	return out
}

// paramsMap normalizes params; a nil map with a nil error means "not a
// JSON object".
func paramsMap(params any) (map[string]any, error) {
	switch p := params.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return p, nil
	case map[string]string:
		m := make(map[string]any, len(p))
		for k, v := range p {
			m[k] = v
		}
		return m, nil
	case url.Values:
		m := make(map[string]any, len(p))
		for k, v := range p {
			if len(v) == 1 {
				m[k] = v[0]
			} else {
				m[k] = v
			}
		}
		return m, nil
	case []byte:
		return jsonObject(p), nil
	case json.RawMessage:
		return jsonObject(p), nil
	}
	return nil, fmt.Errorf("%w: cannot cast from %T; want map[string]any, map[string]string, url.Values or JSON bytes", driver.ErrInvalid, params)
}

func jsonObject(b []byte) map[string]any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil || d.More() {
		return nil
	}
	return m
}

// cast converts outside input to the field's canonical value.
func (f *Field) cast(x any) (any, bool) {
	if s, ok := x.(string); ok && s == "" && f.Kind != driver.KindString {
		x = nil
	}
	if x == nil {
		if f.Nullable {
			return nil, true
		}
		return f.Zero(), true
	}
	switch f.Kind {
	case driver.KindString:
		if s, ok := x.(string); ok {
			v, err := f.checkString(s)
			return v, err == nil
		}
	case driver.KindInt:
		return f.castInt(x)
	case driver.KindFloat:
		var v float64
		switch y := x.(type) {
		case json.Number:
			var err error
			if v, err = y.Float64(); err != nil {
				return nil, false
			}
		case float64:
			v = y
		case string:
			var err error
			if v, err = strconv.ParseFloat(strings.TrimSpace(y), 64); err != nil {
				return nil, false
			}
		default:
			c, err := f.Canonical(x)
			return c, err == nil
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || (f.bits == 32 && math.Abs(v) > math.MaxFloat32) {
			return nil, false
		}
		return v, true
	case driver.KindBool:
		switch y := x.(type) {
		case bool:
			return y, true
		case string:
			switch strings.ToLower(strings.TrimSpace(y)) {
			case "true", "1", "on", "yes":
				return true, true
			case "false", "0", "off", "no":
				return false, true
			}
			return nil, false
		}
	case driver.KindTime:
		switch y := x.(type) {
		case time.Time:
			v, err := f.checkTime(y)
			return v, err == nil
		case string:
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
				if t, err := time.Parse(layout, strings.TrimSpace(y)); err == nil {
					v, err := f.checkTime(t)
					return v, err == nil
				}
			}
			return nil, false
		}
	case driver.KindBytes:
		switch y := x.(type) {
		case []byte:
			return y, true
		case string:
			b, err := base64.StdEncoding.DecodeString(y)
			return b, err == nil
		}
	case driver.KindStrings:
		switch y := x.(type) {
		case string:
			v, err := f.Canonical([]string{y})
			return v, err == nil
		case []string:
			v, err := f.Canonical(y)
			return v, err == nil
		case []any:
			v, err := driver.Normalize(driver.KindStrings, y)
			if err != nil {
				return nil, false
			}
			v, err = f.Canonical(v)
			return v, err == nil
		}
	case driver.KindJSON:
		raw, err := json.Marshal(x)
		if s, ok := x.(string); ok && json.Valid([]byte(s)) && f.base.Kind() != reflect.String {
			raw = []byte(s)
		}
		if err != nil {
			return nil, false
		}
		dst := reflect.New(f.base)
		if err := json.Unmarshal(raw, dst.Interface()); err != nil {
			return nil, false
		}
		v, err := f.canonical(dst.Elem())
		return v, err == nil
	}
	v, err := f.Canonical(x)
	return v, err == nil
}

func (f *Field) castInt(x any) (any, bool) {
	var n int64
	switch y := x.(type) {
	case json.Number:
		var err error
		if n, err = strconv.ParseInt(string(y), 10, 64); err != nil {
			return nil, false
		}
	case float64:
		if y != math.Trunc(y) || y < math.MinInt64 || y >= math.MaxInt64 {
			return nil, false
		}
		n = int64(y)
	case string:
		var err error
		if n, err = strconv.ParseInt(strings.TrimSpace(y), 10, 64); err != nil {
			return nil, false
		}
	default:
		v, err := f.Canonical(x)
		if err != nil {
			return nil, false
		}
		n = v.(int64)
	}
	return n, f.fits(n)
}

// checkRange refuses a canonical value that the field's Go type cannot
// hold: an integer out of its range, or a float beyond float32's.
func (f *Field) checkRange(v any) error {
	switch x := v.(type) {
	case int64:
		if f.Kind == driver.KindInt && !f.fits(x) {
			return f.errorf("%d does not fit %s", x, f.base)
		}
	case float64:
		if f.bits == 32 && math.Abs(x) > math.MaxFloat32 {
			return f.errorf("%v does not fit float32", x)
		}
	}
	return nil
}

// fits reports whether n fits the field's Go integer type.
func (f *Field) fits(n int64) bool {
	z := reflect.New(f.base).Elem()
	if f.unsigned {
		return n >= 0 && !z.OverflowUint(uint64(n))
	}
	return !z.OverflowInt(n)
}
