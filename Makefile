# pgsync: PGXS build.  `make`, `make install`, `make check` (unit tests),
# `test/run` runs everything against a throwaway cluster.

EXTENSION = pgsync
MODULE_big = pgsync
PGSYNC_SRCS = $(wildcard src/*.c)
OBJS = $(PGSYNC_SRCS:.c=.o)
DATA = sql/pgsync--0.1.0.sql
PGFILEDESC = "pgsync - real-time change streaming"

REGRESS = init format xacts types identity toast truncate messages options ddl big_txn

PG_CPPFLAGS = -I$(srcdir)/src -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK = $(shell pkg-config --libs libwebsockets) -luv
PG_CPPFLAGS += $(shell pkg-config --cflags libwebsockets libuv 2>/dev/null)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Pure C unit tests (no server needed).
UNIT_TESTS = test/unit/test_json_encode test/unit/test_table_pattern \
	test/unit/test_ws_pure
UNIT_CFLAGS = -O1 -g -Wall -Wextra -Werror -Isrc -fsanitize=address,undefined

test/unit/test_json_encode: test/unit/test_json_encode.c src/json_encode.c src/json_encode.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_json_encode.c src/json_encode.c

test/unit/test_table_pattern: test/unit/test_table_pattern.c src/table_pattern.c src/table_pattern.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_table_pattern.c src/table_pattern.c

WS_PURE_SRCS = src/json_mini.c src/client_protocol.c src/stream_msg.c src/fanout_route.c \
	src/fanout.c src/json_encode.c src/table_pattern.c
test/unit/test_ws_pure: test/unit/test_ws_pure.c $(WS_PURE_SRCS) src/*.h
	$(CC) $(UNIT_CFLAGS) -Wno-unused-parameter -o $@ test/unit/test_ws_pure.c $(WS_PURE_SRCS)

.PHONY: unit
unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do ./$$t; done

EXTRA_CLEAN = $(UNIT_TESTS) results regression.diffs regression.out
