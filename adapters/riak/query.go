package riak

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"

	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/repo/driver"
)

// plan is how a query is read: an inclusive range of the terms of one 2i
// index, a page at a time, or a list of keys.
type plan struct {
	index    string // a 2i index, "$key" for the keys
	min, max []byte
	keys     [][]byte // instead of an index: these keys (an Eq or In on the key)
	native   bool     // the index's order is the query's order
	score    int

	// ix, for a secondary index, with desc for its descending entries:
	// a record is emitted only where its current values put it (an object
	// with siblings has the entries of each).
	ix   *driver.Index
	desc bool
}

// term returns the 2i term of the record with values vals in p's index.
func (p plan) term(c *driver.Collection, vals []any) []byte {
	var t []byte
	for _, name := range p.ix.Fields {
		t = valuecodec.AppendComponent(t, vals[c.FieldIndex(name)])
	}
	if p.desc {
		return complement(append(t, keyOf(vals[c.Key])...))
	}
	return t
}

// planQuery chooses how to read q: by its keys if it names them, else by
// the index whose leading fields it binds best; every filter is checked
// again on the records read.
func planQuery(c *driver.Collection, q *driver.Query) plan {
	for _, f := range q.Filters {
		if f.Field != c.Key || (f.Op != driver.Eq && f.Op != driver.In) {
			continue
		}
		vals := []any{f.Value}
		if f.Op == driver.In {
			vals, _ = f.Value.([]any)
		}
		p := plan{score: 1 << 20}
		for _, v := range vals {
			if v != nil {
				p.keys = append(p.keys, keyOf(v))
			}
		}
		slices.SortFunc(p.keys, bytes.Compare)
		p.keys = slices.CompactFunc(p.keys, bytes.Equal)
		desc := len(q.Order) > 0 && q.Order[0].Desc
		if desc {
			slices.Reverse(p.keys)
		}
		p.native = len(q.Order) == 0 || (len(q.Order) == 1 && q.Order[0].Field == c.Key)
		return p
	}
	best := keyPlan(c, q)
	for _, ix := range c.Indexes {
		if p := indexPlan(c, q, ix); p.score > best.score || (p.score == best.score && p.native && !best.native) {
			best = p
		}
	}
	return best
}

// everything is the range of every term and key (none starts with 0xff).
var everything = [2][]byte{{0x00}, {0xff}}

func keyPlan(c *driver.Collection, q *driver.Query) plan {
	p := plan{index: "$key", min: everything[0], max: everything[1]}
	desc := len(q.Order) > 0 && q.Order[0].Desc
	p.native = len(q.Order) == 0 || (len(q.Order) == 1 && q.Order[0].Field == c.Key)
	if p.native && desc {
		p.index = keyDescIndex
		if len(q.After) == 1 {
			p.min = complement(keyOf(q.After[0]))
		}
		return p
	}
	for _, f := range q.Filters {
		if f.Field == c.Key && f.Value != nil {
			lo, hi := bounds(f)
			p.min, p.max = maxBytes(p.min, lo), minBytes(p.max, hi)
			p.score = 1
		}
	}
	if p.native && len(q.After) == 1 {
		p.min = maxBytes(p.min, keyOf(q.After[0]))
	}
	return p
}

// bounds returns an inclusive range of components that holds every value
// f selects (a superset: the filter is checked again).
func bounds(f driver.Filter) ([]byte, []byte) {
	comp := valuecodec.AppendComponent(nil, f.Value)
	tag := []byte{comp[0]}
	switch f.Op {
	case driver.Eq:
		return comp, comp
	case driver.Gt, driver.Gte:
		return comp, valuecodec.Successor(tag)
	case driver.Lt:
		return tag, comp
	case driver.Lte:
		// The terms of a composite index continue past the component.
		return tag, valuecodec.Successor(comp)
	case driver.Prefix:
		p := comp[:len(comp)-1] // without the string's terminator
		return p, valuecodec.Successor(p)
	}
	return everything[0], everything[1]
}

func indexPlan(c *driver.Collection, q *driver.Query, ix driver.Index) plan {
	p := plan{index: ascIndex(ix.Name), min: everything[0], max: everything[1], ix: &ix}
	var prefix []byte
	bound := 0
	constant := map[int]bool{}
	for _, name := range ix.Fields {
		fi := c.FieldIndex(name)
		eq := slices.IndexFunc(q.Filters, func(f driver.Filter) bool {
			return f.Field == fi && (f.Op == driver.Eq || (f.Op == driver.In && len(f.Value.([]any)) == 1))
		})
		if eq < 0 {
			break
		}
		v := q.Filters[eq].Value
		if q.Filters[eq].Op == driver.In {
			v = q.Filters[eq].Value.([]any)[0]
		}
		prefix = valuecodec.AppendComponent(prefix, v)
		constant[fi] = true
		bound++
		p.score += 2
	}
	if bound > 0 {
		p.min, p.max = prefix, valuecodec.Successor(prefix)
	}
	if bound < len(ix.Fields) {
		fi := c.FieldIndex(ix.Fields[bound])
		for _, f := range q.Filters {
			if f.Field == fi && f.Value != nil && f.Op != driver.Ne && f.Op != driver.In {
				lo, hi := bounds(f)
				p.min = maxBytes(p.min, append(slices.Clone(prefix), lo...))
				p.max = minBytes(p.max, append(slices.Clone(prefix), hi...))
				p.score++
			}
		}
	}
	// The order: the index's fields (less those fixed by Eq), then the key.
	var have []int
	for _, name := range ix.Fields {
		if fi := c.FieldIndex(name); !constant[fi] {
			have = append(have, fi)
		}
	}
	have = append(have, c.Key)
	var want []driver.Order
	for _, o := range q.Order {
		if !constant[o.Field] {
			want = append(want, o)
		}
	}
	p.native = len(want) <= len(have)
	for i, o := range want {
		p.native = p.native && o.Field == have[i] && o.Desc == want[0].Desc
	}
	if p.native && len(q.After) == len(q.Order) && (len(want) == 0 || !want[0].Desc) {
		// Ascending: the range starts at the cursor's fields (the records
		// with equal fields and a key not after the cursor's are dropped
		// by the cursor check).
		if m := cursorTerm(c, q, ix); m != nil {
			p.min = maxBytes(p.min, fieldsPart(m, len(ix.Fields)))
		}
	}
	if p.native && len(want) > 0 && want[0].Desc {
		// The descending index holds ~(fields, key): its range for the
		// fixed prefix, starting just at the cursor if there is one.
		p.index, p.desc = descIndex(ix.Name), true
		np := complement(slices.Clone(prefix))
		p.min, p.max = np, valuecodec.Successor(np)
		if len(prefix) == 0 {
			p.min, p.max = everything[0], everything[1]
		}
		if len(q.After) == len(q.Order) && len(want) == len(have) {
			if m := cursorTerm(c, q, ix); m != nil {
				p.min = maxBytes(p.min, complement(m))
			}
		}
	}
	return p
}

// fieldsPart returns the first n components of m.
func fieldsPart(m []byte, n int) []byte {
	end := 0
	for range n {
		if end = valuecodec.ComponentEnd(m, end); end < 0 {
			return nil
		}
	}
	return m[:end]
}

// cursorTerm returns the encoded (fields…, key) of the keyset cursor, or
// nil.
func cursorTerm(c *driver.Collection, q *driver.Query, ix driver.Index) []byte {
	var m []byte
	for _, name := range append(slices.Clone(ix.Fields), c.Fields[c.Key].Name) {
		field := c.FieldIndex(name)
		eq := slices.IndexFunc(q.Filters, func(f driver.Filter) bool { return f.Field == field && f.Op == driver.Eq })
		i := slices.IndexFunc(q.Order, func(o driver.Order) bool { return o.Field == field })
		var v any
		switch {
		case eq >= 0:
			// A field fixed by the filter: a cursor that disagrees with
			// it (a record changed since its page) gives no bound; the
			// cursor is checked on every record anyway.
			v = q.Filters[eq].Value
			if i >= 0 && driver.Compare(q.After[i], v) != 0 {
				return nil
			}
		case i >= 0:
			v = q.After[i]
		default:
			return nil
		}
		m = valuecodec.AppendComponent(m, v)
	}
	return m
}

func maxBytes(a, b []byte) []byte {
	if bytes.Compare(a, b) >= 0 {
		return a
	}
	return b
}

func minBytes(a, b []byte) []byte {
	if b == nil || bytes.Compare(a, b) <= 0 {
		return a
	}
	return b
}

// pageSize is how many keys one 2i page asks for.
const pageSize = 128

// scan calls fn with the records q selects, in q.Order, after the
// filters, the cursor, the offset and the limit, until fn returns false.
func (a *Adapter) scan(ctx context.Context, c *driver.Collection, q *driver.Query, fn func(driver.Record) bool) error {
	if err := a.check(); err != nil {
		return err
	}
	if q == nil {
		q = &driver.Query{}
	}
	if err := driver.CheckQuery(c, q); err != nil {
		return fmt.Errorf("riak: query %s: %w", c.Name, err)
	}
	col := a.collectionOf(c)
	p := planQuery(c, q)
	if col.isMap && p.ix != nil {
		// Riak's data types have no secondary indexes.
		if !q.FullScan {
			return fmt.Errorf("%w: riak: %s is stored as Riak maps, which have no secondary indexes: query it by key, or call FullScan()", driver.ErrUnsupported, c.Name)
		}
		p = keyPlan(c, q)
	}
	match := func(vals []any) bool {
		for _, f := range q.Filters {
			if !f.Match(vals[f.Field]) {
				return false
			}
		}
		return q.After == nil || q.AfterCursor(vals)
	}
	skip, n := q.Offset, 0
	emit := func(vals []any) bool {
		if skip > 0 {
			skip--
			return true
		}
		if !fn(driver.Record{Values: vals}) {
			return false
		}
		n++
		return q.Limit == 0 || n < q.Limit
	}
	var sorted [][]any
	seen := map[string]bool{}
	each := func(vals []any) bool {
		if !match(vals) {
			return true
		}
		if !p.native {
			sorted = append(sorted, vals)
			return true
		}
		return emit(vals)
	}
	first := 0 // the size of the first page: no more than a limit needs
	if p.native && q.Limit > 0 {
		first = q.Offset + q.Limit
	}
	if err := a.read(ctx, col, p, first, seen, each); err != nil {
		return err
	}
	if !p.native {
		slices.SortStableFunc(sorted, func(x, y []any) int {
			for _, o := range q.Order {
				n := driver.Compare(x[o.Field], y[o.Field])
				if o.Desc {
					n = -n
				}
				if n != 0 {
					return n
				}
			}
			return 0
		})
		for _, vals := range sorted {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !emit(vals) {
				break
			}
		}
	}
	return nil
}

// read calls each with the records of plan p's keys, in its order, each
// key once, until each returns false. first, if not 0, is the size of
// the first page (a query with a limit), the others are pageSize.
func (a *Adapter) read(ctx context.Context, col *collection, p plan, first int, seen map[string]bool, each func([]any) bool) error {
	// deliver fetches keys (listed under terms, if not nil) and calls
	// each with the records, those listed where their values put them
	// (a stale term of a sibling is skipped: the record comes again at
	// its current one), each once.
	deliver := func(keys, terms [][]byte) (bool, error) {
		var fresh [][]byte
		var at []int
		for i, k := range keys {
			if !seen[string(k)] {
				fresh = append(fresh, k)
				at = append(at, i)
			}
		}
		recs, err := a.fetchAll(ctx, col, fresh)
		if err != nil {
			return false, err
		}
		for j, vals := range recs {
			if vals == nil {
				continue // deleted since it was listed
			}
			if terms != nil && !bytes.Equal(p.term(col.Collection, vals), terms[at[j]]) {
				continue
			}
			if seen[string(fresh[j])] {
				continue
			}
			seen[string(fresh[j])] = true
			if err := ctx.Err(); err != nil {
				return false, err
			}
			if !each(vals) {
				return false, nil
			}
		}
		return true, nil
	}
	if p.index == "" {
		_, err := deliver(p.keys, nil)
		return err
	}
	var cont []byte
	size := pageSize
	if first > 0 && first < pageSize {
		size = first
	}
	for {
		req := &riak_kv.RpbIndexReq{
			Bucket: col.bucket, Type: col.typ, Index: []byte(p.index),
			Qtype:    riak_kv.RpbIndexReq_range.Enum(),
			RangeMin: p.min, RangeMax: p.max,
			MaxResults: proto.Uint32(uint32(size)), Continuation: cont,
			ReturnTerms: proto.Bool(p.ix != nil),
		}
		size = pageSize
		resp, err := a.c.Index(ctx, req)
		if err != nil {
			return fmt.Errorf("riak: query %s: %w", col.Name, err)
		}
		keys, terms := resp.GetKeys(), [][]byte(nil)
		if p.ix != nil {
			for _, r := range resp.GetResults() {
				terms = append(terms, r.GetKey())
				keys = append(keys, r.GetValue())
			}
		}
		more, err := deliver(keys, terms)
		if err != nil || !more {
			return err
		}
		if cont = resp.GetContinuation(); len(cont) == 0 {
			return nil
		}
	}
}

// fetchAll fetches the records at keys, Options.Fetchers at a time; a
// record not found is nil.
func (a *Adapter) fetchAll(ctx context.Context, col *collection, keys [][]byte) ([][]any, error) {
	out := make([][]any, len(keys))
	errs := make([]error, len(keys))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(a.opts.Fetchers, len(keys)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(keys) {
					return
				}
				out[i], errs[i] = a.load(ctx, col, keys[i])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("riak: query %s: %w", col.Name, err)
		}
	}
	return out, nil
}

// Query reads the records q selects through a 2i index (see planQuery).
func (a *Adapter) Query(ctx context.Context, c *driver.Collection, q *driver.Query) iter.Seq2[driver.Record, error] {
	return func(yield func(driver.Record, error) bool) {
		stopped := false
		err := a.scan(ctx, c, q, func(r driver.Record) bool {
			stopped = !yield(r, nil)
			return !stopped
		})
		if err != nil && !stopped {
			yield(driver.Record{}, err)
		}
	}
}

// Count counts the records q selects, by reading them.
func (a *Adapter) Count(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	var n int64
	err := a.scan(ctx, c, q, func(driver.Record) bool { n++; return true })
	return n, err
}

// DeleteAll deletes the records the filters select, one by one.
func (a *Adapter) DeleteAll(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	var keys []any
	if err := a.scan(ctx, c, q, func(r driver.Record) bool { keys = append(keys, r.Key(c)); return true }); err != nil {
		return 0, err
	}
	var n int64
	for _, k := range keys {
		err := a.Delete(ctx, c, driver.Delete{Key: k})
		switch {
		case err == nil:
			n++
		case !isNotFound(err):
			return n, err
		}
	}
	return n, nil
}

// Aggregate folds field over the records q selects.
func (a *Adapter) Aggregate(ctx context.Context, c *driver.Collection, q *driver.Query, fn driver.AggFunc, field int) (any, error) {
	if err := driver.CheckField(c, field, true); err != nil {
		return nil, fmt.Errorf("riak: aggregate %s: %w", c.Name, err)
	}
	var vals []any
	err := a.scan(ctx, c, q, func(r driver.Record) bool {
		if v := r.Values[field]; v != nil {
			vals = append(vals, v)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return driver.AggregateValues(fn, c.Fields[field], vals)
}
