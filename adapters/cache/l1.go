package cache

import (
	"bytes"
	"fmt"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/strata-go/strata/repo/driver"
)

// l1Key names one record in L1. Primary keys are strings or int64s; an
// empty string key is invalid, so s == "" marks an int key. (A struct, not
// an interface, so that building one allocates nothing.)
type l1Key struct {
	coll string
	s    string
	i    int64
}

// keyOf returns the L1 key of a record of the collection with primary key
// k, or false if k is not a valid key.
func keyOf(coll string, k any) (l1Key, bool) {
	switch x := k.(type) {
	case string:
		return l1Key{coll: coll, s: x}, x != ""
	case int64:
		return l1Key{coll: coll, i: x}, true
	}
	return l1Key{}, false
}

// entry is a record in L1: decoded values the cache never hands out (it
// hands out copies), or "not found".
type entry struct {
	rec     driver.Record
	missing bool
	// cs is the collection's state; gen and flush are its generation and
	// the adapter's flush generation when the load began. An entry older
	// than either is a miss.
	cs         *collState
	gen, flush uint64
}

// fresh reports whether no flush has happened since e was loaded.
func (e *entry) fresh(flush uint64) bool {
	return e.cs != nil && e.gen == e.cs.gen.Load() && e.flush == flush
}

// queryEntry is a cached query result, count or aggregate.
type queryEntry struct {
	recs  []driver.Record
	value any
}

func newL1(o Options, st *counters) (*otter.Cache[l1Key, entry], error) {
	ttl, neg := o.TTL, o.Negative
	c, err := otter.New(&otter.Options[l1Key, entry]{
		MaximumSize: o.Size,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[l1Key, entry]) time.Duration {
			if e.Value.missing {
				return neg
			}
			return ttl
		}),
		OnDeletion: func(e otter.DeletionEvent[l1Key, entry]) {
			switch e.Cause {
			case otter.CauseOverflow:
				st.evictions.Add(1)
			case otter.CauseExpiration:
				st.expirations.Add(1)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: cache: L1: %v", driver.ErrInvalid, err)
	}
	return c, nil
}

func newQueryCache(o Options) (*otter.Cache[string, queryEntry], error) {
	c, err := otter.New(&otter.Options[string, queryEntry]{
		MaximumWeight: uint64(o.Size),
		Weigher: func(_ string, q queryEntry) uint32 {
			return uint32(max(1, len(q.recs)))
		},
		ExpiryCalculator: otter.ExpiryWriting[string, queryEntry](o.QueryTTL),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: cache: query cache: %v", driver.ErrInvalid, err)
	}
	return c, nil
}

// copyRecord returns a copy of rec that shares no memory with it, so that
// neither the caller nor the cache can change the other's.
func copyRecord(rec driver.Record) driver.Record {
	out := driver.Record{Values: make([]any, len(rec.Values))}
	for i, v := range rec.Values {
		out.Values[i] = driver.Clone(v)
	}
	if rec.Meta != nil {
		out.Meta = bytes.Clone(rec.Meta)
	}
	return out
}
