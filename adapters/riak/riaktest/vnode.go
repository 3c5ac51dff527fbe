package riaktest

import (
	"strconv"
	"strings"

	"github.com/google/btree"
)

// A vnode holds one copy of a partition's objects. Beside them it keeps,
// per bucket, the first partition of each key's preference list and the
// 2i terms of its objects in order (as leveled keeps its index keys), so
// that a coverage query reads the keys of its range instead of hashing
// and matching every object the vnode holds: a 2i query costs what it
// returns, as on a real node, not what the cluster stores. Every change
// of objects goes through put and remove, which keep the two in step.
type vnode struct {
	seq     uint64 // counter of the writes this vnode coordinated
	objects map[bkey]*entry
	buckets map[bucketID]*bucketKeys
}

// bucketKeys is what a vnode holds of one bucket, for coverage queries.
type bucketKeys struct {
	first map[string]int          // key → first partition of its preference list
	terms *btree.BTreeG[termItem] // the 2i terms of the live siblings
}

// A termItem is one 2i entry: an object's key under a term of an index.
// The term of an integer index (canonical, see normalizeIndexes) is kept
// parsed in n, which orders it.
type termItem struct {
	index, term string
	n           int64
	key         string
}

func termLess(a, b termItem) bool {
	if a.index != b.index {
		return a.index < b.index
	}
	if strings.HasSuffix(a.index, "_int") {
		if a.n != b.n {
			return a.n < b.n
		}
	} else if a.term != b.term {
		return a.term < b.term
	}
	return a.key < b.key
}

func newVnode() *vnode {
	return &vnode{objects: map[bkey]*entry{}, buckets: map[bucketID]*bucketKeys{}}
}

// put makes e what the vnode holds for k, whose preference list starts
// at partition first.
func (vn *vnode) put(k bkey, e *entry, first int) {
	bk := vn.buckets[k.bucketID()]
	if bk == nil {
		bk = &bucketKeys{first: map[string]int{}, terms: btree.NewG(16, termLess)}
		vn.buckets[k.bucketID()] = bk
	}
	if old := vn.objects[k]; old != nil {
		bk.each(k.key, old.obj, func(it termItem) { bk.terms.Delete(it) })
	}
	vn.objects[k] = e
	bk.first[k.key] = first
	bk.each(k.key, e.obj, func(it termItem) { bk.terms.ReplaceOrInsert(it) })
}

// remove drops what the vnode holds for k.
func (vn *vnode) remove(k bkey) {
	old := vn.objects[k]
	if old == nil {
		return
	}
	delete(vn.objects, k)
	bk := vn.buckets[k.bucketID()]
	bk.each(k.key, old.obj, func(it termItem) { bk.terms.Delete(it) })
	delete(bk.first, k.key)
	if len(bk.first) == 0 {
		delete(vn.buckets, k.bucketID())
	}
}

// each calls fn with the 2i entries of obj's live siblings under key (an
// entry twice if two siblings have it).
func (bk *bucketKeys) each(key string, obj *object, fn func(termItem)) {
	for _, sib := range obj.siblings {
		if sib.deleted() {
			continue
		}
		for _, p := range sib.content.Indexes {
			it := termItem{index: string(p.Key), term: string(p.Value), key: key}
			if strings.HasSuffix(it.index, "_int") {
				it.n, _ = strconv.ParseInt(it.term, 10, 64) // canonical: it parses
			}
			fn(it)
		}
	}
}

// inRange calls fn with the entries of q's index at the terms of q's
// range (or term), from after on (if not nil: a continuation, the last
// entry sent), in order, until fn returns false.
func (bk *bucketKeys) inRange(q *indexQuery, after *indexEntry, fn func(termItem) bool) {
	lo := termItem{index: q.index, term: q.eq, n: q.eqN}
	hi := lo
	if q.isRange {
		lo.term, lo.n, hi.term, hi.n = q.min, q.minN, q.max, q.maxN
	}
	if after != nil {
		// By term and key for a range, by key for an equality (which
		// has one term).
		from := termItem{index: q.index, term: after.term, n: after.n, key: after.key}
		if !q.isRange {
			from.term, from.n = lo.term, lo.n
		}
		if termLess(lo, from) {
			lo = from
		}
	}
	bk.terms.AscendGreaterOrEqual(lo, func(it termItem) bool {
		if it.index != q.index || q.isInt && it.n > hi.n || !q.isInt && it.term > hi.term {
			return false
		}
		return fn(it)
	})
}
