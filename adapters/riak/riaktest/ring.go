package riaktest

import (
	"crypto/sha1"
	"encoding/binary"
	"slices"
)

// The ring follows riak_core's consistent hashing (chash): a key's hash is
// SHA-1 of term_to_binary({Bucket, Key}) (Bucket being {Type, Bucket} for a
// type other than "default"), the 160-bit hash space is cut into RingSize
// equal partitions, and a key belongs to the partition after the one its
// hash falls in; its preference list is that partition and the next
// n_val-1. Partition i is owned by node i mod Nodes (round robin; with a
// ring size not divisible by the node count, the preference lists that
// wrap around the end of the ring meet the same node twice, as an
// unbalanced Riak claim would).

// A vnodeID names one vnode: the copy of a partition kept on a node. The
// primary vnode of partition p lives on its owner; a fallback vnode of p
// lives on another node.
type vnodeID struct {
	node      int
	partition int
}

// A target is one vnode a request is sent to.
type target struct {
	vnodeID
	primary bool
}

// ring maps keys to partitions and partitions to nodes.
type ring struct {
	size  int // partitions, a power of two
	bits  int // log2(size)
	nodes int
}

func newRing(size, nodes int) ring {
	bits := 0
	for 1<<bits < size {
		bits++
	}
	return ring{size: size, bits: bits, nodes: nodes}
}

// owner returns the node that owns partition p.
func (r ring) owner(p int) int { return p % r.nodes }

// firstPartition returns the first partition of the preference list of
// the object (typ, bucket, key), as riak_core's chash:responsible_index.
func (r ring) firstPartition(typ, bucket, key string) int {
	h := sha1.Sum(hashInput(typ, bucket, key))
	var idx int
	if r.bits > 0 {
		idx = int(binary.BigEndian.Uint64(h[:8]) >> (64 - r.bits))
	}
	return (idx + 1) % r.size
}

// hashInput returns term_to_binary({Bucket, Key}), the input of
// chash_std_keyfun.
func hashInput(typ, bucket, key string) []byte {
	b := []byte{131, 104, 2} // version, SMALL_TUPLE_EXT, arity 2
	if typ != defaultType {
		b = append(b, 104, 2)
		b = appendBinaryTerm(b, typ)
	}
	b = appendBinaryTerm(b, bucket)
	return appendBinaryTerm(b, key)
}

// appendBinaryTerm appends an Erlang BINARY_EXT without the version byte.
func appendBinaryTerm(b []byte, s string) []byte {
	b = append(b, 109)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// preflist returns the n primary partitions of the key whose first
// partition is first.
func (r ring) preflist(first, n int) []int {
	if n > r.size {
		n = r.size
	}
	ps := make([]int, n)
	for i := range ps {
		ps[i] = (first + i) % r.size
	}
	return ps
}

// targets returns the vnodes that a request coordinated on a node for the
// key whose first partition is first should use, as riak_core_apl does:
// the reachable primaries and, if sloppy, for each unreachable primary a
// fallback vnode on the owner of a later partition that is reachable. The
// result keeps the preference list order; an unreachable primary for which
// no fallback was found is left out.
func (r ring) targets(first, n int, sloppy bool, reachable func(node int) bool) []target {
	ps := r.preflist(first, n)
	out := make([]target, 0, len(ps))
	var missing []int // indexes into out of fallback slots still to fill
	for _, p := range ps {
		if reachable(r.owner(p)) {
			out = append(out, target{vnodeID{r.owner(p), p}, true})
			continue
		}
		if sloppy {
			missing = append(missing, len(out))
			out = append(out, target{vnodeID{-1, p}, false})
		}
	}
	next := first + len(ps)
	for _, slot := range missing {
		for ; next < first+r.size; next++ {
			if node := r.owner(next % r.size); reachable(node) {
				out[slot].node = node
				next++
				break
			}
		}
	}
	return slices.DeleteFunc(out, func(t target) bool { return t.node < 0 })
}

// A coverVnode is one vnode of a coverage plan and the first partitions of
// the preference lists it answers for.
type coverVnode struct {
	vnodeID
	firsts []int
}

// coverage returns a plan that asks one reachable primary vnode for every
// preference list of n partitions, in partition order, or false if some
// preference list has no reachable primary (insufficient_vnodes_available).
//
// The plan is fixed: vnodes 1, 1+n, 1+2n, ... each answer for the n
// preference lists they belong to, and each partition left over answers
// for its own. Riak picks a random offset per query; this one reproduces
// the captured answers. A vnode that is unreachable is replaced, for each
// of its preference lists, by the last reachable primary of that list.
func (r ring) coverage(n int, reachable func(node int) bool) ([]coverVnode, bool) {
	if n > r.size {
		n = r.size
	}
	assign := make([]int, r.size) // first partition -> covering partition
	covered := make([]bool, r.size)
	for v := 1; v < r.size; v += n {
		for i := 0; i < n; i++ {
			f := ((v-i)%r.size + r.size) % r.size
			if !covered[f] {
				assign[f], covered[f] = v, true
			}
		}
	}
	for f := range assign {
		if !covered[f] {
			assign[f] = f
		}
	}
	byVnode := map[int][]int{}
	for f, v := range assign {
		if !reachable(r.owner(v)) {
			v = -1
			for i := n - 1; i >= 0; i-- {
				if p := (f + i) % r.size; reachable(r.owner(p)) {
					v = p
					break
				}
			}
			if v < 0 {
				return nil, false
			}
		}
		byVnode[v] = append(byVnode[v], f)
	}
	plan := make([]coverVnode, 0, len(byVnode))
	for v, fs := range byVnode {
		plan = append(plan, coverVnode{vnodeID{r.owner(v), v}, fs})
	}
	slices.SortFunc(plan, func(a, b coverVnode) int { return a.partition - b.partition })
	return plan, true
}
