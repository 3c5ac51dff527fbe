package riak

import (
	"slices"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/repo/driver"
)

// Each collection is a bucket, ns.collection, in the adapter's bucket
// type. A record is one object: its key is the order-preserving encoding
// of the primary key (internal/valuecodec), so that Riak's $key index
// orders and ranges records by key; its value is the record's state
// (state.go, object.go). Each secondary index of the schema is two 2i
// entries of the object:
//
//	<index>_a_bin  the encoded indexed fields: 2i sorts results by term
//	               and then key, which is the order (fields…, key)
//	<index>_d_bin  the bytes of the encoded fields and key, complemented:
//	               ascending order of these terms is descending order of
//	               (fields…, key), which 2i cannot give otherwise
//
// and one more, strata_key_d_bin, orders records by descending key. A
// query reads a range of one of them, a page at a time (max_results and
// the continuation), and fetches the records it lists.

// collection is what the adapter derives once from a *driver.Collection.
type collection struct {
	*driver.Collection
	bucket []byte
	typ    []byte
	isMap  bool  // stored as Riak maps (maps.go)
	bad    error // why the collection cannot be stored as the options say
}

func (a *Adapter) collectionOf(c *driver.Collection) *collection {
	if v, ok := a.collections.Load(c); ok {
		return v.(*collection)
	}
	v, _ := a.collections.LoadOrStore(c, a.newCollection(c))
	return v.(*collection)
}

// newCollection derives the adapter's view of c, uncached (for the
// collections a migration builds from its records).
func (a *Adapter) newCollection(c *driver.Collection) *collection {
	col := &collection{Collection: c, bucket: []byte(a.opts.Namespace + "." + c.Name), typ: []byte(a.opts.BucketType)}
	if slices.Contains(a.opts.Maps, c.Name) {
		col.isMap, col.typ, col.bad = true, []byte(a.opts.MapType), checkMap(c)
	}
	return col
}

// keyOf returns the object key of primary key k.
func keyOf(k any) []byte { return valuecodec.AppendComponent(nil, k) }

const keyDescIndex = "strata_key_d_bin"

func ascIndex(name string) string  { return name + "_a_bin" }
func descIndex(name string) string { return name + "_d_bin" }

// indexEntries returns the 2i entries of a record with values vals.
func indexEntries(c *driver.Collection, vals []any) []*riak.RpbPair {
	key := keyOf(vals[c.Key])
	out := []*riak.RpbPair{{Key: []byte(keyDescIndex), Value: complement(slices.Clone(key))}}
	for _, ix := range c.Indexes {
		var term []byte
		for _, name := range ix.Fields {
			term = valuecodec.AppendComponent(term, vals[c.FieldIndex(name)])
		}
		out = append(out,
			&riak.RpbPair{Key: []byte(ascIndex(ix.Name)), Value: term},
			&riak.RpbPair{Key: []byte(descIndex(ix.Name)), Value: complement(append(slices.Clone(term), key...))})
	}
	return out
}

// complement flips every bit of b in place and returns it: the order of
// complemented prefix-free strings is the reverse of theirs.
func complement(b []byte) []byte {
	for i := range b {
		b[i] = ^b[i]
	}
	return b
}
