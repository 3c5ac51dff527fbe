package schema

import (
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/strata-go/strata/repo/driver"
)

// tag is a parsed `strata` struct tag.
type tag struct {
	name string
	opts map[string]string
}

func parseTag(s string) (tag, error) {
	parts := strings.Split(s, ",")
	t := tag{name: strings.TrimSpace(parts[0]), opts: map[string]string{}}
	for _, p := range parts[1:] {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		if _, dup := t.opts[k]; dup {
			return t, fmt.Errorf("option %q given twice", k)
		}
		t.opts[k] = v
	}
	return t, nil
}

var fieldOptions = map[string]bool{
	"pk": false, "index": true, "unique": true, "merge": true, "version": false, "size": true,
	"inserted_at": false, "updated_at": false, "belongs_to": true, "has_many": true, "has_one": true,
}

// parser collects the fields of one schema struct.
type parser struct {
	t       reflect.Type
	s       *Schema
	table   string
	cons    driver.Consistency
	fields  []*Field
	tags    []tag
	indexes []driver.Index
	groups  map[string]int // index group name → position in indexes
}

func parse(t reflect.Type) (*Schema, error) {
	p := &parser{t: t, s: &Schema{Type: t, byName: map[string]*Field{}}, table: snake(t.Name()), groups: map[string]int{}}
	// Schema-wide options first: the table name goes into index names.
	if sf, ok := t.FieldByName("_"); ok && len(sf.Index) == 1 {
		if raw, hasTag := sf.Tag.Lookup("strata"); hasTag {
			if err := p.schemaOptions(raw); err != nil {
				return nil, err
			}
		}
	}
	if err := p.walk(t, nil); err != nil {
		return nil, err
	}
	return p.finish()
}

func (p *parser) errorf(field, format string, args ...any) error {
	where := fmt.Sprintf("schema %s", p.t)
	if field != "" {
		where += ", field " + field
	}
	return fmt.Errorf("%w: %s: %s", driver.ErrInvalid, where, fmt.Sprintf(format, args...))
}

func (p *parser) walk(t reflect.Type, path []int) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		idx := append(append([]int(nil), path...), i)
		raw, hasTag := sf.Tag.Lookup("strata")
		if sf.Name == "_" {
			if hasTag && path != nil { // (the top level's came first)
				if err := p.schemaOptions(raw); err != nil {
					return err
				}
			}
			continue
		}
		if raw == "-" {
			continue
		}
		if sf.Type == metaType {
			if p.s.meta != nil {
				return p.errorf(sf.Name, "a second schema.Meta field")
			}
			p.s.meta = idx
			continue
		}
		if sf.Anonymous && !hasTag {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				return p.errorf(sf.Name, "embedded pointer %s is not supported; embed the struct", ft)
			}
			if ft.Kind() == reflect.Struct && ft != timeType {
				if err := p.walk(ft, idx); err != nil {
					return err
				}
				continue
			}
		}
		if !sf.IsExported() {
			if hasTag {
				return p.errorf(sf.Name, "unexported fields cannot be stored; export it or drop the tag")
			}
			continue
		}
		tg, err := parseTag(raw)
		if err != nil {
			return p.errorf(sf.Name, "tag %q: %v", raw, err)
		}
		for k, v := range tg.opts {
			takesValue, known := fieldOptions[k]
			if !known {
				return p.errorf(sf.Name, "unknown tag option %q", k)
			}
			if !takesValue && v != "" {
				return p.errorf(sf.Name, "tag option %q takes no value", k)
			}
		}
		if tg.name == "" {
			tg.name = snake(sf.Name)
		}
		if !driver.IsIdentifier(tg.name) {
			return p.errorf(sf.Name, "stored name %q: use letters, digits and '_', not starting with a digit", tg.name)
		}
		if err := p.field(sf, idx, tg); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) schemaOptions(raw string) error {
	tg, err := parseTag("," + raw)
	if err != nil {
		return p.errorf("_", "tag %q: %v", raw, err)
	}
	for k, v := range tg.opts {
		switch k {
		case "table":
			if !driver.IsIdentifier(v) {
				return p.errorf("_", "table=%q: use letters, digits and '_', not starting with a digit", v)
			}
			p.table = v
		case "consistency":
			switch v {
			case "ap":
				p.cons = driver.AP
			case "cp":
				p.cons = driver.CP
			default:
				return p.errorf("_", "consistency=%q: want ap or cp", v)
			}
		default:
			return p.errorf("_", "unknown schema option %q (want table= or consistency=)", k)
		}
	}
	return nil
}

func (p *parser) field(sf reflect.StructField, idx []int, tg tag) error {
	for _, k := range []string{"belongs_to", "has_many", "has_one"} {
		if fk, ok := tg.opts[k]; ok {
			return p.assoc(sf, idx, tg, k, fk)
		}
	}
	kind, nullable, base, bits, unsigned, err := kindOf(sf.Type)
	if err != nil {
		return p.errorf(sf.Name, "%v", err)
	}
	if _, dup := p.s.byName[tg.name]; dup {
		return p.errorf(sf.Name, "a second field is stored as %q", tg.name)
	}
	f := &Field{Name: tg.name, GoName: sf.Name, Pos: len(p.fields), Kind: kind, Type: sf.Type, Nullable: nullable,
		schema: p.table, path: idx, base: base, bits: bits, unsigned: unsigned}
	if size, ok := tg.opts["size"]; ok {
		n, err := strconv.Atoi(size)
		if err != nil || n <= 0 || (kind != driver.KindString && kind != driver.KindBytes) {
			return p.errorf(sf.Name, "size=%q: want a positive number on a string or []byte field", size)
		}
		f.Size = n
	}
	if m, ok := tg.opts["merge"]; ok {
		if f.Merge, err = driver.ParseMergePolicy(m); err != nil {
			return p.errorf(sf.Name, "%v", err)
		}
		if !mergeFits(f.Merge, kind, bits, unsigned) {
			return p.errorf(sf.Name, "merge=%s does not apply to type %s", f.Merge, sf.Type)
		}
	}
	for _, k := range []string{"index", "unique"} {
		groups, ok := tg.opts[k]
		if !ok {
			continue
		}
		if !kind.Scalar() {
			return p.errorf(sf.Name, "%s on a %s field: only scalar fields can be indexed", k, kind)
		}
		// index=a|b: the field is in composite indexes a and b.
		seen := map[string]bool{}
		for _, group := range strings.Split(groups, "|") {
			if (group != "" || groups != "") && !driver.IsIdentifier(group) {
				return p.errorf(sf.Name, "%s=%q: use letters, digits and '_', and '|' between index names", k, groups)
			}
			if seen[group] {
				return p.errorf(sf.Name, "%s=%q: %q twice", k, groups, group)
			}
			seen[group] = true
			p.addIndex(f.Name, group, k == "unique")
		}
	}
	p.fields = append(p.fields, f)
	p.tags = append(p.tags, tg)
	p.s.byName[f.Name] = f
	return nil
}

// mergeFits reports whether a policy applies to a field. Counters are
// signed 64-bit: an increment is applied by the store, which cannot know a
// narrower Go type's range.
func mergeFits(m driver.MergePolicy, k driver.Kind, bits int, unsigned bool) bool {
	switch m {
	case driver.MergeCounter:
		return k == driver.KindInt && bits == 64 && !unsigned // as is64
	case driver.MergeSet:
		return k == driver.KindStrings
	case driver.MergeMax:
		return k == driver.KindInt || k == driver.KindFloat || k == driver.KindString || k == driver.KindTime
	case driver.MergeFlag:
		return k == driver.KindBool
	}
	return true
}

func (p *parser) addIndex(field, group string, unique bool) {
	suffix := "_idx"
	if unique {
		suffix = "_key"
	}
	if group == "" {
		p.indexes = append(p.indexes, driver.Index{Name: indexName(p.table, field, suffix), Fields: []string{field}, Unique: unique})
		return
	}
	key := suffix + group
	if i, ok := p.groups[key]; ok {
		p.indexes[i].Fields = append(p.indexes[i].Fields, field)
		return
	}
	p.groups[key] = len(p.indexes)
	p.indexes = append(p.indexes, driver.Index{Name: indexName(p.table, group, suffix), Fields: []string{field}, Unique: unique})
}

// maxIndexName is the longest index name every store keeps whole
// (PostgreSQL truncates identifiers at 63 bytes, and then reports the
// truncated name in its errors).
const maxIndexName = 63

// indexName is table_name_suffix, shortened with a hash when too long.
func indexName(table, name, suffix string) string {
	n := table + "_" + name + suffix
	if len(n) <= maxIndexName {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(n))
	return fmt.Sprintf("%s_%08x%s", n[:maxIndexName-len(suffix)-9], h.Sum32(), suffix)
}

func (p *parser) assoc(sf reflect.StructField, idx []int, tg tag, kind, fk string) error {
	if fk == "" {
		return p.errorf(sf.Name, "%s= needs the foreign key field's name", kind)
	}
	a := &Assoc{Name: tg.name, ForeignKey: fk, path: idx, owner: p.s}
	t := sf.Type
	switch kind {
	case "belongs_to", "has_one":
		a.Kind = BelongsTo
		if kind == "has_one" {
			a.Kind = HasOne
		}
		if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
			return p.errorf(sf.Name, "%s field must be a pointer to a struct, not %s", kind, t)
		}
		a.elem = t.Elem()
	case "has_many":
		a.Kind = HasMany
		if t.Kind() != reflect.Slice {
			return p.errorf(sf.Name, "has_many field must be a slice of structs or of pointers to them, not %s", t)
		}
		e := t.Elem()
		if e.Kind() == reflect.Pointer {
			a.ptr, e = true, e.Elem()
		}
		if e.Kind() != reflect.Struct {
			return p.errorf(sf.Name, "has_many field must be a slice of structs or of pointers to them, not %s", t)
		}
		a.elem = e
	}
	for k := range tg.opts {
		if k != kind {
			return p.errorf(sf.Name, "option %q does not apply to an association", k)
		}
	}
	p.s.Assocs = append(p.s.Assocs, a)
	return nil
}

func (p *parser) finish() (*Schema, error) {
	s := p.s
	var key, version string
	for i, f := range p.fields {
		tg := p.tags[i]
		if _, ok := tg.opts["pk"]; ok {
			if s.Key != nil {
				return nil, p.errorf(f.GoName, "a second primary key (%s is one)", s.Key.GoName)
			}
			s.Key = f
		}
		if _, ok := tg.opts["version"]; ok {
			if s.Version != nil {
				return nil, p.errorf(f.GoName, "a second version field")
			}
			if f.Kind != driver.KindInt || !f.is64() || f.Nullable || f.Merge != driver.MergeLWW {
				return nil, p.errorf(f.GoName, "the version field must be a plain int64 (or int)")
			}
			s.Version, version = f, f.Name
		}
		for _, ts := range []struct {
			opt string
			dst **Field
		}{{"inserted_at", &s.InsertedAt}, {"updated_at", &s.UpdatedAt}} {
			if _, ok := tg.opts[ts.opt]; ok {
				if *ts.dst != nil {
					return nil, p.errorf(f.GoName, "a second %s field", ts.opt)
				}
				if f.Type != timeType {
					return nil, p.errorf(f.GoName, "%s must be a time.Time", ts.opt)
				}
				*ts.dst = f
			}
		}
	}
	if s.Key == nil {
		s.Key = s.byName["id"]
	}
	if s.Key == nil {
		return nil, p.errorf("", "no primary key: tag a field `pk` or store one as \"id\"")
	}
	if (s.Key.Kind != driver.KindString && s.Key.Kind != driver.KindInt) || s.Key.Nullable || s.Key.Merge != driver.MergeLWW {
		return nil, p.errorf(s.Key.GoName, "the primary key must be a plain string or integer")
	}
	if s.Key.Kind == driver.KindInt && !s.Key.is64() {
		return nil, p.errorf(s.Key.GoName, "an integer primary key must be int64 (or int): generated IDs take 63 bits")
	}
	key = s.Key.Name
	for _, a := range s.Assocs {
		if a.Kind == BelongsTo {
			f := s.byName[a.ForeignKey]
			if f == nil {
				return nil, p.errorf(a.Name, "belongs_to=%s: no such field in %s", a.ForeignKey, p.t)
			}
			if !p.indexed(f.Name) {
				p.addIndex(f.Name, "", false)
			}
		}
	}
	fields := make([]driver.Field, len(p.fields))
	for i, f := range p.fields {
		fields[i] = driver.Field{Name: f.Name, Kind: f.Kind, Bits: f.bits, Unsigned: f.unsigned, Nullable: f.Nullable, Merge: f.Merge, Size: f.Size}
	}
	c, err := driver.NewCollection(p.table, fields, key, version, p.indexes, p.cons)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", p.t, err)
	}
	s.Collection, s.Fields = c, p.fields
	s.uniques = map[string]string{driver.PrimaryKeyConstraint: s.Key.Name}
	for _, ix := range c.Indexes {
		if ix.Unique {
			s.uniques[ix.Name] = ix.Fields[0]
		}
	}
	for _, f := range s.Fields {
		f.Indexed = c.Indexed(f.Name)
	}
	return s, nil
}

// indexed reports whether an index collected so far starts with field (or
// field is the key).
func (p *parser) indexed(field string) bool {
	if p.s.Key != nil && p.s.Key.Name == field {
		return true
	}
	for _, ix := range p.indexes {
		if ix.Fields[0] == field {
			return true
		}
	}
	return false
}

// snake converts a Go identifier to snake_case: "UserID" → "user_id",
// "HTTPServer" → "http_server".
func snake(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		if unicode.IsUpper(c) {
			if i > 0 && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]) ||
				(i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
