package repo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// A cursor is base64url JSON: {"q": the query's fingerprint, "k": the
// sort-key values of the last record of a page} (times as RFC 3339
// strings, integers as exact JSON numbers). It is opaque to callers and
// holds no secret. The fingerprint (of the schema, the filters and the
// order) makes a cursor from another query an error instead of a page of
// the wrong records; it is not a signature: a forged cursor can only start
// a page of the same query somewhere else, and its values are checked like
// any other input.
type cursor struct {
	Query string `json:"q"`
	Keys  []any  `json:"k"`
}

// fingerprint identifies the shape of a paged query: everything but the
// cursor itself, the limit and the offset.
func fingerprint(s *schema.Schema, dq *driver.Query) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|", s.Name())
	for _, f := range dq.Filters {
		fmt.Fprintf(h, "%d %d %v|", f.Field, f.Op, f.Value)
	}
	for _, o := range dq.Order {
		fmt.Fprintf(h, "%d %t|", o.Field, o.Desc)
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

func encodeCursor(s *schema.Schema, dq *driver.Query, rec driver.Record) string {
	c := cursor{Query: fingerprint(s, dq), Keys: make([]any, len(dq.Order))}
	for i, o := range dq.Order {
		v := rec.Values[o.Field]
		if t, ok := v.(time.Time); ok {
			v = t.Format(time.RFC3339Nano)
		}
		c.Keys[i] = v
	}
	b, _ := json.Marshal(c) // canonical scalars always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the sort-key values of a cursor made for dq's query.
func decodeCursor(s *schema.Schema, dq *driver.Query, text string) ([]any, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: cursor for %s: %s", driver.ErrInvalid, s.Name(), why)
	}
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return nil, bad("not base64url")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var c cursor
	if err := d.Decode(&c); err != nil || d.InputOffset() != int64(len(b)) {
		return nil, bad("not a cursor")
	}
	if c.Query != fingerprint(s, dq) || len(c.Keys) != len(dq.Order) {
		return nil, bad("it was made for another query")
	}
	out := make([]any, len(c.Keys))
	for i, r := range c.Keys {
		f := s.Fields[dq.Order[i].Field]
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
		if err == nil {
			v, err = f.Canonical(v) // the rules every value meets (UTF-8, years…)
		}
		if err != nil {
			return nil, bad(err.Error())
		}
		out[i] = v
	}
	return out, nil
}
