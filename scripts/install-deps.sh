#!/bin/bash
# scripts/install-deps.sh: install what pgsync needs to build, test and
# benchmark on Debian bookworm.  Idempotent: does nothing when all is there.
set -euo pipefail

PACKAGES=(
	build-essential pkg-config clang
	postgresql-15 postgresql-server-dev-15 postgresql-15-wal2json
	libwebsockets-dev libuv1-dev libssl-dev
	python3-websockets python3-psycopg2 python3-cryptography
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages: ${missing[*]} (run as root)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${PACKAGES[@]}"
# Debian creates and starts a "main" cluster on install; pgsync never uses
# it, and its port 5432 is not ours to hold: leave it as the admin set it.
