package cache

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// counters are the adapter's running counts.
type counters struct {
	l1Hits, l1Misses, l2Hits, l2Misses, loads, bypassed atomic.Uint64
	queryHits, queryMisses                              atomic.Uint64
	evictions, expirations                              atomic.Uint64
	invalidations, flushes, published, received         atomic.Uint64
	l2Errors, busErrors, busResets                      atomic.Uint64
}

// Stats are the counts of an adapter since it was created.
type Stats struct {
	// L1Hits and L1Misses count Gets answered from L1 or not; a miss
	// joined to another Get's load of the same key counts as a miss.
	L1Hits, L1Misses uint64
	// L2Hits and L2Misses count loads answered from L2 or not.
	L2Hits, L2Misses uint64
	// Loads counts reads of a record from the store; with Bypassed, the
	// Gets that skipped L1 while the bus was down.
	Loads, Bypassed uint64
	// QueryHits and QueryMisses count queries, counts and aggregates
	// answered from the query cache or not (with the query cache on).
	QueryHits, QueryMisses uint64
	// Evictions counts L1 records dropped for room, Expirations those
	// dropped for age.
	Evictions, Expirations uint64
	// Invalidations counts keys this node's writes invalidated; Flushes
	// the collections (or whole L1s) dropped at once.
	Invalidations, Flushes uint64
	// Published and Received count invalidation messages sent to and
	// taken from the bus (a node's own are not received).
	Published, Received uint64
	// L2Errors and BusErrors count failures the adapter rode over;
	// BusResets counts the times the bus said it might have lost messages
	// (a lost connection, or a subscriber that fell behind).
	L2Errors, BusErrors, BusResets uint64
}

// Stats returns the adapter's counts.
func (a *Adapter) Stats() Stats {
	c := &a.stats
	return Stats{
		L1Hits: c.l1Hits.Load(), L1Misses: c.l1Misses.Load(),
		L2Hits: c.l2Hits.Load(), L2Misses: c.l2Misses.Load(),
		Loads: c.loads.Load(), Bypassed: c.bypassed.Load(),
		QueryHits: c.queryHits.Load(), QueryMisses: c.queryMisses.Load(),
		Evictions: c.evictions.Load(), Expirations: c.expirations.Load(),
		Invalidations: c.invalidations.Load(), Flushes: c.flushes.Load(),
		Published: c.published.Load(), Received: c.received.Load(),
		L2Errors: c.l2Errors.Load(), BusErrors: c.busErrors.Load(), BusResets: c.busResets.Load(),
	}
}

// Collector returns a Prometheus collector of the adapter's Stats, as
// counters named strata_cache_*_total with the given constant labels
// (a "namespace" label is added). Register it with a registry:
//
//	prometheus.MustRegister(a.Collector(nil))
func (a *Adapter) Collector(labels prometheus.Labels) prometheus.Collector {
	l := prometheus.Labels{"namespace": a.opts.Namespace}
	for k, v := range labels {
		l[k] = v
	}
	desc := func(name, help string, varLabels ...string) *prometheus.Desc {
		return prometheus.NewDesc("strata_cache_"+name+"_total", help, varLabels, l)
	}
	return &collector{a: a,
		hits:    desc("hits", "Reads answered by a cache tier.", "tier"),
		misses:  desc("misses", "Reads a cache tier could not answer.", "tier"),
		loads:   desc("store_loads", "Records read from the store by the cache."),
		bypass:  desc("bypassed", "Reads that skipped L1 while the invalidation bus was down."),
		evict:   desc("evictions", "L1 records dropped, by cause.", "cause"),
		inval:   desc("invalidations", "Keys invalidated by this node's writes."),
		flushes: desc("flushes", "Collections or whole L1s dropped at once."),
		bus:     desc("bus_messages", "Invalidation messages, by direction.", "direction"),
		errs:    desc("errors", "Failures the cache rode over, by part.", "part"),
		resets:  desc("bus_resets", "Times the invalidation bus may have lost messages."),
	}
}

type collector struct {
	a                                                                     *Adapter
	hits, misses, loads, bypass, evict, inval, flushes, bus, errs, resets *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.loads, c.bypass, c.evict, c.inval, c.flushes, c.bus, c.errs, c.resets} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.a.Stats()
	m := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	m(c.hits, s.L1Hits, "l1")
	m(c.hits, s.L2Hits, "l2")
	m(c.hits, s.QueryHits, "query")
	m(c.misses, s.L1Misses, "l1")
	m(c.misses, s.L2Misses, "l2")
	m(c.misses, s.QueryMisses, "query")
	m(c.loads, s.Loads)
	m(c.bypass, s.Bypassed)
	m(c.evict, s.Evictions, "size")
	m(c.evict, s.Expirations, "ttl")
	m(c.inval, s.Invalidations)
	m(c.flushes, s.Flushes)
	m(c.bus, s.Published, "sent")
	m(c.bus, s.Received, "received")
	m(c.errs, s.L2Errors, "l2")
	m(c.errs, s.BusErrors, "bus")
	m(c.resets, s.BusResets)
}
