package sqlstore_test

import "github.com/uptrace/bun"

// ident quotes a name in test DDL.
func ident(name string) bun.Ident { return bun.Ident(name) }
