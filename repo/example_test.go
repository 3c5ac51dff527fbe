package repo_test

import (
	"context"
	"errors"
	"fmt"

	_ "github.com/strata-go/strata/adapters/memory" // registers memory://
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/schema"
)

type Author struct {
	_     struct{} `strata:"table=authors"`
	ID    int64
	Name  string `strata:"name,unique"`
	Posts []Post `strata:"posts,has_many=author_id"`
}

type Post struct {
	_        struct{} `strata:"table=posts"`
	ID       int64
	AuthorID int64    `strata:"author_id"`
	Title    string   `strata:"title,index"`
	Likes    int64    `strata:"likes,merge=counter"`
	Tags     []string `strata:"tags,merge=set"`
	Version  int64    `strata:"version,version"`
	Author   *Author  `strata:"author,belongs_to=author_id"`
}

func Example() {
	ctx := context.Background()
	r, err := repo.Open(ctx, "memory://")
	if err != nil {
		panic(err)
	}
	defer r.Close()

	ada := &Author{Name: "Ada"}
	if err := r.Insert(ctx, ada); err != nil {
		panic(err)
	}
	for _, title := range []string{"Notes", "Engines", "Numbers"} {
		if err := r.Insert(ctx, &Post{AuthorID: ada.ID, Title: title}); err != nil {
			panic(err)
		}
	}

	// A changeset writes only what it changes; merges are atomic.
	var p Post
	if err := r.GetBy(ctx, &p, repo.Where("title", repo.Eq, "Engines")); err != nil {
		panic(err)
	}
	if err := r.Update(ctx, schema.NewChangeset(&p).Increment("likes", 2).AddToSet("tags", "history")); err != nil {
		panic(err)
	}
	fmt.Println(p.Title, p.Likes, p.Tags, "version", p.Version)

	// Queries are values; field names and types are checked.
	posts, err := repo.All[Post](ctx, r, repo.Where("title", repo.Prefix, "N").OrderBy("title"))
	if err != nil {
		panic(err)
	}
	for _, p := range posts {
		fmt.Println(p.Title)
	}

	// Errors are kinds.
	err = r.Get(ctx, &Post{}, 1)
	fmt.Println(errors.Is(err, repo.ErrNotFound))
	err = r.Insert(ctx, &Author{Name: "Ada"})
	fmt.Println(errors.Is(err, repo.ErrConflict))
	_, err = repo.All[Post](ctx, r, repo.Where("titel", repo.Eq, "x"))
	fmt.Println(err)
	// Output:
	// Engines 2 [history] version 2
	// Notes
	// Numbers
	// true
	// true
	// strata: query posts: invalid: posts has no field "titel"
}

func ExampleRepo_Transaction() {
	ctx := context.Background()
	r, _ := repo.Open(ctx, "memory://")
	defer r.Close()

	err := r.Transaction(ctx, func(tx *repo.Repo) error {
		if err := tx.Insert(ctx, &Author{Name: "Grace"}); err != nil {
			return err
		}
		return errors.New("changed my mind")
	})
	n, _ := repo.Count[Author](ctx, r, repo.Query{})
	fmt.Println(err, n)
	// Output: changed my mind 0
}

func ExampleRepo_Preload() {
	ctx := context.Background()
	r, _ := repo.Open(ctx, "memory://")
	defer r.Close()
	for _, name := range []string{"Ada", "Grace"} {
		a := &Author{Name: name}
		_ = r.Insert(ctx, a)
		_ = r.InsertAll(ctx, []Post{{AuthorID: a.ID, Title: name + "'s first"}, {AuthorID: a.ID, Title: name + "'s second"}})
	}

	// One query per association, whatever the number of records.
	authors, _ := repo.All[Author](ctx, r, repo.Query{}.OrderBy("name"))
	_ = r.Preload(ctx, authors, "posts.author")
	for _, a := range authors {
		for _, p := range a.Posts {
			fmt.Println(a.Name, "→", p.Title, "by", p.Author.Name)
		}
	}
	// Output:
	// Ada → Ada's first by Ada
	// Ada → Ada's second by Ada
	// Grace → Grace's first by Grace
	// Grace → Grace's second by Grace
}

func ExamplePaginate() {
	ctx := context.Background()
	r, _ := repo.Open(ctx, "memory://")
	defer r.Close()
	for i := range 5 {
		_ = r.Insert(ctx, &Post{Title: fmt.Sprint("post ", i)})
	}

	q := repo.Query{}.OrderBy("-title").Limit(2)
	for page := 1; ; page++ {
		p, err := repo.Paginate[Post](ctx, r, q)
		if err != nil {
			panic(err)
		}
		for _, post := range p.Items {
			fmt.Println(page, post.Title)
		}
		if p.Next == "" {
			break
		}
		q = q.After(p.Next)
	}
	// Output:
	// 1 post 4
	// 1 post 3
	// 2 post 2
	// 2 post 1
	// 3 post 0
}
