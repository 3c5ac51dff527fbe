#!/usr/bin/env bash
# scripts/test.sh — what `make test` runs: gofmt, vet, the whole suite under
# the race detector, and a bounded run of every fuzz target (scripts/fuzz.sh).
# The suites for PostgreSQL, MySQL and Redis (standalone and cluster) get
# throwaway servers from scripts/servers.sh, stopped and deleted when this
# script exits.
#
# Environment:
#   STRATA_REQUIRE_SERVERS=1  a server that cannot be installed or started,
#                             or a suite whose server is missing, fails the
#                             run instead of skipping (CI sets it)
#   STRATA_POSTGRES_URL, STRATA_MYSQL_URL, STRATA_REDIS_URL,
#   STRATA_REDIS_CLUSTER_URL  use these servers instead of starting any
#   STRATA_CHROMIUM           the Chromium for the browser test (else
#                             Debian's chromium, installed if missing)
#   FUZZTIME                  executions per fuzz target (default 50000x)
#   GOTESTFLAGS               extra flags for go test (e.g. -run, -v)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
GO=${GO:-go}
# shellcheck source=scripts/servers.sh
source scripts/servers.sh

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== servers"
servers_start # the servers initialise while vet runs

echo "== go vet"
$GO vet ./...

echo "== servers (waiting)"
servers_wait

# Chromium, for the chat app's browser test: Debian's package, installed
# (as root) if missing, once the servers' apt-get is done.
if [ -z "${STRATA_CHROMIUM:-}" ]; then
	if ! command -v chromium >/dev/null && [ "$EUID" -eq 0 ] && command -v apt-get >/dev/null; then
		echo "== installing chromium (apt-get)"
		apt=(apt-get -q -y -o DPkg::Lock::Timeout=120)
		DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends chromium >/dev/null ||
			{ "${apt[@]}" update >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends chromium >/dev/null; } ||
			echo "warning: installing chromium failed" >&2
	fi
	if command -v chromium >/dev/null; then
		export STRATA_CHROMIUM=$(command -v chromium)
	elif [ "${STRATA_REQUIRE_SERVERS:-}" = 1 ]; then
		echo "error: chromium: not installed (STRATA_REQUIRE_SERVERS=1)" >&2
		exit 1
	else
		echo "warning: chromium: not installed; the browser test skips" >&2
	fi
fi

echo "== go test -race"
# shellcheck disable=SC2086
$GO test -race -count=1 ${GOTESTFLAGS:-} ./...

./scripts/fuzz.sh
