package conformance

import (
	"encoding/base64"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
)

var pagingCases = []testCase{
	{"Pages", pagingPages},
	{"Descending", pagingDescending},
	{"DefaultOrder", pagingDefaultOrder},
	{"Empty", func(t *testing.T, s *suite) {
		e := s.open(t)
		p, err := repo.Paginate[Item](e.ctx, e.r, repo.Where("rank", repo.Gte, 0).Limit(10))
		require.NoError(t, err)
		require.Empty(t, p.Items)
		require.Empty(t, p.Next, "no next page")
	}},
	{"NullSortKey", pagingNullKey},
	{"SelectWithoutSortKey", pagingSelect},
	{"DeletedCursorRecord", pagingDeleted},
	{"ConcurrentInserts", pagingConcurrent},
	{"ForeignCursor", pagingForeignCursor},
	{"CursorOtherLimit", pagingOtherLimit},
	{"NeedsLimit", func(t *testing.T, s *suite) {
		e := s.open(t)
		requireInvalid(t, "Paginate without Limit", func() error {
			_, err := repo.Paginate[Item](e.ctx, e.r, repo.Where("rank", repo.Gte, 0))
			return err
		})
	}},
}

// pageAll pages through q (which must have a Limit) and returns the items
// of every page, requiring that no page is larger than the limit and that
// only the last one has no Next.
func pageAll(t *testing.T, e *env, q repo.Query, limit int) (items []Item, pages int) {
	t.Helper()
	cursor := ""
	for {
		p, err := repo.Paginate[Item](e.ctx, e.r, q.After(cursor))
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Items), limit, "page %d is larger than the limit", pages)
		pages++
		items = append(items, p.Items...)
		if p.Next == "" {
			return items, pages
		}
		require.Len(t, p.Items, limit, "page %d has a next page, so it is full", pages)
		require.NotEqual(t, cursor, p.Next, "the cursor moves")
		require.Less(t, pages, 10000, "paging does not end")
		cursor = p.Next
	}
}

func seedRanks(t *testing.T, e *env, n int) {
	t.Helper()
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{ID: int64(i + 1), Name: sprintf("item-%03d", i+1), Rank: int64((i * 7) % 3), Label: ptr(sprintf("l%d", i%2))}
	}
	require.NoError(t, e.r.InsertAll(e.ctx, items))
	awaitCount[Item](t, e, repo.Where("rank", repo.Gte, 0), int64(n))
}

func pagingPages(t *testing.T, s *suite) {
	e := s.open(t)
	seedRanks(t, e, 7)
	want := queryIDs(t, e, repo.Where("rank", repo.Gte, 0).OrderBy("rank", "id"))
	got, pages := pageAll(t, e, repo.Where("rank", repo.Gte, 0).OrderBy("rank").Limit(3), 3)
	require.Equal(t, want, itemIDs(got), "pages follow the order, ties broken by the primary key")
	require.Equal(t, 3, pages)

	e2 := s.open(t)
	seedRanks(t, e2, 6)
	got, pages = pageAll(t, e2, repo.Where("rank", repo.Gte, 0).OrderBy("rank").Limit(3), 3)
	require.Len(t, got, 6)
	require.Equal(t, 2, pages, "a full last page has no next page")

	// With a filter, and a page size of one.
	got, _ = pageAll(t, e2, repo.Where("rank", repo.Eq, 1).OrderBy("name").Limit(1), 1)
	want = queryIDs(t, e2, repo.Where("rank", repo.Eq, 1).OrderBy("name"))
	require.Equal(t, want, itemIDs(got))
	require.NotEmpty(t, want)
}

func pagingDescending(t *testing.T, s *suite) {
	e := s.open(t)
	seedRanks(t, e, 10)
	want := queryIDs(t, e, repo.Where("rank", repo.Gte, 0).OrderBy("-rank", "id"))
	got, _ := pageAll(t, e, repo.Where("rank", repo.Gte, 0).OrderBy("-rank").Limit(4), 4)
	require.Equal(t, want, itemIDs(got))
	want = queryIDs(t, e, repo.Where("rank", repo.Gte, 0).OrderBy("-rank", "-id"))
	got, _ = pageAll(t, e, repo.Where("rank", repo.Gte, 0).OrderBy("-rank", "-id").Limit(3), 3)
	require.Equal(t, want, itemIDs(got))
	want = queryIDs(t, e, repo.Where("rank", repo.Gte, 0).OrderBy("-name"))
	got, _ = pageAll(t, e, repo.Where("rank", repo.Gte, 0).OrderBy("-name").Limit(3), 3)
	require.Equal(t, want, itemIDs(got))
}

func pagingDefaultOrder(t *testing.T, s *suite) {
	e := s.open(t)
	seedRanks(t, e, 8)
	got, _ := pageAll(t, e, repo.Where("rank", repo.Gte, 0).Limit(3), 3)
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7, 8}, itemIDs(got), "without OrderBy, pages follow the primary key")
}

func pagingNullKey(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	got, _ := pageAll(t, e, e.scan(t, repo.Query{}.OrderBy("label").Limit(2)), 2)
	require.Equal(t, []int64{2, 5, 1, 4, 3}, itemIDs(got), "NULL sort keys page like any other, first")
	got, _ = pageAll(t, e, e.scan(t, repo.Query{}.OrderBy("-label").Limit(1)), 1)
	require.Equal(t, []int64{3, 1, 4, 2, 5}, itemIDs(got), "and last descending")
}

func pagingSelect(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	got, _ := pageAll(t, e, repo.Where("rank", repo.Gte, 0).OrderBy("-name").Select("rank").Limit(2), 2)
	require.Equal(t, []int64{5, 4, 3, 2, 1}, itemIDs(got), "paging by a field that Select leaves out")
	for _, it := range got {
		require.Empty(t, it.Name, "a field that Select leaves out keeps its zero value")
		require.NotZero(t, it.Rank)
	}
}

func pagingDeleted(t *testing.T, s *suite) {
	e := s.open(t)
	seedRanks(t, e, 6)
	q := repo.Where("rank", repo.Gte, 0).OrderBy("id").Limit(2)
	p, err := repo.Paginate[Item](e.ctx, e.r, q)
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2}, itemIDs(p.Items))
	require.NoError(t, e.r.Delete(e.ctx, &p.Items[1]))
	require.NoError(t, e.r.Delete(e.ctx, &Item{ID: 3}))
	e.eventually(t, func(c require.TestingT) {
		p2, err := repo.Paginate[Item](e.ctx, e.r, q.After(p.Next))
		require.NoError(c, err)
		require.Equal(c, []int64{4, 5}, itemIDs(p2.Items), "a cursor stays valid after its record is deleted")
	})
}

// pagingConcurrent pages through 1,000 records while another goroutine
// inserts more: every record present at the start is seen exactly once,
// and no page repeats a record.
func pagingConcurrent(t *testing.T, s *suite) {
	e := s.open(t)
	const n, size = 1000, 37
	initial := make([]Item, n)
	for i := range initial {
		initial[i] = Item{Name: sprintf("item-%04d", i), Rank: int64(i % 10)}
	}
	for i := 0; i < n; i += 200 {
		require.NoError(t, e.r.InsertAll(e.ctx, initial[i:i+200]))
	}
	awaitCount[Item](t, e, repo.Where("rank", repo.Gte, 0), n)

	// The inserter signals each insert on progress (buffered, so that it
	// runs ahead while a page is read); the pager waits for one before
	// each page, so inserts and pages interleave.
	stop, done := make(chan struct{}), make(chan struct{})
	progress := make(chan struct{}, 1)
	var insErr error
	var inserted []int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range 5000 {
			it := Item{Name: sprintf("new-%04d", i), Rank: int64((i * 3) % 10)}
			if err := e.r.Insert(e.ctx, &it); err != nil {
				insErr = err
				return
			}
			inserted = append(inserted, it.ID)
			select {
			case progress <- struct{}{}:
			case <-stop:
				return
			}
		}
	}()
	halt := sync.OnceFunc(func() { close(stop) })
	defer wg.Wait()
	defer halt()

	seen := map[int64]int{}
	var prev *Item
	q := repo.Where("rank", repo.Gte, 0).OrderBy("-rank").Limit(size)
	pages := 0
	for cursor := ""; ; pages++ {
		select {
		case <-progress:
		case <-done:
		}
		p, err := repo.Paginate[Item](e.ctx, e.r, q.After(cursor))
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Items), size)
		for _, it := range p.Items {
			seen[it.ID]++
			require.Equal(t, 1, seen[it.ID], "record %d was returned twice (page %d)", it.ID, pages)
			if prev != nil {
				inOrder := prev.Rank > it.Rank || (prev.Rank == it.Rank && prev.ID < it.ID)
				require.True(t, inOrder, "record %d (rank %d) after %d (rank %d) breaks the order", it.ID, it.Rank, prev.ID, prev.Rank)
			}
			prev = &it
		}
		if p.Next == "" {
			break
		}
		require.Len(t, p.Items, size)
		cursor = p.Next
	}
	halt()
	wg.Wait()
	require.NoError(t, insErr, "concurrent insert")
	require.NotEmpty(t, inserted, "the inserter ran")
	for _, it := range initial {
		require.Equal(t, 1, seen[it.ID], "record %d, present when paging began, was seen %d times", it.ID, seen[it.ID])
	}
	require.GreaterOrEqual(t, pages, n/size)
}

// pagingOtherLimit: the limit is not part of a cursor's identity: a
// cursor continues its query with any page size. (The same query with
// another filter value refuses it: ForeignCursor.)
func pagingOtherLimit(t *testing.T, s *suite) {
	e := s.open(t)
	seedRanks(t, e, 10)
	q := repo.Where("rank", repo.Gte, 0).OrderBy("rank")
	want := queryIDs(t, e, q.OrderBy("id"))
	require.Len(t, want, 10)
	cursor := ""
	from := 0
	for _, limit := range []int{3, 5, 1, 10} {
		p, err := repo.Paginate[Item](e.ctx, e.r, q.Limit(limit).After(cursor))
		require.NoError(t, err, "a page of %d after a cursor made by a page of another size", limit)
		to := min(from+limit, len(want))
		require.Equal(t, want[from:to], itemIDs(p.Items), "a page of %d from record %d", limit, from)
		from, cursor = to, p.Next
		if from == len(want) {
			require.Empty(t, p.Next, "the last page has no next page")
			return
		}
		require.NotEmpty(t, p.Next)
	}
	t.Fatal("paging did not reach the end")
}

func pagingForeignCursor(t *testing.T, s *suite) {
	e := s.open(t)
	seedItems(t, e)
	base := repo.Where("rank", repo.Gte, 0)
	byRank, err := repo.Paginate[Item](e.ctx, e.r, base.OrderBy("rank").Limit(2))
	require.NoError(t, err)
	require.NotEmpty(t, byRank.Next)
	byName, err := repo.Paginate[Item](e.ctx, e.r, base.OrderBy("name").Limit(2))
	require.NoError(t, err)
	require.NotEmpty(t, byName.Next)

	// The cursors work with their own queries.
	_, err = repo.Paginate[Item](e.ctx, e.r, base.OrderBy("rank").Limit(2).After(byRank.Next))
	require.NoError(t, err)
	_, err = repo.Paginate[Item](e.ctx, e.r, base.OrderBy("name").Limit(2).After(byName.Next))
	require.NoError(t, err)

	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	bad := map[string]struct {
		q      repo.Query
		cursor string
	}{
		"more sort keys":           {base.OrderBy("rank", "name"), byRank.Next},
		"fewer sort keys":          {base, byRank.Next},
		"string for an int":        {base.OrderBy("rank"), byName.Next},
		"number for a string":      {base.OrderBy("name"), byRank.Next},
		"not base64":               {base.OrderBy("rank"), "not a cursor!"},
		"not JSON":                 {base.OrderBy("rank"), enc("{{")},
		"not an array":             {base.OrderBy("rank"), enc(`{"a":1}`)},
		"float for an int key":     {base.OrderBy("rank"), enc(`[1,2.5]`)},
		"other schema's shape":     {base, enc(`["x"]`)},
		"same shape, other filter": {repo.Where("rank", repo.Gte, 1).OrderBy("rank"), byRank.Next},
		"same shape, other order":  {base.OrderBy("-rank"), byRank.Next},
	}
	if e.canScan() { // ordering by unindexed fields
		bad["number for a time"] = struct {
			q      repo.Query
			cursor string
		}{e.scan(t, base.OrderBy("at")), byRank.Next}
		bad["number for a bool"] = struct {
			q      repo.Query
			cursor string
		}{e.scan(t, base.OrderBy("done")), byRank.Next}
		bad["bad time"] = struct {
			q      repo.Query
			cursor string
		}{e.scan(t, base.OrderBy("at")), enc(`["yesterday",1]`)}
	}
	for what, c := range bad {
		requireInvalid(t, what, func() error {
			_, err := repo.Paginate[Item](e.ctx, e.r, c.q.Limit(2).After(c.cursor))
			return err
		})
	}
}
