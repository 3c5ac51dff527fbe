package redis

import (
	"fmt"

	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/repo/driver"
)

// revField is the hash field that holds the number of a record's last
// write (for transactions); no stored field has its name, since stored
// names are identifiers.
const revField = "$rev"

// expField holds the time (Unix milliseconds) a record of a collection with
// a time to live expires.
const expField = "$exp"

// appendFields appends the field/value pairs of rec's non-NULL values, and
// returns how many pairs it appended.
func appendFields(args []any, c *driver.Collection, rec driver.Record) ([]any, int, error) {
	n := 0
	for i, f := range c.Fields {
		v := rec.Values[i]
		if v == nil {
			continue
		}
		s, err := valuecodec.Encode(f.Kind, v)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", f.Name, err)
		}
		args = append(args, f.Name, s)
		n++
	}
	return args, n, nil
}

// decodeField decodes field f of collection c from its hash form s (ok:
// the hash has the field). A field absent from the hash is NULL, or the
// zero value of its kind if it is not nullable (it was added since the
// record was written).
func decodeField(c *driver.Collection, f driver.Field, s string, ok bool) (any, error) {
	if !ok {
		if f.Nullable {
			return nil, nil
		}
		return driver.Zero(f.Kind), nil
	}
	v, err := valuecodec.Decode(f.Kind, s)
	if err != nil {
		return nil, fmt.Errorf("redis: %s.%s holds %q: %w", c.Name, f.Name, s, err)
	}
	return v, nil
}

// decodeMap decodes a record read with HGETALL into a map, and returns
// its "$rev" too.
func decodeMap(c *driver.Collection, h map[string]string) (driver.Record, string, error) {
	vals := make([]any, len(c.Fields))
	for i, f := range c.Fields {
		s, ok := h[f.Name]
		v, err := decodeField(c, f, s, ok)
		if err != nil {
			return driver.Record{}, "", err
		}
		vals[i] = v
	}
	return driver.Record{Values: vals}, h[revField], nil
}

// decodeFlat decodes a record from a script's reply: a flat list of
// field, value, field, value...
func decodeFlat(c *driver.Collection, flat []any) (driver.Record, string, error) {
	vals := make([]any, len(c.Fields))
	seen := make([]bool, len(c.Fields))
	rev := ""
	for i := 0; i+1 < len(flat); i += 2 {
		name, _ := flat[i].(string)
		s, _ := flat[i+1].(string)
		if name == revField {
			rev = s
			continue
		}
		j := c.FieldIndex(name)
		if j < 0 {
			continue // a field the schema no longer has
		}
		v, err := decodeField(c, c.Fields[j], s, true)
		if err != nil {
			return driver.Record{}, "", err
		}
		vals[j], seen[j] = v, true
	}
	for j, f := range c.Fields {
		if !seen[j] {
			vals[j], _ = decodeField(c, f, "", false)
		}
	}
	return driver.Record{Values: vals}, rev, nil
}

// decodeSome decodes a record read with HMGET of names (nil for absent
// fields; pos gives their positions in Fields, -1 for "$rev" and "$exp");
// fields not read are nil.
func decodeSome(c *driver.Collection, names []string, pos []int, vals []any) (driver.Record, string, error) {
	rec := driver.Record{Values: make([]any, len(c.Fields))}
	rev := ""
	for i, name := range names {
		s, ok := vals[i].(string)
		if pos[i] < 0 {
			if name == revField {
				rev = s
			}
			continue
		}
		v, err := decodeField(c, c.Fields[pos[i]], s, ok)
		if err != nil {
			return driver.Record{}, "", err
		}
		rec.Values[pos[i]] = v
	}
	return rec, rev, nil
}
