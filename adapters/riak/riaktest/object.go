package riaktest

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
)

// An object is what a vnode holds for a key: a vclock and one or more
// siblings. Objects are values: once built, neither the object nor its
// siblings' contents change, so vnodes may share them.
type object struct {
	clock    vclock
	siblings []sibling // ordered by modification time, then vtag
}

// A sibling is one concurrent value of an object, named by the dot of the
// write that made it. A tombstone is a sibling whose content is deleted.
type sibling struct {
	dot      dot
	modified time.Time
	content  *riak_kv.RpbContent // value and metadata as sent to clients
}

func (s sibling) deleted() bool { return s.content.GetDeleted() }

// live reports whether the object has a sibling that is not a tombstone.
func (o *object) live() bool {
	return o != nil && slices.ContainsFunc(o.siblings, func(s sibling) bool { return !s.deleted() })
}

func (o *object) has(d dot) bool {
	return slices.ContainsFunc(o.siblings, func(s sibling) bool { return s.dot == d })
}

// sameState reports whether a and b hold the same vclock and siblings.
func sameState(a, b *object) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.siblings) != len(b.siblings) || !a.clock.descends(b.clock) || !b.clock.descends(a.clock) {
		return false
	}
	for i := range a.siblings {
		if a.siblings[i].dot != b.siblings[i].dot {
			return false
		}
	}
	return true
}

// mergeObjects merges two replicas of an object (either may be nil), as
// dotted version vectors sync: a sibling survives unless the other side
// has seen its write and dropped it; siblings with the same dot are one.
// Without allowMult the newest sibling alone survives (Riak resolves by
// timestamp when allow_mult is false).
func mergeObjects(a, b *object, allowMult bool) *object {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		a = &object{clock: vclock{}}
	case b == nil:
		b = &object{clock: vclock{}}
	}
	if m, ok := mergeDT(a, b, allowMult); ok { // data types (dt.go)
		return m
	}
	var sibs []sibling
	for _, s := range a.siblings {
		if b.has(s.dot) || !b.clock.covers(s.dot) {
			sibs = append(sibs, s)
		}
	}
	for _, s := range b.siblings {
		if !a.has(s.dot) && !a.clock.covers(s.dot) {
			sibs = append(sibs, s)
		}
	}
	return newObject(mergeClocks(a.clock, b.clock), sibs, allowMult)
}

// newObject builds an object from its vclock and siblings, ordering the
// siblings and keeping only the newest one without allowMult.
func newObject(clock vclock, sibs []sibling, allowMult bool) *object {
	slices.SortFunc(sibs, func(x, y sibling) int {
		if c := x.modified.Compare(y.modified); c != 0 {
			return c
		}
		return bytes.Compare(x.content.Vtag, y.content.Vtag)
	})
	if !allowMult && len(sibs) > 1 {
		sibs = sibs[len(sibs)-1:]
	}
	return &object{clock: clock, siblings: sibs}
}

// newContent returns the stored form of a content sent by a client,
// stamped with a new vtag and the modification time now. It refuses
// malformed secondary index entries.
func newContent(in *riak_kv.RpbContent, now time.Time, deleted bool) (*riak_kv.RpbContent, error) {
	c := &riak_kv.RpbContent{Value: []byte{}}
	if in != nil {
		if in.Value != nil {
			c.Value = in.Value
		}
		c.ContentType = in.ContentType
		c.Charset = in.Charset
		c.ContentEncoding = in.ContentEncoding
		for _, l := range in.Links {
			c.Links = append(c.Links, &riak_kv.RpbLink{Bucket: l.Bucket, Key: l.Key, Tag: l.Tag})
		}
		for _, p := range in.Usermeta {
			c.Usermeta = append(c.Usermeta, &riak.RpbPair{Key: nonNil(p.Key), Value: p.Value})
		}
		idx, err := normalizeIndexes(in.Indexes)
		if err != nil {
			return nil, err
		}
		c.Indexes = idx
	}
	if deleted {
		c = &riak_kv.RpbContent{Value: []byte{}, Deleted: proto.Bool(true)}
	}
	c.Vtag = []byte(randomBase62(22))
	c.LastMod = proto.Uint32(uint32(now.Unix()))
	c.LastModUsecs = proto.Uint32(uint32(now.Nanosecond() / 1000))
	return c, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// normalizeIndexes checks secondary index entries: a name ends in _bin or
// _int, and an _int term is a decimal integer, kept in canonical form.
// Exact duplicates are dropped.
func normalizeIndexes(in []*riak.RpbPair) ([]*riak.RpbPair, error) {
	var out []*riak.RpbPair
	seen := map[[2]string]bool{}
	for _, p := range in {
		name, term := string(p.Key), string(p.Value)
		switch {
		case strings.HasSuffix(name, "_bin"):
		case strings.HasSuffix(name, "_int"):
			n, err := strconv.ParseInt(term, 10, 64)
			if err != nil {
				return nil, rpcErrorf("{field_parsing_failed,{<<%q>>,<<%q>>}}", name, term)
			}
			term = strconv.FormatInt(n, 10)
		default:
			return nil, rpcErrorf("{unknown_field_type,<<%q>>}", name)
		}
		if k := [2]string{name, term}; !seen[k] {
			seen[k] = true
			out = append(out, &riak.RpbPair{Key: []byte(name), Value: []byte(term)})
		}
	}
	return out, nil
}

// wireContent returns the content of s as a reply carries it; with head
// the value is left empty.
func wireContent(s sibling, head bool) *riak_kv.RpbContent {
	if !head {
		return s.content
	}
	c := *s.content
	c.Value = []byte{}
	return &c
}

// wireContents returns the siblings of o as a reply carries them.
func wireContents(o *object, head bool) []*riak_kv.RpbContent {
	out := make([]*riak_kv.RpbContent, len(o.siblings))
	for i, s := range o.siblings {
		out[i] = wireContent(s, head)
	}
	return out
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n random base62 characters, the alphabet of Riak's
// generated keys (27 characters) and vtags (22).
func randomBase62(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = base62[rand.N(len(base62))]
	}
	return string(b)
}
