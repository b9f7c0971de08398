#!/bin/bash
# scripts/demo.sh: one command from a fresh Debian bookworm machine to a
# running pgsync demo.  Installs dependencies, builds and installs pgsync,
# then starts a throwaway cluster (in /tmp/pgsync-demo, unix socket there,
# nothing on the network but loopback) with a demo table and a slot.
#   scripts/demo.sh          start (or restart) the demo
#   scripts/demo.sh stop     stop it and remove its directory
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO_DIR=/tmp/pgsync-demo
export PGSYNC_DEMO_PORT=${PGSYNC_DEMO_PORT:-54329}

source test/lib/cluster.sh

stop_demo() {
	if [ -f "$DEMO_DIR/data/postmaster.pid" ]; then
		as_pg_owner "$PG_BINDIR/pg_ctl" -D "$DEMO_DIR/data" -m fast -w stop >/dev/null || true
	fi
	rm -rf "$DEMO_DIR"
}

if [ "${1:-}" = stop ]; then
	stop_demo
	echo "demo stopped"
	exit 0
fi

scripts/install-deps.sh
make -s
if [ "$(id -u)" = 0 ]; then make -s install; else sudo make -s install; fi

stop_demo
export PGPORT_TEST=$PGSYNC_DEMO_PORT
cluster_start
# keep the cluster: move it to a fixed place so "stop" can find it
as_pg_owner "$PG_BINDIR/pg_ctl" -D "$PGSYNC_TMP/data" -m fast -w stop >/dev/null
mv "$PGSYNC_TMP" "$DEMO_DIR"
sed -i "s|$PGSYNC_TMP|$DEMO_DIR|g" "$DEMO_DIR/data/postgresql.conf"
as_pg_owner "$PG_BINDIR/pg_ctl" -D "$DEMO_DIR/data" -l "$DEMO_DIR/server.log" -w start >/dev/null
export PGHOST=$DEMO_DIR

psql -X -q <<'SQL'
CREATE EXTENSION pgsync;
CREATE TABLE orders (id serial PRIMARY KEY, customer text, amount numeric(10,2),
                     status text DEFAULT 'new', created timestamptz DEFAULT now());
SELECT 'slot created' FROM pg_create_logical_replication_slot('demo', 'pgsync');
INSERT INTO orders (customer, amount) VALUES ('ada', 12.50), ('linus', 99.99);
UPDATE orders SET status = 'paid' WHERE customer = 'ada';
SQL

echo
echo "pgsync demo is running (PostgreSQL $(psql -X -Atc 'SHOW server_version'), socket in $DEMO_DIR)."
echo "Changes decoded so far by the slot 'demo':"
psql -X -At -c "SELECT data FROM pg_logical_slot_peek_changes('demo', NULL, NULL)"
cat <<EOF2

Try it:
  psql -h $DEMO_DIR -p $PGSYNC_DEMO_PORT -U postgres
    INSERT INTO orders (customer, amount) VALUES ('grace', 7);
    SELECT data FROM pg_logical_slot_get_changes('demo', NULL, NULL);
    SELECT data FROM pg_logical_slot_get_changes('demo', NULL, NULL, 'format', 'compact');
  pg_recvlogical -h $DEMO_DIR -p $PGSYNC_DEMO_PORT -U postgres -d postgres --slot demo --start -f -
Stop it with: scripts/demo.sh stop
EOF2
