package riaktest

import (
	"encoding/binary"
	"maps"
	"slices"
)

// Stored form of the data types. An object of a data type bucket holds
// its CRDT as the value of one sibling: as with Riak, the tag 69, the
// version 2, the length and name of the riak_dt module, then the state in
// the emulator's own deterministic encoding (not Riak's).

const dtTag, dtVersion = 69, 2

// The top level modules and their content types.
var dtModules = map[string]string{
	"riak_dt_pncounter": "application/riak_counter",
	"riak_dt_orswot":    "application/riak_set",
	"riak_dt_map":       "application/riak_map",
}

// dtModuleOf returns the module of a stored value, or "" if it is not a
// data type value.
func dtModuleOf(b []byte) string {
	if len(b) < 6 || b[0] != dtTag || b[1] != dtVersion {
		return ""
	}
	n := binary.BigEndian.Uint32(b[2:6])
	if uint64(n) > uint64(len(b)-6) {
		return ""
	}
	mod := string(b[6 : 6+n])
	if _, ok := dtModules[mod]; !ok {
		return ""
	}
	return mod
}

// encodeDT returns the stored form of a top level state.
func encodeDT(state any) []byte {
	var mod string
	switch state.(type) {
	case *pnCounter:
		mod = "riak_dt_pncounter"
	case *orswot:
		mod = "riak_dt_orswot"
	case *dtMap:
		mod = "riak_dt_map"
	}
	b := []byte{dtTag, dtVersion}
	b = binary.BigEndian.AppendUint32(b, uint32(len(mod)))
	b = append(b, mod...)
	w := &dtWriter{b: b}
	if c, ok := state.(*pnCounter); ok {
		w.clock(c.p)
		w.clock(c.n)
	} else {
		w.embedded(state)
	}
	return w.b
}

// decodeDT decodes a stored value; it reports false for one encodeDT did
// not make.
func decodeDT(b []byte) (any, bool) {
	mod := dtModuleOf(b)
	if mod == "" {
		return nil, false
	}
	r := &dtReader{b: b[6+len(mod):]}
	var v any
	switch mod {
	case "riak_dt_pncounter":
		v = &pnCounter{p: r.clock(), n: r.clock()}
	case "riak_dt_orswot":
		v = r.embedded(kindSet, 0)
	default:
		v = r.embedded(kindMap, 0)
	}
	if r.bad || len(r.b) != 0 {
		return nil, false
	}
	return v, true
}

type dtWriter struct{ b []byte }

func (w *dtWriter) uint(n uint64)  { w.b = binary.AppendUvarint(w.b, n) }
func (w *dtWriter) str(s string)   { w.uint(uint64(len(s))); w.b = append(w.b, s...) }
func (w *dtWriter) bytes(s []byte) { w.uint(uint64(len(s))); w.b = append(w.b, s...) }

func (w *dtWriter) clock(v vclock) {
	w.uint(uint64(len(v)))
	for _, a := range slices.Sorted(maps.Keys(v)) {
		w.str(a)
		w.uint(v[a])
	}
}

func (w *dtWriter) deferred(m map[string]*deferred) {
	w.uint(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		w.clock(m[k].ctx)
		w.uint(uint64(len(m[k].items)))
		for _, it := range m[k].items {
			w.str(it)
		}
	}
}

func (w *dtWriter) embedded(v any) {
	switch v := v.(type) {
	case *emCounter:
		w.clock(v.clock)
		w.uint(uint64(len(v.entries)))
		for _, a := range slices.Sorted(maps.Keys(v.entries)) {
			e := v.entries[a]
			w.str(a)
			w.uint(e.dot)
			w.uint(e.p)
			w.uint(e.n)
		}
	case *orswot:
		w.clock(v.clock)
		w.uint(uint64(len(v.entries)))
		for _, e := range slices.Sorted(maps.Keys(v.entries)) {
			w.str(e)
			w.clock(v.entries[e])
		}
		w.deferred(v.deferred)
	case *odFlag:
		w.clock(v.clock)
		w.clock(v.dots)
		w.deferred(v.deferred)
	case *lwwReg:
		w.bytes(v.value)
		w.uint(v.ts)
	case *dtMap:
		w.clock(v.clock)
		keys := slices.SortedFunc(maps.Keys(v.fields), func(a, b fieldKey) int {
			if a.kind != b.kind {
				return int(a.kind) - int(b.kind)
			}
			if a.name < b.name {
				return -1
			}
			if a.name > b.name {
				return 1
			}
			return 0
		})
		w.uint(uint64(len(keys)))
		for _, k := range keys {
			f := v.fields[k]
			w.b = append(w.b, k.kind)
			w.str(k.name)
			ds := sortedDots(f.values)
			w.uint(uint64(len(ds)))
			for _, d := range ds {
				w.str(d.actor)
				w.uint(d.counter)
				w.embedded(f.values[d])
			}
			w.embedded(f.tomb)
		}
		w.deferred(v.deferred)
	}
}

// dtReader decodes what dtWriter wrote; bad is set on malformed input.
type dtReader struct {
	b   []byte
	bad bool
}

func (r *dtReader) uint() uint64 {
	n, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.bad = true
		r.b = nil
		return 0
	}
	r.b = r.b[k:]
	return n
}

// count reads a number of items, each taking at least one byte.
func (r *dtReader) count() int {
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.bad = true
		r.b = nil
		return 0
	}
	return int(n)
}

func (r *dtReader) str() string {
	n := r.count()
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *dtReader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *dtReader) clock() vclock {
	v := vclock{}
	for range r.count() {
		a := r.str()
		v[a] = r.uint()
	}
	return v
}

func (r *dtReader) deferred() map[string]*deferred {
	m := map[string]*deferred{}
	for range r.count() {
		d := &deferred{ctx: r.clock()}
		for range r.count() {
			d.items = append(d.items, r.str())
		}
		m[string(d.ctx.encode())] = d
	}
	return m
}

const maxDTDepth = 64

func (r *dtReader) embedded(kind byte, depth int) any {
	if depth > maxDTDepth {
		r.bad = true
		r.b = nil
		return newEmbedded(kind)
	}
	switch kind {
	case kindCounter:
		c := &emCounter{clock: r.clock(), entries: map[string]emEntry{}}
		for range r.count() {
			a := r.str()
			c.entries[a] = emEntry{dot: r.uint(), p: r.uint(), n: r.uint()}
		}
		return c
	case kindSet:
		s := &orswot{clock: r.clock(), entries: map[string]vclock{}}
		for range r.count() {
			e := r.str()
			s.entries[e] = r.clock()
		}
		s.deferred = r.deferred()
		return s
	case kindFlag:
		return &odFlag{clock: r.clock(), dots: r.clock(), deferred: r.deferred()}
	case kindRegister:
		return &lwwReg{value: []byte(r.str()), ts: r.uint()}
	case kindMap:
		m := &dtMap{clock: r.clock(), fields: map[fieldKey]*mapField{}}
		for range r.count() {
			k := fieldKey{kind: r.byte()}
			k.name = r.str()
			if k.kind < kindCounter || k.kind > kindMap {
				r.bad = true
				r.b = nil
				return m
			}
			f := &mapField{values: map[dot]any{}}
			for range r.count() {
				d := dot{actor: r.str()}
				d.counter = r.uint()
				f.values[d] = r.embedded(k.kind, depth+1)
			}
			f.tomb = r.embedded(k.kind, depth+1)
			m.fields[k] = f
		}
		m.deferred = r.deferred()
		for _, d := range m.deferred {
			for _, it := range d.items {
				if it == "" {
					r.bad = true
				}
			}
		}
		return m
	}
	r.bad = true
	return nil
}
