# test/lib/cluster.sh: start and stop a throwaway PostgreSQL cluster.
#
# Source it, then: cluster_start [extra postgresql.conf lines...]
# Sets PGHOST (socket dir inside the temp dir), PGPORT, PGUSER, PGDATABASE,
# PGSYNC_TMP.  cluster_stop stops it and removes the temp dir.  As root,
# initdb/pg_ctl run as the "postgres" OS user; the cluster listens on its
# unix socket only (listen_addresses=''), so it never clashes with another.
#
# Sanitizer mode (a pgsync.so built with `make SANITIZE=1`): pg_ctl, and so
# the server, runs with the ASan runtime preloaded (test/lib/sanitizer.sh);
# cluster_stop prints any sanitizer report and returns 1 (keeping the temp
# dir).  Tests stop with `trap 'cluster_stop || exit 1' EXIT`.

PG_BINDIR=${PG_BINDIR:-$(${PG_CONFIG:-pg_config} --bindir)}

# The library under test is this tree's build, found first through
# dynamic_library_path: a pgsync.so installed from elsewhere never sneaks in.
PGSYNC_LIB_DIR=${PGSYNC_LIB_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

as_pg_owner() {
	# runuser's PAM session resets the open-file limit to 1024: raise it
	# back to the hard limit, so the worker can hold many client sockets
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- bash -c 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"' bash "$@"
	else
		"$@"
	fi
}

# Does this server know output_plugin_libraries (15.19+)?
server_has_plugin_allowlist() {
	"$PG_BINDIR/postgres" --describe-config 2>/dev/null |
		grep '^output_plugin_libraries' >/dev/null
}

PGSYNC_PG_ENV=()

# pg_ctl with the sanitizer mode's environment, if any (PGSYNC_PG_ENV)
cluster_pg_ctl() {
	as_pg_owner env "${PGSYNC_PG_ENV[@]}" "$PG_BINDIR/pg_ctl" "$@"
}

cluster_start() {
	PGSYNC_TMP=$(mktemp -d /tmp/pgsync-test.XXXXXX)
	chmod 755 "$PGSYNC_TMP"
	[ "$(id -u)" = 0 ] && chown postgres: "$PGSYNC_TMP"
	export PGSYNC_TMP
	local senv
	senv=$("$PGSYNC_LIB_DIR/test/lib/sanitizer.sh" env "$PGSYNC_TMP") || return 1
	mapfile -t PGSYNC_PG_ENV <<<"$senv"
	[ -n "$senv" ] || PGSYNC_PG_ENV=()
	export PGHOST="$PGSYNC_TMP"
	export PGPORT=${PGPORT_TEST:-$((20000 + RANDOM % 20000))}
	export PGUSER=postgres
	export PGDATABASE=postgres
	as_pg_owner "$PG_BINDIR/initdb" -D "$PGSYNC_TMP/data" -U postgres \
		--auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$PGSYNC_TMP/initdb.log" 2>&1 ||
		{ cat "$PGSYNC_TMP/initdb.log"; return 1; }
	{
		echo "listen_addresses = ''"
		echo "port = $PGPORT"
		echo "unix_socket_directories = '$PGSYNC_TMP'"
		echo "wal_level = logical"
		# only if the server's OS user can read it (else: the installed one)
		if as_pg_owner test -r "$PGSYNC_LIB_DIR/pgsync.so"; then
			echo "dynamic_library_path = '$PGSYNC_LIB_DIR:\$libdir'"
		fi
		echo "max_replication_slots = 20"
		echo "max_wal_senders = 20"
		echo "fsync = off"
		echo "log_min_messages = warning"
		if server_has_plugin_allowlist; then
			echo "output_plugin_libraries = 'pgsync, pgoutput, test_decoding, wal2json'"
		fi
		for line in "$@"; do echo "$line"; done
	} >>"$PGSYNC_TMP/data/postgresql.conf"
	cluster_pg_ctl -D "$PGSYNC_TMP/data" -l "$PGSYNC_TMP/server.log" \
		-w -t 60 start >/dev/null ||
		{ cat "$PGSYNC_TMP/server.log"; return 1; }
}

cluster_stop() {
	[ -n "${PGSYNC_TMP:-}" ] || return 0
	cluster_pg_ctl -D "$PGSYNC_TMP/data" -m fast -w stop >/dev/null 2>&1 ||
		cluster_pg_ctl -D "$PGSYNC_TMP/data" -m immediate -w stop >/dev/null 2>&1
	if [ ${#PGSYNC_PG_ENV[@]} -gt 0 ] &&
		! "$PGSYNC_LIB_DIR/test/lib/sanitizer.sh" reports "$PGSYNC_TMP"; then
		echo "not ok - sanitizer reports in $PGSYNC_TMP (kept)"
		PGSYNC_TMP=
		return 1
	fi
	if [ -n "${PGSYNC_KEEP_TMP:-}" ]; then
		echo "kept $PGSYNC_TMP"
	else
		rm -rf "$PGSYNC_TMP"
	fi
	PGSYNC_TMP=
}

# cluster_start_worker [extra postgresql.conf lines...]: cluster_start with
# the pgsync WebSocket worker (pgsync preloaded, through the same
# dynamic_library_path as above) on a free TCP port, exported as
# PGSYNC_WS_PORT.
cluster_start_worker() {
	PGSYNC_WS_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	export PGSYNC_WS_PORT
	cluster_start "shared_preload_libraries = 'pgsync'" "pgsync.port = $PGSYNC_WS_PORT" "$@"
}
