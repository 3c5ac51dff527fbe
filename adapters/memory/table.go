package memory

import (
	"context"

	"github.com/strata-go/strata/repo/driver"
)

// view is the set of rows of one collection that an operation reads and
// writes: a committed table, or an overlay of buffered writes on top of
// another view (a transaction's, or an atomic batch's).
type view interface {
	// get returns the live row with key k, or nil.
	get(k rowKey) *row
	// put stores vals as the row with key k; nil vals deletes it. The map
	// must not be modified afterwards.
	put(k rowKey, vals map[string]any)
	// scan calls fn for every live row, checking ctx periodically.
	scan(ctx context.Context, fn func(rowKey, *row)) error
	// holders returns the keys of the live rows whose values of unique
	// index ix of c encode to tuple. The slice must not be modified.
	holders(c *driver.Collection, ix driver.Index, tuple string) []rowKey
	// observe records that the caller was handed row r with key k (a
	// transaction uses it to detect write conflicts).
	observe(k rowKey, r *row)
}

// row is one stored record. It is never modified once stored: a write
// stores a new row.
type row struct {
	// vals holds the values by field name.
	vals map[string]any
	// rev is the adapter-wide revision of the write that stored the row
	// in a table; rows in overlays have none (0).
	rev uint64
}

// checkEvery is how many rows a scan visits between checks of its
// context.
const checkEvery = 256

// tick counts a visited row in *n and returns ctx's error every checkEvery
// rows.
func tick(ctx context.Context, n *int) error {
	*n++
	if *n%checkEvery == 0 {
		return ctx.Err()
	}
	return nil
}

// rowSet is a map of rows with lazily built unique-index lookups.
type rowSet struct {
	// rows maps keys to rows; in an overlay a nil row is a deletion.
	rows map[rowKey]*row
	// tombstones is set for overlays, which record deletions.
	tombstones bool
	// idx holds the unique-index lookups built so far, by signature.
	// Every write keeps them current.
	idx map[string]*uniqIndex
}

func newRowSet(rows map[rowKey]*row, tombstones bool) *rowSet {
	if rows == nil {
		rows = make(map[rowKey]*row)
	}
	return &rowSet{rows: rows, tombstones: tombstones, idx: make(map[string]*uniqIndex)}
}

// set makes r the row with key k; nil deletes it (or records its deletion
// in an overlay).
func (s *rowSet) set(k rowKey, r *row) {
	if old := s.rows[k]; old != nil {
		for _, u := range s.idx {
			u.remove(k, old)
		}
	}
	if r == nil && !s.tombstones {
		delete(s.rows, k)
		return
	}
	if r != nil {
		for _, u := range s.idx {
			u.add(k, r)
		}
	}
	s.rows[k] = r
}

// holders returns the keys of the rows whose values of unique index ix of
// c encode to tuple, building the lookup for ix on first use.
func (s *rowSet) holders(c *driver.Collection, ix driver.Index, tuple string) []rowKey {
	sig := signature(ix)
	u := s.idx[sig]
	if u == nil {
		u = newUniqIndex(ix.Name, indexFields(c, ix))
		for k, r := range s.rows {
			if r != nil {
				u.add(k, r)
			}
		}
		s.idx[sig] = u
	}
	return u.keys[tuple]
}

// table is the committed data of one collection.
type table struct {
	*rowSet
	// clock is the adapter's revision counter.
	clock *uint64
}

func newTable(clock *uint64) *table {
	return &table{rowSet: newRowSet(nil, false), clock: clock}
}

func (t *table) get(k rowKey) *row { return t.rows[k] }

func (t *table) put(k rowKey, vals map[string]any) {
	if vals == nil {
		t.set(k, nil)
		return
	}
	*t.clock++
	t.set(k, &row{vals: vals, rev: *t.clock})
}

func (t *table) scan(ctx context.Context, fn func(rowKey, *row)) error {
	n := 0
	for k, r := range t.rows {
		if err := tick(ctx, &n); err != nil {
			return err
		}
		fn(k, r)
	}
	return nil
}

func (t *table) observe(rowKey, *row) {}

// rev returns the revision of the committed row with key k, 0 if there is
// none.
func (t *table) rev(k rowKey) uint64 {
	if r := t.rows[k]; r != nil {
		return r.rev
	}
	return 0
}
