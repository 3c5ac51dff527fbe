package redis

import (
	"bytes"
	"math"
	"slices"

	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/repo/driver"
)

// A plan reads a query from one index: some ranges of its members, in
// every shard (or, for primary keys, in the key's shard), merged in
// member order. The filters are checked again on every record read, so a
// plan need only select a superset of the answer.
type plan struct {
	suffix  string // the index's key suffix: ":k" or ":i:"+name
	nfields int    // components before the primary key in its members
	fields  []int  // the fields whose components make a member (the key last)
	ranges  []lexRange
	// native: reading the members in order (descending if desc) gives
	// q.Order, so that no sort is needed and a limit stops the read.
	native bool
	desc   bool
	// exact: the ranges select exactly the records the filters do (a
	// count is then ZLEXCOUNT).
	exact bool
	score int
}

// lexRange is the members m with lo <= m < hi (hi nil: no bound); shard,
// when not "", is the one shard that can hold them (a primary key's).
type lexRange struct {
	lo, hi []byte
	pk     string
}

// maxRanges bounds the ranges a plan multiplies out of In filters.
const maxRanges = 1024

// planQuery chooses the index to read q from: the one whose leading
// fields the filters bind most (equality and In count more than a range),
// preferring, between equals, one whose order is q.Order.
func planQuery(col *collection, q *driver.Query) plan {
	best := candidate(col, q, ":k", []int{col.Key})
	for _, ix := range col.indexes {
		p := candidate(col, q, ":i:"+ix.name, append(slices.Clip(ix.fields), col.Key))
		if p.score > best.score || (p.score == best.score && p.native && !best.native) {
			best = p
		}
	}
	return best
}

type prefix struct {
	b  []byte
	pk string // the key's component, once bound
}

func candidate(col *collection, q *driver.Query, suffix string, fields []int) plan {
	p := plan{suffix: suffix, nfields: len(fields) - 1, fields: fields}
	consumed := make([]bool, len(q.Filters))
	constant := map[int]any{}
	prefixes := []prefix{{}}
	var lo, hi []byte
	empty := false
bind:
	for depth, fpos := range fields {
		if i, vals, ok := pointFilter(q.Filters, fpos); ok {
			if len(prefixes)*len(vals) > maxRanges {
				break
			}
			consumed[i] = true
			p.score += 2
			if len(vals) == 1 {
				constant[fpos] = vals[0]
			}
			next := make([]prefix, 0, len(prefixes)*len(vals))
			for _, pre := range prefixes {
				for _, v := range vals {
					comp := valuecodec.AppendComponent(nil, v)
					n := prefix{b: append(slices.Clip(pre.b), comp...), pk: pre.pk}
					if depth == len(fields)-1 {
						n.pk = string(comp)
					}
					next = append(next, n)
				}
			}
			prefixes = next
			continue
		}
		kind := col.Fields[fpos].Kind
		for i, f := range q.Filters {
			if f.Field != fpos || !isRangeOp(f.Op) {
				continue
			}
			consumed[i] = true
			if f.Value == nil {
				empty = true
				continue
			}
			l, h := valueRange(kind, f)
			if bytes.Compare(l, lo) > 0 {
				lo = l
			}
			if h != nil && (hi == nil || bytes.Compare(h, hi) < 0) {
				hi = h
			}
		}
		if lo != nil || hi != nil {
			p.score++
		}
		if empty {
			p.score = math.MaxInt32 // nothing can match: no plan reads less
		}
		break bind
	}
	p.exact = !slices.Contains(consumed, false)
	if !empty {
		for _, pre := range prefixes {
			r := lexRange{lo: append(slices.Clip(pre.b), lo...), pk: pre.pk}
			if hi != nil {
				r.hi = append(slices.Clip(pre.b), hi...)
			} else {
				r.hi = valuecodec.Successor(pre.b)
			}
			if r.hi == nil || bytes.Compare(r.lo, r.hi) < 0 {
				p.ranges = append(p.ranges, r)
			}
		}
	}
	p.order(q, constant)
	return p
}

// pointFilter returns the first Eq or In filter on field, with its
// distinct values (an Eq of nil is a point too: the NULLs).
func pointFilter(filters []driver.Filter, field int) (int, []any, bool) {
	for i, f := range filters {
		if f.Field != field {
			continue
		}
		switch f.Op {
		case driver.Eq:
			return i, []any{f.Value}, true
		case driver.In:
			list, _ := f.Value.([]any)
			var vals []any
			for _, v := range list {
				if v != nil && !slices.ContainsFunc(vals, func(x any) bool { return driver.Compare(x, v) == 0 }) {
					vals = append(vals, v)
				}
			}
			slices.SortFunc(vals, driver.Compare)
			return i, vals, true
		}
	}
	return 0, nil, false
}

func isRangeOp(op driver.Op) bool {
	switch op {
	case driver.Lt, driver.Lte, driver.Gt, driver.Gte, driver.Prefix:
		return true
	}
	return false
}

// valueRange returns the components c with lo <= c < hi (hi nil: no
// bound) of the values of a field of kind k that f selects (not NULL).
func valueRange(k driver.Kind, f driver.Filter) (lo, hi []byte) {
	tag := []byte{valuecodec.KindTag(k)}
	comp := valuecodec.AppendComponent(nil, f.Value)
	switch f.Op {
	case driver.Gt:
		return valuecodec.Successor(comp), nil
	case driver.Gte:
		return comp, nil
	case driver.Lt:
		return tag, comp
	case driver.Lte:
		return tag, valuecodec.Successor(comp)
	case driver.Prefix:
		s, _ := f.Value.(string)
		p := append([]byte{valuecodec.TagString}, s...)
		return p, valuecodec.Successor(p)
	}
	return nil, nil
}

// order decides whether the plan reads in q.Order (fields bound to one
// value are constant, so they may be skipped on both sides), and if so,
// turns a keyset cursor into a bound of every range.
func (p *plan) order(q *driver.Query, constant map[int]any) {
	var want []driver.Order
	for _, o := range q.Order {
		if _, ok := constant[o.Field]; !ok {
			want = append(want, o)
		}
	}
	var have []int
	for _, f := range p.fields {
		if _, ok := constant[f]; !ok {
			have = append(have, f)
		}
	}
	if len(want) > len(have) {
		return
	}
	for i, o := range want {
		if o.Field != have[i] || o.Desc != want[0].Desc {
			return
		}
	}
	p.native = true
	if len(want) > 0 {
		p.desc = want[0].Desc
	}
	// A cursor over every field of the members is a member: the ranges
	// can start (or end, descending) just past it.
	if q.After == nil || len(q.After) != len(q.Order) || len(want) != len(have) {
		return
	}
	var m []byte
	for _, f := range p.fields {
		i := slices.IndexFunc(q.Order, func(o driver.Order) bool { return o.Field == f })
		v, ok := constant[f]
		switch {
		case !ok:
			v = q.After[i]
		case i >= 0 && driver.Compare(q.After[i], v) != 0:
			return // a cursor from outside the filters: leave it to AfterCursor
		}
		if v != nil && valuecodec.KindTag(kindOfValue(v)) == 0 {
			return
		}
		m = valuecodec.AppendComponent(m, v)
	}
	ranges := p.ranges[:0]
	for _, r := range p.ranges {
		if p.desc {
			if r.hi == nil || bytes.Compare(m, r.hi) < 0 {
				r.hi = m
			}
		} else if past := append(slices.Clip(m), 0); bytes.Compare(past, r.lo) > 0 {
			r.lo = past
		}
		if r.hi == nil || bytes.Compare(r.lo, r.hi) < 0 {
			ranges = append(ranges, r)
		}
	}
	p.ranges = ranges
}

// kindOfValue returns the kind of a canonical scalar value.
func kindOfValue(v any) driver.Kind {
	switch v.(type) {
	case string:
		return driver.KindString
	case int64:
		return driver.KindInt
	case float64:
		return driver.KindFloat
	case bool:
		return driver.KindBool
	}
	if _, ok := v.(interface{ UnixMicro() int64 }); ok {
		return driver.KindTime
	}
	return 0
}
