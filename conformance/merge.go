package conformance

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/schema"
)

var mergeCases = []testCase{
	{"Counter", mergeCounter},
	{"CounterConcurrent", mergeCounterConcurrent},
	{"Set", mergeSet},
	{"SetAddConcurrent", mergeSetAddConcurrent},
	{"SetRemoveConcurrent", mergeSetRemoveConcurrent},
	{"Max", mergeMax},
	{"MaxConcurrent", mergeMaxConcurrent},
	{"LWWConcurrent", mergeLWWConcurrent},
	{"Flag", mergeFlag},
	{"StructUpdateKeepsMerges", mergeStructUpdate},
	{"MixedConcurrent", mergeMixed},
}

// firstErr keeps the first error of many goroutines.
type firstErr struct {
	mu  sync.Mutex
	err error
}

func (f *firstErr) set(err error) {
	if err == nil {
		return
	}
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstErr) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// change applies a changeset made by build on a fresh copy of base.
func change(e *env, base Stats, build func(cs *schema.Changeset) *schema.Changeset) (Stats, error) {
	cp := base
	err := e.r.Update(e.ctx, build(schema.NewChangeset(&cp)))
	return cp, err
}

// stored reads the Stats record with the given id, waiting (see
// env.eventually) until check passes.
func stored(t *testing.T, e *env, id int64, check func(c require.TestingT, got Stats)) {
	t.Helper()
	e.eventually(t, func(c require.TestingT) {
		var got Stats
		require.NoError(c, e.r.Get(e.ctx, &got, id))
		check(c, got)
	})
}

func mergeCounter(t *testing.T, s *suite) {
	e := s.open(t)
	st := Stats{Hits: 5}
	insert(t, e, &st)
	stale := st
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&st).Increment("hits", 3)))
	require.EqualValues(t, 8, st.Hits, "the struct holds the stored total")
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&st).Increment("hits", -10)))
	require.EqualValues(t, -2, st.Hits)
	got, err := change(e, stale, func(cs *schema.Changeset) *schema.Changeset { return cs.Increment("hits", 1) })
	require.NoError(t, err)
	require.EqualValues(t, -1, got.Hits, "an increment applies to the stored value, not to the copy's")
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&st).Increment("hits", 2).Increment("hits", 3)))
	require.EqualValues(t, 4, st.Hits, "increments in one changeset add up")
	stored(t, e, st.ID, func(c require.TestingT, got Stats) { require.EqualValues(c, 4, got.Hits) })
}

func mergeCounterConcurrent(t *testing.T, s *suite) {
	e := s.open(t)
	base := Stats{Title: "counter"}
	insert(t, e, &base)
	const goroutines, each = 8, 200
	var errs firstErr
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				_, err := change(e, base, func(cs *schema.Changeset) *schema.Changeset { return cs.Increment("hits", 1) })
				errs.set(err)
			}
		})
	}
	wg.Wait()
	require.NoError(t, errs.get())
	stored(t, e, base.ID, func(c require.TestingT, got Stats) {
		require.EqualValues(c, goroutines*each, got.Hits, "no increment is lost")
		require.Equal(c, "counter", got.Title, "increments leave other fields alone")
	})
}

func mergeSet(t *testing.T, s *suite) {
	e := s.open(t)
	st := Stats{Tags: []string{"a", "b"}}
	insert(t, e, &st)
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&st).AddToSet("tags", "c", "a", "c")))
	require.ElementsMatch(t, []string{"a", "b", "c"}, st.Tags, "an element already present is not added twice")
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&st).RemoveFromSet("tags", "a", "absent")))
	require.ElementsMatch(t, []string{"b", "c"}, st.Tags, "removing an absent element is no error")
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&st).RemoveFromSet("tags", "b", "c")))
	require.Empty(t, st.Tags)
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&st).AddToSet("tags", "x")))
	stored(t, e, st.ID, func(c require.TestingT, got Stats) { require.Equal(c, []string{"x"}, got.Tags) })
}

func mergeSetAddConcurrent(t *testing.T, s *suite) {
	e := s.open(t)
	base := Stats{Tags: []string{"seed"}}
	insert(t, e, &base)
	const goroutines, each = 8, 25
	want := []string{"seed", "common"}
	for g := range goroutines {
		for i := range each {
			want = append(want, sprintf("g%d-e%d", g, i))
		}
	}
	var errs firstErr
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				_, err := change(e, base, func(cs *schema.Changeset) *schema.Changeset {
					return cs.AddToSet("tags", sprintf("g%d-e%d", g, i), "common")
				})
				errs.set(err)
			}
		})
	}
	wg.Wait()
	require.NoError(t, errs.get())
	stored(t, e, base.ID, func(c require.TestingT, got Stats) {
		require.ElementsMatch(c, want, got.Tags, "no element is lost or duplicated")
	})
}

func mergeSetRemoveConcurrent(t *testing.T, s *suite) {
	e := s.open(t)
	var initial []string
	for i := range 16 {
		initial = append(initial, sprintf("e%02d", i))
	}
	base := Stats{Tags: initial}
	insert(t, e, &base)
	var errs firstErr
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			_, err := change(e, base, func(cs *schema.Changeset) *schema.Changeset {
				return cs.RemoveFromSet("tags", sprintf("e%02d", g), "absent")
			})
			errs.set(err)
			_, err = change(e, base, func(cs *schema.Changeset) *schema.Changeset { return cs.AddToSet("tags", sprintf("new%d", g)) })
			errs.set(err)
		})
	}
	wg.Wait()
	require.NoError(t, errs.get())
	want := slices.Clone(initial[8:])
	for g := range 8 {
		want = append(want, sprintf("new%d", g))
	}
	stored(t, e, base.ID, func(c require.TestingT, got Stats) { require.ElementsMatch(c, want, got.Tags) })
}

func mergeMax(t *testing.T, s *suite) {
	e := s.open(t)
	st := Stats{High: 10}
	insert(t, e, &st)
	stale := st
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&st).Put("high", 20)))
	require.EqualValues(t, 20, st.High)
	got, err := change(e, stale, func(cs *schema.Changeset) *schema.Changeset { return cs.Put("high", 15) })
	require.NoError(t, err)
	require.EqualValues(t, 20, got.High, "a lower value does not replace a higher one")
	stale.High = 5
	require.NoError(t, e.r.Update(e.ctx, &stale))
	require.EqualValues(t, 20, stale.High, "nor through a struct update")
	stale.High = 30
	require.NoError(t, e.r.Update(e.ctx, &stale))
	require.EqualValues(t, 30, stale.High)
	stored(t, e, st.ID, func(c require.TestingT, got Stats) { require.EqualValues(c, 30, got.High) })
}

func mergeMaxConcurrent(t *testing.T, s *suite) {
	e := s.open(t)
	base := Stats{}
	insert(t, e, &base)
	const writers, each = 8, 50
	var errs firstErr
	var wg sync.WaitGroup
	done := make(chan struct{})
	// A reader checks that the value never decreases.
	var readerErr firstErr
	var decreased []int64
	var rg sync.WaitGroup
	rg.Go(func() {
		last := int64(0)
		for {
			select {
			case <-done:
				return
			default:
			}
			var got Stats
			if err := e.r.Get(e.ctx, &got, base.ID); err != nil {
				readerErr.set(err)
				return
			}
			if got.High < last {
				decreased = append(decreased, last, got.High)
			}
			last = max(last, got.High)
		}
	})
	for g := range writers {
		wg.Go(func() {
			for k := range each {
				v := int64((k*37)%each*writers + g + 1)
				got, err := change(e, base, func(cs *schema.Changeset) *schema.Changeset { return cs.Put("high", v) })
				errs.set(err)
				if err == nil && got.High < v {
					errs.set(fmt.Errorf("writer %d wrote %d and read back %d", g, v, got.High))
				}
			}
		})
	}
	wg.Wait()
	close(done)
	rg.Wait()
	require.NoError(t, errs.get())
	require.NoError(t, readerErr.get())
	if e.lag == 0 {
		require.Empty(t, decreased, "a max field never decreases (pairs of before, after)")
	}
	stored(t, e, base.ID, func(c require.TestingT, got Stats) {
		require.EqualValues(c, each*writers, got.High, "the greatest value wins")
	})
}

func mergeLWWConcurrent(t *testing.T, s *suite) {
	e := s.open(t)
	base := Stats{Title: "initial"}
	insert(t, e, &base)
	const writers, each = 8, 20
	var errs firstErr
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for k := range each {
				_, err := change(e, base, func(cs *schema.Changeset) *schema.Changeset {
					return cs.Put("title", sprintf("w%d-%d", g, k))
				})
				errs.set(err)
			}
		})
	}
	wg.Wait()
	require.NoError(t, errs.get())
	var lasts []string
	for g := range writers {
		lasts = append(lasts, sprintf("w%d-%d", g, each-1))
	}
	e.eventually(t, func(c require.TestingT) {
		titles := make([]string, 8)
		var rerr firstErr
		var rg sync.WaitGroup
		for i := range titles {
			rg.Go(func() {
				var got Stats
				rerr.set(e.r.Get(e.ctx, &got, base.ID))
				titles[i] = got.Title
			})
		}
		rg.Wait()
		require.NoError(c, rerr.get())
		for _, title := range titles {
			require.Equal(c, titles[0], title, "every reader sees the same winner")
		}
		require.Contains(c, lasts, titles[0], "the winner is some writer's last write")
	})
}

func mergeFlag(t *testing.T, s *suite) {
	e := s.open(t)
	base := Stats{}
	insert(t, e, &base)
	var errs firstErr
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := change(e, base, func(cs *schema.Changeset) *schema.Changeset { return cs.Put("seen", true) })
			errs.set(err)
		})
	}
	wg.Wait()
	require.NoError(t, errs.get())
	var st Stats
	stored(t, e, base.ID, func(c require.TestingT, got Stats) {
		require.True(c, got.Seen, "concurrent enables")
		st = got
	})
	require.NoError(t, e.r.Update(e.ctx, schema.NewChangeset(&st).Put("seen", false)))
	require.False(t, st.Seen, "a disable that is not concurrent with an enable takes effect")
	stored(t, e, base.ID, func(c require.TestingT, got Stats) { require.False(c, got.Seen) })
	st.Seen = true
	require.NoError(t, e.r.Update(e.ctx, &st))
	stored(t, e, base.ID, func(c require.TestingT, got Stats) { require.True(c, got.Seen) })
}

// mergeStructUpdate: a whole-struct Update writes the plain fields of a
// stale copy but never undoes the counter increments and set additions
// made since: counters and sets change only through changesets.
func mergeStructUpdate(t *testing.T, s *suite) {
	e := s.open(t)
	st := Stats{Hits: 1, Tags: []string{"a"}, Title: "orig"}
	insert(t, e, &st)
	stale := st
	_, err := change(e, st, func(cs *schema.Changeset) *schema.Changeset { return cs.Increment("hits", 5) })
	require.NoError(t, err)
	_, err = change(e, st, func(cs *schema.Changeset) *schema.Changeset { return cs.AddToSet("tags", "b") })
	require.NoError(t, err)

	stale.Title = "changed"
	stale.Hits = 100
	stale.Tags = []string{"z"}
	require.NoError(t, e.r.Update(e.ctx, &stale))
	require.Equal(t, "changed", stale.Title, "a struct update writes the plain fields")
	require.EqualValues(t, 6, stale.Hits, "a struct update does not write the counter: the struct holds the stored total")
	require.ElementsMatch(t, []string{"a", "b"}, stale.Tags, "a struct update does not write the set: the struct holds the stored set")
	stored(t, e, st.ID, func(c require.TestingT, got Stats) {
		require.Equal(c, "changed", got.Title)
		require.EqualValues(c, 6, got.Hits, "the increment survives a struct update of a stale copy")
		require.ElementsMatch(c, []string{"a", "b"}, got.Tags, "the addition survives a struct update of a stale copy")
	})

	// Nor do zero values: a copy with a zero counter and no set.
	zero := Stats{ID: st.ID, Title: "zeroed"}
	require.NoError(t, e.r.Update(e.ctx, &zero))
	stored(t, e, st.ID, func(c require.TestingT, got Stats) {
		require.Equal(c, "zeroed", got.Title)
		require.EqualValues(c, 6, got.Hits, "a zero counter in a struct update is not written")
		require.ElementsMatch(c, []string{"a", "b"}, got.Tags, "a nil set in a struct update is not written")
	})
}

// mergeMixed: concurrent changesets of different fields of one record,
// each with its own merge policy, all take effect.
func mergeMixed(t *testing.T, s *suite) {
	e := s.open(t)
	base := Stats{}
	insert(t, e, &base)
	const each = 50
	var errs firstErr
	var wg sync.WaitGroup
	var want []string
	for g := range 4 {
		for k := range each {
			want = append(want, sprintf("t%d-%d", g, k))
		}
	}
	for g := range 4 {
		wg.Go(func() {
			for range each {
				_, err := change(e, base, func(cs *schema.Changeset) *schema.Changeset { return cs.Increment("hits", 1) })
				errs.set(err)
			}
		})
		wg.Go(func() {
			for k := range each {
				_, err := change(e, base, func(cs *schema.Changeset) *schema.Changeset { return cs.AddToSet("tags", sprintf("t%d-%d", g, k)) })
				errs.set(err)
			}
		})
	}
	wg.Go(func() {
		for k := range each {
			_, err := change(e, base, func(cs *schema.Changeset) *schema.Changeset { return cs.Put("high", int64(k+1)) })
			errs.set(err)
		}
	})
	wg.Go(func() {
		for k := range each {
			_, err := change(e, base, func(cs *schema.Changeset) *schema.Changeset { return cs.Put("title", sprintf("title %d", k)) })
			errs.set(err)
		}
	})
	wg.Wait()
	require.NoError(t, errs.get())
	stored(t, e, base.ID, func(c require.TestingT, got Stats) {
		require.EqualValues(c, 4*each, got.Hits)
		require.ElementsMatch(c, want, got.Tags)
		require.EqualValues(c, each, got.High)
		require.Equal(c, sprintf("title %d", each-1), got.Title)
		require.False(c, got.Seen)
	})
}
