#!/usr/bin/env bash
# scripts/load.sh — what `make load` runs: the chat's load generator
# (app/loadtest) over every store configuration, one node and three, with
# and without the cache, on throwaway PostgreSQL and Redis servers
# (scripts/servers.sh). Each configuration prints its table; all of them
# are also written to load.md.
#
# Environment:
#   LOAD_CLIENTS   WebSocket clients (default 1000)
#   LOAD_CONVS     conversations (default 100)
#   LOAD_RATES     the sweep, sends/s in all (default 1000,2000,3000,5000)
#   LOAD_DURATION  each step's sending time (default 5s)
#   LOAD_ONLY      run only the configurations whose label matches this
#                  extended regular expression (e.g. 'sqlite|redis')
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
GO=${GO:-go}
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
SERVERS_ALL=(postgres redis) # the load needs no MySQL nor Redis Cluster

clients=${LOAD_CLIENTS:-1000}
convs=${LOAD_CONVS:-100}
rates=${LOAD_RATES:-1000,2000,3000,5000}
duration=${LOAD_DURATION:-5s}

servers_start
$GO build -o /dev/null ./app/loadtest # compile errors before any wait for the servers
servers_wait

pg=$STRATA_POSTGRES_URL
rd=$STRATA_REDIS_URL
# label|nodes|store|bus ({dir} is the run's temporary directory, {n} a
# namespace of its own)
configs=(
	"sqlite|1||"
	"cache+sqlite|1|cache+sqlite://{dir}/chat.db|"
	"postgres|1|$pg|"
	"postgres|3|$pg|$rd"
	"cache+postgres|1|cache+$pg&cache.namespace={n}|"
	"cache+postgres|3|cache+$pg&cache.namespace={n}&cache.bus=$rd|$rd"
	"redis|1|$rd?namespace={n}|"
	"redis|3|$rd?namespace={n}|$rd"
	"cache+redis|1|cache+$rd?namespace={n}&cache.namespace={n}c|"
	"cache+redis|3|cache+$rd?namespace={n}&cache.namespace={n}c&cache.bus=$rd|$rd"
	"riaktest|1|riaktest|"
	"riaktest|3|riaktest|$rd"
)
out=load.md
{
	echo "# make load, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
	echo
	echo "clients $clients, conversations $convs, rates $rates, $duration per step"
} >"$out"
for c in "${configs[@]}"; do
	IFS='|' read -r label nodes store bus <<<"$c"
	if [ -n "${LOAD_ONLY:-}" ] && ! [[ $label =~ $LOAD_ONLY ]]; then
		continue
	fi
	args=(-label "$label" -nodes "$nodes" -clients "$clients" -convs "$convs" -rates "$rates" -duration "$duration")
	[ -n "$store" ] && args+=(-store "$store")
	[ -n "$bus" ] && args+=(-bus "$bus")
	echo
	echo "== $label, $nodes node(s)"
	echo >>"$out"
	$GO run ./app/loadtest "${args[@]}" | tee -a "$out"
done
echo
echo "tables written to $out"
