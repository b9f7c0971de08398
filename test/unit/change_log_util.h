/*
 * change_log_util.h: helpers of the change log unit tests
 * (test_change_log.c, test_change_log_follow.c): a fresh log directory, a
 * writer with small buffers, transactions and streamed (out-of-line)
 * transactions appended and read back.
 */
#ifndef PGSYNC_TEST_CHANGE_LOG_UTIL_H
#define PGSYNC_TEST_CHANGE_LOG_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/change_log.h"
#include "unit.h"

static char dir[256];
static int	dir_counter = 0;

static inline const char *
new_dir(void)
{
	char		cmd[512];

	snprintf(dir, sizeof(dir), "/tmp/pgsync-clog-test.%d.%d", (int) getpid(),
			 dir_counter++);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
	return dir;
}

static inline void
remove_dir(void)
{
	char		cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
}

static inline ChangeLog *
open_log(size_t segment_size, uint64_t initial_key)
{
	ChangeLogOptions opts = {0};
	char		err[256];
	ChangeLog  *log;

	opts.segment_size = segment_size;
	opts.write_buffer_size = 4096;
	opts.no_sync = true;
	opts.initial_key = initial_key;
	log = changelog_open(dir, &opts, err, sizeof(err));
	CHECK_MSG(log != NULL, "changelog_open: %s", err);
	if (log == NULL)
		exit(unit_summary());
	return log;
}

/* Append a transaction of n changes (B, n x I, C) with this key. */
static inline void
append_txn(ChangeLog *log, uint64_t key, int n, size_t payload)
{
	char	   *buf = malloc(payload + 32);
	int			i;

	if (buf == NULL)
		abort();
	memset(buf, 'x', payload + 32);
	snprintf(buf, 32, "B%llu", (unsigned long long) key);
	CHECK_EQ_INT(changelog_append(log, key, 0, 'B', CHANGELOG_FIRST_OF_UNIT, buf, strlen(buf)), CHANGELOG_OK);
	for (i = 0; i < n; i++)
	{
		int			len = snprintf(buf, 32, "I%llu.%d", (unsigned long long) key, i);

		buf[len] = 'x';
		CHECK_EQ_INT(changelog_append(log, key, 16384, 'I', 0, buf, payload > 0 ? payload : (size_t) len), CHANGELOG_OK);
	}
	snprintf(buf, 32, "C%llu", (unsigned long long) key);
	CHECK_EQ_INT(changelog_append(log, key, 0, 'C', CHANGELOG_LAST_OF_UNIT, buf, strlen(buf)), CHANGELOG_OK);
	free(buf);
}

/* Read everything available; return the count, check keys increase. */
static inline int
read_all(ChangeLogReader *r, uint64_t *last_key, ChangeLogStatus *end_status)
{
	ChangeLogRecord	rec;
	ChangeLogStatus	st;
	int			n = 0;
	uint64_t	prev = 0;

	while ((st = changelog_read(r, &rec)) == CHANGELOG_OK)
	{
		CHECK(rec.key >= prev);
		prev = rec.key;
		n++;
	}
	if (last_key)
		*last_key = prev;
	if (end_status)
		*end_status = st;
	return n;
}

/* How many files in dir end with suffix. */
static inline int
count_files(const char *suffix)
{
	char		cmd[512];
	FILE	   *f;
	int			n = 0;

	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '%s$'", dir, suffix);
	f = popen(cmd, "r");
	if (f == NULL || fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f != NULL)
		pclose(f);
	return n;
}

/*
 * A streamed transaction: n changes spooled for xid, a savepoint's changes
 * rolled back in the middle, then committed under key as an out-of-line
 * unit between B and C.
 */
static inline void
append_streamed(ChangeLog *log, uint64_t key, uint32_t xid, int n)
{
	ChangeLogSpool *s = changelog_spool_create(log, xid);
	ChangeLogSpoolMark mark;
	char		buf[64];
	int			i;

	CHECK(s != NULL);
	for (i = 0; i < n; i++)
	{
		int			len = snprintf(buf, sizeof(buf), "S%llu.%d", (unsigned long long) key, i);

		CHECK_EQ_INT(changelog_spool_append(s, 16384, 'I', buf, len), CHANGELOG_OK);
		if (i == n / 2)
		{
			/* a subtransaction of 3 changes, rolled back */
			mark = changelog_spool_mark(s);
			CHECK_EQ_INT(changelog_spool_append(s, 16384, 'I', "gone1", 5), CHANGELOG_OK);
			CHECK_EQ_INT(changelog_spool_append(s, 16384, 'I', "gone2", 5), CHANGELOG_OK);
			CHECK_EQ_INT(changelog_spool_append(s, 16384, 'I', "gone3", 5), CHANGELOG_OK);
			CHECK_EQ_INT(changelog_spool_truncate(s, mark), CHANGELOG_OK);
		}
	}
	snprintf(buf, sizeof(buf), "B%llu", (unsigned long long) key);
	CHECK_EQ_INT(changelog_append(log, key, 0, 'B', CHANGELOG_FIRST_OF_UNIT, buf, strlen(buf)), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_append_spool(log, key, s), CHANGELOG_OK);
	snprintf(buf, sizeof(buf), "C%llu", (unsigned long long) key);
	CHECK_EQ_INT(changelog_append(log, key, 0, 'C', CHANGELOG_LAST_OF_UNIT, buf, strlen(buf)), CHANGELOG_OK);
}

/* Read the out-of-line unit of key with n changes, from B to C. */
static inline void
expect_streamed(ChangeLogReader *r, uint64_t key, int n)
{
	ChangeLogRecord rec;
	char		buf[64];
	int			i;

	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.kind, 'B');
	CHECK_EQ_INT(rec.key, key);
	for (i = 0; i < n; i++)
	{
		int			len = snprintf(buf, sizeof(buf), "S%llu.%d", (unsigned long long) key, i);

		CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
		CHECK_EQ_INT(rec.kind, 'I');
		CHECK_EQ_INT(rec.key, key);
		CHECK_EQ_INT(rec.relid, 16384);
		CHECK_EQ_INT(rec.flags, CHANGELOG_OUT_OF_LINE);	/* read from the unit file */
		CHECK_EQ_MEM(rec.data, rec.len, buf, len);
	}
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.kind, 'C');
	CHECK_EQ_INT(rec.key, key);
	CHECK_EQ_INT(changelog_reader_position(r), key);
}

#endif							/* PGSYNC_TEST_CHANGE_LOG_UTIL_H */
