package repo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// A cursor is the base64url JSON array of the sort-key values of the last
// record of a page (times as RFC 3339 strings, integers as exact JSON
// numbers). It is opaque to callers, holds no secret, and is checked
// against the query it is used with.

func encodeCursor(order []driver.Order, rec driver.Record) string {
	vals := make([]any, len(order))
	for i, o := range order {
		v := rec.Values[o.Field]
		if t, ok := v.(time.Time); ok {
			v = t.Format(time.RFC3339Nano)
		}
		vals[i] = v
	}
	b, _ := json.Marshal(vals) // canonical scalars always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s *schema.Schema, order []driver.Order, cursor string) ([]any, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: cursor for %s: %s", driver.ErrInvalid, s.Name(), why)
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, bad("not base64url")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var raw []any
	if err := d.Decode(&raw); err != nil {
		return nil, bad("not a JSON array")
	}
	if len(raw) != len(order) {
		return nil, bad("it was made for a query with another order")
	}
	out := make([]any, len(raw))
	for i, r := range raw {
		f := s.Fields[order[i].Field]
		if r == nil {
			continue
		}
		switch x := r.(type) {
		case json.Number:
			if f.Kind != driver.KindInt && f.Kind != driver.KindFloat {
				return nil, bad("a number where " + f.Name + " needs a " + f.Kind.String())
			}
			r = string(x)
		case string:
			if f.Kind == driver.KindTime {
				t, err := time.Parse(time.RFC3339Nano, x)
				if err != nil {
					return nil, bad("bad time")
				}
				r = t
			} else if f.Kind != driver.KindString {
				return nil, bad("a string where " + f.Name + " needs a " + f.Kind.String())
			}
		}
		if f.Kind == driver.KindBool {
			if _, ok := r.(bool); !ok {
				return nil, bad(f.Name + " needs a bool")
			}
		}
		v, err := driver.Normalize(f.Kind, r)
		if err != nil {
			return nil, bad(err.Error())
		}
		out[i] = v
	}
	return out, nil
}
