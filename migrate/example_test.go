package migrate_test

import (
	"context"
	"fmt"
	"os"

	_ "github.com/strata-go/strata/adapters/memory" // registers memory://
	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

type Account struct {
	_     struct{} `strata:"table=accounts"`
	ID    int64
	Email string `strata:"email,unique"`
}

// An app's migrations: registered from Go code, applied, inspected and
// rolled back through a Migrator over the app's repo.
func Example() {
	ctx := context.Background()
	r, err := repo.Open(ctx, "memory://")
	if err != nil {
		panic(err)
	}
	defer r.Close()

	addPlan := []migrate.Op{migrate.AddColumn("accounts", driver.Field{Name: "plan", Kind: driver.KindString, Nullable: true})}
	var ms migrate.Migrations
	if err := ms.Add(
		migrate.Migration{
			Version: 20260101120000,
			Name:    "create_accounts",
			Up:      []migrate.Op{migrate.CreateTableFor[Account]()},
			Down:    []migrate.Op{migrate.DropTableFor[Account]()},
		},
		migrate.Migration{
			Version: 20260201120000,
			Name:    "add_accounts_plan",
			Up:      addPlan,
			Down:    migrate.Reverse(addPlan...),
		},
	); err != nil {
		panic(err)
	}

	m, err := migrate.New(r, &ms)
	if err != nil {
		panic(err)
	}
	steps, err := m.Up(ctx)
	if err != nil {
		panic(err)
	}
	for _, s := range steps {
		fmt.Println(s)
	}

	if _, err := m.Down(ctx, 1); err != nil {
		panic(err)
	}
	sts, err := m.Status(ctx)
	if err != nil {
		panic(err)
	}
	for _, s := range sts {
		fmt.Println(s.Version, s.Name, s.State)
	}
	// Output:
	// up 20260101120000 create_accounts
	// up 20260201120000 add_accounts_plan
	// 20260101120000 create_accounts applied
	// 20260201120000 add_accounts_plan pending
}

// A dry run returns what would run, and changes nothing.
func ExampleDryRun() {
	ctx := context.Background()
	r, err := repo.Open(ctx, "memory://")
	if err != nil {
		panic(err)
	}
	defer r.Close()
	ms, err := migrate.NewMigrations(migrate.Migration{
		Version: 20260101120000,
		Name:    "create_accounts",
		Up:      []migrate.Op{migrate.CreateTableFor[Account]()},
	})
	if err != nil {
		panic(err)
	}
	m, err := migrate.New(r, ms, migrate.DryRun())
	if err != nil {
		panic(err)
	}
	steps, err := m.Up(ctx)
	if err != nil {
		panic(err)
	}
	for _, s := range steps {
		fmt.Println(s)
		for _, p := range s.Plan {
			fmt.Println("   ", p)
		}
	}
	// Output:
	// up 20260101120000 create_accounts
	//     create collection accounts (id int64 primary key, email string); create unique index accounts_email_key on accounts (email)
}

// An app's migration command is migrate.Main with the app's migrations.
func ExampleMain() {
	ms, err := migrate.NewMigrations(migrate.Migration{
		Version: 20260101120000,
		Name:    "create_accounts",
		Up:      []migrate.Op{migrate.CreateTableFor[Account]()},
		Down:    []migrate.Op{migrate.DropTableFor[Account]()},
	})
	if err != nil {
		panic(err)
	}
	code := migrate.Main([]string{"--url", "memory://", "status"}, ms, os.Stdout, os.Stderr)
	fmt.Println("exit", code)
	// Output:
	// VERSION         NAME             STATE    APPLIED AT
	// 20260101120000  create_accounts  pending
	// exit 0
}
