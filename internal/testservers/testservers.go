// Package testservers tells tests where the database servers they need are.
//
// make test (scripts/servers.sh) starts throwaway PostgreSQL and MariaDB
// servers on 127.0.0.1 and exports their URLs in the environment:
//
//	STRATA_POSTGRES_URL=postgres://strata@127.0.0.1:PORT/strata?sslmode=disable
//	STRATA_MYSQL_URL=mysql://strata:strata@127.0.0.1:PORT/strata
//
// A developer may set either to a server of their own instead; then none is
// started for it. The user in each URL may create databases and schemas:
// tests make their own rather than share the one the URL names.
//
// A test asks for a URL through [PostgresURL] or [MySQLURL]. When the
// variable is unset the test is skipped, with a message naming it, so that
// plain `go test ./...` works without servers; with STRATA_REQUIRE_SERVERS=1
// (as CI sets it) the test fails instead, so that no suite passes in CI by
// skipping.
package testservers

import (
	"os"
	"testing"
)

// The environment variables this package reads.
const (
	PostgresEnv = "STRATA_POSTGRES_URL"
	MySQLEnv    = "STRATA_MYSQL_URL"
	RequireEnv  = "STRATA_REQUIRE_SERVERS"
)

// PostgresURL returns the URL of the PostgreSQL server for tests, from
// STRATA_POSTGRES_URL; without it, it skips t (fails t when servers are
// required).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return lookup(t, PostgresEnv, "PostgreSQL")
}

// MySQLURL returns the URL of the MySQL (MariaDB) server for tests, from
// STRATA_MYSQL_URL; without it, it skips t (fails t when servers are
// required).
func MySQLURL(t testing.TB) string {
	t.Helper()
	return lookup(t, MySQLEnv, "MySQL")
}

// Required reports whether STRATA_REQUIRE_SERVERS=1: a missing server is
// then a test failure, not a skip.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

func lookup(t testing.TB, env, server string) string {
	t.Helper()
	if u := os.Getenv(env); u != "" {
		return u
	}
	msg := env + " is not set: no " + server + " server for this test (make test starts one)"
	if Required() {
		t.Fatal(msg + "; " + RequireEnv + "=1 makes that a failure")
	}
	t.Skip(msg)
	return ""
}
