/*-------------------------------------------------------------------------
 *
 * test_change_log_follow.c
 *	  Unit tests of change log followers (src/log/change_log_follow.c): the
 *	  end the writer publishes holds complete units only, and a follower
 *	  reads up to it what a reader in the writer reads, across updates,
 *	  rotation and retention, or up to where a reader of another has got
 *	  (changelog_reader_end); it never writes.
 *
 *-------------------------------------------------------------------------
 */
#include "change_log_util.h"

#include <fcntl.h>
#include <sys/stat.h>

/* A follower of log at the end it publishes now. */
static ChangeLog *
follow(const ChangeLog *log)
{
	ChangeLogEnd end;
	char		err[256];
	ChangeLog  *f;

	changelog_visible_end(log, &end);
	f = changelog_follow_open(dir, &end, err, sizeof(err));
	CHECK_MSG(f != NULL, "changelog_follow_open: %s", err);
	if (f == NULL)
		exit(unit_summary());
	return f;
}

/* Give the follower f the end log publishes now. */
static void
update(ChangeLog *f, const ChangeLog *log)
{
	ChangeLogEnd end;

	changelog_visible_end(log, &end);
	CHECK_EQ_INT(changelog_follow_update(f, &end), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_last_key(f), end.last_key);
}

static ChangeLogReader *
reader(ChangeLog *log, uint64_t after_key)
{
	ChangeLogStatus st;
	ChangeLogReader *r = changelog_reader_open(log, after_key, &st);

	CHECK(r != NULL && st == CHANGELOG_OK);
	if (r == NULL)
		exit(unit_summary());
	return r;
}

/* A malloc'ed buffer of len bytes c. */
static char *
filled(size_t len, char c)
{
	char	   *buf = malloc(len);

	if (buf == NULL)
		abort();
	memset(buf, c, len);
	return buf;
}

/* Size of the file of segment seqno. */
static uint64_t
segment_file_size(uint64_t seqno)
{
	char		path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%016llX.seg", dir, (unsigned long long) seqno);
	return stat(path, &st) == 0 ? (uint64_t) st.st_size : 0;
}

/*
 * Read a and b side by side to their ends: the same records, keys and
 * positions, and the same final status.  Returns the number of records.
 */
static int
same_records(ChangeLogReader *a, ChangeLogReader *b)
{
	ChangeLogRecord ra,
				rb;
	ChangeLogStatus sa,
				sb;
	int			n = 0;

	for (;;)
	{
		sa = changelog_read(a, &ra);
		sb = changelog_read(b, &rb);
		CHECK_EQ_INT(sa, sb);
		if (sa != CHANGELOG_OK || sb != CHANGELOG_OK)
			break;
		CHECK(ra.key == rb.key && ra.relid == rb.relid && ra.kind == rb.kind &&
			  ra.flags == rb.flags && ra.before_resume == rb.before_resume);
		CHECK_EQ_MEM(ra.data, ra.len, rb.data, rb.len);
		CHECK_EQ_INT(changelog_reader_position(a), changelog_reader_position(b));
		n++;
	}
	return n;
}

/* A follower reads exactly what a reader in the writer reads. */
static void
test_follow_same_as_writer(void)
{
	ChangeLog  *log;
	ChangeLog  *f;
	ChangeLogReader *w,
			   *r;
	ChangeLogEnd end;

	new_dir();
	log = open_log(1 << 20, 100);
	f = follow(log);				/* an empty log */
	CHECK_EQ_INT(changelog_last_key(f), 100);
	r = reader(f, 100);
	CHECK_EQ_INT(read_all(r, NULL, NULL), 0);
	changelog_reader_close(r);
	changelog_close(f);

	append_txn(log, 200, 3, 0);
	CHECK_EQ_INT(changelog_append(log, 300, 7, 'M', CHANGELOG_FIRST_OF_UNIT | CHANGELOG_LAST_OF_UNIT, "hello", 5), CHANGELOG_OK);
	append_txn(log, 400, 50, 100);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	changelog_visible_end(log, &end);
	CHECK_EQ_INT(end.oldest_seqno, 1);
	CHECK_EQ_INT(end.seqno, 1);
	CHECK_EQ_INT(end.offset, segment_file_size(1));
	CHECK_EQ_INT(end.last_key, 400);

	f = follow(log);
	CHECK_EQ_INT(changelog_last_key(f), 400);
	CHECK_EQ_INT(changelog_oldest_resume_key(f), 100);
	CHECK_EQ_INT(changelog_current_segment(f), 1);
	CHECK_EQ_INT(changelog_total_bytes(f), changelog_total_bytes(log));
	w = reader(log, 100);
	r = reader(f, 100);
	CHECK_EQ_INT(same_records(w, r), 5 + 1 + 52);
	changelog_reader_close(w);
	changelog_reader_close(r);
	/* from a resume point in the middle */
	w = reader(log, 250);
	r = reader(f, 250);
	CHECK_EQ_INT(same_records(w, r), 1 + 52);
	CHECK_EQ_INT(changelog_reader_position(r), 400);
	changelog_reader_close(w);
	changelog_reader_close(r);
	changelog_close(f);
	changelog_close(log);
	remove_dir();
}

/*
 * A unit still open, buffered or partly written through, is not visible;
 * once complete and flushed it is.
 */
static void
test_open_unit_invisible(void)
{
	ChangeLog  *log;
	ChangeLog  *f;
	ChangeLogReader *r;
	ChangeLogRecord rec;
	ChangeLogEnd before,
				end;
	char	   *big = filled(10000, 'b');

	new_dir();
	log = open_log(1 << 20, 0);		/* write buffer: 4096 bytes */
	append_txn(log, 10, 2, 0);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	f = follow(log);
	r = reader(f, 0);
	CHECK_EQ_INT(read_all(r, NULL, NULL), 4);

	/* buffered, then flushed while open: not visible */
	CHECK_EQ_INT(changelog_append(log, 20, 0, 'B', CHANGELOG_FIRST_OF_UNIT, "B20", 3), CHANGELOG_OK);
	changelog_visible_end(log, &before);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	changelog_visible_end(log, &end);
	CHECK(memcmp(&before, &end, sizeof(end)) == 0);
	CHECK(segment_file_size(1) > end.offset);

	/* a record larger than the buffer is written through: still not */
	CHECK_EQ_INT(changelog_append(log, 20, 1, 'I', 0, big, 10000), CHANGELOG_OK);
	changelog_visible_end(log, &end);
	CHECK(memcmp(&before, &end, sizeof(end)) == 0);
	CHECK(segment_file_size(1) > end.offset + 10000);
	update(f, log);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_END);
	CHECK_EQ_INT(changelog_last_key(f), 10);
	{
		/* nor to a follower opened now */
		ChangeLog  *g = follow(log);
		ChangeLogReader *r2 = reader(g, 10);

		CHECK_EQ_INT(changelog_read(r2, &rec), CHANGELOG_END);
		changelog_reader_close(r2);
		changelog_close(g);
	}

	/* complete but buffered: not yet; flushed: the whole unit */
	CHECK_EQ_INT(changelog_append(log, 20, 0, 'C', CHANGELOG_LAST_OF_UNIT, "C20", 3), CHANGELOG_OK);
	changelog_visible_end(log, &end);
	CHECK(memcmp(&before, &end, sizeof(end)) == 0);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	changelog_visible_end(log, &end);
	CHECK_EQ_INT(end.last_key, 20);
	CHECK_EQ_INT(end.offset, segment_file_size(1));
	update(f, log);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_MEM(rec.data, rec.len, "B20", 3);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_MEM(rec.data, rec.len, big, 10000);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_MEM(rec.data, rec.len, "C20", 3);
	CHECK_EQ_INT(changelog_reader_position(r), 20);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_END);

	/* a one-record unit written through is in the file, so visible */
	CHECK_EQ_INT(changelog_append(log, 30, 0, 'M', CHANGELOG_FIRST_OF_UNIT | CHANGELOG_LAST_OF_UNIT, big, 10000), CHANGELOG_OK);
	changelog_visible_end(log, &end);
	CHECK_EQ_INT(end.last_key, 30);
	CHECK_EQ_INT(end.offset, segment_file_size(1));
	update(f, log);
	CHECK_EQ_INT(read_all(r, NULL, NULL), 1);

	/* an end behind the one adopted is refused */
	before.offset -= 1;
	CHECK_EQ_INT(changelog_follow_update(f, &before), CHANGELOG_BAD_ORDER);
	CHECK(changelog_error(f)[0] != '\0');
	changelog_reader_close(r);
	changelog_close(f);
	changelog_close(log);
	remove_dir();
	free(big);
}

/*
 * The writer restarts after a crash in the middle of a unit written
 * through: recovery truncates it and the unit comes again, different.  A
 * follower reader that read up to the unit before reads the new one (its
 * read-ahead never kept the bytes past the end).
 */
static void
test_writer_restart(void)
{
	ChangeLog  *log;
	ChangeLog  *f;
	ChangeLogReader *r;
	ChangeLogRecord rec;
	char	   *big = filled(10000, 'o');

	new_dir();
	log = open_log(1 << 20, 0);
	append_txn(log, 10, 1, 0);
	CHECK_EQ_INT(changelog_append(log, 20, 0, 'B', CHANGELOG_FIRST_OF_UNIT, "old", 3), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_append(log, 20, 0, 'I', 0, big, 10000), CHANGELOG_OK);
	f = follow(log);
	r = reader(f, 0);
	CHECK_EQ_INT(read_all(r, NULL, NULL), 3);
	changelog_close(log);			/* a crash: unit 20 stays torn */
	log = open_log(1 << 20, 0);
	CHECK_EQ_INT(changelog_last_key(log), 10);
	CHECK_EQ_INT(changelog_append(log, 20, 0, 'M', CHANGELOG_FIRST_OF_UNIT | CHANGELOG_LAST_OF_UNIT, "new", 3), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	update(f, log);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
	CHECK_EQ_MEM(rec.data, rec.len, "new", 3);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_END);
	changelog_reader_close(r);
	changelog_close(f);
	changelog_close(log);
	remove_dir();
	free(big);
}

/*
 * A follower reader lives across updates, segment rotation and retention:
 * a reader with a removed segment open still reads it, a new reader at a
 * key no longer retained gets CHANGELOG_TOO_OLD.
 */
static void
test_follow_rotation_retention(void)
{
	ChangeLog  *log;
	ChangeLog  *f;
	ChangeLog  *g;
	ChangeLogReader *live,
			   *early,
			   *r;
	ChangeLogRecord rec;
	ChangeLogStatus st;
	ChangeLogEnd stale;
	uint64_t	last = 0;
	uint64_t	k;
	int			n = 0;

	new_dir();
	log = open_log(8192, 0);
	f = follow(log);
	live = reader(f, 0);
	early = reader(f, 0);
	for (k = 1; k <= 100; k++)
	{
		append_txn(log, k * 10, 3, 500);
		if (k % 7 == 0)
		{
			CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
			update(f, log);
			CHECK_EQ_INT(changelog_current_segment(f), changelog_current_segment(log));
			n += read_all(live, &last, &st);
			CHECK_EQ_INT(st, CHANGELOG_END);
			CHECK_EQ_INT(last, k * 10);
		}
		if (k == 7)				/* part-way through the first segment */
			CHECK_EQ_INT(changelog_read(early, &rec), CHANGELOG_OK);
	}
	CHECK_EQ_INT(changelog_sync(log), CHANGELOG_OK);
	update(f, log);
	n += read_all(live, &last, &st);
	CHECK_EQ_INT(n, 100 * 5);
	CHECK_EQ_INT(last, 1000);
	CHECK(changelog_current_segment(f) > 10);
	changelog_visible_end(log, &stale);

	/* the writer removes the old segments; the follower learns it */
	CHECK(changelog_retain(log, 30000, 0, time(NULL)) > 0);
	append_txn(log, 1010, 1, 0);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	update(f, log);
	CHECK_EQ_INT(changelog_oldest_resume_key(f), changelog_oldest_resume_key(log));
	CHECK(changelog_oldest_resume_key(f) > 0);
	CHECK_EQ_INT(read_all(live, &last, &st), 3);
	CHECK_EQ_INT(last, 1010);
	r = changelog_reader_open(f, 0, &st);
	CHECK(r == NULL && st == CHANGELOG_TOO_OLD);
	r = reader(f, changelog_oldest_resume_key(f));
	n = read_all(r, &last, &st);
	CHECK_EQ_INT(n % 5, 3);		/* whole units: 3 records of 1010 */
	CHECK_EQ_INT(last, 1010);
	CHECK_EQ_INT(st, CHANGELOG_END);
	changelog_reader_close(r);
	/* the early reader finishes its open segment, then finds the gap */
	n = read_all(early, NULL, &st);
	CHECK(n > 0);
	CHECK_EQ_INT(st, CHANGELOG_TOO_OLD);
	changelog_reader_close(early);

	/* an end published before the retention: its removed segments skipped */
	{
		char		err[256];

		g = changelog_follow_open(dir, &stale, err, sizeof(err));
		CHECK_MSG(g != NULL, "changelog_follow_open: %s", err);
		CHECK_EQ_INT(changelog_oldest_resume_key(g), changelog_oldest_resume_key(log));
		CHECK_EQ_INT(changelog_last_key(g), 1000);
		r = reader(g, changelog_oldest_resume_key(g));
		read_all(r, &last, &st);
		CHECK_EQ_INT(last, 1000);
		CHECK_EQ_INT(st, CHANGELOG_END);
		update(g, log);
		read_all(r, &last, &st);
		CHECK_EQ_INT(last, 1010);
		changelog_reader_close(r);
		changelog_close(g);
	}
	changelog_reader_close(live);
	changelog_close(f);
	changelog_close(log);
	remove_dir();
}

/* An out-of-line unit is visible once appended and flushed, in its place. */
static void
test_follow_out_of_line(void)
{
	ChangeLog  *log;
	ChangeLog  *f;
	ChangeLogReader *r;
	ChangeLogRecord rec;
	ChangeLogSpool *s;
	ChangeLogEnd end;
	char		buf[64];

	new_dir();
	log = open_log(1 << 20, 100);
	append_txn(log, 200, 1, 0);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	f = follow(log);
	r = reader(f, 100);
	CHECK_EQ_INT(read_all(r, NULL, NULL), 3);

	/* spooled, committed (renamed, named by its record), flushed: not yet */
	s = changelog_spool_create(log, 7);
	for (int i = 0; i < 5000; i++)
	{
		int			len = snprintf(buf, sizeof(buf), "S300.%d", i);

		CHECK_EQ_INT(changelog_spool_append(s, 16384, 'I', buf, len), CHANGELOG_OK);
	}
	CHECK_EQ_INT(changelog_append(log, 300, 0, 'B', CHANGELOG_FIRST_OF_UNIT, "B300", 4), CHANGELOG_OK);
	CHECK_EQ_INT(changelog_append_spool(log, 300, s), CHANGELOG_OK);
	CHECK_EQ_INT(count_files(".unit"), 1);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	update(f, log);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_END);
	CHECK_EQ_INT(changelog_append(log, 300, 0, 'C', CHANGELOG_LAST_OF_UNIT, "C300", 4), CHANGELOG_OK);
	update(f, log);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_END);
	CHECK_EQ_INT(changelog_last_key(f), 200);

	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	changelog_visible_end(log, &end);
	CHECK_EQ_INT(end.last_key, 300);
	update(f, log);
	expect_streamed(r, 300, 5000);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_END);

	/* and in its place among other units, from any resume point */
	append_streamed(log, 400, 8, 30);
	append_txn(log, 500, 1, 0);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	update(f, log);
	expect_streamed(r, 400, 30);
	CHECK_EQ_INT(read_all(r, NULL, NULL), 3);
	changelog_reader_close(r);
	r = reader(f, 350);
	expect_streamed(r, 400, 30);
	changelog_reader_close(r);
	changelog_close(f);
	changelog_close(log);
	remove_dir();
}

/*
 * A follower can follow a reader of another (changelog_reader_end): it
 * serves exactly the units that reader has passed, across segments.
 */
static void
test_follow_reader_end(void)
{
	ChangeLog  *log;
	ChangeLog  *f;
	ChangeLog  *served;
	ChangeLogReader *r,
			   *s;
	ChangeLogRecord rec;
	ChangeLogStatus st;
	ChangeLogEnd end;
	uint64_t	last;
	uint64_t	k;

	new_dir();
	log = open_log(8192, 0);
	f = follow(log);
	served = follow(log);
	r = reader(f, 0);
	s = reader(served, 0);
	for (k = 1; k <= 40; k++)
		append_txn(log, k * 10, 3, 500);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	update(f, log);
	/* pass units on one at a time; the served follower trails by one */
	for (k = 1; k <= 40; k++)
	{
		do
			CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_OK);
		while (!(rec.flags & CHANGELOG_LAST_OF_UNIT));
		CHECK_EQ_INT(rec.key, k * 10);
		changelog_reader_end(r, &end);
		CHECK_EQ_INT(end.last_key, k * 10);
		CHECK_EQ_INT(changelog_follow_update(served, &end), CHANGELOG_OK);
		CHECK_EQ_INT(read_all(s, &last, &st), 5);
		CHECK_EQ_INT(last, k * 10);
		CHECK_EQ_INT(st, CHANGELOG_END);
	}
	CHECK(changelog_current_segment(served) > 3);
	CHECK_EQ_INT(changelog_read(r, &rec), CHANGELOG_END);
	changelog_reader_end(r, &end);
	CHECK_EQ_INT(changelog_follow_update(served, &end), CHANGELOG_OK);
	changelog_visible_end(log, &end);
	CHECK_EQ_INT(changelog_current_segment(served), end.seqno);
	changelog_reader_close(r);
	changelog_reader_close(s);
	changelog_close(served);
	changelog_close(f);
	changelog_close(log);
	remove_dir();
}

/* A follower refuses to write, with an error; and bad ends are refused. */
static void
test_follow_refuses_writes(void)
{
	ChangeLog  *log;
	ChangeLog  *f;
	ChangeLogSpool *s;
	ChangeLogEnd end;
	char		err[256];

	new_dir();
	log = open_log(1 << 20, 0);
	append_txn(log, 10, 1, 0);
	CHECK_EQ_INT(changelog_flush(log), CHANGELOG_OK);
	f = follow(log);
	CHECK_EQ_INT(changelog_append(f, 20, 0, 'M', CHANGELOG_FIRST_OF_UNIT | CHANGELOG_LAST_OF_UNIT, "x", 1), CHANGELOG_BAD_ORDER);
	CHECK(strstr(changelog_error(f), "follower") != NULL);
	CHECK_EQ_INT(changelog_flush(f), CHANGELOG_BAD_ORDER);
	CHECK_EQ_INT(changelog_sync(f), CHANGELOG_BAD_ORDER);
	CHECK_EQ_INT(changelog_retain(f, 1, 0, time(NULL)), 0);
	CHECK(changelog_spool_create(f, 5) == NULL);
	s = changelog_spool_create(log, 6);
	CHECK(s != NULL);
	CHECK_EQ_INT(changelog_append_spool(f, 20, s), CHANGELOG_BAD_ORDER);
	CHECK_EQ_INT(count_files(".spool"), 0);
	CHECK_EQ_INT(changelog_last_key(f), 10);
	CHECK_EQ_INT(count_files(".seg"), 1);

	/* follow_update is for followers; ends must make sense */
	changelog_visible_end(log, &end);
	CHECK_EQ_INT(changelog_follow_update(log, &end), CHANGELOG_BAD_ORDER);
	end.oldest_seqno = end.seqno + 1;
	CHECK(changelog_follow_open(dir, &end, err, sizeof(err)) == NULL);
	CHECK(err[0] != '\0');
	changelog_visible_end(log, &end);
	end.seqno++;					/* a segment that does not exist */
	CHECK(changelog_follow_open(dir, &end, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "could not open") != NULL);
	changelog_close(f);
	changelog_close(log);
	remove_dir();
}

int
main(void)
{
	test_follow_same_as_writer();
	test_open_unit_invisible();
	test_writer_restart();
	test_follow_rotation_retention();
	test_follow_out_of_line();
	test_follow_reader_end();
	test_follow_refuses_writes();
	return unit_summary();
}
