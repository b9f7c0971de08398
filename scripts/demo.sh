#!/bin/bash
# scripts/demo.sh: one command from a fresh Debian bookworm machine to a
# running pgsync demo.  Installs dependencies, builds and installs pgsync,
# then starts a throwaway cluster in /tmp/pgsync-demo (PostgreSQL on a unix
# socket there only) with pgsync preloaded: its worker serves WebSockets on
# 127.0.0.1 (port 8090, or a free one if 8090 is taken; printed).  It
# creates an "orders" table, the pgsync extension (status views) and a
# slot "demo" for the SQL interface, waits until the worker streams, and
# prints how to watch changes live.
#   scripts/demo.sh          start (or restart) the demo
#   scripts/demo.sh stop     stop it and remove its directory
# Environment: PGSYNC_DEMO_PORT (PostgreSQL port, default 54329),
# PGSYNC_DEMO_WS_PORT (WebSocket port, default 8090).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DEMO_DIR=/tmp/pgsync-demo
export PGSYNC_DEMO_PORT=${PGSYNC_DEMO_PORT:-54329}
PY=/usr/bin/python3

source test/lib/cluster.sh

stop_demo() {
	if [ -f "$DEMO_DIR/data/postmaster.pid" ]; then
		as_pg_owner "$PG_BINDIR/pg_ctl" -D "$DEMO_DIR/data" -m fast -w stop >/dev/null || true
	fi
	rm -rf "$DEMO_DIR"
}

port_free() {
	"$PY" -c 'import socket,sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}

if [ "${1:-}" = stop ]; then
	stop_demo
	echo "demo stopped"
	exit 0
fi
if [ -n "${1:-}" ]; then
	echo "usage: scripts/demo.sh [stop]" >&2
	exit 2
fi

scripts/install-deps.sh
make -s
if [ "$(id -u)" = 0 ]; then make -s install; else sudo make -s install; fi

stop_demo			# a previous demo, if any (frees its ports)

WS_PORT=${PGSYNC_DEMO_WS_PORT:-8090}
if ! port_free "$WS_PORT"; then
	WS_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi

# clients authenticate with a token signed by this secret (docs/SECURITY.md)
SECRET_DIR=$(mktemp -d /tmp/pgsync-demo-secret.XXXXXX)
chmod 755 "$SECRET_DIR"
"$PY" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$SECRET_DIR/jwt_secret"
chmod 644 "$SECRET_DIR/jwt_secret"

export PGPORT_TEST=$PGSYNC_DEMO_PORT
cluster_start "shared_preload_libraries = 'pgsync'" \
	"pgsync.database = 'postgres'" \
	"pgsync.auth = 'jwt'" \
	"pgsync.jwt_secret_file = 'jwt_secret'" \
	"pgsync.listen_address = '127.0.0.1'" \
	"pgsync.port = $WS_PORT" \
	"pgsync.heartbeat_interval = '10s'"
# keep the cluster: move it to a fixed place so "stop" can find it
as_pg_owner "$PG_BINDIR/pg_ctl" -D "$PGSYNC_TMP/data" -m fast -w stop >/dev/null
mv "$PGSYNC_TMP" "$DEMO_DIR"
sed -i "s|$PGSYNC_TMP|$DEMO_DIR|g" "$DEMO_DIR/data/postgresql.conf"
# the secret lives in the data directory (relative paths are resolved there)
install -m 600 "$SECRET_DIR/jwt_secret" "$DEMO_DIR/data/jwt_secret"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$DEMO_DIR/data/jwt_secret"
cp "$SECRET_DIR/jwt_secret" "$DEMO_DIR/jwt_secret"
rm -rf "$SECRET_DIR"
as_pg_owner "$PG_BINDIR/pg_ctl" -D "$DEMO_DIR/data" -l "$DEMO_DIR/server.log" -w start >/dev/null
export PGHOST=$DEMO_DIR

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION pgsync;
CREATE TABLE orders (id serial PRIMARY KEY, customer text, amount numeric(10,2),
                     status text DEFAULT 'new', created timestamptz DEFAULT now());
-- the role demo clients read as: their token names it
CREATE ROLE demo_reader LOGIN;
GRANT SELECT ON orders TO demo_reader;
SELECT 'slot created' FROM pg_create_logical_replication_slot('demo', 'pgsync') \g /dev/null
SQL

# the worker starts with the server; wait until it decodes its slot
state=
for _ in $(seq 1 150); do
	state=$(psql -X -Atc "SELECT state FROM pgsync.status")
	[ "$state" = streaming ] && break
	sleep 0.2
done
if [ "$state" != streaming ]; then
	echo "the pgsync worker is not streaming (state: $state)" >&2
	psql -X -c "SELECT state, last_error FROM pgsync.status" >&2
	tail -20 "$DEMO_DIR/server.log" >&2
	exit 1
fi

psql -X -q <<'SQL'
INSERT INTO orders (customer, amount) VALUES ('ada', 12.50), ('linus', 99.99);
UPDATE orders SET status = 'paid' WHERE customer = 'ada';
SQL

# a transaction's commit LSN is the log's resume key: the oldest resume
# point still served replays every transaction since the worker began
sleep 0.3			# status is published every 200 ms
OLDEST=$(psql -X -Atc "SELECT log_oldest_lsn FROM pgsync.status")

PSQL="psql -h $DEMO_DIR -p $PGSYNC_DEMO_PORT -U postgres"
TOKEN=$("$ROOT/scripts/make-token" --secret-file "$DEMO_DIR/jwt_secret" --role demo_reader --ttl 86400)
WATCH="$PY $ROOT/clients/python/watch.py --url ws://127.0.0.1:$WS_PORT/"
echo
echo "pgsync demo is running: PostgreSQL $(psql -X -Atc 'SHOW server_version') (socket in $DEMO_DIR,"
echo "port $PGSYNC_DEMO_PORT), pgsync worker $(psql -X -Atc 'SELECT state FROM pgsync.status') on ws://127.0.0.1:$WS_PORT/"
echo
cat <<EOF
Clients authenticate with a JSON Web Token naming a PostgreSQL role
(pgsync.auth = jwt); the one below reads as demo_reader, which may SELECT
orders, for 24 hours (make another with $ROOT/scripts/make-token
--secret-file $DEMO_DIR/jwt_secret --role demo_reader).  In the terminal
where you watch, first:
  export PGSYNC_TOKEN=$TOKEN

Watch changes live (in another terminal; Ctrl-C prints where to resume):
  $WATCH public.orders

Then make changes:
  $PSQL -c "INSERT INTO orders (customer, amount) VALUES ('grace', 7)"
  $PSQL -c "UPDATE orders SET status = 'shipped' WHERE customer = 'grace'"

More:
  $WATCH --resume-lsn $OLDEST public.orders   # replay the change log from its start, then live
  $WATCH --snapshot public.orders   # the current rows first, then exactly the changes they miss
  $WATCH --filter '{"col":"amount","op":"gt","value":50}' public.orders
  $PSQL -c "SELECT state, clients, log_oldest_lsn, log_last_lsn FROM pgsync.status"
  $PSQL -c "SELECT data FROM pg_logical_slot_get_changes('demo', NULL, NULL)"

Stop it with: scripts/demo.sh stop
EOF
