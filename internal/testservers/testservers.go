// Package testservers tells tests where the database servers they need are.
//
// make test (scripts/servers.sh) starts throwaway PostgreSQL, MariaDB and
// Redis servers, and a local Redis Cluster (3 masters, 3 replicas), on
// 127.0.0.1 and exports their URLs in the environment:
//
//	STRATA_POSTGRES_URL=postgres://strata@127.0.0.1:PORT/strata?sslmode=disable
//	STRATA_MYSQL_URL=mysql://strata:strata@127.0.0.1:PORT/strata
//	STRATA_REDIS_URL=redis://127.0.0.1:PORT/0
//	STRATA_REDIS_CLUSTER_URL=redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...
//
// A developer may set any of them to a server of their own instead; then none
// is started for it. The user in each SQL URL may create databases and
// schemas: tests make their own rather than share the one the URL names.
// The Redis servers keep nothing on disk. With the cluster it starts,
// scripts/servers.sh also exports STRATA_REDIS_CLUSTER_NODES (the six nodes'
// ports on 127.0.0.1, comma-separated) for tests that stop a node.
//
// Riak cannot be installed here; the Riak adapter's tests run on its
// emulator, riaktest, and also against a real node named by RIAK_PB_ADDR
// (see [RiakAddrs]), which no script starts.
//
// A test asks for a URL through [PostgresURL], [MySQLURL], [RedisURL] or
// [RedisClusterURL]. When the
// variable is unset the test is skipped, with a message naming it, so that
// plain `go test ./...` works without servers; with STRATA_REQUIRE_SERVERS=1
// (as CI sets it) the test fails instead, so that no suite passes in CI by
// skipping.
package testservers

import (
	"os"
	"strings"
	"testing"
)

// The environment variables this package reads.
const (
	PostgresEnv     = "STRATA_POSTGRES_URL"
	MySQLEnv        = "STRATA_MYSQL_URL"
	RedisEnv        = "STRATA_REDIS_URL"
	RedisClusterEnv = "STRATA_REDIS_CLUSTER_URL"
	RequireEnv      = "STRATA_REQUIRE_SERVERS"
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

// RedisURL returns the URL of the standalone Redis server for tests, from
// STRATA_REDIS_URL; without it, it skips t (fails t when servers are
// required).
func RedisURL(t testing.TB) string {
	t.Helper()
	return lookup(t, RedisEnv, "Redis")
}

// RedisClusterURL returns the URL of the Redis Cluster for tests, from
// STRATA_REDIS_CLUSTER_URL (redis+cluster://host:port,host:port,...: every
// node); without it, it skips t (fails t when servers are required).
func RedisClusterURL(t testing.TB) string {
	t.Helper()
	return lookup(t, RedisClusterEnv, "Redis Cluster")
}

// ChromiumEnv names the Chromium binary for browser tests (make test
// installs Debian's chromium and sets it).
const ChromiumEnv = "STRATA_CHROMIUM"

// Chromium returns the path of the Chromium binary for browser tests,
// from STRATA_CHROMIUM; without it, it skips t (fails t when servers are
// required).
func Chromium(t testing.TB) string {
	t.Helper()
	return lookup(t, ChromiumEnv, "Chromium")
}

// The environment variables that name a real Riak node (Riak cannot be
// installed here: make test starts none, and the Riak adapter's suites
// run on riaktest; these add a run against a real node).
const (
	RiakEnv      = "RIAK_PB_ADDR"
	RiakAddrsEnv = "RIAK_PB_ADDRS"
)

// RiakAddrs returns the PB addresses of a real Riak cluster for tests:
// RIAK_PB_ADDRS (comma-separated) or RIAK_PB_ADDR. Without them it skips
// t, whatever STRATA_REQUIRE_SERVERS says, with a message saying that the
// test did not run.
func RiakAddrs(t testing.TB) []string {
	t.Helper()
	if v := os.Getenv(RiakAddrsEnv); v != "" {
		return strings.Split(v, ",")
	}
	if v := os.Getenv(RiakEnv); v != "" {
		return []string{v}
	}
	t.Skip(RiakEnv + " is not set: not run against a real Riak node (the suite runs on riaktest)")
	return nil
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
