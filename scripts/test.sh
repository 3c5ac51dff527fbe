#!/usr/bin/env bash
# scripts/test.sh — what `make test` runs: gofmt, vet, the whole suite under
# the race detector, and a bounded run of every fuzz target (scripts/fuzz.sh).
#
# Environment:
#   STRATA_REQUIRE_SERVERS=1  a suite whose server is missing fails instead
#                             of skipping (CI sets it)
#   FUZZTIME                  how long each fuzz target runs (default 5s)
#   GOTESTFLAGS               extra flags for go test (e.g. -run, -v)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
GO=${GO:-go}

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
$GO vet ./...

echo "== go test -race"
# shellcheck disable=SC2086
$GO test -race -count=1 ${GOTESTFLAGS:-} ./...

./scripts/fuzz.sh
