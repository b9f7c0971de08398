# pgsync: PGXS build.  `make`, `make install`, `make check` (unit tests),
# `test/run` runs everything against a throwaway cluster.
#
# src/ is laid out by subsystem (docs/ARCHITECTURE.md has the source map).
# The pure modules (PURE_DIRS) never include postgres.h: they are unit-tested
# under ASan/UBSan and fuzzed; `make unit` checks that they include only
# system headers and each other (check-pure).

EXTENSION = pgsync
MODULE_big = pgsync
PURE_DIRS = json filter protocol fanout log auth
PG_DIRS = plugin snapshot net worker
PGSYNC_SRCS = $(wildcard src/*.c) \
	$(foreach d,$(PURE_DIRS) $(PG_DIRS),$(wildcard src/$(d)/*.c))
# the latency probe (src/debug/) is built only with `make PROBE=1`
ifdef PROBE
PGSYNC_SRCS += $(wildcard src/debug/*.c)
endif
OBJS = $(PGSYNC_SRCS:.c=.o)
DATA = sql/pgsync--0.1.0.sql
PGFILEDESC = "pgsync - real-time change streaming"

REGRESS = init format xacts types identity toast truncate messages options ddl snapshot big_txn oversized

# Hidden visibility (as PostgreSQL 16's PGXS does): another preloaded
# library cannot clash with our helpers.  Only what is declared PGDLLEXPORT
# is exported: Pg_magic_func, the pg_finfo_* records and the entry points
# listed in src/pgsync.h.  PostgreSQL 15 defines PGDLLEXPORT as nothing on
# ELF platforms unless it is already defined: define it here.  Check with
# `nm -D --defined-only pgsync.so`.
PG_CPPFLAGS = -I$(srcdir)/src -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare \
	-fvisibility=hidden '-DPGDLLEXPORT=__attribute__((visibility("default")))'
SHLIB_LINK = $(shell pkg-config --libs libwebsockets libssl libcrypto) -luv
PG_CPPFLAGS += $(shell pkg-config --cflags libwebsockets libuv libssl libcrypto 2>/dev/null)
ifdef PROBE
PG_CPPFLAGS += -DPGSYNC_LAT_PROBE
endif
# `make SANITIZE=1`: pgsync.so with AddressSanitizer and UBSan, for
# `SANITIZE=1 test/run` (the test clusters preload the sanitizer runtime
# into the uninstrumented postgres; test/README.md).  `make clean` first
# when switching: objects are not rebuilt for a change of flags.
ifeq ($(SANITIZE),1)
PG_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
SHLIB_LINK += -fsanitize=address,undefined
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies (without --enable-depend): rebuild
# every object when any of our headers changes, so a struct change never
# leaves an object compiled against the old layout.
PGSYNC_HDRS = $(wildcard src/*.h src/*/*.h)
$(OBJS): $(PGSYNC_HDRS)

# The sanitizer mode's preload stub for the test clusters (see its header).
ifeq ($(SANITIZE),1)
all: test/lib/sanitizer_preload.so
endif
test/lib/sanitizer_preload.so: test/lib/sanitizer_preload.c
	$(CC) -shared -fPIC -O2 -Wall -Wno-unused-parameter -o $@ $<

# The extension's control and SQL files without the library: what
# `SANITIZE=1 test/run` installs, since the tests load this tree's
# pgsync.so and a sanitized one must not replace the installed library
# (it loads only with the sanitizer runtime preloaded).
.PHONY: install-extension-files
install-extension-files: installdirs
	$(INSTALL_DATA) $(addprefix $(srcdir)/, $(addsuffix .control, $(EXTENSION)) $(DATA)) '$(DESTDIR)$(datadir)/extension/'

# The pure modules include only system headers and headers of pure modules.
.PHONY: check-pure
check-pure:
	@bad=$$(grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' \
		$(foreach d,$(PURE_DIRS),src/$(d)/*.[ch]) | \
		grep -vE '#[[:space:]]*include[[:space:]]*"($(subst $(eval) ,|,$(PURE_DIRS)))/[a-z_]+\.h"'); \
	if [ -n "$$bad" ]; then \
		echo "pure modules must not include PostgreSQL or non-pure headers:"; \
		echo "$$bad"; exit 1; fi; \
	bad=$$(grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(postgres|postgres_fe|c|fmgr)\.h>' \
		$(foreach d,$(PURE_DIRS),src/$(d)/*.[ch])); \
	if [ -n "$$bad" ]; then echo "$$bad"; exit 1; fi

# Pure C unit tests (no server needed), one program per pure module, built
# with ASan and UBSan.  "make unit" runs every program (each prints "N
# passed, N failed") and fails if any did.
UNIT_TESTS = test/unit/test_json_encode test/unit/test_json_value \
	test/unit/test_table_pattern test/unit/test_value_compare test/unit/test_row_filter \
	test/unit/test_client_protocol test/unit/test_stream_msg \
	test/unit/test_snapshot_file test/unit/test_fanout test/unit/test_fanout_access test/unit/test_fanout_columns \
	test/unit/test_change_log test/unit/test_change_log_follow \
	test/unit/test_jwt_verify test/unit/test_rate_limit test/unit/test_handshake
UNIT_CFLAGS = -O1 -g -Wall -Wextra -Werror -Isrc -fsanitize=address,undefined -fno-sanitize-recover=all

# Each pure folder's sources, with those of the pure folders it uses.
JSON_SRCS = $(wildcard src/json/*.c)
FILTER_SRCS = $(wildcard src/filter/*.c) $(JSON_SRCS)
PROTOCOL_SRCS = $(wildcard src/protocol/*.c) $(FILTER_SRCS)
FANOUT_SRCS = $(wildcard src/fanout/*.c) $(PROTOCOL_SRCS)
LOG_SRCS = $(wildcard src/log/*.c)
AUTH_SRCS = $(wildcard src/auth/*.c) $(JSON_SRCS)
PURE_HDRS = $(foreach d,$(PURE_DIRS),$(wildcard src/$(d)/*.h))

test/unit/test_json_encode: test/unit/test_json_encode.c $(JSON_SRCS) $(PURE_HDRS) test/unit/unit.h test/fuzz/json_check.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_json_encode.c $(JSON_SRCS) -lm

test/unit/test_json_value: test/unit/test_json_value.c $(JSON_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_json_value.c $(JSON_SRCS) -lm

test/unit/test_table_pattern: test/unit/test_table_pattern.c $(FILTER_SRCS) $(PURE_HDRS) test/unit/unit.h test/fuzz/pattern_check.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_table_pattern.c $(FILTER_SRCS) -lm

test/unit/test_value_compare: test/unit/test_value_compare.c $(FILTER_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_value_compare.c $(FILTER_SRCS) -lm

test/unit/test_row_filter: test/unit/test_row_filter.c $(FILTER_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_row_filter.c $(FILTER_SRCS) -lm

test/unit/test_snapshot_file: test/unit/test_snapshot_file.c $(PROTOCOL_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_snapshot_file.c $(PROTOCOL_SRCS) -lm

test/unit/test_change_log: test/unit/test_change_log.c test/unit/change_log_util.h $(LOG_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_change_log.c $(LOG_SRCS)

test/unit/test_change_log_follow: test/unit/test_change_log_follow.c test/unit/change_log_util.h $(LOG_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_change_log_follow.c $(LOG_SRCS)

test/unit/test_jwt_verify: test/unit/test_jwt_verify.c test/fuzz/jwt_sign.h $(AUTH_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_jwt_verify.c $(AUTH_SRCS) -lcrypto -lm

test/unit/test_client_protocol: test/unit/test_client_protocol.c $(PROTOCOL_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_client_protocol.c $(PROTOCOL_SRCS) -lm

test/unit/test_handshake: test/unit/test_handshake.c $(PROTOCOL_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_handshake.c $(PROTOCOL_SRCS) -lm

test/unit/test_stream_msg: test/unit/test_stream_msg.c $(PROTOCOL_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_stream_msg.c $(PROTOCOL_SRCS) -lm

test/unit/test_rate_limit: test/unit/test_rate_limit.c $(PROTOCOL_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_rate_limit.c $(PROTOCOL_SRCS) -lm

test/unit/test_fanout: test/unit/test_fanout.c test/unit/fanout_util.h $(FANOUT_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -Wno-unused-parameter -o $@ test/unit/test_fanout.c $(FANOUT_SRCS) -lm

test/unit/test_fanout_access: test/unit/test_fanout_access.c test/unit/fanout_util.h $(FANOUT_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -Wno-unused-parameter -o $@ test/unit/test_fanout_access.c $(FANOUT_SRCS) -lm

test/unit/test_fanout_columns: test/unit/test_fanout_columns.c $(FANOUT_SRCS) $(PURE_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -Wno-unused-parameter -o $@ test/unit/test_fanout_columns.c $(FANOUT_SRCS) -lm

.PHONY: unit
unit: check-pure $(UNIT_TESTS)
	@status=0; for t in $(UNIT_TESTS); do \
		echo "== $$t"; ./$$t || status=1; \
	done; exit $$status

# libFuzzer targets (clang only).  "make fuzz" builds them; "make fuzz-run"
# runs each for FUZZ_TIME seconds, starting from the seed corpus in
# test/fuzz/corpus/<name>/ (never written to) plus a working corpus under
# FUZZ_WORK, where crash/timeout reproducers go too.
FUZZ_NAMES = fuzz_json_escape fuzz_table_pattern fuzz_json_value fuzz_row_filter \
	fuzz_jwt_verify fuzz_fanout_columns fuzz_handshake fuzz_client_request
FUZZ_TARGETS = $(addprefix test/fuzz/,$(FUZZ_NAMES))
FUZZ_CC = clang
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Wall -Wextra -Werror -Isrc
FUZZ_TIME = 60
FUZZ_WORK = /tmp/pgsync-fuzz

test/fuzz/fuzz_json_escape: test/fuzz/fuzz_json_escape.c test/fuzz/json_check.h $(JSON_SRCS) $(PURE_HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_json_escape.c $(JSON_SRCS) -lm

test/fuzz/fuzz_table_pattern: test/fuzz/fuzz_table_pattern.c test/fuzz/pattern_check.h $(FILTER_SRCS) $(PURE_HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_table_pattern.c $(FILTER_SRCS) -lm

test/fuzz/fuzz_json_value: test/fuzz/fuzz_json_value.c $(JSON_SRCS) $(PURE_HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_json_value.c $(JSON_SRCS) -lm

test/fuzz/fuzz_row_filter: test/fuzz/fuzz_row_filter.c $(FILTER_SRCS) $(PURE_HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_row_filter.c $(FILTER_SRCS) -lm

test/fuzz/fuzz_jwt_verify: test/fuzz/fuzz_jwt_verify.c test/fuzz/jwt_sign.h $(AUTH_SRCS) $(PURE_HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_jwt_verify.c $(AUTH_SRCS) -lcrypto -lm

test/fuzz/fuzz_fanout_columns: test/fuzz/fuzz_fanout_columns.c $(FANOUT_SRCS) $(PURE_HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_fanout_columns.c $(FANOUT_SRCS) -lm

test/fuzz/fuzz_handshake: test/fuzz/fuzz_handshake.c $(PROTOCOL_SRCS) $(PURE_HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_handshake.c $(PROTOCOL_SRCS) -lm

test/fuzz/fuzz_client_request: test/fuzz/fuzz_client_request.c $(PROTOCOL_SRCS) $(PURE_HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_client_request.c $(PROTOCOL_SRCS) -lm

.PHONY: fuzz fuzz-run
fuzz: $(FUZZ_TARGETS)

fuzz-run: $(FUZZ_TARGETS)
	@status=0; for f in $(FUZZ_NAMES); do \
		echo "== $$f ($(FUZZ_TIME) s)"; \
		mkdir -p $(FUZZ_WORK)/$$f; \
		dict=; [ -f test/fuzz/$$f.dict ] && dict=-dict=test/fuzz/$$f.dict; \
		./test/fuzz/$$f -max_total_time=$(FUZZ_TIME) -timeout=10 -print_final_stats=1 \
			$$dict -artifact_prefix=$(FUZZ_WORK)/$$f- \
			$(FUZZ_WORK)/$$f test/fuzz/corpus/$$f || status=1; \
	done; exit $$status

# Filter micro-benchmark: parse + evaluate compact change messages.
bench/filter_bench: bench/filter_bench.c $(FILTER_SRCS) $(PURE_HDRS)
	$(CC) -O2 -g -Isrc -o $@ bench/filter_bench.c $(FILTER_SRCS) -lm

EXTRA_CLEAN = src/debug/*.o src/debug/*.bc test/lib/sanitizer_preload.so $(UNIT_TESTS) $(FUZZ_TARGETS) bench/filter_bench results regression.diffs regression.out
