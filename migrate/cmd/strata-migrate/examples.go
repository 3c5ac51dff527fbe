package main

import (
	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/schema"
)

// User and Post are the example app's schemas, as they are now.
type User struct {
	_     struct{} `strata:"table=users"`
	ID    int64
	Email string `strata:"email,unique,size=255"`
	Name  string `strata:"name,index"`
	Bio   *string
	schema.Timestamps
}

type Post struct {
	_        struct{} `strata:"table=posts"`
	ID       int64
	AuthorID int64  `strata:"author_id,index"`
	Title    string `strata:"title"`
	Likes    int64  `strata:"likes,merge=counter"`
	schema.Timestamps
}

// userV1 is User as the first migration created it, frozen there so that
// a store migrated from scratch gets bio from the migration that adds it.
type userV1 struct {
	_     struct{} `strata:"table=users"`
	ID    int64
	Email string `strata:"email,unique,size=255"`
	Name  string `strata:"name"`
	schema.Timestamps
}

// examples returns the example migrations.
func examples() *migrate.Migrations {
	createPosts := []migrate.Op{migrate.CreateTableFor[Post]()}
	var ms migrate.Migrations
	// Add's error is remembered by the set, and migrate.Main reports it.
	_ = ms.Add(
		migrate.Migration{
			Version: 20260101120000,
			Name:    "create_users",
			Up:      []migrate.Op{migrate.CreateTableFor[userV1]()},
			Down:    []migrate.Op{migrate.DropTableFor[userV1]()},
		},
		migrate.Migration{
			Version: 20260102120000,
			Name:    "create_posts",
			Up:      createPosts,
			Down:    migrate.Reverse(createPosts...),
		},
		migrate.Migration{
			Version: 20260103120000,
			Name:    "add_users_bio",
			Up:      []migrate.Op{migrate.AddColumnFor[User]("bio")},
			Down:    []migrate.Op{migrate.DropColumn("users", "bio")},
		},
		migrate.Migration{
			Version: 20260104120000,
			Name:    "index_users_name",
			Up:      []migrate.Op{migrate.CreateIndexFor[User]("users_name_idx")},
			Down:    []migrate.Op{migrate.DropIndex("users", "users_name_idx")},
		},
	)
	return &ms
}
