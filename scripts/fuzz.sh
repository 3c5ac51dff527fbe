#!/usr/bin/env bash
# scripts/fuzz.sh — runs every fuzz target (func FuzzXxx in a _test.go
# file) for FUZZTIME each, one after another. FUZZTIME is a count of
# executions (default 50000x, a few seconds each here) rather than a
# duration: with a duration, Go 1.26's fuzz coordinator can report a bare
# "context deadline exceeded" failure when the time runs out (golang/go
# issue 75804, fixed in Go 1.27), and CI must not fail on it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
GO=${GO:-go}
echo "== fuzz (${FUZZTIME:-50000x} each)"
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
	pkg=./$(dirname "${file#./}")
	for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
		$GO test -run='^$' -fuzz="^${fn}\$" -fuzztime="${FUZZTIME:-50000x}" "$pkg"
	done
done
