package driver

import (
	"math/bits"
	"strings"
)

// Capabilities is the set of optional abilities an adapter has. A missing
// capability makes the portable layer fail a call early with ErrUnsupported
// naming it, and makes the conformance suite skip the cases that need it.
type Capabilities uint64

// The capabilities.
const (
	// CapTransactions: the adapter implements Transactor.
	CapTransactions Capabilities = 1 << iota
	// CapSavepoints: its Tx implements Savepointer (nested transactions).
	CapSavepoints
	// CapListAll: a query with no filter on an indexed field (including no
	// filter at all) is cheap. Without it such a query needs
	// Query.FullScan.
	CapListAll
	// CapUnindexedFilter: filters and ordering on fields without an index
	// are cheap. Without it, a query must have a filter on an indexed
	// field (then other filters apply to the records it selects) or set
	// FullScan, and may order only by indexed fields.
	CapUnindexedFilter
	// CapFullScan: the adapter can scan a whole collection when a query
	// sets FullScan.
	CapFullScan
	// CapOffset: Query.Offset is supported.
	CapOffset
	// CapUpsert: InsertOptions.OnConflict is supported.
	CapUpsert
	// CapAggregates: the adapter implements Aggregator.
	CapAggregates
	// CapBatchInsert: the adapter implements BatchInserter (atomic
	// InsertAll). Without it repo.InsertAll inserts one by one and is not
	// atomic.
	CapBatchInsert
	// CapUniqueIndexes: unique indexes are enforced by the store.
	CapUniqueIndexes
	// CapConditionalWrites: conditional writes are atomic under
	// concurrency: of two concurrent inserts of one primary key exactly
	// one succeeds, and of two concurrent updates expecting one version
	// exactly one succeeds (the other gets ErrStale). Stores without it
	// (Riak, outside strongly consistent buckets) detect duplicates and
	// stale versions only between writes that are not concurrent, and
	// resolve concurrent ones by the merge policies.
	CapConditionalWrites

	capEnd
)

var capNames = []string{
	"transactions", "savepoints", "list-all", "unindexed-filter", "full-scan",
	"offset", "upsert", "aggregates", "batch-insert", "unique-indexes",
	"conditional-writes",
}

// AllCapabilities has every capability; the memory adapter declares it.
const AllCapabilities = capEnd - 1

// Has reports whether c includes every capability in want.
func (c Capabilities) Has(want Capabilities) bool { return c&want == want }

// String lists the capabilities by name, separated by '|'.
func (c Capabilities) String() string {
	var names []string
	for c != 0 {
		i := bits.TrailingZeros64(uint64(c))
		if i < len(capNames) {
			names = append(names, capNames[i])
		} else {
			names = append(names, "?")
		}
		c &^= 1 << i
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// CollectionCapabilities is implemented by adapters whose abilities differ
// per collection, such as a router that sends each collection to a store
// of its own (repo.Router). The portable layer then checks each call
// against the capabilities of the collection it touches, and
// Adapter.Capabilities tells what holds for every collection.
type CollectionCapabilities interface {
	// CapabilitiesOf returns the capabilities that hold for calls on c.
	CapabilitiesOf(c *Collection) Capabilities
}
