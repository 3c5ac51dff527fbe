package repo

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// Preload loads associations into v: a pointer to a schema struct, or a
// []T, []*T or *[]T of them. Each name is an association of the schema;
// "author.profile" preloads author, then profile on the loaded authors.
// Each association costs one query for all of v, never one per record
// (no N+1). A has_many association is loaded in primary-key order.
//
// The foreign key must be indexed in stores without CapUnindexedFilter: a
// belongs_to foreign key is indexed automatically.
func (r *Repo) Preload(ctx context.Context, v any, assocs ...string) error {
	elems, s, err := structsOf("preload", v)
	if err != nil {
		return err
	}
	// Check every path first, so that a bad one is an error whatever
	// the data (a nested name is otherwise only looked at when there are
	// records to load it for), and before anything is loaded.
	for _, path := range assocs {
		if err := checkPath(s, path); err != nil {
			return wrap("preload", s.Name(), err)
		}
	}
	for _, path := range assocs {
		if err := r.preload(ctx, s, elems, path); err != nil {
			return wrap("preload", s.Name(), err)
		}
	}
	return nil
}

// checkPath checks that every name of a dotted path is an association of
// the schema the previous one leads to.
func checkPath(s *schema.Schema, path string) error {
	for name := range strings.SplitSeq(path, ".") {
		a := s.Assoc(name)
		if a == nil {
			return fmt.Errorf("%w: %s has no association %q (in %q)", ErrInvalid, s.Name(), name, path)
		}
		rel, err := a.Related()
		if err != nil {
			return err
		}
		s = rel
	}
	return nil
}

func (r *Repo) preload(ctx context.Context, s *schema.Schema, owners []reflect.Value, path string) error {
	name, rest, _ := strings.Cut(path, ".")
	a := s.Assoc(name)
	if a == nil {
		return fmt.Errorf("%w: %s has no association %q", ErrInvalid, s.Name(), name)
	}
	rel, err := a.Related()
	if err != nil {
		return err
	}
	// ownKey is the owner field whose values are looked up in the related
	// schema's field relKey.
	var ownKey, relKey *schema.Field
	if a.Kind == schema.BelongsTo {
		ownKey, relKey = s.Field(a.ForeignKey), rel.Key
	} else {
		ownKey, relKey = s.Key, rel.Field(a.ForeignKey)
	}
	keys := make([]any, 0, len(owners))
	seen := map[any]bool{}
	for _, o := range owners {
		k, err := ownKey.Value(o)
		if err != nil {
			return err
		}
		if k != nil && k != ownKey.Zero() && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	loaded, err := r.loadRelated(ctx, rel, relKey, keys)
	if err != nil {
		return err
	}
	// Nested associations first, so that copies made below (for slices of
	// structs) carry them.
	if rest != "" && len(loaded) > 0 {
		if err := r.preload(ctx, rel, loaded, rest); err != nil {
			return err
		}
	}
	byKey := map[any][]reflect.Value{}
	for _, lv := range loaded {
		k, err := relKey.Value(lv)
		if err != nil {
			return err
		}
		byKey[k] = append(byKey[k], lv)
	}
	for _, o := range owners {
		k, err := ownKey.Value(o)
		if err != nil {
			return err
		}
		field := a.Field(o)
		matches := byKey[k]
		if a.Kind == schema.HasMany {
			sl := reflect.MakeSlice(field.Type(), 0, len(matches))
			for _, m := range matches {
				if a.ElemIsPointer() {
					sl = reflect.Append(sl, m.Addr())
				} else {
					sl = reflect.Append(sl, m)
				}
			}
			field.Set(sl)
			continue
		}
		if len(matches) == 0 {
			field.SetZero()
		} else {
			field.Set(matches[0].Addr())
		}
	}
	return nil
}

// loadRelated runs the one query of a preload: the records of rel whose
// field is one of keys, in primary-key order.
func (r *Repo) loadRelated(ctx context.Context, rel *schema.Schema, field *schema.Field, keys []any) (out []reflect.Value, err error) {
	if len(keys) == 0 {
		return nil, nil
	}
	n := 0
	ctx, obs := r.begin(ctx, "query", rel.Name())
	defer obs.end(&n, &err)
	q := &driver.Query{
		Filters: []driver.Filter{{Field: field.Pos, Op: driver.In, Value: keys}},
		Order:   []driver.Order{{Field: rel.Key.Pos}},
	}
	if !field.Indexed && !r.capsOf(rel.Collection).Has(driver.CapUnindexedFilter) {
		return nil, fmt.Errorf("%w: preloading needs an index on %s in this store: tag it `index`", ErrUnsupported, field)
	}
	for rec, qerr := range r.st.Query(ctx, rel.Collection, q) {
		if qerr != nil {
			return nil, qerr
		}
		v := rel.New().Elem()
		if err := rel.Decode(v, rec); err != nil {
			return nil, err
		}
		out = append(out, v)
		n++
	}
	return out, nil
}
