/*-------------------------------------------------------------------------
 *
 * change_log_spool.c
 *	  Spools of transactions in progress and the out-of-line units they
 *	  become at commit (see change_log.h, "Out-of-line units").
 *
 * A spool is dir/XXXXXXXX.spool (the transaction's xid in hex): records
 * in the segment format, each with key 0 (the commit LSN is not known
 * yet; readers give them the unit's key).  Appends are buffered; each
 * buffer written out is handed to the kernel's writeback at once
 * (sync_file_range on Linux), so that the fsync at the next
 * changelog_sync() after the commit finds little left to write.
 *
 * At commit the spool is renamed dir/KKKKKKKKKKKKKKKK.unit and a record of
 * kind CHANGELOG_KIND_SPOOLED, whose payload is the number of records and
 * bytes of the file, goes into the unit in the segment.  The commit costs
 * a rename whatever the transaction's size.
 *
 * Durability: the unit file is fsynced, then the directory, then the
 * segment (changelog_sync()).  Recovery checks every out-of-line unit of
 * the tail segment (changelog_unit_intact(): size and every record's CRC)
 * and truncates the log before the first one that did not survive;
 * changelog_units_cleanup() then removes spools (their transactions are
 * decoded again from the slot) and unit files no retained unit names.
 *
 *-------------------------------------------------------------------------
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* sync_file_range */
#endif
#include "log/change_log_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_SUFFIX ".spool"
#define UNIT_SUFFIX ".unit"
#define SPOOL_BUFFER_SIZE (256 * 1024)

struct ChangeLogSpool
{
	ChangeLog  *log;
	char		path[4096];
	int			fd;
	uint64_t	file_size;		/* bytes written to the file */
	uint64_t	records;		/* records appended (written or buffered) */
	char	   *buf;
	size_t		blen;
};

void
changelog_unit_path(const ChangeLog *log, uint64_t key, char *path, size_t len)
{
	snprintf(path, len, "%s/%016" PRIX64 UNIT_SUFFIX, log->dir, key);
}

bool
changelog_parse_spooled(const ChangeLogRecord *rec, const void *payload,
						uint64_t *records, uint64_t *bytes)
{
	if (rec->len != CHANGELOG_SPOOLED_PAYLOAD_SIZE)
		return false;
	*records = get_u64(payload);
	*bytes = get_u64((const unsigned char *) payload + 8);
	return true;
}

/* ------------------------------------------------------------- spools */

ChangeLogSpool *
changelog_spool_create(ChangeLog *log, uint32_t xid)
{
	ChangeLogSpool *s;

	if (changelog_refuse_follower(log))
		return NULL;
	s = calloc(1, sizeof(ChangeLogSpool));
	if (s == NULL || (s->buf = malloc(SPOOL_BUFFER_SIZE)) == NULL)
	{
		free(s);
		changelog_set_error(log, "out of memory");
		return NULL;
	}
	s->log = log;
	snprintf(s->path, sizeof(s->path), "%s/%08X" SPOOL_SUFFIX, log->dir, xid);
	s->fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (s->fd < 0)
	{
		changelog_set_error(log, "could not create \"%s\": %s", s->path,
							strerror(errno));
		free(s->buf);
		free(s);
		return NULL;
	}
	return s;
}

static ChangeLogStatus
spool_write(ChangeLogSpool *s, const void *data, size_t len)
{
	const char *p = data;
	uint64_t	start = s->file_size;

	while (len > 0)
	{
		ssize_t		n = pwrite(s->fd, p, len, (off_t) s->file_size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			changelog_set_error(s->log, "could not write \"%s\": %s", s->path,
								strerror(errno));
			return CHANGELOG_ERROR;
		}
		p += n;
		len -= (size_t) n;
		s->file_size += (uint64_t) n;
	}
#ifdef SYNC_FILE_RANGE_WRITE
	/* start the writeback now; the fsync after the commit waits for less */
	if (!s->log->opts.no_sync)
		(void) sync_file_range(s->fd, (off_t) start, (off_t) (s->file_size - start),
							   SYNC_FILE_RANGE_WRITE);
#else
	(void) start;
#endif
	return CHANGELOG_OK;
}

static ChangeLogStatus
spool_flush(ChangeLogSpool *s)
{
	ChangeLogStatus st = CHANGELOG_OK;

	if (s->blen > 0)
		st = spool_write(s, s->buf, s->blen);
	s->blen = 0;
	return st;
}

ChangeLogStatus
changelog_spool_append(ChangeLogSpool *s, uint32_t relid, uint8_t kind,
					   const void *data, uint32_t len)
{
	unsigned char hdr[CHANGELOG_RECORD_HEADER_SIZE] = {0};

	if (len > CHANGELOG_MAX_RECORD_SIZE)
	{
		changelog_set_error(s->log, "record of %u bytes is too large", len);
		return CHANGELOG_BAD_ORDER;
	}
	put_u32(hdr, len);
	put_u32(hdr + 16, relid);
	hdr[20] = kind;
	put_u32(hdr + 4, changelog_record_crc(hdr, data, len));
	if (s->blen + sizeof(hdr) + len > SPOOL_BUFFER_SIZE &&
		spool_flush(s) != CHANGELOG_OK)
		return CHANGELOG_ERROR;
	if (sizeof(hdr) + len > SPOOL_BUFFER_SIZE)
	{
		if (spool_write(s, hdr, sizeof(hdr)) != CHANGELOG_OK ||
			spool_write(s, data, len) != CHANGELOG_OK)
			return CHANGELOG_ERROR;
	}
	else
	{
		memcpy(s->buf + s->blen, hdr, sizeof(hdr));
		memcpy(s->buf + s->blen + sizeof(hdr), data, len);
		s->blen += sizeof(hdr) + len;
	}
	s->records++;
	return CHANGELOG_OK;
}

ChangeLogSpoolMark
changelog_spool_mark(const ChangeLogSpool *s)
{
	ChangeLogSpoolMark m;

	m.bytes = s->file_size + s->blen;
	m.records = s->records;
	return m;
}

ChangeLogStatus
changelog_spool_truncate(ChangeLogSpool *s, ChangeLogSpoolMark mark)
{
	ChangeLogSpoolMark now = changelog_spool_mark(s);

	if (mark.bytes > now.bytes || mark.records > now.records)
	{
		changelog_set_error(s->log, "spool mark beyond the spool's end");
		return CHANGELOG_BAD_ORDER;
	}
	if (mark.bytes >= s->file_size)
		s->blen = (size_t) (mark.bytes - s->file_size);
	else
	{
		if (ftruncate(s->fd, (off_t) mark.bytes) != 0)
		{
			changelog_set_error(s->log, "could not truncate \"%s\": %s", s->path,
								strerror(errno));
			return CHANGELOG_ERROR;
		}
		s->file_size = mark.bytes;
		s->blen = 0;
	}
	s->records = mark.records;
	return CHANGELOG_OK;
}

static void
spool_free(ChangeLogSpool *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s);
}

void
changelog_spool_discard(ChangeLogSpool *s)
{
	if (s == NULL)
		return;
	unlink(s->path);
	spool_free(s);
}

/* Keep fd to fsync the unit file at the next changelog_sync(). */
static bool
add_unsynced(ChangeLog *log, int fd)
{
	if (log->nunsynced_units == log->unsynced_cap)
	{
		int			cap = log->unsynced_cap ? log->unsynced_cap * 2 : 8;
		int		   *n = realloc(log->unsynced_units, sizeof(int) * cap);

		if (n == NULL)
			return false;
		log->unsynced_units = n;
		log->unsynced_cap = cap;
	}
	log->unsynced_units[log->nunsynced_units++] = fd;
	return true;
}

ChangeLogStatus
changelog_append_spool(ChangeLog *log, uint64_t key, ChangeLogSpool *s)
{
	unsigned char payload[CHANGELOG_SPOOLED_PAYLOAD_SIZE];
	char		path[4096];
	ChangeLogStatus st;

	if (changelog_refuse_follower(log))
	{
		changelog_spool_discard(s);
		return CHANGELOG_BAD_ORDER;
	}
	if (!log->in_unit || key != log->unit_key)
	{
		changelog_set_error(log, "spool outside its unit (key %" PRIu64 ")", key);
		changelog_spool_discard(s);
		return CHANGELOG_BAD_ORDER;
	}
	if (s->records == 0)
	{
		/* every change was rolled back to a savepoint */
		changelog_spool_discard(s);
		return CHANGELOG_OK;
	}
	if (spool_flush(s) != CHANGELOG_OK)
	{
		changelog_spool_discard(s);
		return CHANGELOG_ERROR;
	}
	changelog_unit_path(log, key, path, sizeof(path));
	if (rename(s->path, path) != 0)
	{
		changelog_set_error(log, "could not rename \"%s\" to \"%s\": %s",
							s->path, path, strerror(errno));
		changelog_spool_discard(s);
		return CHANGELOG_ERROR;
	}
	if (!add_unsynced(log, s->fd))
	{
		changelog_set_error(log, "out of memory");
		unlink(path);
		spool_free(s);
		return CHANGELOG_ERROR;
	}
	s->fd = -1;					/* closed once fsynced */
	log->dir_dirty = true;
	log->unit_bytes += s->file_size;
	put_u64(payload, s->records);
	put_u64(payload + 8, s->file_size);
	spool_free(s);
	st = changelog_append(log, key, 0, CHANGELOG_KIND_SPOOLED, 0, payload,
						  sizeof(payload));
	return st;
}

/* ------------------------------------------------------ unit files */

bool
changelog_units_sync(ChangeLog *log)
{
	while (log->nunsynced_units > 0)
	{
		int			fd = log->unsynced_units[log->nunsynced_units - 1];

		if (!log->opts.no_sync && fdatasync(fd) != 0)
		{
			changelog_set_error(log, "could not fsync a unit file of the change log: %s",
								strerror(errno));
			return false;
		}
		close(fd);
		log->nunsynced_units--;
	}
	return true;
}

/* Is the unit file of key whole: bytes long, records records, CRCs right? */
bool
changelog_unit_intact(const ChangeLog *log, uint64_t key, uint64_t records,
					  uint64_t bytes)
{
	char		path[4096];
	struct stat st;
	uint64_t	off = 0;
	uint64_t	n = 0;
	char	   *payload = NULL;
	size_t		cap = 0;
	bool		ok;
	int			fd;

	changelog_unit_path(log, key, path, sizeof(path));
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && (uint64_t) st.st_size == bytes;
	while (ok && off < bytes)
	{
		unsigned char hdr[CHANGELOG_RECORD_HEADER_SIZE];
		ChangeLogRecord rec;
		uint32_t	crc;

		ok = off + sizeof(hdr) <= bytes &&
			changelog_pread_all(fd, hdr, sizeof(hdr), off) &&
			changelog_parse_record_header(hdr, &rec, &crc) &&
			off + sizeof(hdr) + rec.len <= bytes;
		if (ok && rec.len > cap)
		{
			char	   *p = realloc(payload, rec.len);

			ok = p != NULL;
			if (ok)
			{
				payload = p;
				cap = rec.len;
			}
		}
		ok = ok && changelog_pread_all(fd, payload, rec.len, off + sizeof(hdr)) &&
			changelog_record_crc(hdr, payload, rec.len) == crc;
		off += sizeof(hdr) + rec.len;
		n++;
	}
	free(payload);
	close(fd);
	return ok && n == records;
}

/*
 * Remove spools and the unit files no retained unit names: those of
 * removed segments (key <= the oldest resume point) and, unless
 * keep_after_last, those after the last unit (a crash between the rename
 * and the unit's record).  Recounts unit_bytes.
 */
bool
changelog_units_cleanup(ChangeLog *log, bool keep_after_last)
{
	DIR		   *d = opendir(log->dir);
	struct dirent *de;
	uint64_t	oldest = changelog_oldest_resume_key(log);
	uint64_t	total = 0;
	bool		ok = true;

	if (d == NULL)
	{
		changelog_set_error(log, "could not open directory \"%s\": %s", log->dir,
							strerror(errno));
		return false;
	}
	while ((de = readdir(d)) != NULL)
	{
		size_t		n = strlen(de->d_name);
		char		path[4096];
		bool		spool = n == 8 + strlen(SPOOL_SUFFIX) &&
			strcmp(de->d_name + 8, SPOOL_SUFFIX) == 0;
		bool		unit = n == 16 + strlen(UNIT_SUFFIX) &&
			strcmp(de->d_name + 16, UNIT_SUFFIX) == 0;
		uint64_t	key;
		struct stat st;

		if (!spool && !unit)
			continue;
		snprintf(path, sizeof(path), "%s/%s", log->dir, de->d_name);
		key = unit ? strtoull(de->d_name, NULL, 16) : 0;
		if (unit && key > oldest && (keep_after_last || key <= log->last_key))
		{
			if (stat(path, &st) == 0)
				total += (uint64_t) st.st_size;
			continue;
		}
		/* a spool may be in use only if its transaction is: not at open */
		if (spool && keep_after_last)
			continue;
		if (unlink(path) != 0 && errno != ENOENT)
		{
			changelog_set_error(log, "could not remove \"%s\": %s", path,
								strerror(errno));
			ok = false;
		}
		log->dir_dirty = true;
	}
	closedir(d);
	log->unit_bytes = total;
	return ok;
}
