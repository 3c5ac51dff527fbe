package repo_test

import (
	"context"
	"errors"
	"fmt"

	_ "github.com/strata-go/strata/adapters/sqlstore" // registers sqlite://
	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/schema"
)

// PageView is an AP schema: counted everywhere, never lost, never blocking.
type PageView struct {
	_     struct{} `strata:"table=page_views,consistency=ap"`
	Page  string   `strata:"page,pk"`
	Count int64    `strata:"count,merge=counter"`
}

// Order is a CP schema: written in transactions.
type Order struct {
	_      struct{} `strata:"table=orders,consistency=cp"`
	ID     int64
	Item   string `strata:"item"`
	Amount int64  `strata:"amount"`
}

// One repo over two stores: AP schemas in memory (Riak or Redis in
// production), CP ones in SQLite (PostgreSQL).
func ExampleOpenRouter() {
	ctx := context.Background()
	r, err := repo.OpenRouter(ctx, repo.RouteURLs{AP: "memory://", CP: "sqlite://:memory:"})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	// Migrations create each collection on its store, and keep their
	// history on the default one (here the CP store).
	var ms migrate.Migrations
	if err := ms.Add(migrate.Migration{Version: 20260101120000, Name: "create_page_views_and_orders",
		Up: []migrate.Op{migrate.CreateTableFor[PageView](), migrate.CreateTableFor[Order]()}}); err != nil {
		panic(err)
	}
	m, err := migrate.New(r, &ms)
	if err != nil {
		panic(err)
	}
	if _, err := m.Up(ctx); err != nil {
		panic(err)
	}

	if err := r.Insert(ctx, &PageView{Page: "/"}); err != nil {
		panic(err)
	}
	if err := r.Update(ctx, schema.NewChangeset(&PageView{Page: "/"}).Increment("count", 1)); err != nil {
		panic(err)
	}

	// A transaction spans the CP schemas…
	err = r.Transaction(ctx, func(tx *repo.Repo) error {
		return tx.Insert(ctx, &Order{Item: "book", Amount: 12})
	})
	fmt.Println("order:", err)

	// …and refuses the AP ones: the order is rolled back.
	err = r.Transaction(ctx, func(tx *repo.Repo) error {
		if err := tx.Insert(ctx, &Order{Item: "pen", Amount: 2}); err != nil {
			return err
		}
		return tx.Update(ctx, schema.NewChangeset(&PageView{Page: "/"}).Increment("count", 1))
	})
	fmt.Println("AP schema in a transaction is unsupported:", errors.Is(err, repo.ErrUnsupported))

	orders, err := repo.Count[Order](ctx, r, repo.Query{})
	if err != nil {
		panic(err)
	}
	var v PageView
	if err := r.Get(ctx, &v, "/"); err != nil {
		panic(err)
	}
	fmt.Println("orders:", orders, "views of /:", v.Count)
	// Output:
	// order: <nil>
	// AP schema in a transaction is unsupported: true
	// orders: 1 views of /: 1
}
