package sqlstore

import (
	"strings"

	"github.com/uptrace/bun"

	"github.com/strata-go/strata/repo/driver"
)

// stmt builds one SQL statement from fixed SQL keywords and "?"
// placeholders: this package never concatenates an identifier or a value
// into SQL. Each placeholder has an argument (a bun.Ident or a value) that
// bun interpolates on the client with the dialect's quoting and escaping
// (bun does not send server-side parameters). Stored names are plain
// identifiers (package schema checks them), so bun.Ident's handling of '.'
// never applies.
type stmt struct {
	b    strings.Builder
	args []any
}

// sql appends fixed SQL text.
func (s *stmt) sql(text string) *stmt { s.b.WriteString(text); return s }

// ident appends a quoted identifier.
func (s *stmt) ident(name string) *stmt {
	s.b.WriteByte('?')
	s.args = append(s.args, bun.Ident(name))
	return s
}

// val appends a value.
func (s *stmt) val(v any) *stmt {
	s.b.WriteByte('?')
	s.args = append(s.args, v)
	return s
}

// list appends a comma-separated list of values (NULL for nil).
func (s *stmt) list(vals []any) *stmt {
	for i, v := range vals {
		if i > 0 {
			s.b.WriteString(", ")
		}
		if v == nil {
			s.b.WriteString("NULL")
		} else {
			s.val(v)
		}
	}
	return s
}

// idents appends a comma-separated list of quoted identifiers.
func (s *stmt) idents(names []string) *stmt {
	for i, n := range names {
		if i > 0 {
			s.b.WriteString(", ")
		}
		s.ident(n)
	}
	return s
}

func (s *stmt) String() string { return s.b.String() }

// columns returns the names of the fields at the given positions (all
// fields for nil).
func columns(c *driver.Collection, pos []int) []string {
	if pos == nil {
		out := make([]string, len(c.Fields))
		for i, f := range c.Fields {
			out[i] = f.Name
		}
		return out
	}
	out := make([]string, len(pos))
	for i, p := range pos {
		out[i] = c.Fields[p].Name
	}
	return out
}

// where appends " WHERE …" for the filters (and keyset cursor) of q.
func (s *stmt) where(d Dialect, c *driver.Collection, q *driver.Query) {
	if len(q.Filters) == 0 && q.After == nil {
		return
	}
	s.sql(" WHERE ")
	for i, f := range q.Filters {
		if i > 0 {
			s.sql(" AND ")
		}
		s.filter(d, c, f)
	}
	if q.After != nil {
		if len(q.Filters) > 0 {
			s.sql(" AND ")
		}
		s.after(d, c, q)
	}
}

func (s *stmt) filter(d Dialect, c *driver.Collection, f driver.Filter) {
	fd := c.Fields[f.Field]
	col := fd.Name
	if f.Value == nil {
		switch f.Op {
		case driver.Eq:
			s.ident(col).sql(" IS NULL")
		case driver.Ne:
			s.ident(col).sql(" IS NOT NULL")
		default:
			s.sql("1=0")
		}
		return
	}
	switch f.Op {
	case driver.In:
		vals, _ := f.Value.([]any)
		enc := d.encodeList(fd.Kind, vals)
		if len(enc) == 0 {
			s.sql("1=0")
			return
		}
		s.ident(col).sql(" IN (").list(enc).sql(")")
	case driver.Prefix:
		p, _ := f.Value.(string)
		s.ident(col).sql(" LIKE ").val(likePrefix(p)).sql(" ESCAPE '!'")
	default:
		s.ident(col).sql(" " + f.Op.String() + " ").val(d.encode(fd.Kind, f.Value))
	}
}

// likePrefix is a LIKE pattern matching the strings that start with p,
// with '!' as the escape character (no dialect treats it specially in a
// string literal, unlike '\').
func likePrefix(p string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return r.Replace(p) + "%"
}

// after appends the keyset condition "sorts strictly after q.After": an OR
// over the Order keys of "equal on the keys before, after on this one",
// with NULL first when ascending and last when descending, as
// driver.Compare orders.
func (s *stmt) after(d Dialect, c *driver.Collection, q *driver.Query) {
	s.sql("(")
	for i, o := range q.Order {
		if i >= len(q.After) {
			break
		}
		if i > 0 {
			s.sql(" OR ")
		}
		s.sql("(")
		for j := range i {
			s.eq(d, c, q.Order[j].Field, q.After[j]).sql(" AND ")
		}
		s.gt(d, c, o, q.After[i])
		s.sql(")")
	}
	s.sql(")")
}

// eq appends "field equals v" (IS NULL for nil).
func (s *stmt) eq(d Dialect, c *driver.Collection, field int, v any) *stmt {
	f := c.Fields[field]
	if v == nil {
		return s.ident(f.Name).sql(" IS NULL")
	}
	return s.ident(f.Name).sql(" = ").val(d.encode(f.Kind, v))
}

// gt appends "field sorts after v in order o".
func (s *stmt) gt(d Dialect, c *driver.Collection, o driver.Order, v any) *stmt {
	f := c.Fields[o.Field]
	switch {
	case !o.Desc && v == nil:
		return s.ident(f.Name).sql(" IS NOT NULL")
	case !o.Desc:
		return s.ident(f.Name).sql(" > ").val(d.encode(f.Kind, v))
	case v == nil:
		return s.sql("1=0")
	}
	return s.sql("(").ident(f.Name).sql(" < ").val(d.encode(f.Kind, v)).sql(" OR ").ident(f.Name).sql(" IS NULL)")
}

// orderLimit appends ORDER BY, LIMIT and OFFSET.
func (s *stmt) orderLimit(d Dialect, c *driver.Collection, q *driver.Query) {
	for i, o := range q.Order {
		if i == 0 {
			s.sql(" ORDER BY ")
		} else {
			s.sql(", ")
		}
		s.ident(c.Fields[o.Field].Name)
		switch {
		case o.Desc && d == Postgres:
			s.sql(" DESC NULLS LAST")
		case o.Desc:
			s.sql(" DESC")
		case d == Postgres:
			s.sql(" ASC NULLS FIRST")
		}
	}
	switch {
	case q.Limit > 0:
		s.sql(" LIMIT ").val(int64(q.Limit))
	case q.Offset > 0 && d == SQLite:
		s.sql(" LIMIT -1")
	case q.Offset > 0 && d == MySQL:
		s.sql(" LIMIT 18446744073709551615")
	}
	if q.Offset > 0 {
		s.sql(" OFFSET ").val(int64(q.Offset))
	}
}
