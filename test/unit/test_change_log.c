/*-------------------------------------------------------------------------
 *
 * test_change_log.c
 *	  Unit tests of the durable change log (src/log/change_log.c): units and
 *	  keys, reading from any retained point, crash recovery of a torn or
 *	  unfinished tail, segment rotation, retention and live tailing.
 *
 *-------------------------------------------------------------------------
 */
#include "change_log_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
test_basic(void)
{
	ChangeLog  *log;
	ChangeLogReader *r;
	ChangeLogRecord	rec;
	ChangeLogStatus	st;

	new_dir();
	log = open_log(1 << 20, 100);
	CHECK_EQ_INT(changelog_last_key(log), 100);
	CHECK_EQ_INT(changelog_oldest_resume_key(log), 100);

	append_txn(log, 200, 1, 0);
	CHECK_EQ_INT(changelog_append(log, 300, 0, 'M', CHANGELOG_FIRST_OF_UNIT | CHANGELOG_LAST_OF_UNIT, "hello", 5), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_last_key(log), 300);
	CHECK_EQ_INT(changelog_durable_key(log), 100);
	CHECK_EQ_INT(changelog_sync(log), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_durable_key(log), 300);

	/* order is enforced */
	CHECK_EQ_INT(changelog_append(log, 300, 0, 'B', CHANGELOG_FIRST_OF_UNIT, "x", 1), CHANGELOG_BAD_ORDER);
	CHECK_EQ_INT(changelog_append(log, 400, 0, 'I', 0, "x", 1), CHANGELOG_BAD_ORDER);

	/* everything after the initial key */
	r = changelog_reader_open(log, 100, &st);
	CHECK(r != NULL && st == CHANGELOG_OK);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.kind, 'B');
	CHECK_EQ_INT(rec.key, 200);
	CHECK_EQ_MEM(rec.data, rec.len, "B200", 4);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.kind, 'I');
	CHECK_EQ_INT(rec.relid, 16384);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.kind, 'C');
	CHECK_EQ_INT(rec.flags, CHANGELOG_LAST_OF_UNIT);
	CHECK_EQ_INT(changelog_reader_position(r), 200);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_MEM(rec.data, rec.len, "hello", 5);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_END);
	CHECK_EQ_INT(changelog_reader_position(r), 300);

	/* live tailing: the reader sees new units once flushed */
	append_txn(log, 450, 2, 0);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_END);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	CHECK_EQ_INT(read_all(r, NULL, &st), 4);
	CHECK_EQ_INT(st, CHANGELOG_END);
	changelog_reader_close(r);

	/* resume in the middle: units with key > 200 only, never split */
	r = changelog_reader_open(log, 200, &st);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.key, 300);
	changelog_reader_close(r);
	r = changelog_reader_open(log, 250, &st);		/* between units */
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.key, 300);
	changelog_reader_close(r);

	/* before the log: too old */
	r = changelog_reader_open(log, 99, &st);
	CHECK(r == NULL);
	CHECK_EQ_INT(st, CHANGELOG_TOO_OLD);
	changelog_close(log);
	remove_dir();
}

static void
test_recovery(void)
{
	ChangeLog  *log;
	ChangeLogReader *r;
	ChangeLogStatus	st;
	uint64_t	last;
	char		path[512];
	int			fd;

	new_dir();
	log = open_log(1 << 20, 0);
	append_txn(log, 10, 3, 0);
	append_txn(log, 20, 3, 0);
	/* an unfinished transaction, written but never committed */
	CHECK_EQ_INT(changelog_append(log, 30, 0, 'B', CHANGELOG_FIRST_OF_UNIT, "B30", 3), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_append(log, 30, 0, 'I', 0, "I30", 3), CHANGELOG_OK);
	changelog_close(log);			/* a crash: the buffered tail hits the file */

	/* and a torn record after it */
	snprintf(path, sizeof(path), "%s/%016X.seg", dir, 1);
	fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK(write(fd, "\x40\x00\x00\x00garbage", 11) == 11);
	close(fd);

	log = open_log(1 << 20, 0);
	CHECK_EQ_INT(changelog_last_key(log), 20);
	CHECK_EQ_INT(changelog_durable_key(log), 20);
	/* decoding resumes: the transaction comes again, whole */
	append_txn(log, 30, 1, 0);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	r = changelog_reader_open(log, 0, &st);
	CHECK_EQ_INT(read_all(r, &last, &st), 5 + 5 + 3);
	CHECK_EQ_INT(last, 30);
	CHECK_EQ_INT(st, CHANGELOG_END);
	changelog_reader_close(r);
	changelog_close(log);

	/* a log whose only unit is unfinished recovers to its initial key */
	new_dir();
	log = open_log(1 << 20, 7);
	CHECK_EQ_INT(changelog_append(log, 8, 0, 'B', CHANGELOG_FIRST_OF_UNIT, "B", 1), CHANGELOG_OK);
	changelog_close(log);
	log = open_log(1 << 20, 0);
	CHECK_EQ_INT(changelog_last_key(log), 7);
	changelog_close(log);
	remove_dir();
}

static void
test_segments_and_retention(void)
{
	ChangeLog  *log;
	ChangeLogReader *r,
			   *early;
	ChangeLogRecord	rec;
	ChangeLogStatus	st;
	uint64_t	last;
	uint64_t	k;
	int			n;

	new_dir();
	log = open_log(8192, 0);
	/* 100 transactions of 3 x 500 bytes: many segments */
	for (k = 1; k <= 100; k++)
		append_txn(log, k * 10, 3, 500);
	CHECK_EQ_INT(changelog_sync(log), CHANGELOG_OK);
	CHECK(changelog_total_bytes(log) > 100 * 1500);

	r = changelog_reader_open(log, 0, &st);
	CHECK_EQ_INT(read_all(r, &last, &st), 100 * 5);
	CHECK_EQ_INT(last, 1000);
	changelog_reader_close(r);

	/* resuming in the middle starts at the right unit of the right segment */
	r = changelog_reader_open(log, 555, &st);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.key, 560);
	CHECK_EQ_INT(rec.kind, 'B');
	CHECK_EQ_INT(read_all(r, &last, &st), 44 * 5 + 4);
	changelog_reader_close(r);

	/* a reader part-way through the first segment */
	early = changelog_reader_open(log, 0, &st);
	CHECK_EQ_INT(changelog_read(early, &rec), CHANGELOG_OK);

	/* retention by size: keep ~30 kB */
	n = changelog_retain(log, 30000, 0, time(NULL));
	CHECK(n > 0);
	CHECK(changelog_total_bytes(log) <= 30000 + 8192);
	CHECK(changelog_oldest_resume_key(log) > 0);
	r = changelog_reader_open(log, 0, &st);
	CHECK(r == NULL);
	CHECK_EQ_INT(st, CHANGELOG_TOO_OLD);
	r = changelog_reader_open(log, changelog_oldest_resume_key(log), &st);
	CHECK(r != NULL);
	n = read_all(r, &last, &st);
	CHECK_EQ_INT(last, 1000);
	CHECK_EQ_INT(n % 5, 0);		/* whole transactions only */
	CHECK_EQ_INT(st, CHANGELOG_END);
	changelog_reader_close(r);

	/* the early reader finishes its open segment, then finds the gap */
	read_all(early, NULL, &st);
	CHECK_EQ_INT(st, CHANGELOG_TOO_OLD);
	changelog_reader_close(early);

	/* retention by age keeps the newest segment only */
	changelog_retain(log, 0, 60, time(NULL) + 3600);
	r = changelog_reader_open(log, changelog_oldest_resume_key(log), &st);
	CHECK(r != NULL);
	read_all(r, &last, &st);
	CHECK_EQ_INT(last, 1000);
	changelog_reader_close(r);
	changelog_close(log);

	/* reopen: segments and keys come back */
	log = open_log(8192, 0);
	CHECK_EQ_INT(changelog_last_key(log), 1000);
	append_txn(log, 1010, 1, 0);
	CHECK_EQ_INT(changelog_sync(log), CHANGELOG_OK);
	changelog_close(log);
	remove_dir();
}

static void
test_big_records(void)
{
	ChangeLog  *log;
	ChangeLogReader *r;
	ChangeLogRecord	rec;
	ChangeLogStatus	st;
	char	   *big = malloc(300000);
	int			i;

	if (big == NULL)
		abort();
	for (i = 0; i < 300000; i++)
		big[i] = (char) ('a' + i % 26);
	new_dir();
	log = open_log(4096, 0);	/* smaller than the record */
	CHECK_EQ_INT(changelog_append(log, 5, 1, 'B', CHANGELOG_FIRST_OF_UNIT, "B", 1), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_append(log, 5, 1, 'I', 0, big, 300000), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_append(log, 5, 1, 'C', CHANGELOG_LAST_OF_UNIT, "C", 1), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_append(log, 6, 0, 'M', CHANGELOG_FIRST_OF_UNIT | CHANGELOG_LAST_OF_UNIT, "", 0), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_sync(log), CHANGELOG_OK);
	r = changelog_reader_open(log, 0, &st);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_MEM(rec.data, rec.len, big, 300000);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.len, 0);
	CHECK_EQ_INT(rec.key, 6);
	changelog_reader_close(r);
	changelog_close(log);
	remove_dir();
	free(big);
}

/* Payload i of test_read_ahead: its size and a pattern of its own. */
static size_t
ahead_size(int i)
{
	static const size_t sizes[] = {1, 100, 3000, 65536 - 40, 65536 - 39, 65536, 70000, 17};

	return sizes[i % 8] + (size_t) (i / 8);
}

static void
ahead_fill(char *buf, int i)
{
	for (size_t k = 0; k < ahead_size(i); k++)
		buf[k] = (char) ('a' + (i + k) % 23);
}

/*
 * The reader's read-ahead window (CHANGELOG_READ_AHEAD): records of every
 * size around it, read while the log grows under the reader (a window
 * filled before a record was all written must not serve it), and across
 * segments: every record comes back whole, in order.
 */
static void
test_read_ahead(void)
{
	ChangeLog  *log;
	ChangeLogReader *r;
	ChangeLogRecord	rec;
	ChangeLogStatus	st;
	char	   *buf = malloc(200000);
	char	   *want = malloc(200000);
	int			written = 0,
				read = 0,
				bad = 0;

	if (buf == NULL || want == NULL)
		abort();
	new_dir();
	log = open_log(256 * 1024, 0);
	r = changelog_reader_open(log, 0, &st);
	CHECK(r != NULL);
	for (int round = 0; round < 40; round++)
	{
		/* a few units, flushed, then read up to the end */
		for (int u = 0; u < 3; u++, written++)
		{
			ahead_fill(buf, written);
			CHECK_EQ_INT(changelog_append(log, written + 1, 1, 'I',
										  CHANGELOG_FIRST_OF_UNIT | CHANGELOG_LAST_OF_UNIT,
										  buf, ahead_size(written)), CHANGELOG_OK);
			if (u == 1)
				CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
		}
		CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
		while ((st = changelog_read(r, &rec)) == CHANGELOG_OK)
		{
			ahead_fill(want, read);
			if (rec.key != (uint64_t) read + 1 || rec.len != ahead_size(read) ||
				memcmp(rec.data, want, rec.len) != 0)
				bad++;
			read++;
		}
		CHECK_EQ_INT(st, CHANGELOG_END);
	}
	CHECK_EQ_INT(read, written);
	CHECK_EQ_INT(bad, 0);
	changelog_reader_close(r);
	changelog_close(log);
	remove_dir();
	free(buf);
	free(want);
}

/* Relation messages of units before the resume point still come back. */
static void
test_relations_before_resume(void)
{
	ChangeLog  *log;
	ChangeLogReader *r;
	ChangeLogRecord	rec;
	ChangeLogStatus	st;

	new_dir();
	log = open_log(1 << 20, 0);
	CHECK_EQ_INT(changelog_append(log, 10, 0, 'B', CHANGELOG_FIRST_OF_UNIT, "B", 1), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_append(log, 10, 7, 'R', 0, "R7v1", 4), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_append(log, 10, 7, 'I', 0, "I", 1), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_append(log, 10, 0, 'C', CHANGELOG_LAST_OF_UNIT, "C", 1), CHANGELOG_OK);
	append_txn(log, 20, 1, 0);
	CHECK_EQ_INT(changelog_current_segment(log), 1);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);

	r = changelog_reader_open(log, 10, &st);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.kind, 'R');
	CHECK(rec.before_resume);
	CHECK_EQ_MEM(rec.data, rec.len, "R7v1", 4);
	CHECK_EQ_INT(changelog_reader_position(r), 10);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.kind, 'B');
	CHECK_EQ_INT(rec.key, 20);
	CHECK(!rec.before_resume);
	changelog_reader_close(r);
	changelog_close(log);
	remove_dir();
}

/* A crash while a segment was being created leaves a torn newest file. */
static void
test_torn_segment(void)
{
	ChangeLog  *log;
	char		path[512];
	int			fd;

	new_dir();
	log = open_log(1 << 20, 0);
	append_txn(log, 10, 1, 0);
	changelog_close(log);
	snprintf(path, sizeof(path), "%s/%016X.seg", dir, 2);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "PGSY", 4) == 4);
	close(fd);
	log = open_log(1 << 20, 0);		/* opens: the torn file is dropped */
	CHECK_EQ_INT(changelog_last_key(log), 10);
	CHECK(access(path, F_OK) != 0);
	append_txn(log, 20, 1, 0);
	CHECK_EQ_INT(changelog_sync(log), CHANGELOG_OK);
	changelog_close(log);

	/* a torn file that is not the newest is corruption: refused */
	snprintf(path, sizeof(path), "%s/%016X.seg", dir, 0);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0);
	close(fd);
	{
		ChangeLogOptions opts = {0};
		char		err[256];

		opts.no_sync = true;
		CHECK(changelog_open(dir, &opts, err, sizeof(err)) == NULL);
	}
	remove_dir();
}

static void
test_out_of_line_units(void)
{
	ChangeLog  *log;
	ChangeLogReader *r;
	ChangeLogRecord rec;
	ChangeLogStatus st;
	ChangeLogSpool *s;
	char		path[512];
	int			fd;

	new_dir();
	log = open_log(1 << 20, 100);
	append_txn(log, 200, 1, 0);
	/* large records go through the spool's buffer unbuffered */
	append_streamed(log, 300, 7, 20000);
	append_txn(log, 400, 1, 0);
	CHECK_EQ_INT(count_files(".unit"), 1);
	CHECK_EQ_INT(count_files(".spool"), 0);
	CHECK(changelog_total_bytes(log) > 20000 * 30);
	CHECK_EQ_INT(changelog_sync(log), CHANGELOG_OK);

	/* read before, at and after the out-of-line unit */
	r = changelog_reader_open(log, 100, &st);
	CHECK_EQ_INT(read_all(r, NULL, NULL), 3 + 20002 + 3);
	changelog_reader_close(r);
	r = changelog_reader_open(log, 200, &st);
	expect_streamed(r, 300, 20000);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.key, 400);
	changelog_reader_close(r);
	r = changelog_reader_open(log, 300, &st);	/* resume after it */
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.key, 400);
	changelog_reader_close(r);
	r = changelog_reader_open(log, 250, &st);	/* between */
	expect_streamed(r, 300, 20000);
	changelog_reader_close(r);

	/* aborted transactions leave nothing */
	s = changelog_spool_create(log, 8);
	CHECK_EQ_INT(changelog_spool_append(s, 1, 'I', "aborted", 7), CHANGELOG_OK);
	changelog_spool_discard(s);
	CHECK_EQ_INT(count_files(".spool"), 0);
	/* everything rolled back to a savepoint: no unit file */
	s = changelog_spool_create(log, 9);
	CHECK_EQ_INT(changelog_append(log, 500, 0, 'B', CHANGELOG_FIRST_OF_UNIT, "B500", 4), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_append_spool(log, 500, s), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_append(log, 500, 0, 'C', CHANGELOG_LAST_OF_UNIT, "C500", 4), CHANGELOG_OK);
	CHECK_EQ_INT(count_files(".unit"), 1);
	/* a spool outside its unit is refused (and discarded) */
	s = changelog_spool_create(log, 10);
	CHECK_EQ_INT(changelog_append_spool(log, 600, s), CHANGELOG_BAD_ORDER);
	CHECK_EQ_INT(count_files(".spool"), 0);

	/* crash with a spool in progress and a unit whose record was lost */
	snprintf(path, sizeof(path), "%s/%016X.unit", dir, 0x900);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "junk", 4) == 4);
	close(fd);
	s = changelog_spool_create(log, 12);
	CHECK_EQ_INT(changelog_spool_append(s, 1, 'I', "in progress", 11), CHANGELOG_OK);
	CHECK_EQ_INT(count_files(".spool"), 1);
	CHECK_EQ_INT(changelog_sync(log), CHANGELOG_OK);
	changelog_close(log);
	log = open_log(1 << 20, 100);
	CHECK_EQ_INT(count_files(".spool"), 0);
	CHECK_EQ_INT(count_files(".unit"), 1);
	CHECK_EQ_INT(changelog_last_key(log), 500);
	r = changelog_reader_open(log, 200, &st);
	expect_streamed(r, 300, 20000);
	changelog_reader_close(r);
	changelog_spool_discard(s);		/* the handle outlived its log */

	/* a unit file torn by the crash: the log ends before its unit */
	append_streamed(log, 700, 13, 50);
	append_txn(log, 800, 1, 0);
	CHECK_EQ_INT(changelog_sync(log), CHANGELOG_OK);
	changelog_close(log);
	snprintf(path, sizeof(path), "%s/%016X.unit", dir, 700);
	CHECK_EQ_INT(truncate(path, 100), 0);
	log = open_log(1 << 20, 100);
	CHECK_EQ_INT(changelog_last_key(log), 500);
	CHECK_EQ_INT(count_files(".unit"), 1);
	/* and decoding it again appends it again */
	append_streamed(log, 700, 13, 50);
	CHECK_EQ_INT(changelog_sync(log), CHANGELOG_OK);
	changelog_close(log);
	log = open_log(1 << 20, 100);
	CHECK_EQ_INT(changelog_last_key(log), 700);
	r = changelog_reader_open(log, 500, &st);
	expect_streamed(r, 700, 50);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_END);

	/* a corrupt unit file is an error for readers */
	changelog_reader_close(r);
	snprintf(path, sizeof(path), "%s/%016X.unit", dir, 700);
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, "XXXX", 4, 26) == 4);
	close(fd);
	r = changelog_reader_open(log, 500, &st);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);	/* B */
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_ERROR);
	changelog_reader_close(r);
	changelog_close(log);
	remove_dir();
}

/* Retention removes a unit file with the segment that names it. */
static void
test_out_of_line_retention(void)
{
	ChangeLog  *log;
	ChangeLogReader *r;
	ChangeLogReader *early;
	ChangeLogRecord rec;
	ChangeLogStatus st;
	uint64_t	key;

	new_dir();
	log = open_log(8192, 100);
	early = changelog_reader_open(log, 100, &st);
	for (key = 200; key < 2000; key += 100)
	{
		if (key % 300 == 0)
			append_streamed(log, key, (uint32_t) key, 200);
		else
			append_txn(log, key, 40, 0);
	}
	CHECK_EQ_INT(changelog_sync(log), CHANGELOG_OK);
	CHECK_EQ_INT(count_files(".unit"), 6);
	/* an early reader opens the first unit file before retention */
	CHECK_EQ_INT(changelog_read(early, &rec), CHANGELOG_OK);	/* B200 */
	for (int i = 0; i < 42 + 1; i++)
		CHECK_EQ_INT(changelog_read(early, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.key, 300);		/* inside unit 300's file */
	CHECK(changelog_retain(log, 1, 0, 0) > 0);
	/* every unit file left is named by a retained unit */
	{
		int			kept = 0;

		for (key = 300; key < 2000; key += 300)
			kept += key > changelog_oldest_resume_key(log);
		CHECK(kept < 6);
		CHECK_EQ_INT(count_files(".unit"), kept);
	}
	CHECK(changelog_total_bytes(log) < 30000);
	/* the open unit file is still read whole */
	for (int i = 0; i < 200 - 1; i++)
		CHECK_EQ_INT(changelog_read(early, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_read(early, &rec), CHANGELOG_OK);
	CHECK_EQ_INT(rec.kind, 'C');
	CHECK_EQ_INT(rec.key, 300);
	changelog_reader_close(early);
	r = changelog_reader_open(log, 1000, &st);
	CHECK(r == NULL && st == CHANGELOG_TOO_OLD);
	changelog_close(log);
	remove_dir();
}

int
main(void)
{
	/* CRC-32C check value of "123456789" */
	CHECK_EQ_INT(changelog_crc32c(0, "123456789", 9), 0xE3069283);
	{
		/* RFC 3720 B.4 vectors; and any split gives the same CRC */
		unsigned char b[300];
		uint32_t	whole;

		memset(b, 0, 32);
		CHECK_EQ_INT(changelog_crc32c(0, b, 32), 0x8A9136AA);
		memset(b, 0xFF, 32);
		CHECK_EQ_INT(changelog_crc32c(0, b, 32), 0x62A8AB43);
		for (int i = 0; i < 300; i++)
			b[i] = (unsigned char) (i * 7 + 3);
		whole = changelog_crc32c(0, b, 300);
		for (size_t cut = 0; cut <= 300; cut += 1 + cut / 8)
			CHECK_EQ_INT(changelog_crc32c(changelog_crc32c(0, b, cut), b + cut, 300 - cut), whole);
	}
	test_basic();
	test_recovery();
	test_segments_and_retention();
	test_big_records();
	test_relations_before_resume();
	test_torn_segment();
	test_out_of_line_units();
	test_out_of_line_retention();
	test_read_ahead();
	return unit_summary();
}
