// Command strata-migrate runs Strata migrations from the command line. It
// is a demonstration of migrate.Main with a small set of example
// migrations: an app builds its own command, the same few lines with its
// own migrations compiled in (see package migrate).
//
//	go run ./migrate/cmd/strata-migrate --url sqlite:///tmp/demo.db up
//	go run ./migrate/cmd/strata-migrate --url sqlite:///tmp/demo.db status
//	go run ./migrate/cmd/strata-migrate --url postgres://… --dry-run down 1
//
// Every memory:// URL opens a new, empty store, so with it each command
// starts from nothing.
package main

import (
	"os"

	// The adapters whose URL schemes the command opens (Redis and Riak
	// join when they exist).
	_ "github.com/strata-go/strata/adapters/memory"   // memory://
	_ "github.com/strata-go/strata/adapters/sqlstore" // sqlite://, postgres://, mysql://
	"github.com/strata-go/strata/migrate"
)

func main() {
	os.Exit(migrate.Main(os.Args[1:], examples(), os.Stdout, os.Stderr))
}
