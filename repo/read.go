package repo

import (
	"context"
	"fmt"
	"iter"
	"reflect"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// Get loads the record with primary key key into dst, a pointer to a
// schema struct. The key may be any Go value of the key's kind (an int of
// any size for an int key). A missing record is ErrNotFound.
func (r *Repo) Get(ctx context.Context, dst any, key any) (err error) {
	s, v, err := target("get", dst)
	ctx, obs := r.begin(ctx, "get", nameOf(s))
	defer obs.end(nil, &err)
	if err != nil {
		return err
	}
	k, err := s.Key.Canonical(key)
	if err == nil {
		k, err = checkKey(s, k)
	}
	if err != nil {
		return wrap("get", s.Name(), err)
	}
	rec, err := r.st.Get(ctx, s.Collection, k)
	if err != nil {
		return wrap("get", s.Name(), err)
	}
	v.SetZero()
	return wrap("get", s.Name(), s.Decode(v, rec))
}

// Reload loads the stored state of the record v points to (found by its
// primary key) into v.
func (r *Repo) Reload(ctx context.Context, v any) error {
	s, sv, err := target("reload", v)
	if err != nil {
		return err
	}
	k, err := keyOf(s, sv)
	if err != nil {
		return wrap("reload", s.Name(), err)
	}
	return r.Get(ctx, v, k)
}

// One loads the first record q selects into dst. None is ErrNotFound.
func (r *Repo) One(ctx context.Context, dst any, q Query) error {
	return r.first(ctx, "one", dst, q.Limit(1), false)
}

// GetBy loads the only record q selects into dst. None is ErrNotFound;
// more than one is ErrMultipleResults.
func (r *Repo) GetBy(ctx context.Context, dst any, q Query) error {
	return r.first(ctx, "get_by", dst, q.Limit(2), true)
}

func (r *Repo) first(ctx context.Context, op string, dst any, q Query, only bool) (err error) {
	s, v, err := target(op, dst)
	n := 0
	ctx, obs := r.begin(ctx, "query", nameOf(s))
	defer obs.end(&n, &err)
	if err != nil {
		return err
	}
	dq, err := compile(s, r.capsOf(s.Collection), q, false)
	if err != nil {
		return wrap(op, s.Name(), err)
	}
	var found driver.Record
	for rec, err := range r.st.Query(ctx, s.Collection, dq) {
		if err != nil {
			return wrap(op, s.Name(), err)
		}
		n++
		if n == 1 {
			found = rec
			if !only {
				break
			}
		}
	}
	switch {
	case n == 0:
		return wrap(op, s.Name(), ErrNotFound)
	case n > 1:
		return wrap(op, s.Name(), ErrMultipleResults)
	}
	v.SetZero()
	return wrap(op, s.Name(), s.Decode(v, q.selectOnly(s, found)))
}

// All returns every record of schema T that q selects.
func All[T any](ctx context.Context, r *Repo, q Query) ([]T, error) {
	var out []T
	for v, err := range Stream[T](ctx, r, q) {
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// Stream returns the records of schema T that q selects as an iterator,
// one at a time, for results too large to hold: memory stays bounded by
// what the adapter buffers. The sequence ends after the first error.
// Breaking out of the loop releases the query. Inside a transaction the
// loop body must not use the transaction's Repo (SQL stores stream rows
// over the transaction's one connection): collect first, or use All.
func Stream[T any](ctx context.Context, r *Repo, q Query) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		s, err := structOf[T]()
		n := 0
		ctx, obs := r.begin(ctx, "query", nameOf(s))
		defer obs.end(&n, &err)
		if err != nil {
			err = fmt.Errorf("strata: query: %w", err)
			yield(nil, err)
			return
		}
		dq, err := compile(s, r.capsOf(s.Collection), q, false)
		if err != nil {
			err = wrap("query", s.Name(), err)
			yield(nil, err)
			return
		}
		for rec, qerr := range r.st.Query(ctx, s.Collection, dq) {
			if qerr != nil {
				err = wrap("query", s.Name(), qerr)
				yield(nil, err)
				return
			}
			v := new(T)
			if derr := s.Decode(reflect.ValueOf(v).Elem(), q.selectOnly(s, rec)); derr != nil {
				err = wrap("query", s.Name(), derr)
				yield(nil, err)
				return
			}
			n++
			if !yield(v, nil) {
				return
			}
		}
	}
}

// Page is one page of a cursor-paged query.
type Page[T any] struct {
	Items []T
	// Next is the cursor of the next page (pass it to Query.After), or ""
	// if this is the last page.
	Next string
}

// Paginate returns the page of at most q's Limit records of schema T
// that follow q's cursor (the first page without one). The order is q's
// with the primary key appended, so it is total: paging never repeats or
// skips a record that existed when paging began, whatever is inserted
// meanwhile. A Limit is required.
func Paginate[T any](ctx context.Context, r *Repo, q Query) (p Page[T], err error) {
	s, err := structOf[T]()
	n := 0
	ctx, obs := r.begin(ctx, "query", nameOf(s))
	defer obs.end(&n, &err)
	if err != nil {
		return p, fmt.Errorf("strata: paginate: %w", err)
	}
	if q.limit <= 0 {
		return p, wrap("paginate", s.Name(), fmt.Errorf("%w: Paginate needs Limit(page size)", ErrInvalid))
	}
	if q.offset != 0 {
		return p, wrap("paginate", s.Name(), fmt.Errorf("%w: Paginate pages by cursor; an Offset would apply to every page", ErrInvalid))
	}
	size := q.limit
	dq, err := compile(s, r.capsOf(s.Collection), q.Limit(size+1), true)
	if err != nil {
		return p, wrap("paginate", s.Name(), err)
	}
	var last driver.Record
	for rec, qerr := range r.st.Query(ctx, s.Collection, dq) {
		if qerr != nil {
			return Page[T]{}, wrap("paginate", s.Name(), qerr)
		}
		if n == size {
			p.Next = encodeCursor(s, dq, last)
			break
		}
		var v T
		if derr := s.Decode(reflect.ValueOf(&v).Elem(), q.selectOnly(s, rec)); derr != nil {
			return Page[T]{}, wrap("paginate", s.Name(), derr)
		}
		p.Items = append(p.Items, v)
		last = rec
		n++
	}
	return p, nil
}

// Count returns how many records of schema T q selects.
func Count[T any](ctx context.Context, r *Repo, q Query) (n int64, err error) {
	s, err := schema.Of[T]()
	ctx, obs := r.begin(ctx, "count", nameOf(s))
	defer obs.end(nil, &err)
	if err != nil {
		return 0, fmt.Errorf("strata: count: %w", err)
	}
	dq, err := compile(s, r.capsOf(s.Collection), q, false)
	if err != nil {
		return 0, wrap("count", s.Name(), err)
	}
	if q.orderBy == nil {
		// How many records a limit leaves does not depend on which: spare
		// the store the sort compile adds for determinism (Exists too).
		dq.Order = nil
	}
	n, err = r.st.Count(ctx, s.Collection, dq)
	return n, wrap("count", s.Name(), err)
}

// Exists reports whether q selects any record of schema T.
func Exists[T any](ctx context.Context, r *Repo, q Query) (bool, error) {
	n, err := Count[T](ctx, r, q.Limit(1))
	return n > 0, err
}

// AggFunc is an aggregate function.
type AggFunc = driver.AggFunc

// The aggregate functions, which ignore NULLs. Sum returns int64 for
// integer fields and float64 for floats (0 when nothing matches); Avg
// returns float64; Min and Max work on integers, floats, strings and times
// and return a value of the field's canonical type (int64, float64,
// string, time.Time). Avg, Min and Max return nil when nothing matches.
const (
	Sum = driver.AggSum
	Avg = driver.AggAvg
	Min = driver.AggMin
	Max = driver.AggMax
)

// Aggregate computes fn over field of the records of schema T that q
// selects. It needs CapAggregates.
func Aggregate[T any](ctx context.Context, r *Repo, q Query, fn AggFunc, field string) (res any, err error) {
	s, err := schema.Of[T]()
	ctx, obs := r.begin(ctx, "aggregate", nameOf(s))
	defer obs.end(nil, &err)
	if err != nil {
		return nil, fmt.Errorf("strata: aggregate: %w", err)
	}
	ag, ok := r.st.(driver.Aggregator)
	if !ok || !r.capsOf(s.Collection).Has(driver.CapAggregates) {
		return nil, wrap("aggregate", s.Name(), fmt.Errorf("%w: this store has no aggregates; read the records and compute it", ErrUnsupported))
	}
	f, err := s.LookupField(field)
	if err != nil {
		return nil, wrap("aggregate", s.Name(), err)
	}
	switch {
	case (fn == Sum || fn == Avg) && f.Kind != driver.KindInt && f.Kind != driver.KindFloat:
		err = fmt.Errorf("%w: %s of %s, which is not a number", ErrInvalid, fn, f)
	case !f.Kind.Scalar() || f.Kind == driver.KindBool:
		err = fmt.Errorf("%w: %s of %s, a %s field", ErrInvalid, fn, f, f.Kind)
	case fn < Sum || fn > Max:
		err = fmt.Errorf("%w: unknown aggregate %v", ErrInvalid, fn)
	}
	if err != nil {
		return nil, wrap("aggregate", s.Name(), err)
	}
	dq, err := compile(s, r.capsOf(s.Collection), q, false)
	if err != nil {
		return nil, wrap("aggregate", s.Name(), err)
	}
	res, err = ag.Aggregate(ctx, s.Collection, dq, fn, f.Pos)
	return res, wrap("aggregate", s.Name(), err)
}

// structOf returns the schema of T for the reads that decode into a T,
// which must be the struct type itself (not a pointer to it).
func structOf[T any]() (*schema.Schema, error) {
	if t := reflect.TypeFor[T](); t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: the type parameter must be a schema struct type, not %s", ErrInvalid, t)
	}
	return schema.Of[T]()
}
