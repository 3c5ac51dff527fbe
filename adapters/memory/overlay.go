package memory

import (
	"context"

	"github.com/strata-go/strata/repo/driver"
)

// overlay is a view that buffers writes on top of a base view: reads see
// the base merged with the buffered writes, and nothing reaches the base
// until flush. A transaction keeps one per collection over the committed
// table; InsertAll uses one to be all-or-nothing.
type overlay struct {
	base view
	own  *rowSet
	// seen, for a transaction, records the revision of each base row when
	// the transaction first saw it (0: it saw no row). Commit compares it
	// with the committed revision of every row the transaction wrote. It is
	// nil for overlays that need no conflict detection.
	seen map[rowKey]uint64
}

// note records the first sight of base row r (nil: absent) with key k.
func (o *overlay) note(k rowKey, r *row) {
	if o.seen == nil {
		return
	}
	if _, ok := o.seen[k]; ok {
		return
	}
	var rev uint64
	if r != nil {
		rev = r.rev
	}
	o.seen[k] = rev
}

func (o *overlay) get(k rowKey) *row {
	if r, mine := o.own.rows[k]; mine {
		return r
	}
	r := o.base.get(k)
	o.note(k, r)
	return r
}

func (o *overlay) put(k rowKey, vals map[string]any) {
	if _, mine := o.own.rows[k]; !mine {
		o.note(k, o.base.get(k))
	}
	var r *row
	if vals != nil {
		r = &row{vals: vals}
	}
	o.own.set(k, r)
}

func (o *overlay) scan(ctx context.Context, fn func(rowKey, *row)) error {
	err := o.base.scan(ctx, func(k rowKey, r *row) {
		if _, mine := o.own.rows[k]; !mine {
			fn(k, r)
		}
	})
	if err != nil {
		return err
	}
	n := 0
	for k, r := range o.own.rows {
		if err := tick(ctx, &n); err != nil {
			return err
		}
		if r != nil {
			fn(k, r)
		}
	}
	return nil
}

func (o *overlay) holders(c *driver.Collection, ix driver.Index, tuple string) []rowKey {
	var keys []rowKey
	for _, k := range o.base.holders(c, ix, tuple) {
		if _, mine := o.own.rows[k]; !mine {
			keys = append(keys, k)
		}
	}
	return append(keys, o.own.holders(c, ix, tuple)...)
}

func (o *overlay) observe(k rowKey, r *row) {
	if _, mine := o.own.rows[k]; mine {
		return
	}
	o.note(k, r)
	o.base.observe(k, r)
}

// flush writes the buffered writes to the base.
func (o *overlay) flush() {
	for k, r := range o.own.rows {
		if r == nil {
			o.base.put(k, nil)
		} else {
			o.base.put(k, r.vals)
		}
	}
}
