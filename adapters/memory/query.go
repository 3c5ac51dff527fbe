package memory

import (
	"context"
	"iter"
	"slices"

	"github.com/strata-go/strata/repo/driver"
)

// hit is a record a query selected.
type hit struct {
	k rowKey
	r *row
	// vals are r's values in the order of the collection's fields, shared
	// with the store.
	vals []any
}

// selectRows returns the records of v that q selects, in order: those
// matching every filter, sorted by q.Order (then by primary key), those not
// after q.After dropped, q.Offset skipped, at most q.Limit kept.
func selectRows(ctx context.Context, v view, c *driver.Collection, q *driver.Query) ([]hit, error) {
	if err := checkQuery(c, q); err != nil {
		return nil, err
	}
	var hits []hit
	err := v.scan(ctx, func(k rowKey, r *row) {
		for _, f := range q.Filters {
			if !f.Match(fieldValue(r.vals, c.Fields[f.Field])) {
				return
			}
		}
		vals := materialize(c, r.vals)
		if q.After != nil && !q.AfterCursor(vals) {
			return
		}
		hits = append(hits, hit{k: k, r: r, vals: vals})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(hits, func(x, y hit) int {
		for _, o := range q.Order {
			n := driver.Compare(x.vals[o.Field], y.vals[o.Field])
			if o.Desc {
				n = -n
			}
			if n != 0 {
				return n
			}
		}
		return compareKeys(x.k, y.k)
	})
	hits = hits[min(q.Offset, len(hits)):]
	if q.Limit > 0 && q.Limit < len(hits) {
		hits = hits[:q.Limit]
	}
	return hits, nil
}

// orZero returns q, or the zero Query (which selects every record) for nil.
func orZero(q *driver.Query) *driver.Query {
	if q == nil {
		return &driver.Query{}
	}
	return q
}

// Query returns copies of the records q selects (a nil q selects all),
// sorted by q.Order and then by primary key. The records are selected when
// the loop starts, and yielded afterwards without holding any lock, so the
// loop body may write to the store — but not to the same transaction, which
// refuses every call but Rollback until the loop ends, as SQL stores must
// (a transaction's one connection is busy while rows stream). Fields that q.Fields does not list
// (other than the primary key) are nil. The sequence ends at its first
// error, which wraps ctx.Err() if ctx is done during the loop.
func (s store) Query(ctx context.Context, c *driver.Collection, q *driver.Query) iter.Seq2[driver.Record, error] {
	q = orZero(q)
	return func(yield func(driver.Record, error) bool) {
		var hits []hit
		err := s.r.read(ctx, "query", c, nil, func(v view) error {
			var err error
			hits, err = selectRows(ctx, v, c, q)
			for _, h := range hits {
				v.observe(h.k, h.r)
			}
			return err
		})
		if err != nil {
			yield(driver.Record{}, err)
			return
		}
		var want []bool
		if q.Fields != nil {
			want = make([]bool, len(c.Fields))
			want[c.Key] = true
			for _, i := range q.Fields {
				want[i] = true
			}
		}
		defer s.r.stream()()
		for _, h := range hits {
			if err := ctx.Err(); err != nil {
				yield(driver.Record{}, wrap("query", c, nil, err))
				return
			}
			if !yield(record(h.vals, want), nil) {
				return
			}
		}
	}
}

// Count returns how many records q selects (a nil q selects all); q.Offset
// and q.Limit apply.
func (s store) Count(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	var n int64
	err := s.r.read(ctx, "count", c, nil, func(v view) error {
		hits, err := selectRows(ctx, v, c, orZero(q))
		n = int64(len(hits))
		return err
	})
	return n, err
}

// DeleteAll deletes exactly the records that Query would return for q (a
// nil q selects all) and returns how many it deleted.
func (s store) DeleteAll(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	var n int64
	err := s.r.write(ctx, "delete all", c, nil, func(v view) error {
		hits, err := selectRows(ctx, v, c, orZero(q))
		if err != nil {
			return err
		}
		for _, h := range hits {
			v.put(h.k, nil)
		}
		n = int64(len(hits))
		return nil
	})
	return n, err
}
