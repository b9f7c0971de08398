#!/bin/bash
# encodings: output is valid JSON in every server encoding.  A UTF8 database
# passes UTF-8 through; LATIN1 is converted and written as 7-bit \u escapes;
# SQL_ASCII keeps valid UTF-8 and replaces invalid bytes with U+FFFD.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
trap 'cluster_stop || exit 1' EXIT
cluster_start

check() {					# check DB SQL-VALUE EXPECTED-PYTHON-STRING
	local db=$1
	psql -X -q -d "$db" -c "CREATE TABLE t (id int PRIMARY KEY, v text, \"ç\" int)"
	psql -X -q -d "$db" -c "SELECT 'x' FROM pg_create_logical_replication_slot('s_$db', 'pgsync')" >/dev/null
	psql -X -q -d "$db" -c "INSERT INTO t VALUES (1, $2, 1)"
	PGCLIENTENCODING=UTF8 psql -X -At -d "$db" \
		-c "SELECT data FROM pg_logical_slot_get_changes('s_$db', NULL, NULL, 'include-transaction', '0')" \
		>"$PGSYNC_TMP/$db.out"
	/usr/bin/python3 - "$PGSYNC_TMP/$db.out" "$3" "$db" <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
msg = json.loads(raw.decode("utf-8"))
expected = eval(sys.argv[2])
assert msg["new"]["v"] == expected, (msg, expected)
assert "ç" in msg["new"], msg
if sys.argv[3] != "utf8db":
    assert max(raw) < 0x80, "non-UTF8 databases give 7-bit output: %r" % raw
print(sys.argv[3], "ok:", raw.decode().strip())
PY
}

psql -X -q -c "CREATE DATABASE utf8db ENCODING UTF8 TEMPLATE template0"
psql -X -q -c "CREATE DATABASE latin1db ENCODING LATIN1 LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
psql -X -q -c "CREATE DATABASE asciidb ENCODING SQL_ASCII LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"

check utf8db "'é ü 😀'" "'é ü 😀'"
# the client sends UTF-8; the server stores LATIN1 bytes
PGCLIENTENCODING=UTF8 check latin1db "'café ÿ'" "'café ÿ'"
# SQL_ASCII stores bytes as given: valid UTF-8 stays, \xff becomes U+FFFD
check asciidb "E'ok \\xc3\\xa9 bad \\xff end'" "'ok é bad \ufffd end'"
echo "3 passed, 0 failed"
