# pgsync: PGXS build.  `make`, `make install`, `make check` (unit tests),
# `test/run` runs everything against a throwaway cluster.

EXTENSION = pgsync
MODULE_big = pgsync
PGSYNC_SRCS = $(wildcard src/*.c)
OBJS = $(PGSYNC_SRCS:.c=.o)
DATA = sql/pgsync--0.1.0.sql
PGFILEDESC = "pgsync - real-time change streaming"

REGRESS = init format xacts types identity toast truncate messages options ddl snapshot big_txn oversized

PG_CPPFLAGS = -I$(srcdir)/src -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK = $(shell pkg-config --libs libwebsockets) -luv
PG_CPPFLAGS += $(shell pkg-config --cflags libwebsockets libuv 2>/dev/null)
ifdef PROBE
PG_CPPFLAGS += -DPGSYNC_LAT_PROBE
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies (without --enable-depend): rebuild
# every object when any of our headers changes, so a struct change never
# leaves an object compiled against the old layout.
$(OBJS): $(wildcard src/*.h)

# Pure C unit tests (no server needed): the pure modules (JSON encoding,
# table patterns, change log, JSON parser, row filters, snapshot join rule,
# worker protocol and fan-out), built with ASan and UBSan.  "make unit" runs every program (each prints "N passed, N failed")
# and fails if any did.
UNIT_TESTS = test/unit/test_json_encode test/unit/test_table_pattern \
	test/unit/test_change_log test/unit/test_json_value test/unit/test_row_filter \
	test/unit/test_ws_pure test/unit/test_snapshot_file
UNIT_CFLAGS = -O1 -g -Wall -Wextra -Werror -Isrc -fsanitize=address,undefined -fno-sanitize-recover=all

FILTER_SRCS = src/row_filter.c src/row_filter_eval.c src/value_compare.c src/json_value.c src/json_value_tree.c src/json_encode.c
FILTER_HDRS = src/row_filter.h src/row_filter_int.h src/value_compare.h src/json_value.h src/json_encode.h

test/unit/test_json_encode: test/unit/test_json_encode.c src/json_encode.c src/json_encode.h test/unit/unit.h test/fuzz/json_check.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_json_encode.c src/json_encode.c

test/unit/test_table_pattern: test/unit/test_table_pattern.c src/table_pattern.c src/table_pattern.h test/unit/unit.h test/fuzz/pattern_check.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_table_pattern.c src/table_pattern.c

test/unit/test_change_log: test/unit/test_change_log.c src/change_log.c src/change_log_reader.c src/change_log.h src/change_log_int.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_change_log.c src/change_log.c src/change_log_reader.c

test/unit/test_json_value: test/unit/test_json_value.c src/json_value.c src/json_value_tree.c src/json_value.h src/json_encode.c test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_json_value.c src/json_value.c src/json_value_tree.c src/json_encode.c -lm

test/unit/test_snapshot_file: test/unit/test_snapshot_file.c src/snapshot_file.c src/snapshot_file.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_snapshot_file.c src/snapshot_file.c

test/unit/test_row_filter: test/unit/test_row_filter.c $(FILTER_SRCS) $(FILTER_HDRS) test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_row_filter.c $(FILTER_SRCS) -lm

WS_PURE_SRCS = src/client_protocol.c src/stream_msg.c src/fanout_route.c \
	src/fanout.c src/fanout_filter.c src/table_pattern.c $(FILTER_SRCS)
test/unit/test_ws_pure: test/unit/test_ws_pure.c $(WS_PURE_SRCS) src/*.h
	$(CC) $(UNIT_CFLAGS) -Wno-unused-parameter -o $@ test/unit/test_ws_pure.c $(WS_PURE_SRCS) -lm

.PHONY: unit
unit: $(UNIT_TESTS)
	@status=0; for t in $(UNIT_TESTS); do \
		echo "== $$t"; ./$$t || status=1; \
	done; exit $$status

# libFuzzer targets (clang only).  "make fuzz" builds them; "make fuzz-run"
# runs each for FUZZ_TIME seconds, starting from the seed corpus in
# test/fuzz/corpus/<name>/ (never written to) plus a working corpus under
# FUZZ_WORK, where crash/timeout reproducers go too.
FUZZ_NAMES = fuzz_json_escape fuzz_table_pattern fuzz_json_value fuzz_row_filter
FUZZ_TARGETS = $(addprefix test/fuzz/,$(FUZZ_NAMES))
FUZZ_CC = clang
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Wall -Wextra -Werror -Isrc
FUZZ_TIME = 60
FUZZ_WORK = /tmp/pgsync-fuzz

test/fuzz/fuzz_json_escape: test/fuzz/fuzz_json_escape.c test/fuzz/json_check.h src/json_encode.c src/json_encode.h
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_json_escape.c src/json_encode.c

test/fuzz/fuzz_table_pattern: test/fuzz/fuzz_table_pattern.c test/fuzz/pattern_check.h src/table_pattern.c src/table_pattern.h
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_table_pattern.c src/table_pattern.c

test/fuzz/fuzz_json_value: test/fuzz/fuzz_json_value.c src/json_value.c src/json_value_tree.c src/json_value.h src/json_encode.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_json_value.c src/json_value.c src/json_value_tree.c src/json_encode.c -lm

test/fuzz/fuzz_row_filter: test/fuzz/fuzz_row_filter.c $(FILTER_SRCS) $(FILTER_HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_row_filter.c $(FILTER_SRCS) -lm

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
bench/filter_bench: bench/filter_bench.c $(FILTER_SRCS) $(FILTER_HDRS)
	$(CC) -O2 -g -Isrc -o $@ bench/filter_bench.c $(FILTER_SRCS) -lm

EXTRA_CLEAN = $(UNIT_TESTS) $(FUZZ_TARGETS) bench/filter_bench results regression.diffs regression.out
