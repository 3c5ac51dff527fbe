#!/usr/bin/env bash
# scripts/fuzz.sh — runs every fuzz target (func FuzzXxx in a _test.go
# file) for FUZZTIME each (default 5s), one after another.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
GO=${GO:-go}
echo "== fuzz (${FUZZTIME:-5s} each)"
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
	pkg=./$(dirname "${file#./}")
	for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
		$GO test -run='^$' -fuzz="^${fn}\$" -fuzztime="${FUZZTIME:-5s}" "$pkg"
	done
done
