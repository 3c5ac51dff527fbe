package conformance

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
)

var assocCases = []testCase{
	{"BelongsTo", assocBelongsTo},
	{"BelongsToSlice", assocBelongsToSlice},
	{"HasMany", assocHasMany},
	{"HasManySlices", assocHasManySlices},
	{"HasOne", assocHasOne},
	{"Nested", assocNested},
	{"NestedSlice", assocNestedSlice},
	{"Several", assocSeveral},
	{"Empty", func(t *testing.T, s *suite) {
		e := s.open(t)
		assocFixture(t, e)
		e.resetCalls()
		require.NoError(t, e.r.Preload(e.ctx, []Author{}, "posts.comments"))
		require.NoError(t, e.r.Preload(e.ctx, &[]*Post{}, "author"))
		require.Zero(t, e.calls("query"), "preloading nothing queries nothing")
	}},
}

// assocFixture stores:
//
//	authors  1 ann, 2 bob, 3 cat
//	posts    30 (ann), 10 (ann), 20 (bob), 40 (ann), 50 (author 99, missing); inserted in that order
//	comments 3 and 1 on post 10, 2 on post 30, 4 on post 20
//	profiles 7 (ann), 8 (bob)
func assocFixture(t *testing.T, e *env) {
	t.Helper()
	insert(t, e, &Author{ID: 1, Name: "ann"}, &Author{ID: 2, Name: "bob"}, &Author{ID: 3, Name: "cat"})
	for _, p := range []Post{{ID: 30, AuthorID: 1}, {ID: 10, AuthorID: 1}, {ID: 20, AuthorID: 2}, {ID: 40, AuthorID: 1}, {ID: 50, AuthorID: 99}} {
		p.Title = sprintf("post %d", p.ID)
		insert(t, e, &p)
	}
	for _, c := range []Comment{{ID: 3, PostID: 10}, {ID: 1, PostID: 10}, {ID: 2, PostID: 30}, {ID: 4, PostID: 20}} {
		c.Body = sprintf("comment %d", c.ID)
		insert(t, e, &c)
	}
	insert(t, e, &Profile{ID: 7, AuthorID: 1, Bio: "ann's"}, &Profile{ID: 8, AuthorID: 2, Bio: "bob's"})
}

// preload runs fn (a Preload) and check until check passes (see
// env.eventually), then once more, requiring that it made exactly queries
// queries.
func preload(t *testing.T, e *env, queries int, fn func() error, check func(c require.TestingT)) {
	t.Helper()
	e.eventually(t, func(c require.TestingT) {
		require.NoError(c, fn())
		check(c)
	})
	e.resetCalls()
	require.NoError(t, fn())
	check(t)
	require.Equal(t, queries, e.calls("query"), "queries made by the preload (one per association)")
}

func postIDs(ps []Post) []int64 {
	out := make([]int64, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func commentIDs(cs []*Comment) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func getPost(t *testing.T, e *env, id int64) Post {
	t.Helper()
	var p Post
	require.NoError(t, e.r.Get(e.ctx, &p, id))
	return p
}

func assocBelongsTo(t *testing.T, s *suite) {
	e := s.open(t)
	assocFixture(t, e)
	p := getPost(t, e, 10)
	preload(t, e, 1, func() error { return e.r.Preload(e.ctx, &p, "author") }, func(c require.TestingT) {
		require.NotNil(c, p.Author)
		require.Equal(c, Author{ID: 1, Name: "ann"}, *p.Author)
	})
	require.Equal(t, "post 10", p.Title, "the record's own fields are kept")

	orphan := getPost(t, e, 50)
	orphan.Author = &Author{ID: 123}
	require.NoError(t, e.r.Preload(e.ctx, &orphan, "author"))
	require.Nil(t, orphan.Author, "a missing related record preloads as nil")
}

func assocBelongsToSlice(t *testing.T, s *suite) {
	e := s.open(t)
	assocFixture(t, e)
	var posts []Post
	e.eventually(t, func(c require.TestingT) {
		var err error
		posts, err = repo.All[Post](e.ctx, e.r, repo.Where("id", repo.Gt, 0).OrderBy("id"))
		require.NoError(c, err)
		require.Len(c, posts, 5)
	})
	wantAuthor := map[int64]int64{10: 1, 20: 2, 30: 1, 40: 1}
	check := func(c require.TestingT, p *Post) {
		if want, ok := wantAuthor[p.ID]; ok {
			require.NotNil(c, p.Author, "post %d", p.ID)
			require.Equal(c, want, p.Author.ID, "post %d", p.ID)
		} else {
			require.Nil(c, p.Author, "post %d has no author", p.ID)
		}
	}
	preload(t, e, 1, func() error { return e.r.Preload(e.ctx, posts, "author") }, func(c require.TestingT) {
		for i := range posts {
			check(c, &posts[i])
		}
	})
	ptrs := make([]*Post, len(posts))
	for i := range posts {
		p := posts[i]
		p.Author = nil
		ptrs[i] = &p
	}
	preload(t, e, 1, func() error { return e.r.Preload(e.ctx, ptrs, "author") }, func(c require.TestingT) {
		for _, p := range ptrs {
			check(c, p)
		}
	})
}

func assocHasMany(t *testing.T, s *suite) {
	e := s.open(t)
	assocFixture(t, e)
	var a Author
	require.NoError(t, e.r.Get(e.ctx, &a, 1))
	preload(t, e, 1, func() error { return e.r.Preload(e.ctx, &a, "posts") }, func(c require.TestingT) {
		require.Equal(c, []int64{10, 30, 40}, postIDs(a.Posts), "has_many loads in primary-key order")
	})
	require.Equal(t, "post 30", a.Posts[1].Title)
	require.EqualValues(t, 1, a.Posts[1].AuthorID)

	var cat Author
	require.NoError(t, e.r.Get(e.ctx, &cat, 3))
	cat.Posts = []Post{{ID: 999}}
	require.NoError(t, e.r.Preload(e.ctx, &cat, "posts"))
	require.Empty(t, cat.Posts, "no related records: an empty slice, replacing what was there")
}

func assocHasManySlices(t *testing.T, s *suite) {
	e := s.open(t)
	assocFixture(t, e)
	want := map[int64][]int64{1: {10, 30, 40}, 2: {20}, 3: {}}
	load := func(t *testing.T) []Author {
		var as []Author
		e.eventually(t, func(c require.TestingT) {
			var err error
			as, err = repo.All[Author](e.ctx, e.r, repo.Where("id", repo.Gt, 0).OrderBy("id"))
			require.NoError(c, err)
			require.Len(c, as, 3)
		})
		return as
	}
	check := func(c require.TestingT, a *Author) {
		require.Equal(c, want[a.ID], postIDs(a.Posts), "author %d", a.ID)
	}

	vals := load(t)
	preload(t, e, 1, func() error { return e.r.Preload(e.ctx, vals, "posts") }, func(c require.TestingT) {
		for i := range vals {
			check(c, &vals[i])
		}
	})
	ptrSlice := load(t)
	preload(t, e, 1, func() error { return e.r.Preload(e.ctx, &ptrSlice, "posts") }, func(c require.TestingT) {
		for i := range ptrSlice {
			check(c, &ptrSlice[i])
		}
	})
	loaded := load(t)
	ptrs := []*Author{&loaded[2], &loaded[0], &loaded[1]}
	preload(t, e, 1, func() error { return e.r.Preload(e.ctx, ptrs, "posts") }, func(c require.TestingT) {
		for _, a := range ptrs {
			check(c, a)
		}
	})
}

func assocHasOne(t *testing.T, s *suite) {
	e := s.open(t)
	assocFixture(t, e)
	var a Author
	require.NoError(t, e.r.Get(e.ctx, &a, 2))
	preload(t, e, 1, func() error { return e.r.Preload(e.ctx, &a, "profile") }, func(c require.TestingT) {
		require.NotNil(c, a.Profile)
		require.Equal(c, Profile{ID: 8, AuthorID: 2, Bio: "bob's"}, *a.Profile)
	})
	authors := []*Author{{ID: 1}, {ID: 3, Profile: &Profile{ID: 999}}, {ID: 2}}
	preload(t, e, 1, func() error { return e.r.Preload(e.ctx, authors, "profile") }, func(c require.TestingT) {
		require.NotNil(c, authors[0].Profile)
		require.EqualValues(c, 7, authors[0].Profile.ID)
		require.Nil(c, authors[1].Profile, "no profile: nil, replacing what was there")
		require.NotNil(c, authors[2].Profile)
		require.EqualValues(c, 8, authors[2].Profile.ID)
	})
}

func assocNested(t *testing.T, s *suite) {
	e := s.open(t)
	assocFixture(t, e)
	var a Author
	require.NoError(t, e.r.Get(e.ctx, &a, 1))
	preload(t, e, 2, func() error { return e.r.Preload(e.ctx, &a, "posts.comments") }, func(c require.TestingT) {
		require.Equal(c, []int64{10, 30, 40}, postIDs(a.Posts))
		require.Equal(c, []int64{1, 3}, commentIDs(a.Posts[0].Comments), "nested has_many, in primary-key order")
		require.Equal(c, []int64{2}, commentIDs(a.Posts[1].Comments))
		require.Empty(c, a.Posts[2].Comments)
		require.Equal(c, "comment 3", a.Posts[0].Comments[1].Body)
	})
	// Three levels, back up a belongs_to.
	p := getPost(t, e, 10)
	preload(t, e, 3, func() error { return e.r.Preload(e.ctx, &p, "comments.post.author") }, func(c require.TestingT) {
		require.Len(c, p.Comments, 2)
		for _, cm := range p.Comments {
			require.NotNil(c, cm.Post)
			require.EqualValues(c, 10, cm.Post.ID)
			require.NotNil(c, cm.Post.Author)
			require.Equal(c, "ann", cm.Post.Author.Name)
		}
	})
}

func assocNestedSlice(t *testing.T, s *suite) {
	e := s.open(t)
	assocFixture(t, e)
	authors := []*Author{{ID: 2}, {ID: 1}, {ID: 3}}
	preload(t, e, 2, func() error { return e.r.Preload(e.ctx, authors, "posts.comments") }, func(c require.TestingT) {
		require.Equal(c, []int64{20}, postIDs(authors[0].Posts))
		require.Equal(c, []int64{4}, commentIDs(authors[0].Posts[0].Comments))
		require.Equal(c, []int64{10, 30, 40}, postIDs(authors[1].Posts))
		require.Equal(c, []int64{1, 3}, commentIDs(authors[1].Posts[0].Comments))
		require.Empty(c, authors[2].Posts)
	})
	vals := []Author{{ID: 1}, {ID: 2}}
	preload(t, e, 2, func() error { return e.r.Preload(e.ctx, vals, "posts.comments") }, func(c require.TestingT) {
		require.Equal(c, []int64{2}, commentIDs(vals[0].Posts[1].Comments))
		require.Equal(c, []int64{4}, commentIDs(vals[1].Posts[0].Comments))
	})
}

func assocSeveral(t *testing.T, s *suite) {
	e := s.open(t)
	assocFixture(t, e)
	authors := []Author{{ID: 1}, {ID: 2}}
	preload(t, e, 3, func() error { return e.r.Preload(e.ctx, &authors, "profile", "posts.comments") },
		func(c require.TestingT) {
			require.Equal(c, []int64{10, 30, 40}, postIDs(authors[0].Posts))
			require.Equal(c, []int64{1, 3}, commentIDs(authors[0].Posts[0].Comments))
			require.NotNil(c, authors[1].Profile)
			require.EqualValues(c, 8, authors[1].Profile.ID)
		})
}
