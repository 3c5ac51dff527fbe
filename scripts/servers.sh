#!/usr/bin/env bash
# scripts/servers.sh — throwaway PostgreSQL, MariaDB and Redis servers (a
# standalone Redis and a local Redis Cluster) for the tests.
#
# Each server gets a fresh temporary directory and a free port on 127.0.0.1,
# is stopped and deleted when the calling shell exits (however it exits), and
# is handed to the tests as a URL (internal/testservers reads them):
#   STRATA_POSTGRES_URL=postgres://strata@127.0.0.1:PORT/strata?sslmode=disable
#   STRATA_MYSQL_URL=mysql://strata:strata@127.0.0.1:PORT/strata
#   STRATA_REDIS_URL=redis://127.0.0.1:PORT/0
#   STRATA_REDIS_CLUSTER_URL=redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...
# Both SQL users may create databases and schemas. Redis keeps nothing on disk
# (no RDB, no AOF). The cluster is 3 masters and 3 replicas (cluster node
# timeout 2s); alongside its URL,
#   STRATA_REDIS_CLUSTER_NODES=P1,P2,P3,P4,P5,P6
# lists the client ports of its six nodes, all on 127.0.0.1 (for tests that
# ask a node its role or shut one down, e.g. a failover test).
#
# Sourced (scripts/test.sh does this):
#   servers_start   install what is missing, initialise data dirs in the background;
#                   start the servers that need no initialisation (Redis), and
#                   set them up (create the cluster) in the background
#   ...             other work (vet) overlaps the initialisation
#   servers_wait    start the servers, wait until they answer, export the URLs
# Run directly, it wraps a command, or keeps the servers up until ^C:
#   scripts/servers.sh go test -run Postgres ./...
#   scripts/servers.sh
#
# Environment:
#   STRATA_POSTGRES_URL, STRATA_MYSQL_URL, STRATA_REDIS_URL,
#   STRATA_REDIS_CLUSTER_URL  already set: that server is used as it is and
#                           none is started (nor STRATA_REDIS_CLUSTER_NODES set)
#   STRATA_REQUIRE_SERVERS=1  failing to install or start a server is an
#                           error; otherwise a warning, and its tests skip
#   STRATA_SERVER_TIMEOUT   seconds a server may take to answer (default 60)
#
# Packages come from Debian (apt-get, as root). The distro's own instances
# are never started: these servers run from the temporary directory only.
set -euo pipefail

SERVERS_ALL=(postgres mysql redis redis_cluster)
SERVERS_WANTED=()        # servers this run starts (not given by the environment)
SERVERS_DIR=""           # the temporary directory holding every data dir and log
declare -A SERVERS_INIT=() # server -> pid of its background initialisation (or,
                           # for a server servers_start started, of its setup)
declare -A SERVERS_PID=()  # server -> pids of the running server's processes
                           # (children of this shell), space-separated
declare -A SERVERS_PORTS=() # server -> the ports servers_start started it on
declare -A SERVERS_T0_OF=() # server -> when servers_start started it
SERVERS_WATCHDOG=""
SERVERS_POLICY_RC=""     # set when this script wrote /usr/sbin/policy-rc.d
SERVERS_AS_PG=()         # prefix that runs a command as the postgres user
SERVERS_PG_BIN=""        # the directory of PostgreSQL's programs

# ---- the public steps ------------------------------------------------------

servers_start() {
	local name var
	for name in "${SERVERS_ALL[@]}"; do
		var=$(_servers_var "$name")
		if [ -n "${!var:-}" ]; then
			echo "$name: using $var from the environment"
		else
			SERVERS_WANTED+=("$name")
		fi
	done
	[ ${#SERVERS_WANTED[@]} -gt 0 ] || return 0

	SERVERS_T0=${EPOCHREALTIME/./}
	SERVERS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/strata-servers.XXXXXX")
	# Only traversable by others: the postgres user must reach its own data dir.
	chmod 0711 "$SERVERS_DIR"
	trap _servers_cleanup EXIT
	trap 'exit 130' INT # both end in the EXIT trap, which stops the servers
	trap 'exit 143' TERM
	_servers_watchdog

	_servers_install
	for name in "${SERVERS_WANTED[@]+"${SERVERS_WANTED[@]}"}"; do
		if declare -F "_${name}_init" >/dev/null; then
			# initdb and mariadb-install-db take seconds: run them side by side,
			# and beside whatever the caller does until servers_wait.
			# Each ends by exec'ing its tool, so the pid is the tool's own.
			("_${name}_init") >"$SERVERS_DIR/$name-init.log" 2>&1 {SERVERS_WATCHDOG_FD}>&- &
			SERVERS_INIT[$name]=$!
		else
			# Nothing to initialise: start it now (a child of this shell), and
			# wait for it and set it up (the cluster takes seconds) in the
			# background. servers_wait exports its URL, or retries.
			_servers_launch_early "$name" || true
		fi
	done
}

servers_wait() {
	local name ok t0=${EPOCHREALTIME/./}
	for name in "${SERVERS_WANTED[@]+"${SERVERS_WANTED[@]}"}"; do
		ok=1
		wait "${SERVERS_INIT[$name]}" || ok=""
		unset "SERVERS_INIT[$name]"
		if [ -n "${SERVERS_PORTS[$name]:-}" ]; then # started by servers_start
			_servers_launch_finish "$name" "$ok" || true
			continue
		fi
		if [ -z "$ok" ]; then
			_servers_give_up "$name" "initialisation failed" "$SERVERS_DIR/$name-init.log"
			continue
		fi
		_servers_launch "$name" || true
	done
	[ ${#SERVERS_PID[@]} -eq 0 ] ||
		echo "servers: $(_servers_elapsed "$SERVERS_T0") since servers_start, $(_servers_elapsed "$t0") of it waited for here"
}

# ---- shared machinery -------------------------------------------------------

_servers_var() {
	case $1 in
	postgres) echo STRATA_POSTGRES_URL ;;
	mysql) echo STRATA_MYSQL_URL ;;
	redis) echo STRATA_REDIS_URL ;;
	redis_cluster) echo STRATA_REDIS_CLUSTER_URL ;;
	esac
}

# How many ports a server needs: the cluster's six nodes each need a client
# port and a cluster bus port (the default, port+10000, may not be free or
# even exist).
_servers_nports() { [ "$1" = redis_cluster ] && echo 12 || echo 1; }

_servers_required() { [ "${STRATA_REQUIRE_SERVERS:-}" = 1 ]; }

# _servers_give_up NAME REASON [LOG]: with STRATA_REQUIRE_SERVERS=1 the run
# fails; otherwise the tests go on without this server (its suites skip).
_servers_give_up() {
	local name=$1 reason=$2 log=${3:-} kept=() n
	if [ -n "$log" ] && [ -s "$log" ]; then
		echo "---- last lines of $log:" >&2
		tail -n 25 "$log" >&2
		echo "----" >&2
	fi
	if _servers_required; then
		echo "error: $name: $reason (STRATA_REQUIRE_SERVERS=1)" >&2
		exit 1
	fi
	echo "warning: $name: $reason; $(_servers_var "$name") stays unset and its tests skip" >&2
	for n in "${SERVERS_WANTED[@]}"; do [ "$n" = "$name" ] || kept+=("$n"); done
	SERVERS_WANTED=("${kept[@]+"${kept[@]}"}")
}

_servers_elapsed() { # seconds since $1 (microseconds from EPOCHREALTIME)
	local us=$((${EPOCHREALTIME/./} - $1))
	printf '%d.%02ds' $((us / 1000000)) $((us % 1000000 / 10000))
}

# _servers_free_port [N]: N (default 1) distinct ports the kernel has just
# handed out as free, comma-separated (all are held open at once, so no two
# are the same). Another process may take one before the server binds it:
# _servers_launch retries on "Address already in use". perl-base is Essential
# in Debian, so perl is always there.
_servers_free_port() {
	local port
	port=$(perl -MIO::Socket::INET -e \
		'my @s = map { IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die "free port: $!\n" } 1 .. ($ARGV[0] || 1); print join(",", map { $_->sockport } @s)' \
		"${1:-1}")
	if ! [[ "$port" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]]; then
		echo "no free port on 127.0.0.1" >&2
		return 1
	fi
	echo "$port"
}

# _servers_export NAME PORT: export the URL of a server that is up and set up
# (and whatever else it hands the tests).
_servers_export() {
	local name=$1 var
	var=$(_servers_var "$name")
	export "$var=$("_${name}_url" "$2")"
	! declare -F "_${name}_export" >/dev/null || "_${name}_export" "$2"
}

# _servers_launch NAME: start the server on a free port, wait until it
# answers, run its setup and export its URL.
_servers_launch() {
	local name=$1 port t0=${EPOCHREALTIME/./} log="$SERVERS_DIR/$1.log" var
	for _ in 1 2 3; do
		port=$(_servers_free_port "$(_servers_nports "$name")") || break
		"_${name}_start" "$port" >"$log" 2>&1
		if _servers_await "$name" "$port" && "_${name}_setup" "$port" >>"$log" 2>&1; then
			_servers_export "$name" "$port"
			var=$(_servers_var "$name")
			echo "$name: started in $(_servers_elapsed "$t0"): $var=${!var}"
			return 0
		fi
		_servers_stop "$name"
		grep -q 'Address already in use' "$log" || break
		echo "$name: port $port was taken meanwhile; trying another" >&2
	done
	_servers_give_up "$name" "did not start (log: $log)" "$log"
	return 1
}

# _servers_launch_early NAME: _servers_launch's first attempt, begun by
# servers_start: start the server on free ports, and wait until it answers
# and set it up in the background (SERVERS_INIT), so that it overlaps the
# caller's work; _servers_launch_finish ends it.
_servers_launch_early() {
	local name=$1 port log="$SERVERS_DIR/$1.log"
	SERVERS_T0_OF[$name]=${EPOCHREALTIME/./}
	if ! port=$(_servers_free_port "$(_servers_nports "$name")"); then
		_servers_give_up "$name" "no free port"
		return 1
	fi
	SERVERS_PORTS[$name]=$port
	"_${name}_start" "$port" >"$log" 2>&1
	{
		_servers_await "$name" "$port" && "_${name}_setup" "$port" &&
			_servers_elapsed "${SERVERS_T0_OF[$name]}" >"$SERVERS_DIR/$name.took"
	} >>"$log" 2>&1 {SERVERS_WATCHDOG_FD}>&- &
	SERVERS_INIT[$name]=$!
}

# _servers_launch_finish NAME OK: after the background setup of a server
# servers_start started (OK: non-empty if it succeeded), export its URL; if
# it failed, stop it and, if its port was taken meanwhile, launch it again.
_servers_launch_finish() {
	local name=$1 ok=$2 port=${SERVERS_PORTS[$1]} log="$SERVERS_DIR/$1.log" var
	unset "SERVERS_PORTS[$name]"
	if [ -n "$ok" ]; then
		_servers_export "$name" "$port"
		var=$(_servers_var "$name")
		echo "$name: started in $(cat "$SERVERS_DIR/$name.took") (beside other work): $var=${!var}"
		return 0
	fi
	_servers_stop "$name"
	if grep -q 'Address already in use' "$log"; then
		echo "$name: a port of $port was taken meanwhile; trying others" >&2
		_servers_launch "$name"
		return
	fi
	_servers_give_up "$name" "did not start (log: $log)" "$log"
	return 1
}

# _servers_await NAME PORT: bounded wait until the server answers a real
# login; fails at once when a server process has died.
_servers_await() {
	local name=$1 port=$2 pid
	local deadline=$((SECONDS + ${STRATA_SERVER_TIMEOUT:-60}))
	until "_${name}_ping" "$port" >/dev/null 2>&1; do
		for pid in ${SERVERS_PID[$name]:-0}; do
			if ! kill -0 "$pid" 2>/dev/null; then
				echo "$name: the server exited during startup" >&2
				return 1
			fi
		done
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "$name: no answer on 127.0.0.1:$port within ${STRATA_SERVER_TIMEOUT:-60}s" >&2
			return 1
		fi
		sleep 0.05
	done
}

# _servers_run_bg NAME CMD...: start CMD as a child of this shell (so it can
# be waited for and reaped: PID 1 of a container need not reap orphans) with
# the watchdog's pipe closed (or the watchdog would never see EOF). A server
# of several processes (the cluster) calls it once for each.
_servers_run_bg() {
	local name=$1
	shift
	"$@" {SERVERS_WATCHDOG_FD}>&- &
	SERVERS_PID[$name]="${SERVERS_PID[$name]:+${SERVERS_PID[$name]} }$!"
	echo "${SERVERS_PID[$name]}" >"$SERVERS_DIR/$name.pid"
}

# _servers_reap PID...: wait a bounded time for the processes (children of
# this shell) to exit, SIGKILL what is left, and reap them. (stderr is
# silenced for bash's own "Killed" notices too.)
_servers_reap() {
	local pid deadline=$((SECONDS + 15))
	for pid in "$@"; do
		while kill -0 "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
		kill -s KILL "$pid" || true
		wait "$pid" || true
	done 2>/dev/null
}

# _servers_stop NAME...: shut the servers down, all at once.
_servers_stop() {
	local name pid pids=()
	for name in "$@"; do
		# postgres: SIGINT is a fast shutdown (SIGTERM would wait for clients).
		# mariadbd, redis-server: SIGKILL, as their data is thrown away (and
		# mariadbd ignores SIGTERM until its startup is done).
		for pid in ${SERVERS_PID[$name]:-}; do
			pids+=("$pid")
			kill -s "$([ "$name" = postgres ] && echo INT || echo KILL)" "$pid" || true
		done
	done 2>/dev/null # and bash's "Killed" notices for processes that died meanwhile
	_servers_reap "${pids[@]+"${pids[@]}"}"
	for name in "$@"; do
		unset "SERVERS_PID[$name]"
		rm -f "$SERVERS_DIR/$name.pid"
	done
}

# The EXIT trap: stop initialisations still running and the servers, delete
# their directory, undo the policy-rc.d this script may have written.
_servers_cleanup() {
	local pid
	[ -z "$SERVERS_WATCHDOG" ] || kill "$SERVERS_WATCHDOG" 2>/dev/null || true
	for pid in "${SERVERS_INIT[@]+"${SERVERS_INIT[@]}"}"; do kill "$pid" 2>/dev/null || true; done
	_servers_reap "${SERVERS_INIT[@]+"${SERVERS_INIT[@]}"}"
	_servers_stop "${!SERVERS_PID[@]}"
	[ -z "$SERVERS_POLICY_RC" ] || rm -f /usr/sbin/policy-rc.d
	[ -z "$SERVERS_DIR" ] || rm -rf "$SERVERS_DIR"
}

# The EXIT trap cannot run if this shell is SIGKILLed. A helper reads a pipe
# whose write end only this shell keeps open for long; at EOF (this shell is
# gone) it stops the servers named by the pid files and deletes the directory.
_servers_watchdog() {
	exec {SERVERS_WATCHDOG_FD}> >(
		set +e
		trap '' INT # ^C is for the EXIT trap, which ends this helper first
		while read -r _; do :; done
		for f in "$SERVERS_DIR"/*.pid; do
			[ -e "$f" ] && SERVERS_PID[$(basename "$f" .pid)]=$(cat "$f")
		done
		_servers_stop "${!SERVERS_PID[@]}"
		rm -rf "$SERVERS_DIR"
	)
	SERVERS_WATCHDOG=$!
}

# Installs the Debian packages of every wanted server that lacks them, with
# one apt-get update and one apt-get install.
_servers_install() {
	local name pkgs=() needs=() pkg
	for name in "${SERVERS_WANTED[@]}"; do
		pkg=$("_${name}_missing")
		[ -n "$pkg" ] || continue
		needs+=("$name")
		# redis and redis_cluster need the same package: name it once.
		[[ " ${pkgs[*]-} " == *" $pkg "* ]] || pkgs+=("$pkg")
	done
	[ ${#pkgs[@]} -gt 0 ] || { _servers_prepare; return 0; }

	local why=""
	if ! command -v apt-get >/dev/null; then
		why="not installed, and apt-get is missing"
	elif [ "$EUID" -ne 0 ]; then
		why="not installed; as root: apt-get install --no-install-recommends ${pkgs[*]}"
	else
		echo "== installing ${pkgs[*]} (apt-get)"
		# Debian's maintainer scripts start the distro's instance of each server
		# through invoke-rc.d; policy-rc.d answering 101 forbids that.
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
			chmod 0755 /usr/sbin/policy-rc.d
			SERVERS_POLICY_RC=1
		fi
		export DEBIAN_FRONTEND=noninteractive
		local apt=(apt-get -q -y -o DPkg::Lock::Timeout=120)
		if ! { "${apt[@]}" update && "${apt[@]}" install --no-install-recommends "${pkgs[@]}"; }; then
			why="apt-get install ${pkgs[*]} failed"
		fi
		if [ -n "$SERVERS_POLICY_RC" ]; then rm -f /usr/sbin/policy-rc.d; SERVERS_POLICY_RC=""; fi
	fi
	for name in "${needs[@]}"; do
		if [ -n "$why" ] || [ -n "$("_${name}_missing")" ]; then
			_servers_give_up "$name" "${why:-still missing after apt-get install}"
		fi
	done
	_servers_prepare
}

# After the install: where PostgreSQL is, and as whom it runs. It refuses to
# run as root: as root, run it as the postgres system user (the package
# creates it; create it if it is missing).
_servers_prepare() {
	[[ " ${SERVERS_WANTED[*]} " == *" postgres "* ]] || return 0
	SERVERS_PG_BIN=$(_postgres_bin)
	[ "$EUID" -eq 0 ] || return 0
	if ! id postgres >/dev/null 2>&1; then
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin postgres
	fi
	# setpriv (util-linux, Essential) execs in place: the pid stays the server's.
	SERVERS_AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
}

# ---- PostgreSQL ----------------------------------------------------------------

_postgres_bin() { # the newest Debian PostgreSQL, else one on PATH
	local dir
	dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	if [ ! -x "$dir/postgres" ] && command -v postgres >/dev/null; then
		dir=$(dirname "$(readlink -f "$(command -v postgres)")")
	fi
	echo "$dir"
}

_postgres_missing() {
	local bin
	bin=$(_postgres_bin)
	[ -n "$bin" ] && [ -x "$bin/initdb" ] && [ -x "$bin/postgres" ] && [ -x "$bin/pg_isready" ] ||
		echo postgresql
}

_postgres_init() {
	local dir="$SERVERS_DIR/postgres"
	mkdir -m 0700 "$dir"
	[ "$EUID" -ne 0 ] || chown postgres "$dir"
	cd "$dir" # a working directory the postgres user can read
	# Trust on loopback; C collation orders strings bytewise, as Go does.
	exec "${SERVERS_AS_PG[@]}" "$SERVERS_PG_BIN/initdb" -D "$dir/data" -U strata \
		--auth=trust --encoding=UTF8 --locale=C.UTF-8 --lc-collate=C \
		--no-sync --no-instructions
}

_postgres_start() {
	local dir="$SERVERS_DIR/postgres"
	# No Unix socket (its path length is limited); durability off: the data
	# is thrown away.
	_servers_run_bg postgres "${SERVERS_AS_PG[@]}" "$SERVERS_PG_BIN/postgres" \
		-D "$dir/data" -p "$1" -c listen_addresses=127.0.0.1 \
		-c unix_socket_directories= -c fsync=off -c synchronous_commit=off \
		-c full_page_writes=off -c max_connections=200
}

_postgres_ping() {
	PGSSLMODE=disable "$SERVERS_PG_BIN/pg_isready" -q -t 1 -h 127.0.0.1 -p "$1" -U strata -d postgres
}

_postgres_setup() {
	PGSSLMODE=disable "$SERVERS_PG_BIN/createdb" -h 127.0.0.1 -p "$1" -U strata strata
}

_postgres_url() { echo "postgres://strata@127.0.0.1:$1/strata?sslmode=disable"; }

# ---- MariaDB (the MySQL suites) ---------------------------------------------------

_mysql_bin() { # $1: program name; mariadbd lives in /usr/sbin
	command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true
}

_mysql_missing() {
	[ -n "$(_mysql_bin mariadbd)" ] && [ -n "$(_mysql_bin mariadb-install-db)" ] &&
		[ -n "$(_mysql_bin mariadb)" ] || echo mariadb-server
}

# Options for both the bootstrap and the server, in SERVERS_MYSQL_OPTS
# (durability off and a 32M redo log, not 96M: the data is thrown away).
# --no-defaults must come first: it keeps /etc/mysql (the distro's instance)
# out. mariadbd refuses to run as root unless told --user=root.
_mysql_opts() {
	SERVERS_MYSQL_OPTS=(--no-defaults --datadir="$SERVERS_DIR/mysql/data"
		--innodb-use-native-aio=0 --innodb-flush-log-at-trx-commit=0
		--innodb-doublewrite=0 --innodb-log-file-size=32M --skip-name-resolve)
	[ "$EUID" -ne 0 ] || SERVERS_MYSQL_OPTS+=(--user=root)
}

_mysql_init() {
	local dir="$SERVERS_DIR/mysql"
	mkdir -m 0700 "$dir"
	# Run by the server before it accepts connections: the tests' user, who
	# may create databases. A real user rather than --skip-grant-tables, so
	# the URL carries credentials as in production.
	cat >"$dir/init.sql" <<-'SQL'
		CREATE USER 'strata'@'%' IDENTIFIED BY 'strata';
		GRANT ALL PRIVILEGES ON *.* TO 'strata'@'%' WITH GRANT OPTION;
		CREATE DATABASE strata;
	SQL
	_mysql_opts
	exec "$(_mysql_bin mariadb-install-db)" "${SERVERS_MYSQL_OPTS[@]}" --skip-test-db \
		--auth-root-authentication-method=socket
}

_mysql_start() {
	local dir="$SERVERS_DIR/mysql"
	# utf8mb4_bin: strings compare and order bytewise, as Go does.
	_mysql_opts
	_servers_run_bg mysql "$(_mysql_bin mariadbd)" "${SERVERS_MYSQL_OPTS[@]}" \
		--port="$1" --bind-address=127.0.0.1 --socket="$dir/mysqld.sock" \
		--pid-file="$dir/mysqld.pid" --tmpdir="$dir" --init-file="$dir/init.sql" \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_bin
}

# A real login as the tests' user: the port is open before the init file has
# run, so a bare TCP connect would be too early.
_mysql_ping() {
	"$(_mysql_bin mariadb)" --no-defaults --protocol=tcp -h 127.0.0.1 -P "$1" \
		-u strata -pstrata --connect-timeout=1 -e 'SELECT 1' strata
}

_mysql_setup() { :; } # the init file did it

_mysql_url() { echo "mysql://strata:strata@127.0.0.1:$1/strata"; }

# ---- Redis: a standalone server and a cluster -------------------------------------

_redis_missing() {
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null || echo redis-server
}
_redis_cluster_missing() { _redis_missing; }

# _redis_run NAME PORT [OPTION...]: a redis-server child of this shell on
# 127.0.0.1:PORT, working in $SERVERS_DIR, that saves nothing (no RDB, no
# AOF) and logs to stdout. No config file: the distro's /etc/redis stays out.
_redis_run() {
	local name=$1 port=$2
	shift 2
	_servers_run_bg "$name" redis-server --bind 127.0.0.1 --port "$port" \
		--dir "$SERVERS_DIR" --save "" --appendonly no --daemonize no \
		--supervised no --logfile "" "$@"
}

# _redis_cli PORT ARG...: redis-cli against 127.0.0.1:PORT, bounded in time.
_redis_cli() {
	local port=$1
	shift
	timeout --foreground 10 redis-cli -h 127.0.0.1 -p "$port" "$@"
}

_redis_start() { _redis_run redis "$1"; }

_redis_ping() { [ "$(_redis_cli "$1" ping)" = PONG ]; }

_redis_setup() { :; }

_redis_url() { echo "redis://127.0.0.1:$1/0"; }

# The cluster's PORT is 12 ports: the six nodes' client ports, then their
# cluster bus ports. SERVERS_REDIS_NODES gets the client ports.
_redis_cluster_nodes() {
	local ports
	IFS=, read -ra ports <<<"$1"
	SERVERS_REDIS_NODES=("${ports[@]:0:6}")
	SERVERS_REDIS_BUS=("${ports[@]:6:6}")
}

# The six nodes start side by side (each in the background).
_redis_cluster_start() {
	local i
	_redis_cluster_nodes "$1"
	for i in 0 1 2 3 4 5; do
		# The replicas sync at once (no diskless-sync delay, 5s by default).
		_redis_run redis_cluster "${SERVERS_REDIS_NODES[i]}" \
			--cluster-enabled yes --cluster-port "${SERVERS_REDIS_BUS[i]}" \
			--cluster-config-file "$SERVERS_DIR/nodes-${SERVERS_REDIS_NODES[i]}.conf" \
			--cluster-node-timeout 2000 --repl-diskless-sync-delay 0
	done
}

_redis_cluster_ping() {
	local port
	_redis_cluster_nodes "$1"
	for port in "${SERVERS_REDIS_NODES[@]}"; do _redis_ping "$port" || return 1; done
}

# Creates the cluster (3 masters, a replica each), then waits (bounded) until
# every node reports cluster_state:ok with all slots, six known nodes and
# three masters, the nodes agree about the slots, and each replica's link to
# its master is up.
_redis_cluster_setup() {
	local port addrs=()
	_redis_cluster_nodes "$1"
	for port in "${SERVERS_REDIS_NODES[@]}"; do addrs+=("127.0.0.1:$port"); done
	timeout --foreground "${STRATA_SERVER_TIMEOUT:-60}" redis-cli --cluster create "${addrs[@]}" \
		--cluster-replicas 1 --cluster-yes || return 1
	local deadline=$((SECONDS + ${STRATA_SERVER_TIMEOUT:-60}))
	until _redis_cluster_ready; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "redis_cluster: not ready within ${STRATA_SERVER_TIMEOUT:-60}s" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "redis_cluster: ready"
}

_redis_cluster_ready() {
	local port info replicas=0
	for port in "${SERVERS_REDIS_NODES[@]}"; do
		info=$(_redis_cli "$port" cluster info | tr -d '\r') || return 1
		[[ $'\n'"$info"$'\n' == *$'\ncluster_state:ok\n'* &&
			$'\n'"$info"$'\n' == *$'\ncluster_slots_ok:16384\n'* &&
			$'\n'"$info"$'\n' == *$'\ncluster_known_nodes:6\n'* &&
			$'\n'"$info"$'\n' == *$'\ncluster_size:3\n'* ]] || return 1
		info=$(_redis_cli "$port" info replication | tr -d '\r') || return 1
		if [[ $'\n'"$info" == *$'\nrole:slave'* ]]; then
			[[ $'\n'"$info" == *$'\nmaster_link_status:up'* ]] || return 1
			replicas=$((replicas + 1))
		fi
	done
	[ "$replicas" -eq 3 ] || return 1
	timeout --foreground 10 redis-cli --cluster check "127.0.0.1:${SERVERS_REDIS_NODES[0]}" 2>&1 |
		grep -q 'All nodes agree about slots configuration'
}

_redis_cluster_url() {
	local port url=""
	_redis_cluster_nodes "$1"
	for port in "${SERVERS_REDIS_NODES[@]}"; do url+="${url:+,}127.0.0.1:$port"; done
	echo "redis+cluster://$url"
}

_redis_cluster_export() {
	_redis_cluster_nodes "$1"
	STRATA_REDIS_CLUSTER_NODES=$(IFS=,; echo "${SERVERS_REDIS_NODES[*]}")
	export STRATA_REDIS_CLUSTER_NODES
}

# ---- run directly: wrap a command --------------------------------------------------

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cd "$(dirname "$0")/.."
	servers_start
	servers_wait
	if [ $# -gt 0 ]; then
		"$@"
	else
		for var in STRATA_POSTGRES_URL STRATA_MYSQL_URL STRATA_REDIS_URL \
			STRATA_REDIS_CLUSTER_URL STRATA_REDIS_CLUSTER_NODES; do
			[ -z "${!var:-}" ] || echo "export $var='${!var}'"
		done
		echo "servers up; ^C stops them"
		# wait is interrupted by the INT trap; no sleep process is left behind.
		[ ${#SERVERS_PID[@]} -eq 0 ] || wait "${SERVERS_PID[@]}"
	fi
fi
