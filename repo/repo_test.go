package repo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
	"github.com/strata-go/strata/snowflake"
)

// Item is the schema of these tests; the conformance suite covers the
// semantics every adapter shares, these tests what belongs to the repo.
type Item struct {
	ID    int64
	Name  string `strata:"name,unique"`
	Kind  string `strata:"kind,index"`
	Note  string
	Count int64 `strata:"count,merge=counter"`
	schema.Timestamps
}

// limited hides the optional interfaces of an adapter and declares only
// caps, like a store that lacks them.
type limited struct {
	driver.Adapter
	caps driver.Capabilities
}

func (l limited) Capabilities() driver.Capabilities { return l.caps }

func newRepo(t *testing.T, a driver.Adapter, opts ...repo.Option) *repo.Repo {
	t.Helper()
	r, err := repo.New(a, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	r, err := repo.Open(ctx, "memory://")
	require.NoError(t, err)
	require.NoError(t, r.Insert(ctx, &Item{Name: "a"}))
	require.NoError(t, r.Close())

	_, err = repo.Open(ctx, "nosuch://x")
	assert.ErrorIs(t, err, repo.ErrInvalid)
	assert.Contains(t, err.Error(), "memory", "the error lists the registered schemes")
	_, err = repo.Open(ctx, "::bad")
	assert.ErrorIs(t, err, repo.ErrInvalid)
	assert.Contains(t, repo.Schemes(), "memory")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = repo.Open(cancelled, "memory://")
	assert.ErrorIs(t, err, context.Canceled)

	_, err = repo.New(nil)
	assert.ErrorIs(t, err, repo.ErrInvalid)
	_, err = repo.New(memory.New(), repo.WithNode(5000))
	assert.ErrorIs(t, err, repo.ErrInvalid)
}

func TestRegisterTwicePanics(t *testing.T) {
	assert.Panics(t, func() {
		repo.Register("memory", func(context.Context, *url.URL) (driver.Adapter, error) { return nil, nil })
	})
	assert.Panics(t, func() { repo.Register("fresh-scheme-for-test", nil) })
}

func TestCapabilityChecks(t *testing.T) {
	ctx := context.Background()
	none := newRepo(t, limited{memory.New(), driver.CapUniqueIndexes})
	full := newRepo(t, memory.New())
	require.NoError(t, none.Insert(ctx, &Item{Name: "a", Kind: "k", Note: "n"}))

	cases := []struct {
		name    string
		q       repo.Query
		wantErr string // "" = allowed
	}{
		{"no condition", repo.Query{}, "no condition on an indexed field"},
		{"unindexed condition", repo.Where("note", repo.Eq, "n"), "no condition on an indexed field"},
		{"indexed condition", repo.Where("kind", repo.Eq, "k"), ""},
		{"ne is no index lookup", repo.Where("kind", repo.Ne, "k"), "no condition on an indexed field"},
		{"indexed and unindexed", repo.Where("kind", repo.Eq, "k").Where("note", repo.Eq, "n"), ""},
		{"order by unindexed", repo.Where("kind", repo.Eq, "k").OrderBy("note"), "ordering by item.note needs an index"},
		{"order by indexed", repo.Where("kind", repo.Eq, "k").OrderBy("-name"), ""},
		{"offset", repo.Where("kind", repo.Eq, "k").Offset(1), "cannot skip records by offset"},
		{"full scan without the capability", repo.Query{}.FullScan(), "cannot scan item"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := repo.All[Item](ctx, none, c.q)
			if c.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, repo.ErrUnsupported)
				assert.ErrorContains(t, err, c.wantErr)
			}
			_, err = repo.All[Item](ctx, full, c.q)
			assert.NoError(t, err, "the memory adapter has every capability")
		})
	}

	scan := newRepo(t, limited{memory.New(), driver.CapFullScan | driver.CapUniqueIndexes})
	_, err := repo.All[Item](ctx, scan, repo.Where("note", repo.Eq, "n").OrderBy("note").FullScan())
	assert.NoError(t, err, "FullScan opts in")

	called := false
	err = none.Transaction(ctx, func(*repo.Repo) error { called = true; return nil })
	assert.ErrorIs(t, err, repo.ErrUnsupported)
	assert.False(t, called, "fn is not run without transactions")

	err = none.Insert(ctx, &Item{Name: "a"}, repo.OnConflictReplaceAll("name"))
	assert.ErrorIs(t, err, repo.ErrUnsupported)
	assert.NoError(t, none.Insert(ctx, &Item{Name: "a"}, repo.OnConflictDoNothing("name")), "do-nothing is emulated outside transactions")

	noUnique := newRepo(t, limited{memory.New(), driver.CapListAll})
	err = noUnique.Insert(ctx, &Item{Name: "a"})
	assert.ErrorIs(t, err, repo.ErrUnsupported, "a unique index the store cannot enforce is refused, not ignored")
	assert.ErrorContains(t, err, "item_name_key")
	assert.ErrorIs(t, noUnique.InsertAll(ctx, []Item{{Name: "b"}}), repo.ErrUnsupported)

	_, err = repo.Aggregate[Item](ctx, none, repo.Where("kind", repo.Eq, "k"), repo.Sum, "count")
	assert.ErrorIs(t, err, repo.ErrUnsupported)
}

func TestInsertAllWithoutBatchIsOneByOne(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t, limited{memory.New(), driver.CapListAll | driver.CapUniqueIndexes})
	items := []Item{{Name: "a"}, {Name: "b"}, {Name: "a"}, {Name: "c"}}
	err := r.InsertAll(ctx, items)
	assert.ErrorIs(t, err, repo.ErrConflict)
	assert.ErrorContains(t, err, "element 2 (earlier ones are stored)")
	n, err := repo.Count[Item](ctx, r, repo.Query{})
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	assert.NotZero(t, items[0].ID, "stored elements are updated in place")

	atomic := newRepo(t, memory.New())
	err = atomic.InsertAll(ctx, []*Item{{Name: "a"}, {Name: "b"}, {Name: "a"}})
	assert.ErrorIs(t, err, repo.ErrConflict)
	n, err = repo.Count[Item](ctx, atomic, repo.Query{})
	require.NoError(t, err)
	assert.Zero(t, n, "with CapBatchInsert nothing is stored")
}

func TestObserverAndLogger(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var events []repo.Event
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := newRepo(t, memory.New(), repo.WithObserver(func(_ context.Context, e repo.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}), repo.WithLogger(log))

	it := &Item{Name: "a"}
	require.NoError(t, r.Insert(ctx, it))
	require.ErrorIs(t, r.Get(ctx, &Item{}, 12345), repo.ErrNotFound)
	_, err := repo.All[Item](ctx, r, repo.Query{})
	require.NoError(t, err)
	require.NoError(t, r.Transaction(ctx, func(tx *repo.Repo) error {
		return tx.Update(ctx, schema.NewChangeset(it).Put("note", "x"))
	}))
	require.ErrorIs(t, r.Insert(ctx, &Item{Name: "a"}), repo.ErrConflict)

	var ops []string
	for _, e := range events {
		ops = append(ops, e.Op+" "+e.Schema)
		assert.False(t, e.Start.IsZero())
		assert.GreaterOrEqual(t, e.Duration, time.Duration(0))
	}
	assert.Equal(t, []string{"insert item", "get item", "query item", "update item", "transaction ", "insert item"}, ops)
	assert.Equal(t, 1, events[0].Rows)
	assert.ErrorIs(t, events[1].Err, repo.ErrNotFound)
	assert.Equal(t, 1, events[2].Rows)
	assert.ErrorIs(t, events[5].Err, repo.ErrConflict)

	out := logs.String()
	assert.Contains(t, out, "level=DEBUG msg=\"strata get\"", "not-found is not a warning")
	assert.Contains(t, out, "level=WARN msg=\"strata insert\"")
	assert.Equal(t, 1, strings.Count(out, "level=WARN"))
}

func TestErrorsNameOperationAndSchema(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t, memory.New())
	err := r.Get(ctx, &Item{}, 42)
	assert.ErrorIs(t, err, repo.ErrNotFound)
	assert.True(t, strings.HasPrefix(err.Error(), "strata: get item: "), err.Error())

	cs := schema.Cast(&Item{}, map[string]any{"name": ""}, "name").ValidateRequired("name")
	err = r.Insert(ctx, cs)
	var ce *schema.ChangesetError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "name", ce.Errors[0].Field)
	assert.ErrorIs(t, err, repo.ErrInvalid)
}

func TestTimestamps(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.UTC)
	clock := func() time.Time { return now }
	r := newRepo(t, memory.New(), repo.WithClock(clock))
	it := &Item{Name: "a"}
	require.NoError(t, r.Insert(ctx, it))
	want := now.Truncate(time.Microsecond)
	assert.Equal(t, want, it.InsertedAt)
	assert.Equal(t, want, it.UpdatedAt)
	assert.Equal(t, want.Truncate(time.Millisecond), snowflake.ID(it.ID).Time(), "IDs come from the same clock")

	now = now.Add(time.Hour)
	require.NoError(t, r.Update(ctx, schema.NewChangeset(it).Put("note", "n")))
	assert.Equal(t, want, it.InsertedAt)
	assert.Equal(t, want.Add(time.Hour), it.UpdatedAt)

	noop := schema.NewChangeset(it).Put("note", "n")
	require.NoError(t, r.Update(ctx, noop))
	assert.Equal(t, want.Add(time.Hour), it.UpdatedAt, "a changeset without changes writes nothing")
}

func TestCursorRejectsTampering(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t, memory.New())
	for i := range 5 {
		require.NoError(t, r.Insert(ctx, &Item{Name: string(rune('a' + i)), Kind: "k"}))
	}
	q := repo.Where("kind", repo.Eq, "k").OrderBy("name").Limit(2)
	p, err := repo.Paginate[Item](ctx, r, q)
	require.NoError(t, err)
	require.NotEmpty(t, p.Next)
	for _, bad := range []string{"!!!", "bnVsbA", "WzFd", p.Next + "x"} {
		_, err := repo.Paginate[Item](ctx, r, q.After(bad))
		assert.ErrorIs(t, err, repo.ErrInvalid, bad)
	}
	_, err = repo.Paginate[Item](ctx, r, repo.Where("kind", repo.Eq, "k").OrderBy("-inserted_at", "name").Limit(2).After(p.Next))
	assert.ErrorIs(t, err, repo.ErrInvalid, "a cursor of another order")
	_, err = repo.All[Item](ctx, r, q.After(p.Next))
	assert.ErrorIs(t, err, repo.ErrInvalid, "cursors belong to Paginate")
	_, err = repo.Paginate[Item](ctx, r, repo.Query{})
	assert.ErrorIs(t, err, repo.ErrInvalid, "Paginate needs a page size")
}

func TestQueryIsImmutable(t *testing.T) {
	base := repo.Where("kind", repo.Eq, "k")
	a := base.Where("name", repo.Eq, "a").OrderBy("name")
	b := base.Where("name", repo.Eq, "b")
	assert.Equal(t, "kind = k and name = a order by name", a.String())
	assert.Equal(t, "kind = k and name = b", b.String())
	assert.Equal(t, "kind = k", base.String())
	assert.Equal(t, "limit 3 offset 2", repo.Query{}.Limit(3).Offset(2).String())
}

func TestStreamStopsEarly(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t, memory.New())
	for i := range 10 {
		require.NoError(t, r.Insert(ctx, &Item{Name: string(rune('a' + i))}))
	}
	n := 0
	for it, err := range repo.Stream[Item](ctx, r, repo.Query{}.OrderBy("name")) {
		require.NoError(t, err)
		require.NotNil(t, it)
		n++
		if n == 3 {
			break
		}
	}
	assert.Equal(t, 3, n)

	type notASchema struct{ X chan int }
	for _, err := range repo.Stream[notASchema](ctx, r, repo.Query{}) {
		assert.ErrorIs(t, err, repo.ErrInvalid)
	}
}

func TestNewIDsAreUniqueAcrossRepos(t *testing.T) {
	a := memory.New()
	r1 := newRepo(t, a, repo.WithNode(1))
	r2 := newRepo(t, a, repo.WithNode(2))
	seen := map[snowflake.ID]bool{}
	for range 1000 {
		for i, r := range []*repo.Repo{r1, r2} {
			id, err := r.NewID()
			require.NoError(t, err)
			require.False(t, seen[id])
			require.Equal(t, i+1, id.Node())
			seen[id] = true
		}
	}

	future := newRepo(t, a, repo.WithClock(func() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }))
	_, err := future.NewID()
	assert.ErrorIs(t, err, snowflake.ErrExhausted)
	err = future.Insert(context.Background(), &Item{Name: "x"})
	assert.ErrorIs(t, err, snowflake.ErrExhausted, "an error, never a panic")
	assert.False(t, errors.Is(err, repo.ErrConflict))
}

// idSource is an IDSource that refuses while it is told to.
type idSource struct {
	g      *snowflake.Generator
	refuse error
}

func (s *idSource) Next() (snowflake.ID, error) {
	if s.refuse != nil {
		return 0, s.refuse
	}
	return s.g.Next()
}

// A repo WithIDSource draws its IDs and generated keys there (WithNode
// is ignored), and passes on the source's refusal.
func TestWithIDSource(t *testing.T) {
	g, err := snowflake.New(9)
	require.NoError(t, err)
	src := &idSource{g: g}
	r := newRepo(t, memory.New(), repo.WithIDSource(src), repo.WithNode(3))
	id, err := r.NewID()
	require.NoError(t, err)
	assert.Equal(t, 9, id.Node())
	it := &Item{Name: "x"}
	require.NoError(t, r.Insert(context.Background(), it))
	assert.Equal(t, 9, snowflake.ID(it.ID).Node(), "a generated key comes from the source")

	src.refuse = errors.New("lease in doubt")
	_, err = r.NewID()
	assert.ErrorIs(t, err, src.refuse)
	err = r.Insert(context.Background(), &Item{Name: "y"})
	assert.ErrorIs(t, err, src.refuse)
}

// withCaps keeps every method of the memory adapter but declares caps.
type withCaps struct {
	*memory.Adapter
	caps driver.Capabilities
}

func (w withCaps) Capabilities() driver.Capabilities { return w.caps }

func TestNestedTransactionWithoutSavepoints(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t, withCaps{memory.New(), driver.AllCapabilities &^ driver.CapSavepoints})
	inner := errors.New("inner failed")
	err := r.Transaction(ctx, func(tx *repo.Repo) error {
		if err := tx.Insert(ctx, &Item{Name: "outer"}); err != nil {
			return err
		}
		err := tx.Transaction(ctx, func(tx2 *repo.Repo) error {
			if err := tx2.Insert(ctx, &Item{Name: "inner"}); err != nil {
				return err
			}
			return inner
		})
		assert.ErrorIs(t, err, inner)
		return nil // the outer function carries on as if nothing happened
	})
	assert.ErrorIs(t, err, inner, "the transaction reports the nested failure")
	n, err := repo.Count[Item](ctx, r, repo.Query{})
	require.NoError(t, err)
	assert.Zero(t, n, "neither write was committed")

	full := newRepo(t, memory.New())
	require.NoError(t, full.Transaction(ctx, func(tx *repo.Repo) error {
		require.NoError(t, tx.Insert(ctx, &Item{Name: "outer"}))
		assert.ErrorIs(t, tx.Transaction(ctx, func(tx2 *repo.Repo) error {
			require.NoError(t, tx2.Insert(ctx, &Item{Name: "inner"}))
			return inner
		}), inner)
		return nil
	}))
	items, err := repo.All[Item](ctx, full, repo.Query{})
	require.NoError(t, err)
	require.Len(t, items, 1, "with savepoints only the inner writes are undone")
	assert.Equal(t, "outer", items[0].Name)
}

func TestDoNothingInTransactionNeedsUpsert(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t, withCaps{memory.New(), driver.AllCapabilities &^ driver.CapUpsert})
	require.NoError(t, r.Insert(ctx, &Item{Name: "a"}))
	require.NoError(t, r.Insert(ctx, &Item{Name: "a"}, repo.OnConflictDoNothing("name")), "emulated outside a transaction")
	err := r.Transaction(ctx, func(tx *repo.Repo) error {
		return tx.Insert(ctx, &Item{Name: "a"}, repo.OnConflictDoNothing("name"))
	})
	assert.ErrorIs(t, err, repo.ErrUnsupported, "a failed insert could abort the transaction")

	full := newRepo(t, memory.New())
	require.NoError(t, full.Insert(ctx, &Item{Name: "a", Note: "first"}))
	require.NoError(t, full.Transaction(ctx, func(tx *repo.Repo) error {
		dup := &Item{Name: "a", Note: "second"}
		if err := tx.Insert(ctx, dup, repo.OnConflictDoNothing("name")); err != nil {
			return err
		}
		assert.Zero(t, dup.ID, "not inserted: v is left as it was")
		return tx.Insert(ctx, &Item{Name: "b"})
	}))
	n, err := repo.Count[Item](ctx, full, repo.Query{})
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
}

func TestQueryShapesRefused(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t, memory.New())
	for name, q := range map[string]repo.Query{
		"limit":  repo.Query{}.Limit(1),
		"offset": repo.Query{}.Offset(1),
		"order":  repo.Query{}.OrderBy("name"),
		"select": repo.Query{}.Select("name"),
		"cursor": repo.Query{}.After("x"),
	} {
		_, err := repo.DeleteAll[Item](ctx, r, q)
		assert.ErrorIs(t, err, repo.ErrInvalid, "DeleteAll with %s", name)
	}
	_, err := repo.Paginate[Item](ctx, r, repo.Query{}.Limit(2).Offset(1))
	assert.ErrorIs(t, err, repo.ErrInvalid, "Paginate with an offset")
}

func TestUpdateStructLeavesMergeFields(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t, memory.New())
	it := &Item{Name: "a"}
	require.NoError(t, r.Insert(ctx, it))
	stale := *it
	require.NoError(t, r.Update(ctx, schema.NewChangeset(it).Increment("count", 5)))
	stale.Note = "edited"
	stale.Count = 0
	require.NoError(t, r.Update(ctx, &stale))
	assert.Equal(t, int64(5), stale.Count, "a whole-struct update does not undo an increment")
	assert.Equal(t, "edited", stale.Note)
}

// ctxSpy records the span value the adapter's context carries.
type ctxSpy struct {
	driver.Adapter
	seen *[]any
}

type spanKey struct{}

func (s ctxSpy) Get(ctx context.Context, c *driver.Collection, key any) (driver.Record, error) {
	*s.seen = append(*s.seen, ctx.Value(spanKey{}))
	return s.Adapter.Get(ctx, c, key)
}

func TestTracer(t *testing.T) {
	ctx := context.Background()
	var seen []any
	var spans []string
	tracer := func(ctx context.Context, op, schema string) (context.Context, func(error)) {
		name := op + " " + schema
		return context.WithValue(ctx, spanKey{}, name), func(err error) {
			spans = append(spans, fmt.Sprintf("%s: %v", name, errors.Is(err, repo.ErrNotFound)))
		}
	}
	var events []repo.Event
	r := newRepo(t, ctxSpy{memory.New(), &seen}, repo.WithTracer(tracer),
		repo.WithObserver(func(_ context.Context, e repo.Event) { events = append(events, e) }))
	require.ErrorIs(t, r.Get(ctx, &Item{}, 7), repo.ErrNotFound)
	assert.Equal(t, []any{"get item"}, seen, "the adapter runs under the span's context")
	assert.Equal(t, []string{"get item: true"}, spans)

	require.ErrorIs(t, r.Get(ctx, nil, 7), repo.ErrInvalid)
	require.Len(t, events, 2, "a call refused for bad input is reported too")
	assert.Equal(t, "get", events[1].Op)
	assert.Equal(t, "", events[1].Schema)
	assert.ErrorIs(t, events[1].Err, repo.ErrInvalid)
}

// TestAllocationsDoNotGrow: schema reflection is paid once per type, so a
// call costs the same allocations however often it is made.
func TestAllocationsDoNotGrow(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t, memory.New())
	it := &Item{Name: "a"}
	require.NoError(t, r.Insert(ctx, it))
	var got Item
	get := func() {
		if err := r.Get(ctx, &got, it.ID); err != nil {
			t.Fatal(err)
		}
	}
	first := testing.AllocsPerRun(100, get)
	later := testing.AllocsPerRun(2000, get)
	assert.Equal(t, first, later)
	assert.LessOrEqual(t, later, 10.0, "Get allocates a handful of values, not a schema")
}

func TestUpdateStructWithNothingToWrite(t *testing.T) {
	type Tally struct {
		ID    int64
		Count int64 `strata:"count,merge=counter"`
	}
	ctx := context.Background()
	r := newRepo(t, memory.New())
	v := &Tally{}
	require.NoError(t, r.Insert(ctx, v))
	require.NoError(t, r.Update(ctx, schema.NewChangeset(v).Increment("count", 2)))
	stale := &Tally{ID: v.ID}
	require.NoError(t, r.Update(ctx, stale), "nothing to write is no error")
	assert.Equal(t, int64(2), stale.Count, "the struct is reloaded")
	require.ErrorIs(t, r.Update(ctx, &Tally{ID: 42}), repo.ErrNotFound)
}

// Ranked has a composite index (grp, rank): ordering by rank needs grp
// bound by equality.
type Ranked struct {
	_    struct{} `strata:"table=ranked"`
	ID   int64
	Grp  string `strata:"grp,index=by_grp"`
	Rank int64  `strata:"rank,index=by_grp"`
	Note string
}

func TestOrderByCompositeIndex(t *testing.T) {
	ctx := context.Background()
	none := newRepo(t, limited{memory.New(), driver.CapUniqueIndexes})
	for i, g := range []string{"a", "b", "a", "a"} {
		require.NoError(t, none.Insert(ctx, &Ranked{Grp: g, Rank: int64(10 - i)}))
	}
	got, err := repo.All[Ranked](ctx, none, repo.Where("grp", repo.Eq, "a").OrderBy("rank"))
	require.NoError(t, err, "rank follows grp, which the query binds")
	require.Len(t, got, 3)
	require.True(t, got[0].Rank < got[1].Rank && got[1].Rank < got[2].Rank)

	for _, q := range []repo.Query{
		repo.Where("grp", repo.Gt, "a").OrderBy("rank"), // a range does not fix the prefix
		repo.Where("grp", repo.Eq, "a").OrderBy("note"), // not in the index
		repo.Where("grp", repo.Eq, nil).OrderBy("rank"), // NULL is no key
	} {
		_, err := repo.All[Ranked](ctx, none, q)
		require.ErrorIs(t, err, repo.ErrUnsupported, "%v", q)
	}
}
