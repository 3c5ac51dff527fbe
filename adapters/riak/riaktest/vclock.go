package riaktest

import (
	"encoding/binary"
	"maps"
	"slices"
	"strconv"
)

// A vclock is a version vector: for each actor (a vnode that coordinated a
// write), the counter of its latest write that the holder has seen. With
// the dots that name siblings it makes a dotted version vector, as Riak
// uses when dvv_enabled is true. A vclock is never modified once it is
// part of an object.
type vclock map[string]uint64

// A dot names one write: the actor that coordinated it and its counter.
type dot struct {
	actor   string
	counter uint64
}

// actorOf returns the actor name of a vnode.
func actorOf(v vnodeID) string {
	return strconv.Itoa(v.node) + "/" + strconv.Itoa(v.partition)
}

// covers reports whether v has seen the write d.
func (v vclock) covers(d dot) bool { return v[d.actor] >= d.counter }

// descends reports whether v has seen every write w has seen.
func (v vclock) descends(w vclock) bool {
	for a, n := range w {
		if v[a] < n {
			return false
		}
	}
	return true
}

// mergeClocks returns the least vclock that descends both a and b.
func mergeClocks(a, b vclock) vclock {
	m := make(vclock, len(a)+len(b))
	maps.Copy(m, a)
	for k, n := range b {
		m[k] = max(m[k], n)
	}
	return m
}

// vclockMagic starts every encoded vclock; anything else is refused.
const vclockMagic = 0xa7

// encode returns v as opaque bytes: a magic byte, then for each actor in
// order its name and counter. Equal vclocks encode to equal bytes.
func (v vclock) encode() []byte {
	b := []byte{vclockMagic}
	b = binary.AppendUvarint(b, uint64(len(v)))
	for _, a := range slices.Sorted(maps.Keys(v)) {
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
		b = binary.AppendUvarint(b, v[a])
	}
	return b
}

// decodeVClock decodes bytes made by encode; empty bytes are the empty
// vclock. It reports false for bytes encode cannot have made.
func decodeVClock(b []byte) (vclock, bool) {
	v := vclock{}
	if len(b) == 0 {
		return v, true
	}
	if b[0] != vclockMagic {
		return nil, false
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, false
	}
	b = b[k:]
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, false
		}
		actor := string(b[k : k+int(l)])
		b = b[k+int(l):]
		c, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, false
		}
		b = b[k:]
		v[actor] = c
	}
	return v, len(b) == 0
}
