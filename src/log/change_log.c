/*-------------------------------------------------------------------------
 *
 * change_log.c
 *	  Durable, segmented log of decoded messages (see change_log.h).
 *
 * All integers on disk are little-endian (the only byte order PostgreSQL
 * builds for here; the segment header's magic would expose a mismatch).
 *
 *-------------------------------------------------------------------------
 */
#include "log/change_log_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEGMENT_MAGIC "PGSYNCL1"
#define SEGMENT_SUFFIX ".seg"

/* ---------------------------------------------------------------- CRC */

static uint32_t crc_table[256];
static bool crc_ready = false;

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
#define HAVE_CRC32C_SSE42 1

/*
 * The SSE 4.2 crc32 instruction, 8 bytes at a time: the table below cost
 * the worker 17% of its time while it spooled and replayed a large
 * transaction (perf, bench/bigtxn_canary).  Chosen at run time.
 */
__attribute__((target("sse4.2")))
static uint32_t
crc32c_sse42(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t	c = crc;

	for (; len >= 8; p += 8, len -= 8)
	{
		uint64_t	v;

		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
	}
	crc = (uint32_t) c;
	for (; len > 0; p++, len--)
		crc = _mm_crc32_u8(crc, *p);
	return crc;
}
#endif

uint32_t
changelog_crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t		i;
#ifdef HAVE_CRC32C_SSE42
	static int	sse42 = -1;

	if (sse42 < 0)
		sse42 = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	if (sse42)
		return ~crc32c_sse42(~crc, p, len);
#endif

	if (!crc_ready)
	{
		uint32_t	n;

		for (n = 0; n < 256; n++)
		{
			uint32_t	c = n;
			int			k;

			for (k = 0; k < 8; k++)
				c = (c & 1) ? (c >> 1) ^ 0x82F63B78 : c >> 1;
			crc_table[n] = c;
		}
		crc_ready = true;
	}
	crc = ~crc;
	for (i = 0; i < len; i++)
		crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
	return ~crc;
}

/* ------------------------------------------------------------ helpers */

void
changelog_set_error(ChangeLog *log, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(log->err, sizeof(log->err), fmt, ap);
	va_end(ap);
}

const char *
changelog_error(const ChangeLog *log)
{
	return log->err;
}

void
changelog_segment_path(const ChangeLog *log, uint64_t seqno, char *path, size_t len)
{
	snprintf(path, len, "%s/%016" PRIX64 SEGMENT_SUFFIX, log->dir, seqno);
}

bool
changelog_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0)
	{
		ssize_t		n = write(fd, p, len);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return false;
		}
		p += n;
		len -= (size_t) n;
	}
	return true;
}

bool
changelog_pread_all(int fd, void *data, size_t len, uint64_t offset)
{
	char	   *p = data;

	while (len > 0)
	{
		ssize_t		n = pread(fd, p, len, (off_t) offset);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return false;
		}
		if (n == 0)
			return false;
		p += n;
		len -= (size_t) n;
		offset += (uint64_t) n;
	}
	return true;
}

bool
changelog_sync_dir(ChangeLog *log)
{
	int			fd = open(log->dir, O_RDONLY | O_DIRECTORY);
	bool		ok;

	if (fd < 0)
		return false;
	ok = log->opts.no_sync || fsync(fd) == 0;
	close(fd);
	return ok;
}

Segment *
changelog_find_segment(const ChangeLog *log, uint64_t seqno)
{
	int			i;

	for (i = 0; i < log->nsegs; i++)
		if (log->segs[i].seqno == seqno)
			return &log->segs[i];
	return NULL;
}

bool
changelog_add_segment(ChangeLog *log, Segment seg)
{
	if (log->nsegs == log->segcap)
	{
		int			cap = log->segcap ? log->segcap * 2 : 16;
		Segment    *n = realloc(log->segs, sizeof(Segment) * cap);

		if (n == NULL)
			return false;
		log->segs = n;
		log->segcap = cap;
	}
	log->segs[log->nsegs++] = seg;
	return true;
}

/* Drop the n oldest segments from the list (not their files). */
void
changelog_forget_segments(ChangeLog *log, int n)
{
	if (n == 0)
		return;
	memmove(log->segs, log->segs + n, sizeof(Segment) * (log->nsegs - n));
	log->nsegs -= n;
}

/*
 * What followers may read (ChangeLogEnd): the end of the last complete
 * unit in the file.  Called whenever the write buffer is empty and the
 * file grew; an open unit, even partly written through, ends it at its
 * start (in the last segment: rotation happens between units).
 */
static void
publish_end(ChangeLog *log)
{
	const Segment *tail = &log->segs[log->nsegs - 1];

	log->visible.seqno = tail->seqno;
	log->visible.offset = log->in_unit ? log->unit_start : tail->size;
	log->visible.last_key = log->last_key;
}

static int
compare_segments(const void *a, const void *b)
{
	uint64_t	x = ((const Segment *) a)->seqno;
	uint64_t	y = ((const Segment *) b)->seqno;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* ---------------------------------------------------- segment files */

static ChangeLogStatus
create_segment(ChangeLog *log, uint64_t seqno, uint64_t prev_key)
{
	unsigned char hdr[CHANGELOG_SEGMENT_HEADER_SIZE] = {0};
	char		path[4096];
	Segment		seg;

	changelog_segment_path(log, seqno, path, sizeof(path));
	log->fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (log->fd < 0)
	{
		changelog_set_error(log, "could not create \"%s\": %s", path, strerror(errno));
		return CHANGELOG_ERROR;
	}
	seg.seqno = seqno;
	seg.prev_key = prev_key;
	seg.created = (int64_t) time(NULL);
	seg.size = CHANGELOG_SEGMENT_HEADER_SIZE;
	memcpy(hdr, SEGMENT_MAGIC, 8);
	put_u64(hdr + 8, seqno);
	put_u64(hdr + 16, prev_key);
	put_u64(hdr + 24, (uint64_t) seg.created);
	if (!changelog_write_all(log->fd, hdr, sizeof(hdr)) || !changelog_add_segment(log, seg))
	{
		changelog_set_error(log, "could not write \"%s\": %s", path, strerror(errno));
		return CHANGELOG_ERROR;
	}
	log->dir_dirty = true;
	publish_end(log);
	return CHANGELOG_OK;
}

/* The segment's header, and its file's size; CHANGELOG_TOO_OLD if missing. */
ChangeLogStatus
changelog_read_segment_header(ChangeLog *log, uint64_t seqno, Segment *seg)
{
	unsigned char hdr[CHANGELOG_SEGMENT_HEADER_SIZE];
	char		path[4096];
	struct stat st;
	int			fd;
	bool		ok;

	changelog_segment_path(log, seqno, path, sizeof(path));
	fd = open(path, O_RDONLY);
	if (fd < 0)
	{
		int			e = errno;

		changelog_set_error(log, "could not open \"%s\": %s", path, strerror(e));
		return e == ENOENT ? CHANGELOG_TOO_OLD : CHANGELOG_ERROR;
	}
	ok = fstat(fd, &st) == 0 && changelog_pread_all(fd, hdr, sizeof(hdr), 0) &&
		memcmp(hdr, SEGMENT_MAGIC, 8) == 0 && get_u64(hdr + 8) == seqno;
	close(fd);
	if (!ok)
	{
		changelog_set_error(log, "invalid change log segment \"%s\"", path);
		return CHANGELOG_ERROR;
	}
	seg->seqno = seqno;
	seg->prev_key = get_u64(hdr + 16);
	seg->created = (int64_t) get_u64(hdr + 24);
	seg->size = (uint64_t) st.st_size;
	return CHANGELOG_OK;
}

/*
 * Parse the record header at buf; false if it cannot be a record (bad
 * length).  The CRC covers the header after the CRC field and the payload.
 */
bool
changelog_parse_record_header(const unsigned char *buf, ChangeLogRecord *rec, uint32_t *crc)
{
	rec->len = get_u32(buf);
	*crc = get_u32(buf + 4);
	rec->key = get_u64(buf + 8);
	rec->relid = get_u32(buf + 16);
	rec->kind = buf[20];
	rec->flags = buf[21];
	return rec->len <= CHANGELOG_MAX_RECORD_SIZE && buf[22] == 0 && buf[23] == 0;
}

uint32_t
changelog_record_crc(const unsigned char *hdr, const void *payload, uint32_t len)
{
	uint32_t	crc = changelog_crc32c(0, hdr + 8, CHANGELOG_RECORD_HEADER_SIZE - 8);

	return changelog_crc32c(crc, payload, len);
}

/*
 * Crash recovery of the last segment: keep the complete units, truncate
 * whatever follows the last one (a torn record, an unfinished unit).
 */
static bool
recover_tail(ChangeLog *log, Segment *seg)
{
	char		path[4096];
	uint64_t	off = CHANGELOG_SEGMENT_HEADER_SIZE;
	uint64_t	good_end = off;
	uint64_t	last_key = seg->prev_key;
	bool		spooled = false;	/* the unit has an out-of-line part */
	uint64_t	spooled_records = 0;
	uint64_t	spooled_bytes = 0;
	char	   *payload = NULL;
	size_t		cap = 0;
	int			fd;

	changelog_segment_path(log, seg->seqno, path, sizeof(path));
	fd = open(path, O_RDWR);
	if (fd < 0)
	{
		changelog_set_error(log, "could not open \"%s\": %s", path, strerror(errno));
		return false;
	}
	while (off + CHANGELOG_RECORD_HEADER_SIZE <= seg->size)
	{
		unsigned char hdr[CHANGELOG_RECORD_HEADER_SIZE];
		ChangeLogRecord	rec;
		uint32_t	crc;

		if (!changelog_pread_all(fd, hdr, sizeof(hdr), off) ||
			!changelog_parse_record_header(hdr, &rec, &crc) ||
			off + CHANGELOG_RECORD_HEADER_SIZE + rec.len > seg->size)
			break;
		if (rec.len > cap)
		{
			char	   *n = realloc(payload, rec.len);

			if (n == NULL)
				break;
			payload = n;
			cap = rec.len;
		}
		if (!changelog_pread_all(fd, payload, rec.len, off + CHANGELOG_RECORD_HEADER_SIZE) ||
			changelog_record_crc(hdr, payload, rec.len) != crc)
			break;
		if (rec.flags & CHANGELOG_FIRST_OF_UNIT)
			spooled = false;
		if (rec.kind == CHANGELOG_KIND_SPOOLED)
		{
			if (!changelog_parse_spooled(&rec, payload, &spooled_records,
										 &spooled_bytes))
				break;
			spooled = true;
		}
		off += CHANGELOG_RECORD_HEADER_SIZE + rec.len;
		if (rec.flags & CHANGELOG_LAST_OF_UNIT)
		{
			/* a unit whose file did not reach the disk is torn too */
			if (spooled && !changelog_unit_intact(log, rec.key, spooled_records,
												  spooled_bytes))
				break;
			good_end = off;
			last_key = rec.key;
		}
	}
	free(payload);
	if (good_end < seg->size)
	{
		if (ftruncate(fd, (off_t) good_end) != 0 ||
			(!log->opts.no_sync && fsync(fd) != 0))
		{
			changelog_set_error(log, "could not truncate \"%s\": %s", path, strerror(errno));
			close(fd);
			return false;
		}
		seg->size = good_end;
	}
	close(fd);
	log->last_key = last_key;
	log->durable_key = last_key;
	return true;
}

/* Is the segment file shorter than a segment header? */
static bool
seg_size_below_header(const ChangeLog *log, uint64_t seqno)
{
	char		path[4096];
	struct stat st;

	changelog_segment_path(log, seqno, path, sizeof(path));
	return stat(path, &st) == 0 && st.st_size < CHANGELOG_SEGMENT_HEADER_SIZE;
}

static bool
list_segments(ChangeLog *log)
{
	DIR		   *d = opendir(log->dir);
	struct dirent *de;
	uint64_t   *seqnos = NULL;
	int			nseq = 0,
				cap = 0,
				i;
	bool		ok = true;

	if (d == NULL)
	{
		changelog_set_error(log, "could not open directory \"%s\": %s", log->dir,
				  strerror(errno));
		return false;
	}

	/* the segment numbers first: only the newest may be torn */
	while ((de = readdir(d)) != NULL)
	{
		size_t		n = strlen(de->d_name);
		char	   *end;
		uint64_t	seqno;

		if (n != 16 + strlen(SEGMENT_SUFFIX) ||
			strcmp(de->d_name + 16, SEGMENT_SUFFIX) != 0)
			continue;
		seqno = strtoull(de->d_name, &end, 16);
		if (end != de->d_name + 16)
			continue;
		if (nseq == cap)
		{
			uint64_t   *grown = realloc(seqnos, sizeof(uint64_t) * (cap ? cap * 2 : 16));

			if (grown == NULL)
			{
				ok = false;
				break;
			}
			seqnos = grown;
			cap = cap ? cap * 2 : 16;
		}
		seqnos[nseq++] = seqno;
	}
	closedir(d);
	for (i = 0; ok && i < nseq; i++)
	{
		Segment		seg;
		uint64_t	newest = 0;
		int			k;

		for (k = 0; k < nseq; k++)
			newest = seqnos[k] > newest ? seqnos[k] : newest;
		if (changelog_read_segment_header(log, seqnos[i], &seg) == CHANGELOG_OK)
			ok = changelog_add_segment(log, seg);
		else if (seqnos[i] == newest && seg_size_below_header(log, seqnos[i]))
		{
			/*
			 * A crash while the newest segment was being created: it holds
			 * no record (records follow a complete header).  Drop it.
			 */
			char		path[4096];

			changelog_segment_path(log, seqnos[i], path, sizeof(path));
			ok = unlink(path) == 0;
			log->err[0] = '\0';
		}
		else
			ok = false;
	}
	free(seqnos);
	if (ok && log->nsegs > 1)
		qsort(log->segs, log->nsegs, sizeof(Segment), compare_segments);
	return ok;
}

ChangeLog *
changelog_open(const char *dir, const ChangeLogOptions *opts, char *err, size_t errlen)
{
	ChangeLog  *log = calloc(1, sizeof(ChangeLog));
	bool		ok;

	if (log == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	log->fd = -1;
	log->opts = *opts;
	if (log->opts.segment_size < 4096)
		log->opts.segment_size = 4096;
	if (log->opts.write_buffer_size < 4096)
		log->opts.write_buffer_size = 4096;
	log->dir = strdup(dir);
	log->wbuf = malloc(log->opts.write_buffer_size);
	ok = log->dir != NULL && log->wbuf != NULL;
	if (ok && mkdir(dir, 0700) != 0 && errno != EEXIST)
	{
		changelog_set_error(log, "could not create directory \"%s\": %s", dir,
				  strerror(errno));
		ok = false;
	}
	ok = ok && list_segments(log);
	if (ok && log->nsegs == 0)
	{
		log->last_key = log->durable_key = opts->initial_key;
		ok = create_segment(log, 1, opts->initial_key) == CHANGELOG_OK &&
			changelog_sync(log) == CHANGELOG_OK;
	}
	else if (ok)
	{
		Segment    *tail = &log->segs[log->nsegs - 1];
		char		path[4096];

		ok = recover_tail(log, tail);
		if (ok)
		{
			publish_end(log);
			changelog_segment_path(log, tail->seqno, path, sizeof(path));
			log->fd = open(path, O_WRONLY | O_APPEND);
			if (log->fd < 0)
			{
				changelog_set_error(log, "could not open \"%s\": %s", path, strerror(errno));
				ok = false;
			}
		}
	}
	/* spools of unfinished transactions, units no retained unit names */
	ok = ok && changelog_units_cleanup(log, false);
	if (!ok)
	{
		snprintf(err, errlen, "%s", log->err[0] ? log->err : "out of memory");
		changelog_close(log);
		return NULL;
	}
	return log;
}

void
changelog_close(ChangeLog *log)
{
	if (log == NULL)
		return;
	if (log->fd >= 0)
	{
		changelog_flush(log);
		close(log->fd);
	}
	for (int i = 0; i < log->nunsynced_units; i++)
		close(log->unsynced_units[i]);
	free(log->unsynced_units);
	free(log->segs);
	free(log->wbuf);
	free(log->dir);
	free(log);
}

/* ------------------------------------------------------------ writing */

ChangeLogStatus
changelog_flush(ChangeLog *log)
{
	if (changelog_refuse_follower(log))
		return CHANGELOG_BAD_ORDER;
	if (log->wlen == 0)
		return CHANGELOG_OK;
	if (!changelog_write_all(log->fd, log->wbuf, log->wlen))
	{
		changelog_set_error(log, "could not write change log: %s", strerror(errno));
		return CHANGELOG_ERROR;
	}
	log->segs[log->nsegs - 1].size += log->wlen;
	log->wlen = 0;
	publish_end(log);
	return CHANGELOG_OK;
}

ChangeLogStatus
changelog_sync(ChangeLog *log)
{
	ChangeLogStatus st = changelog_flush(log);

	if (st != CHANGELOG_OK)
		return st;
	/* unit files and their names first: the segment names them */
	if (!changelog_units_sync(log))
		return CHANGELOG_ERROR;
	if (log->dir_dirty)
	{
		if (!changelog_sync_dir(log))
		{
			changelog_set_error(log, "could not fsync \"%s\": %s", log->dir, strerror(errno));
			return CHANGELOG_ERROR;
		}
		log->dir_dirty = false;
	}
	if (!log->opts.no_sync && fdatasync(log->fd) != 0)
	{
		changelog_set_error(log, "could not fsync change log: %s", strerror(errno));
		return CHANGELOG_ERROR;
	}
	log->durable_key = log->last_key;
	return CHANGELOG_OK;
}

/* Start a new segment before a unit when the current one is full. */
static ChangeLogStatus
maybe_rotate(ChangeLog *log)
{
	Segment    *cur = &log->segs[log->nsegs - 1];

	if (cur->size + log->wlen < log->opts.segment_size ||
		cur->size + log->wlen == CHANGELOG_SEGMENT_HEADER_SIZE)
		return CHANGELOG_OK;
	if (changelog_sync(log) != CHANGELOG_OK)
		return CHANGELOG_ERROR;
	close(log->fd);
	log->fd = -1;
	return create_segment(log, cur->seqno + 1, log->last_key);
}

ChangeLogStatus
changelog_append(ChangeLog *log, uint64_t key, uint32_t relid, uint8_t kind,
			uint8_t flags, const void *data, uint32_t len)
{
	unsigned char hdr[CHANGELOG_RECORD_HEADER_SIZE] = {0};
	bool		direct = sizeof(hdr) + len > log->opts.write_buffer_size;

	if (changelog_refuse_follower(log))
		return CHANGELOG_BAD_ORDER;
	if (flags & CHANGELOG_FIRST_OF_UNIT)
	{
		if (log->in_unit || key <= log->last_key)
		{
			changelog_set_error(log, "unit key %" PRIu64 " not after %" PRIu64 " or unit open",
					  key, log->last_key);
			return CHANGELOG_BAD_ORDER;
		}
		if (maybe_rotate(log) != CHANGELOG_OK)
			return CHANGELOG_ERROR;
		log->in_unit = true;
		log->unit_key = key;
		log->unit_start = log->segs[log->nsegs - 1].size + log->wlen;
	}
	else if (!log->in_unit || key != log->unit_key)
	{
		changelog_set_error(log, "record outside its unit (key %" PRIu64 ")", key);
		return CHANGELOG_BAD_ORDER;
	}
	if (len > CHANGELOG_MAX_RECORD_SIZE)
	{
		changelog_set_error(log, "record of %u bytes is too large", len);
		return CHANGELOG_BAD_ORDER;
	}

	put_u32(hdr, len);
	put_u64(hdr + 8, key);
	put_u32(hdr + 16, relid);
	hdr[20] = kind;
	hdr[21] = flags;
	put_u32(hdr + 4, changelog_record_crc(hdr, data, len));

	if (log->wlen + sizeof(hdr) + len > log->opts.write_buffer_size)
	{
		if (changelog_flush(log) != CHANGELOG_OK)
			return CHANGELOG_ERROR;
	}
	if (direct)
	{
		/* too big to buffer: write it through */
		if (!changelog_write_all(log->fd, hdr, sizeof(hdr)) ||
			!changelog_write_all(log->fd, data, len))
		{
			changelog_set_error(log, "could not write change log: %s", strerror(errno));
			return CHANGELOG_ERROR;
		}
		log->segs[log->nsegs - 1].size += sizeof(hdr) + len;
	}
	else
	{
		memcpy(log->wbuf + log->wlen, hdr, sizeof(hdr));
		memcpy(log->wbuf + log->wlen + sizeof(hdr), data, len);
		log->wlen += sizeof(hdr) + len;
	}
	if (flags & CHANGELOG_LAST_OF_UNIT)
	{
		log->in_unit = false;
		log->last_key = key;
	}
	if (direct)
		publish_end(log);
	return CHANGELOG_OK;
}

uint64_t
changelog_last_key(const ChangeLog *log)
{
	return log->last_key;
}

uint64_t
changelog_durable_key(const ChangeLog *log)
{
	return log->durable_key;
}

uint64_t
changelog_oldest_resume_key(const ChangeLog *log)
{
	return log->segs[0].prev_key;
}

uint64_t
changelog_current_segment(const ChangeLog *log)
{
	return log->segs[log->nsegs - 1].seqno;
}

uint64_t
changelog_total_bytes(const ChangeLog *log)
{
	uint64_t	total = log->wlen + log->unit_bytes;
	int			i;

	for (i = 0; i < log->nsegs; i++)
		total += log->segs[i].size;
	return total;
}

int
changelog_retain(ChangeLog *log, uint64_t max_bytes, int64_t max_age_secs,
			time_t now)
{
	int			removed = 0;

	if (changelog_refuse_follower(log))
		return 0;
	while (log->nsegs > 1)
	{
		bool		too_big = max_bytes > 0 && changelog_total_bytes(log) > max_bytes;

		/* segment 0's data is older than segment 1's creation */
		bool		too_old = max_age_secs > 0 &&
			log->segs[1].created < (int64_t) now - max_age_secs;
		char		path[4096];

		if (!too_big && !too_old)
			break;
		changelog_segment_path(log, log->segs[0].seqno, path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT)
		{
			changelog_set_error(log, "could not remove \"%s\": %s", path, strerror(errno));
			break;
		}
		changelog_forget_segments(log, 1);
		log->dir_dirty = true;
		removed++;
		/* and the unit files it named */
		if (!changelog_units_cleanup(log, true))
			break;
	}
	return removed;
}
