# pgsync: PGXS build.  `make`, `make install`, `make check` (unit tests),
# `test/run` runs everything against a throwaway cluster.

EXTENSION = pgsync
MODULE_big = pgsync
PGSYNC_SRCS = $(wildcard src/*.c)
OBJS = $(PGSYNC_SRCS:.c=.o)
DATA = sql/pgsync--0.1.0.sql
PGFILEDESC = "pgsync - real-time change streaming"

REGRESS = $(patsubst sql/%.sql,%,$(sort $(filter-out sql/pgsync--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --load-extension=pgsync

PG_CPPFLAGS = -I$(srcdir)/src -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK =

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Pure C unit tests (no server needed).
UNIT_TESTS = test/unit/test_json_encode test/unit/test_table_pattern \
	$(FILTER_UNIT_TESTS)
FILTER_UNIT_TESTS = test/unit/test_json_value test/unit/test_row_filter
UNIT_CFLAGS = -O1 -g -Wall -Wextra -Werror -Isrc -fsanitize=address,undefined

test/unit/test_json_encode: test/unit/test_json_encode.c src/json_encode.c src/json_encode.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_json_encode.c src/json_encode.c

test/unit/test_table_pattern: test/unit/test_table_pattern.c src/table_pattern.c src/table_pattern.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_table_pattern.c src/table_pattern.c

test/unit/test_json_value: test/unit/test_json_value.c src/json_value.c src/json_value.h src/json_encode.c test/unit/unit_filter.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_json_value.c src/json_value.c src/json_encode.c -lm

FILTER_SRCS = src/row_filter.c src/row_filter_eval.c src/value_compare.c src/json_value.c src/json_encode.c
FILTER_HDRS = src/row_filter.h src/row_filter_int.h src/value_compare.h src/json_value.h src/json_encode.h

test/unit/test_row_filter: test/unit/test_row_filter.c $(FILTER_SRCS) $(FILTER_HDRS) test/unit/unit_filter.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_row_filter.c $(FILTER_SRCS) -lm

.PHONY: unit unit-filter
unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do ./$$t; done

# Only the json_value / row_filter tests.
unit-filter: $(FILTER_UNIT_TESTS)
	@set -e; for t in $(FILTER_UNIT_TESTS); do ./$$t; done

# libFuzzer targets; run e.g. test/fuzz/fuzz_row_filter -max_total_time=300
FUZZ_CC = clang
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -Isrc
FUZZ_FILTER = test/fuzz/fuzz_json_value test/fuzz/fuzz_row_filter

test/fuzz/fuzz_json_value: test/fuzz/fuzz_json_value.c src/json_value.c src/json_value.h src/json_encode.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_json_value.c src/json_value.c src/json_encode.c -lm

test/fuzz/fuzz_row_filter: test/fuzz/fuzz_row_filter.c $(FILTER_SRCS) $(FILTER_HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_row_filter.c $(FILTER_SRCS) -lm

.PHONY: fuzz-filter
fuzz-filter: $(FUZZ_FILTER)

bench/filter_bench: bench/filter_bench.c $(FILTER_SRCS) $(FILTER_HDRS)
	$(CC) -O2 -g -Isrc -o $@ bench/filter_bench.c $(FILTER_SRCS) -lm

EXTRA_CLEAN = $(UNIT_TESTS) $(FUZZ_FILTER) bench/filter_bench results regression.diffs regression.out
