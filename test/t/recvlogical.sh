#!/bin/bash
# recvlogical: the plugin works through the streaming replication protocol
# (pg_recvlogical -P pgsync), with options given as -o name=value and as a
# bare -o name (a Boolean without value means true).
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
trap 'cluster_stop || exit 1' EXIT
cluster_start

OUT=$PGSYNC_TMP/stream.jsonl
psql -X -q -c "CREATE TABLE t (id int PRIMARY KEY, v text)"
pg_recvlogical -d postgres --slot s --create-slot -P pgsync
pg_recvlogical -d postgres --slot s --start -f "$OUT" -F 1 \
	-o format=compact -o include-xids -o include-timestamps=false &
RECV=$!
psql -X -q -c "INSERT INTO t VALUES (1, 'a'), (2, E'line\nbreak')" \
	-c "UPDATE t SET v = 'b' WHERE id = 1" -c "DELETE FROM t WHERE id = 2"

# wait for the 7 messages (B, R, I, I, C, B, U, C, B, D, C = 11 lines)
for _ in $(seq 1 100); do
	[ -f "$OUT" ] && [ "$(wc -l <"$OUT")" -ge 11 ] && break
	sleep 0.1
done
kill -INT $RECV
wait $RECV || true

/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
msgs = [json.loads(l) for l in lines]
kinds = [m[0] for m in msgs]
assert kinds == ["B", "R", "I", "I", "C", "B", "U", "C", "B", "D", "C"], kinds
assert isinstance(msgs[0][1], int), "include-xids given without value means true"
assert msgs[0][3] is None, "include-timestamps=false"
assert msgs[1][4] == ["id", "v"], msgs[1]
assert msgs[3][3] == [2, "line\nbreak"], msgs[3]
assert msgs[9][3] == [2], msgs[9]
print("recvlogical: %d messages ok" % len(msgs))
PY

# a bad option is reported through the protocol too
if pg_recvlogical -d postgres --slot s --start -f - -o format=yaml --no-loop \
	2>"$PGSYNC_TMP/err.txt" >/dev/null; then
	echo "bad option was accepted"; exit 1
fi
grep -q 'invalid value "yaml" for option "format"' "$PGSYNC_TMP/err.txt" ||
	{ cat "$PGSYNC_TMP/err.txt"; exit 1; }
echo "1 passed, 0 failed"
