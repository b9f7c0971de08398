#!/bin/bash
# test/lib/sanitizer.sh: the sanitizer mode of the test clusters.
#
#   sanitizer.sh env DIR       NAME=VALUE lines for the environment of
#                              pg_ctl (and so of the postmaster) of the
#                              cluster in DIR; nothing for a normal build
#   sanitizer.sh reports DIR   print the sanitizer reports written in DIR;
#                              exit 1 if there is any
#
# The mode follows the build: it is on when the pgsync.so the clusters load
# (lib_under_test: normally this tree's) is linked with libasan, as `make
# SANITIZE=1` builds it.  SANITIZE=1 in the environment with a normal build
# is an error, so a sanitizer run never silently tests a normal build.
# postgres itself is not instrumented: the ASan runtime is preloaded (it
# must come first), then sanitizer_preload.so (two workarounds, see
# there), then the UBSan runtime.  Leak detection is off: PostgreSQL frees
# memory contexts, not each block, and its processes exit without freeing
# by design.  ASan reports go to DIR/asan.PID, UBSan's to the server log
# (DIR/server.log); the first error aborts the process, and the cluster
# helpers fail the test when a report is there.  test/README.md has more.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PRELOAD=$ROOT/test/lib/sanitizer_preload.so

# The library the clusters load (cluster.sh, cluster.py): this tree's
# build if the server's OS user can read it, else the installed one.
lib_under_test() {
	local lib=$ROOT/pgsync.so
	if [ -z "${PGSYNC_USE_INSTALLED:-}" ] && [ -e "$lib" ]; then
		if [ "$(id -u)" != 0 ] || runuser -u postgres -- test -r "$lib"; then
			echo "$lib"
			return
		fi
	fi
	echo "$(${PG_CONFIG:-pg_config} --pkglibdir)/pgsync.so"
}

case "${1:-}" in
env)
	dir=$2
	lib=$(lib_under_test)
	asan=$(ldd "$lib" 2>/dev/null | awk '$1 ~ /^libasan\.so/ { print $3 }')
	if [ -z "$asan" ]; then
		if [ "${SANITIZE:-}" = 1 ]; then
			echo "sanitizer.sh: SANITIZE=1 but $lib is not built with sanitizers" \
				"(make clean && make SANITIZE=1)" >&2
			exit 2
		fi
		exit 0
	fi
	# a copy the server's OS user can read, whatever the tree's permissions
	if ! cp "$PRELOAD" "$dir/" 2>/dev/null; then
		echo "sanitizer.sh: $PRELOAD is missing (make SANITIZE=1)" >&2
		exit 2
	fi
	PRELOAD=$dir/sanitizer_preload.so
	# libasan first (ASan insists), then the stub, then libubsan, so that
	# UBSan finds the stub's __ubsan_default_options (see there)
	ubsan=$(ldd "$lib" 2>/dev/null | awk '$1 ~ /^libubsan\.so/ { print $3 }')
	echo "LD_PRELOAD=$asan $PRELOAD${ubsan:+ $ubsan}"
	echo "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:quarantine_size_mb=16:log_path=$dir/asan"
	echo "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$dir/ubsan"
	;;
reports)
	dir=$2
	found=0
	for f in "$dir"/asan.* "$dir"/ubsan.*; do
		[ -e "$f" ] || continue
		found=1
		echo "==== sanitizer report $f"
		cat "$f"
	done
	# UBSan ignores its log_path when ASan's runtime is loaded (gcc 12):
	# its reports ("file:line:col: runtime error: ...", then the stack) are
	# in the server log, as is anything a sanitizer printed to stderr
	if [ -f "$dir/server.log" ] &&
		grep -Eq 'runtime error:|^==[0-9]+==' "$dir/server.log"; then
		found=1
		echo "==== sanitizer output in $dir/server.log"
		grep -E -A 40 'runtime error:|^==[0-9]+==' "$dir/server.log" | head -300
	fi
	[ $found = 0 ]
	;;
*)
	echo "usage: sanitizer.sh env|reports DIR" >&2
	exit 2
	;;
esac
