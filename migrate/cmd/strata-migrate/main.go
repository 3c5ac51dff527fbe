// Command strata-migrate runs Strata migrations from the command line. It
// is a demonstration of migrate.Main with a small set of example
// migrations: an app builds its own command, the same few lines with its
// own migrations compiled in (see package migrate).
//
//	go run ./migrate/cmd/strata-migrate --url memory:// status
//	go run ./migrate/cmd/strata-migrate --url memory:// --dry-run up
//
// Every memory:// URL opens a new, empty store, so with it each command
// starts from nothing.
package main

import (
	"os"

	// The adapters whose URL schemes the command opens. Import each one
	// here once it is finished (the SQL adapter is being written in
	// adapters/sqlstore, "adapters/sql" in DESIGN.md; Redis and Riak come
	// later):
	//
	//	_ "github.com/strata-go/strata/adapters/sqlstore" // sqlite://, postgres://, mysql://
	//	_ "github.com/strata-go/strata/adapters/redis"    // redis://
	//	_ "github.com/strata-go/strata/adapters/riak"     // riak://
	_ "github.com/strata-go/strata/adapters/memory" // memory://
	"github.com/strata-go/strata/migrate"
)

func main() {
	os.Exit(migrate.Main(os.Args[1:], examples(), os.Stdout, os.Stderr))
}
