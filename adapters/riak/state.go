package riak

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/repo/driver"
)

// state is a record as the adapter stores it in a Riak object: each field
// with what it takes to merge concurrent versions (siblings) by the
// field's merge policy, so that every replica that has seen the same
// writes holds the same value, whatever order it saw them in:
//
//   - lww: the value and the hybrid-logical-clock stamp of its write (ties
//     broken by writer): the latest write wins;
//   - counter: each writer's total increments and decrements (a
//     PN-counter): no increment is lost or counted twice;
//   - set: an observed-remove set (each element with the dots of the adds
//     that made it, and a clock of the dots seen): an add wins over a
//     concurrent remove, and a remove drops only what it saw;
//   - max: the greatest value;
//   - flag: an enable-wins flag (an observed-remove set of enables).
//
// Merge is commutative, associative and idempotent (the tests check it):
// the state is a CRDT, one per record, in the shape the schema gives.
type state struct {
	fields map[string]*fieldState // by stored field name
}

// fieldState is one field's value and merge metadata.
type fieldState struct {
	policy driver.MergePolicy // how the field merges, as last written

	text string // the value's text form (valuecodec), for lww and max
	has  bool   // lww, max: a value (maybe NULL) was written
	null bool   // lww, max: the value is NULL; counter, set, flag: set to NULL

	stamp  uint64 // lww: when it was written (hybrid logical clock)
	writer string // lww: who wrote it

	counts map[string]pn // counter: per writer
	base   int64         // counter: the total when it was last reset to NULL (with stamp, writer: when, by whom)

	elems map[string][]dot // set (elements), flag (the element "on")
	clock map[string]uint64
}

// pn is one writer's share of a counter: what it added and subtracted.
type pn struct{ p, n uint64 }

// dot is one add to an observed-remove set: the writer's nth event, with
// the time of the add (for a stable order of the elements).
type dot struct {
	writer string
	n      uint64
	stamp  uint64
}

// flagOn is the one element of a flag's set.
const flagOn = "on"

func newState() *state { return &state{fields: map[string]*fieldState{}} }

// field returns f's state, made if need be, marked with f's merge policy
// (so that a reader whose schema lacks the field merges it alike).
func (s *state) field(f driver.Field) *fieldState {
	fs := s.fields[f.Name]
	if fs == nil {
		fs = &fieldState{}
		s.fields[f.Name] = fs
	}
	fs.policy = f.Merge
	return fs
}

// writer is the identity and clock of one adapter: the actor of its writes.
type writer struct {
	id  string
	now func() uint64 // the hybrid logical clock
}

// set writes value v (nil for NULL) to field f as a plain assignment,
// which each policy interprets: lww replaces, counter moves by the
// difference, set adds and removes elements to equal v, max keeps the
// greater, flag enables or disables.
func (s *state) set(f driver.Field, v any, w writer) error {
	fs := s.field(f)
	switch f.Merge {
	case driver.MergeCounter:
		if v == nil {
			// A reset, not a deletion of the writers' totals (which a
			// merge would bring back): the value is NULL from here, and
			// counts from the current total when next incremented.
			fs.base, fs.null = fs.raw(), true
			fs.stamp, fs.writer = w.now(), w.id
			return nil
		}
		target, ok := v.(int64)
		if !ok {
			return fmt.Errorf("%w: counter %s set to a %T", driver.ErrInvalid, f.Name, v)
		}
		cur, _ := fs.counter()
		return s.increment(f, target-cur, w) // (overflow: Set wraps as int64 arithmetic would not; see increment)
	case driver.MergeSet:
		if v == nil {
			fs.elems, fs.null = nil, true
			return nil
		}
		want, ok := v.([]string)
		if !ok {
			return fmt.Errorf("%w: set %s set to a %T", driver.ErrInvalid, f.Name, v)
		}
		var drop []string
		for e := range fs.elems {
			if !slices.Contains(want, e) {
				drop = append(drop, e)
			}
		}
		s.remove(f, drop)
		var add []string
		for _, e := range want {
			if _, ok := fs.elems[e]; !ok {
				add = append(add, e)
			}
		}
		s.add(f, add, w)
		fs.null = false
		return nil
	case driver.MergeFlag:
		on, _ := v.(bool)
		if v == nil || !on {
			fs.elems = nil
			fs.null = v == nil
			return nil
		}
		s.add(f, []string{flagOn}, w)
		return nil
	case driver.MergeMax:
		return s.setMax(f, v)
	}
	return fs.assign(f, v, w)
}

// assign is an lww write.
func (fs *fieldState) assign(f driver.Field, v any, w writer) error {
	fs.stamp, fs.writer, fs.has = w.now(), w.id, true
	if v == nil {
		fs.text, fs.null = "", true
		return nil
	}
	text, err := valuecodec.Encode(f.Kind, v)
	if err != nil {
		return err
	}
	fs.text, fs.null = text, false
	return nil
}

// increment adds d to counter f; an int64 overflow is ErrInvalid.
func (s *state) increment(f driver.Field, d int64, w writer) error {
	fs := s.field(f)
	cur, _ := fs.counter()
	if (d > 0 && cur > maxInt64-d) || (d < 0 && cur < minInt64-d) {
		return fmt.Errorf("%w: %d%+d overflows int64", driver.ErrInvalid, cur, d)
	}
	if fs.null {
		// Counting from 0 after a reset to NULL: a write of the reset
		// register, so that it wins over the reset it follows.
		fs.base, fs.null = fs.raw(), false
		fs.stamp, fs.writer = w.now(), w.id
	}
	if fs.counts == nil {
		fs.counts = map[string]pn{}
	}
	c := fs.counts[w.id]
	if d >= 0 {
		c.p += uint64(d)
	} else {
		c.n += uint64(-d)
	}
	fs.counts[w.id] = c
	return nil
}

const (
	maxInt64 = 1<<63 - 1
	minInt64 = -1 << 63
)

// counter returns the counter's value, and false if it is NULL.
func (fs *fieldState) counter() (int64, bool) {
	return fs.raw() - fs.base, !fs.null
}

// raw returns the sum of the writers' totals.
func (fs *fieldState) raw() int64 {
	var sum uint64
	for _, c := range fs.counts {
		sum += c.p - c.n // modular arithmetic: the total is exact if it fits int64
	}
	return int64(sum)
}

// add adds elements to set f, each with a new dot of w.
func (s *state) add(f driver.Field, elems []string, w writer) {
	fs := s.field(f)
	if fs.elems == nil {
		fs.elems = map[string][]dot{}
	}
	if fs.clock == nil {
		fs.clock = map[string]uint64{}
	}
	for _, e := range elems {
		fs.clock[w.id]++
		fs.elems[e] = []dot{{writer: w.id, n: fs.clock[w.id], stamp: w.now()}}
	}
	fs.null = false
}

// remove removes elements from set f (the dots it has seen of them).
func (s *state) remove(f driver.Field, elems []string) {
	fs := s.field(f)
	for _, e := range elems {
		delete(fs.elems, e)
	}
}

// setMax makes max field f the greater of its value and v.
func (s *state) setMax(f driver.Field, v any) error {
	fs := s.field(f)
	if v == nil {
		return nil
	}
	cur, err := fs.maxValue(f)
	if err != nil {
		return err
	}
	if cur != nil && driver.Compare(v, cur) <= 0 {
		return nil
	}
	text, err := valuecodec.Encode(f.Kind, v)
	if err != nil {
		return err
	}
	fs.text, fs.null, fs.has = text, false, true
	return nil
}

// maxValue returns a max field's value, or nil.
func (fs *fieldState) maxValue(f driver.Field) (any, error) {
	if !fs.has || fs.null {
		return nil, nil
	}
	return valuecodec.Decode(f.Kind, fs.text)
}

// value returns field f's value, canonical, or the zero value of its kind
// (NULL if it is nullable) if it was never written.
func (s *state) value(f driver.Field) (any, error) {
	fs := s.fields[f.Name]
	absent := func() any {
		if f.Nullable {
			return nil
		}
		return driver.Zero(f.Kind)
	}
	if fs == nil {
		return absent(), nil
	}
	switch f.Merge {
	case driver.MergeCounter:
		n, ok := fs.counter()
		if !ok {
			return absent(), nil
		}
		return n, nil
	case driver.MergeSet:
		if fs.null && len(fs.elems) == 0 {
			return absent(), nil
		}
		return fs.members(), nil
	case driver.MergeFlag:
		if fs.null && len(fs.elems) == 0 {
			return absent(), nil
		}
		return len(fs.elems[flagOn]) > 0, nil
	}
	if !fs.has || fs.null {
		return absent(), nil
	}
	return valuecodec.Decode(f.Kind, fs.text)
}

// members returns a set's elements, in the order they were first added.
func (fs *fieldState) members() []string {
	out := make([]string, 0, len(fs.elems))
	for e := range fs.elems {
		out = append(out, e)
	}
	first := func(e string) dot {
		return slices.MinFunc(fs.elems[e], func(a, b dot) int { return cmp.Compare(a.stamp, b.stamp) })
	}
	slices.SortFunc(out, func(a, b string) int {
		da, db := first(a), first(b)
		return cmp.Or(cmp.Compare(da.stamp, db.stamp), cmp.Compare(da.writer, db.writer), cmp.Compare(a, b))
	})
	return out
}

// merge returns the merge of states a and b of collection c.
func merge(c *driver.Collection, a, b *state) (*state, error) {
	out := newState()
	names := slices.Collect(maps.Keys(a.fields))
	for n := range b.fields {
		if _, ok := a.fields[n]; !ok {
			names = append(names, n)
		}
	}
	for _, name := range names {
		x, y := a.fields[name], b.fields[name]
		switch {
		case x == nil:
			out.fields[name] = y.clone()
			continue
		case y == nil:
			out.fields[name] = x.clone()
			continue
		}
		// A field this schema does not know (a newer app's, during a
		// rolling deploy) merges by the policy it was written with.
		policy, kind := max(x.policy, y.policy), driver.KindString
		if i := c.FieldIndex(name); i >= 0 {
			policy, kind = c.Fields[i].Merge, c.Fields[i].Kind
		}
		m, err := mergeField(policy, kind, x, y)
		if err != nil {
			return nil, fmt.Errorf("riak: merge %s.%s: %w", c.Name, name, err)
		}
		m.policy = policy
		out.fields[name] = m
	}
	return out, nil
}

func mergeField(policy driver.MergePolicy, kind driver.Kind, x, y *fieldState) (*fieldState, error) {
	switch policy {
	case driver.MergeCounter:
		// The writers' totals merge by maximum; the reset register (NULL
		// or not, and from which total) by its stamp.
		m := &fieldState{}
		latest := x
		if cmp.Or(cmp.Compare(y.stamp, x.stamp), cmp.Compare(y.writer, x.writer)) > 0 {
			latest = y
		}
		m.null, m.base, m.stamp, m.writer = latest.null, latest.base, latest.stamp, latest.writer
		if len(x.counts)+len(y.counts) > 0 {
			m.counts = map[string]pn{}
		}
		for _, src := range []map[string]pn{x.counts, y.counts} {
			for w, c := range src {
				have := m.counts[w]
				m.counts[w] = pn{max(have.p, c.p), max(have.n, c.n)}
			}
		}
		return m, nil
	case driver.MergeSet, driver.MergeFlag:
		return mergeORSet(x, y), nil
	case driver.MergeMax:
		f := driver.Field{Kind: kind}
		xv, err := x.maxValue(f)
		if err != nil {
			return nil, err
		}
		yv, err := y.maxValue(f)
		if err != nil {
			return nil, err
		}
		if driver.Compare(xv, yv) >= 0 {
			return x.clone(), nil
		}
		return y.clone(), nil
	}
	if cmp.Or(cmp.Compare(x.stamp, y.stamp), cmp.Compare(x.writer, y.writer), cmp.Compare(x.text, y.text)) >= 0 {
		return x.clone(), nil
	}
	return y.clone(), nil
}

// mergeORSet merges two observed-remove sets: a dot survives if both
// have it, or if one has it and the other has not seen it (so an add the
// other did not see survives its removes, and a remove survives the adds
// it saw).
func mergeORSet(x, y *fieldState) *fieldState {
	m := &fieldState{null: x.null && y.null, elems: map[string][]dot{}, clock: map[string]uint64{}}
	seen := func(clock map[string]uint64, d dot) bool { return d.n <= clock[d.writer] }
	keep := func(d dot, other []dot, otherClock map[string]uint64) bool {
		return slices.ContainsFunc(other, func(o dot) bool { return o.writer == d.writer && o.n == d.n }) || !seen(otherClock, d)
	}
	for e := range x.elems {
		m.elems[e] = nil
	}
	for e := range y.elems {
		m.elems[e] = nil
	}
	for e := range m.elems {
		var dots []dot
		for _, d := range x.elems[e] {
			if keep(d, y.elems[e], y.clock) {
				dots = append(dots, d)
			}
		}
		for _, d := range y.elems[e] {
			if !slices.ContainsFunc(x.elems[e], func(o dot) bool { return o.writer == d.writer && o.n == d.n }) && !seen(x.clock, d) {
				dots = append(dots, d)
			}
		}
		if len(dots) == 0 {
			delete(m.elems, e)
			continue
		}
		slices.SortFunc(dots, func(a, b dot) int { return cmp.Or(cmp.Compare(a.writer, b.writer), cmp.Compare(a.n, b.n)) })
		m.elems[e] = dots
	}
	for _, c := range []map[string]uint64{x.clock, y.clock} {
		for w, n := range c {
			m.clock[w] = max(m.clock[w], n)
		}
	}
	if len(m.elems) == 0 {
		m.elems = nil
	}
	return m
}

func (fs *fieldState) clone() *fieldState {
	c := *fs
	c.counts = maps.Clone(fs.counts)
	c.clock = maps.Clone(fs.clock)
	if fs.elems != nil {
		c.elems = make(map[string][]dot, len(fs.elems))
		for e, ds := range fs.elems {
			c.elems[e] = slices.Clone(ds)
		}
	}
	return &c
}
