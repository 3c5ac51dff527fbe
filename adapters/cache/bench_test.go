package cache_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/strata-go/strata/adapters/cache"
	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/adapters/sqlstore"
	"github.com/strata-go/strata/internal/redisurl"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// The benchmarks compare the cache with the raw library in the same run;
// BENCHMARKS.md has the figures and the commands.

// BenchmarkL1Get: Repo.Get of a record in L1 against otter's Get of the
// same decoded record (copied, as the cache copies, since callers may
// change what they get).
func BenchmarkL1Get(b *testing.B) {
	ctx := context.Background()
	item := Item{ID: 1, Name: "one", N: 7, Tags: []string{"a", "b"}}
	b.Run("impl=repo", func(b *testing.B) {
		a, err := cache.New(memory.New(), cache.Options{})
		if err != nil {
			b.Fatal(err)
		}
		r := newRepo(b, a)
		if err := r.Insert(ctx, &item); err != nil {
			b.Fatal(err)
		}
		var got Item
		if err := r.Get(ctx, &got, int64(1)); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := r.Get(ctx, &got, int64(1)); err != nil {
				b.Fatal(err)
			}
		}
		if a.Stats().L1Hits < uint64(b.N) {
			b.Fatalf("only %d of %d reads hit L1", a.Stats().L1Hits, b.N)
		}
	})
	b.Run("impl=otter", func(b *testing.B) {
		c := otter.Must(&otter.Options[int64, Item]{MaximumSize: cache.DefaultSize})
		c.Set(1, item)
		var got Item
		b.ReportAllocs()
		for b.Loop() {
			v, ok := c.GetIfPresent(1)
			if !ok {
				b.Fatal("miss")
			}
			got = v
			got.Tags = slices.Clone(v.Tags)
		}
		_ = got
	})
}

// ZipfItem is the record of the Zipf benchmark.
type ZipfItem struct {
	_    struct{} `strata:"table=zipf_items"`
	ID   int64
	Name string
	N    int64
}

// zipfKeys is the number of records (STRATA_BENCH_KEYS, default 10⁶).
func zipfKeys() int {
	if n, err := strconv.Atoi(os.Getenv("STRATA_BENCH_KEYS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// zipf draws ranks 1..n with P(k) ∝ 1/k^s, by inverting the CDF (Go's
// rand.Zipf needs s > 1).
type zipf struct{ cdf []float64 }

func newZipf(n int, s float64) *zipf {
	z := &zipf{cdf: make([]float64, n)}
	sum := 0.0
	for k := 1; k <= n; k++ {
		sum += 1 / math.Pow(float64(k), s)
		z.cdf[k-1] = sum
	}
	for i := range z.cdf {
		z.cdf[i] /= sum
	}
	return z
}

func (z *zipf) next(r *rand.Rand) int64 {
	i, _ := slices.BinarySearch(z.cdf, r.Float64())
	return int64(min(i, len(z.cdf)-1) + 1)
}

// op is one step of the trace: a read or (write) an update of key.
type op struct {
	key   int64
	write bool
}

// zipfTrace returns n steps: keys by Zipf s=1.0 over keys records,
// scattered over the key space (so rank is not key order), 1% writes.
func zipfTrace(n, keys int) []op {
	r := rand.New(rand.NewPCG(1, 2))
	z := newZipf(keys, 1.0)
	perm := r.Perm(keys)
	trace := make([]op, n)
	for i := range trace {
		trace[i] = op{key: int64(perm[z.next(r)-1] + 1), write: r.IntN(100) == 0}
	}
	return trace
}

// zipfWorkers is the number of goroutines running the Zipf trace.
const zipfWorkers = 8

// otterHitRatio2 replays warm then trace through a bare otter cache of
// size entries, invalidating a key on each write as the cache adapter
// does, and returns the hit ratio of trace's reads.
func otterHitRatio2(warm, trace []op, size int) float64 {
	c := otter.Must(&otter.Options[int64, struct{}]{MaximumSize: size})
	replay(c, warm)
	return replay(c, trace)
}

// replay runs trace through c and returns its hit ratio.
func replay(c *otter.Cache[int64, struct{}], trace []op) float64 {
	hits, reads := 0, 0
	for _, o := range trace {
		if o.write {
			c.Invalidate(o.key)
			continue
		}
		reads++
		if _, ok := c.GetIfPresent(o.key); ok {
			hits++
			continue
		}
		c.Set(o.key, struct{}{})
	}
	return float64(hits) / float64(reads)
}

// BenchmarkZipf: the Zipf workload through the repo over PostgreSQL,
// without a cache, with an L1 of 10⁴ records, and with the L1 and a Redis
// L2, by 8 workers. Each b.N is one step of a trace; the trace's first
// half warms the caches up, unmeasured.
func BenchmarkZipf(b *testing.B) {
	ctx := context.Background()
	keys := zipfKeys()
	const l1Size = 10_000
	var cleanups []func()
	cleanup := func(f func()) { cleanups = append(cleanups, f) }
	b.Cleanup(func() {
		for _, f := range slices.Backward(cleanups) {
			f()
		}
	})
	storeURL := zipfTable(b, keys)
	trace := zipfTrace(2_000_000, keys)
	warm, measured := trace[:len(trace)/2], trace[len(trace)/2:]
	otterRatio := otterHitRatio2(warm, measured, l1Size)

	configs := []struct {
		name string
		opts *cache.Options
		l2   bool
	}{
		{"cache=none", nil, false},
		{"cache=l1", &cache.Options{Size: l1Size, TTL: time.Hour}, false},
		{"cache=l1+l2", &cache.Options{Size: l1Size, TTL: time.Hour, L2TTL: time.Hour}, true},
	}
	for _, cfg := range configs {
		// The repo and its warmed-up cache are built once per
		// configuration, not again for each b.N the benchmark is run with.
		var (
			once sync.Once
			r    *repo.Repo
			ca   *cache.Adapter
		)
		setup := func(b *testing.B) {
			inner, err := sqlstore.Open(ctx, storeURL)
			if err != nil {
				b.Fatal(err)
			}
			var a driver.Adapter = inner
			if cfg.opts != nil {
				o := *cfg.opts
				o.Namespace = freshNamespace()
				if cfg.l2 {
					rdb, err := redisurl.Parse(testservers.RedisURL(b))
					if err != nil {
						b.Fatal(err)
					}
					cleanup(func() { rdb.Close() })
					o.L2 = rdb
				}
				if ca, err = cache.New(inner, o); err != nil {
					b.Fatal(err)
				}
				a = ca
			}
			if r, err = repo.New(a); err != nil {
				b.Fatal(err)
			}
			cleanup(func() { r.Close() })
			if ca != nil {
				runSteps(b, r, warm, nil)
			}
		}
		b.Run(cfg.name, func(b *testing.B) {
			once.Do(func() { setup(b) })
			var before cache.Stats
			if ca != nil {
				before = ca.Stats()
			}
			steps := measured[:min(b.N, len(measured))]
			lat := make([]time.Duration, len(steps))
			b.ResetTimer()
			start := time.Now()
			runSteps(b, r, steps, lat)
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(len(steps))/elapsed.Seconds(), "ops/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			reads := 0
			for _, s := range steps {
				if !s.write {
					reads++
				}
			}
			if ca == nil {
				b.ReportMetric(float64(reads)/float64(len(steps)), "store-reads/op")
				return
			}
			s := ca.Stats()
			l1h, l1m := s.L1Hits-before.L1Hits, s.L1Misses-before.L1Misses
			l2h, l2m := s.L2Hits-before.L2Hits, s.L2Misses-before.L2Misses
			b.ReportMetric(float64(l1h)/float64(max(1, l1h+l1m)), "l1-hit-ratio")
			b.ReportMetric(otterRatio, "otter-hit-ratio")
			if cfg.l2 {
				b.ReportMetric(float64(l2h)/float64(max(1, l2h+l2m)), "l2-hit-ratio")
			}
			b.ReportMetric(float64(s.Loads-before.Loads)/float64(len(steps)), "store-reads/op")
		})
	}
}

// runSteps runs the steps of a trace on r with zipfWorkers workers,
// recording each step's latency in lat if it is not nil.
func runSteps(b *testing.B, r *repo.Repo, steps []op, lat []time.Duration) {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range zipfWorkers {
		wg.Go(func() {
			var it ZipfItem
			for {
				i := next.Add(1) - 1
				if i >= int64(len(steps)) {
					return
				}
				s := steps[i]
				t0 := time.Now()
				var err error
				if s.write {
					err = r.Update(ctx, schema.NewChangeset(&ZipfItem{ID: s.key}).Put("n", i))
				} else {
					err = r.Get(ctx, &it, s.key)
				}
				if err != nil {
					b.Errorf("worker %d step %d: %v", w, i, err)
					return
				}
				if lat != nil {
					lat[i] = time.Since(t0)
				}
			}
		})
	}
	wg.Wait()
}

// zipfTable creates a fresh PostgreSQL schema holding the benchmark's
// table of keys records (dropped when b ends) and returns its URL.
func zipfTable(b *testing.B, keys int) string {
	ctx := context.Background()
	storeURL := testservers.PostgresSchema(b)
	a, err := sqlstore.Open(ctx, storeURL)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	s, err := schema.Of[ZipfItem]()
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Migrate(ctx, driver.CreateCollection{Collection: s.Collection}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := a.Migrate(ctx, driver.Exec{
		Statement: "INSERT INTO zipf_items (id, name, n) SELECT g, 'item ' || g, g FROM generate_series(1, ?) AS g",
		Args:      []any{keys},
	}); err != nil {
		b.Fatal(err)
	}
	if err := a.Migrate(ctx, driver.Exec{Statement: "ANALYZE zipf_items"}); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d records in %v", keys, time.Since(start))
	return storeURL
}
