package riaktest

import (
	"bytes"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The data types, as riak_dt implements them: state-based CRDTs whose
// actors are the vnodes that coordinate updates. Top level types are
// riak_dt_pncounter (counter), riak_dt_orswot (set) and riak_dt_map
// (map); a map embeds riak_dt_emcntr (counter), riak_dt_orswot (set),
// riak_dt_lwwreg (register), riak_dt_od_flag (flag) and riak_dt_map
// (map) fields, which share the map's causal context: their updates are
// named by the map's dot. States are transient: each request decodes
// them from the stored bytes, changes them and encodes the result.

// Field kinds, numbered as MapField.MapFieldType.
const (
	kindCounter  = 1
	kindSet      = 2
	kindRegister = 3
	kindFlag     = 4
	kindMap      = 5
)

// kindModule is the riak_dt module of an embedded kind (their order
// sorts map fields of the same name, as Erlang sorts the atoms).
var kindModule = map[byte]string{
	kindCounter:  "riak_dt_emcntr",
	kindSet:      "riak_dt_orswot",
	kindRegister: "riak_dt_lwwreg",
	kindFlag:     "riak_dt_od_flag",
	kindMap:      "riak_dt_map",
}

// erlBinary formats b as Erlang's ~p prints a binary.
func erlBinary(b []byte) string {
	printable := true
	for _, c := range b {
		if c < 32 || c > 126 {
			printable = false
		}
	}
	if printable {
		s := strings.ReplaceAll(string(b), `\`, `\\`)
		return `<<"` + strings.ReplaceAll(s, `"`, `\"`) + `">>`
	}
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = strconv.Itoa(int(c))
	}
	return "<<" + strings.Join(parts, ",") + ">>"
}

func notPresent(what string) error {
	return rpcErrorf("{precondition,{not_present,%s}}", what)
}

// subtractDots returns the dots of dots that ctx has not seen.
func subtractDots(dots, ctx vclock) vclock {
	out := vclock{}
	for a, n := range dots {
		if ctx[a] < n {
			out[a] = n
		}
	}
	return out
}

// glb returns the events both a and b have seen.
func glb(a, b vclock) vclock {
	out := vclock{}
	for k, n := range a {
		if m, ok := b[k]; ok {
			out[k] = min(n, m)
		}
	}
	return out
}

// mergeDots merges the dots of an element present on both sides of a
// merge: common dots stay, the others stay unless the other side has
// seen them (and so removed them).
func mergeDots(l, r, lclock, rclock vclock) vclock {
	out := vclock{}
	for a, n := range l {
		if r[a] == n || rclock[a] < n {
			out[a] = max(out[a], n)
		}
	}
	for a, n := range r {
		if l[a] == n || lclock[a] < n {
			out[a] = max(out[a], n)
		}
	}
	return out
}

func cloneClock(v vclock) vclock {
	if v == nil {
		return vclock{}
	}
	return maps.Clone(v)
}

// ---- riak_dt_pncounter ----

type pnCounter struct{ p, n map[string]uint64 }

func newPNCounter() *pnCounter { return &pnCounter{p: map[string]uint64{}, n: map[string]uint64{}} }

func (c *pnCounter) increment(actor string, by int64) {
	if by >= 0 {
		c.p[actor] += uint64(by)
	} else {
		c.n[actor] += uint64(-by)
	}
}

func (c *pnCounter) value() int64 {
	var v int64
	for _, x := range c.p {
		v += int64(x)
	}
	for _, x := range c.n {
		v -= int64(x)
	}
	return v
}

func mergePNCounters(a, b *pnCounter) *pnCounter {
	out := newPNCounter()
	for _, src := range []*pnCounter{a, b} {
		for k, x := range src.p {
			out.p[k] = max(out.p[k], x)
		}
		for k, x := range src.n {
			out.n[k] = max(out.n[k], x)
		}
	}
	return out
}

// ---- riak_dt_emcntr ----

// An emCounter is a counter embedded in a map: for each actor, its P and
// N totals and the counter of the map dot of its latest update.
type emCounter struct {
	clock   vclock
	entries map[string]emEntry
}

type emEntry struct{ dot, p, n uint64 }

func newEmCounter() *emCounter { return &emCounter{clock: vclock{}, entries: map[string]emEntry{}} }

func (c *emCounter) increment(d dot, by int64) {
	e := c.entries[d.actor]
	if by >= 0 {
		e.p += uint64(by)
	} else {
		e.n += uint64(-by)
	}
	e.dot = d.counter
	c.entries[d.actor] = e
	c.clock[d.actor] = max(c.clock[d.actor], d.counter)
}

func (c *emCounter) value() int64 {
	var v int64
	for _, e := range c.entries {
		v += int64(e.p) - int64(e.n)
	}
	return v
}

func mergeEmCounters(a, b *emCounter) *emCounter {
	out := &emCounter{clock: mergeClocks(a.clock, b.clock), entries: map[string]emEntry{}}
	for actor, e := range a.entries {
		if f, ok := b.entries[actor]; ok {
			if f.dot > e.dot {
				e = f
			}
			out.entries[actor] = e
		} else if b.clock[actor] < e.dot {
			out.entries[actor] = e
		}
	}
	for actor, f := range b.entries {
		if _, ok := a.entries[actor]; !ok && a.clock[actor] < f.dot {
			out.entries[actor] = f
		}
	}
	return out
}

// ---- riak_dt_orswot ----

// An orswot is an add-wins observed-remove set without tombstones: each
// element keeps the dots of the adds that made it present.
type orswot struct {
	clock    vclock
	entries  map[string]vclock
	deferred map[string]*deferred // by encoded context
}

// A deferred remove waits until the state has seen its context.
type deferred struct {
	ctx   vclock
	items []string // set elements, or encoded map fields
}

func newORSWOT() *orswot {
	return &orswot{clock: vclock{}, entries: map[string]vclock{}, deferred: map[string]*deferred{}}
}

// add adds elem with a new dot of actor, or with dot d if not nil (when
// embedded in a map).
func (s *orswot) add(elem string, actor string, d *dot) {
	var dd dot
	if d != nil {
		dd = *d
		s.clock[dd.actor] = max(s.clock[dd.actor], dd.counter)
	} else {
		s.clock[actor]++
		dd = dot{actor, s.clock[actor]}
	}
	s.entries[elem] = vclock{dd.actor: dd.counter}
}

// remove removes elem: without a context it must be present and goes
// entirely; with one, only the adds ctx has seen are removed, and the
// remove waits for the adds ctx saw that the state has not.
func (s *orswot) remove(elem string, ctx vclock) error {
	if ctx == nil {
		if _, ok := s.entries[elem]; !ok {
			return notPresent(erlBinary([]byte(elem)))
		}
		delete(s.entries, elem)
		return nil
	}
	addDeferred(s.deferred, s.clock, ctx, elem)
	if dots, ok := s.entries[elem]; ok {
		if rest := subtractDots(dots, ctx); len(rest) == 0 {
			delete(s.entries, elem)
		} else {
			s.entries[elem] = rest
		}
	}
	return nil
}

func addDeferred(m map[string]*deferred, clock, ctx vclock, item string) {
	if clock.descends(ctx) {
		return
	}
	k := string(ctx.encode())
	d := m[k]
	if d == nil {
		d = &deferred{ctx: ctx}
		m[k] = d
	}
	if !slices.Contains(d.items, item) {
		d.items = append(d.items, item)
		slices.Sort(d.items)
	}
}

func mergeDeferred(a, b map[string]*deferred) map[string]*deferred {
	out := map[string]*deferred{}
	for _, src := range []map[string]*deferred{a, b} {
		for k, d := range src {
			o := out[k]
			if o == nil {
				o = &deferred{ctx: d.ctx}
				out[k] = o
			}
			for _, it := range d.items {
				if !slices.Contains(o.items, it) {
					o.items = append(o.items, it)
				}
			}
			slices.Sort(o.items)
		}
	}
	return out
}

func (s *orswot) elements() [][]byte {
	out := make([][]byte, 0, len(s.entries))
	for _, e := range slices.Sorted(maps.Keys(s.entries)) {
		out = append(out, []byte(e))
	}
	return out
}

func mergeORSWOTs(a, b *orswot) *orswot {
	out := newORSWOT()
	out.clock = mergeClocks(a.clock, b.clock)
	for e, l := range a.entries {
		var keep vclock
		if r, ok := b.entries[e]; ok {
			keep = mergeDots(l, r, a.clock, b.clock)
		} else {
			keep = subtractDots(l, b.clock)
		}
		if len(keep) > 0 {
			out.entries[e] = keep
		}
	}
	for e, r := range b.entries {
		if _, ok := a.entries[e]; !ok {
			if keep := subtractDots(r, a.clock); len(keep) > 0 {
				out.entries[e] = keep
			}
		}
	}
	for _, d := range mergeDeferred(a.deferred, b.deferred) {
		for _, e := range d.items {
			_ = out.remove(e, d.ctx)
		}
	}
	return out
}

// ---- riak_dt_od_flag ----

// An odFlag is an enable-wins flag: enabled while it holds the dot of an
// enable that no disable has seen.
type odFlag struct {
	clock    vclock
	dots     vclock
	deferred map[string]*deferred
}

func newODFlag() *odFlag {
	return &odFlag{clock: vclock{}, dots: vclock{}, deferred: map[string]*deferred{}}
}

func (f *odFlag) enable(d dot) {
	f.clock[d.actor] = max(f.clock[d.actor], d.counter)
	f.dots = vclock{d.actor: d.counter}
}

func (f *odFlag) disable(ctx vclock) {
	if ctx == nil {
		f.dots = vclock{}
		return
	}
	addDeferred(f.deferred, f.clock, ctx, "")
	f.dots = subtractDots(f.dots, ctx)
}

func mergeODFlags(a, b *odFlag) *odFlag {
	out := newODFlag()
	out.clock = mergeClocks(a.clock, b.clock)
	out.dots = mergeDots(a.dots, b.dots, a.clock, b.clock)
	for _, d := range mergeDeferred(a.deferred, b.deferred) {
		out.disable(d.ctx)
	}
	return out
}

// ---- riak_dt_lwwreg ----

// An lwwReg is a last-write-wins register stamped in microseconds.
type lwwReg struct {
	value []byte
	ts    uint64
}

func (r *lwwReg) assign(v []byte, now time.Time) {
	ts := uint64(now.UnixMicro())
	if ts <= r.ts {
		ts = r.ts + 1 // keep updates of one replica ordered
	}
	r.value, r.ts = v, ts
}

func mergeLWWRegs(a, b *lwwReg) *lwwReg {
	switch {
	case a.ts > b.ts:
		return a
	case b.ts > a.ts:
		return b
	case bytes.Compare(a.value, b.value) >= 0:
		return a
	}
	return b
}

// ---- riak_dt_map ----

// A fieldKey names a map field: its name and kind.
type fieldKey struct {
	name string
	kind byte
}

// erl formats a field as Riak prints it in errors.
func (k fieldKey) erl() string {
	return "{" + erlBinary([]byte(k.name)) + "," + kindModule[k.kind] + "}"
}

func (k fieldKey) encode() string { return string([]byte{k.kind}) + k.name }

func decodeFieldKey(s string) fieldKey { return fieldKey{name: s[1:], kind: s[0]} }

// A mapField holds, for each concurrent update of a field, the dot of
// the update and the field's value it made, plus a tombstone: the bottom
// value with the clock of the removes it must propagate.
type mapField struct {
	values map[dot]any
	tomb   any
}

type dtMap struct {
	clock    vclock
	fields   map[fieldKey]*mapField
	deferred map[string]*deferred
}

func newDTMap() *dtMap {
	return &dtMap{clock: vclock{}, fields: map[fieldKey]*mapField{}, deferred: map[string]*deferred{}}
}

// newEmbedded returns the bottom value of a kind.
func newEmbedded(kind byte) any {
	switch kind {
	case kindCounter:
		return newEmCounter()
	case kindSet:
		return newORSWOT()
	case kindRegister:
		return &lwwReg{value: []byte{}}
	case kindFlag:
		return newODFlag()
	}
	return newDTMap()
}

// withParentClock sets the clock of an embedded value to its map's.
func withParentClock(v any, c vclock) any {
	switch v := v.(type) {
	case *emCounter:
		return &emCounter{clock: cloneClock(c), entries: v.entries}
	case *orswot:
		return &orswot{clock: cloneClock(c), entries: v.entries, deferred: v.deferred}
	case *odFlag:
		return &odFlag{clock: cloneClock(c), dots: v.dots, deferred: v.deferred}
	case *dtMap:
		return &dtMap{clock: cloneClock(c), fields: v.fields, deferred: v.deferred}
	}
	return v
}

func mergeEmbedded(a, b any) any {
	switch a := a.(type) {
	case *emCounter:
		return mergeEmCounters(a, b.(*emCounter))
	case *orswot:
		return mergeORSWOTs(a, b.(*orswot))
	case *odFlag:
		return mergeODFlags(a, b.(*odFlag))
	case *lwwReg:
		return mergeLWWRegs(a, b.(*lwwReg))
	case *dtMap:
		return mergeDTMaps(a, b.(*dtMap))
	}
	panic("riaktest: unknown embedded type")
}

// value returns the merged value of a field.
func (f *mapField) value(kind byte) any {
	v := newEmbedded(kind)
	for _, d := range sortedDots(f.values) {
		v = mergeEmbedded(v, f.values[d])
	}
	return mergeEmbedded(f.tomb, v)
}

func sortedDots(m map[dot]any) []dot {
	return slices.SortedFunc(maps.Keys(m), func(a, b dot) int {
		if c := strings.Compare(a.actor, b.actor); c != 0 {
			return c
		}
		return int(a.counter) - int(b.counter)
	})
}

// A mapOp is one operation of a map update: a field removal (op nil) or
// a field update.
type mapOp struct {
	field fieldKey
	op    embeddedOp
}

// An embeddedOp updates an embedded value with dot d.
type embeddedOp func(v any, d dot, ctx vclock) (any, error)

// update applies ops atomically, named by a new dot of actor or, when the
// map is embedded, by the parent's dot d.
func (m *dtMap) update(ops []mapOp, actor string, d *dot, ctx vclock) error {
	var dd dot
	if d != nil {
		dd = *d
		m.clock[dd.actor] = max(m.clock[dd.actor], dd.counter)
	} else {
		m.clock[actor]++
		dd = dot{actor, m.clock[actor]}
	}
	for _, op := range ops {
		if op.op == nil {
			if err := m.removeField(op.field, ctx); err != nil {
				return err
			}
			continue
		}
		cur := newEmbedded(op.field.kind)
		if f := m.fields[op.field]; f != nil {
			cur = f.value(op.field.kind)
		}
		v, err := op.op(withParentClock(cur, m.clock), dd, ctx)
		if err != nil {
			return err
		}
		m.fields[op.field] = &mapField{values: map[dot]any{dd: v}, tomb: newEmbedded(op.field.kind)}
	}
	return nil
}

func (m *dtMap) removeField(k fieldKey, ctx vclock) error {
	f := m.fields[k]
	if ctx == nil {
		if f == nil {
			return notPresent(k.erl())
		}
		delete(m.fields, k)
		return nil
	}
	addDeferred(m.deferred, m.clock, ctx, k.encode())
	if f == nil {
		return nil
	}
	rest := map[dot]any{}
	for d, v := range f.values {
		if ctx[d.actor] < d.counter {
			rest[d] = v
		}
	}
	if len(rest) == 0 {
		delete(m.fields, k)
		return nil
	}
	tomb := withParentClock(newEmbedded(k.kind), glb(ctx, m.clock))
	m.fields[k] = &mapField{values: rest, tomb: mergeEmbedded(tomb, f.tomb)}
	return nil
}

func mergeDTMaps(a, b *dtMap) *dtMap {
	out := newDTMap()
	out.clock = mergeClocks(a.clock, b.clock)
	unique := func(from, other *dtMap) {
		for k, f := range from.fields {
			if _, ok := other.fields[k]; ok {
				continue
			}
			keep := map[dot]any{}
			for d, v := range f.values {
				if other.clock[d.actor] < d.counter {
					keep[d] = v
				}
			}
			if len(keep) > 0 {
				tomb := mergeEmbedded(f.tomb, withParentClock(newEmbedded(k.kind), other.clock))
				out.fields[k] = &mapField{values: keep, tomb: tomb}
			}
		}
	}
	unique(a, b)
	unique(b, a)
	for k, l := range a.fields {
		r, ok := b.fields[k]
		if !ok {
			continue
		}
		keep := map[dot]any{}
		for d, v := range l.values {
			if _, both := r.values[d]; both || b.clock[d.actor] < d.counter {
				keep[d] = v
			}
		}
		for d, v := range r.values {
			if _, both := l.values[d]; !both && a.clock[d.actor] < d.counter {
				keep[d] = v
			}
		}
		if len(keep) > 0 {
			out.fields[k] = &mapField{values: keep, tomb: mergeEmbedded(r.tomb, l.tomb)}
		}
	}
	for _, d := range mergeDeferred(a.deferred, b.deferred) {
		for _, it := range d.items {
			_ = out.removeField(decodeFieldKey(it), d.ctx)
		}
	}
	return out
}

// sortedFields returns the fields in the order of Riak's values: by
// name, then by module.
func (m *dtMap) sortedFields() []fieldKey {
	return slices.SortedFunc(maps.Keys(m.fields), func(a, b fieldKey) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(kindModule[a.kind], kindModule[b.kind])
	})
}
