/*-------------------------------------------------------------------------
 *
 * change_log_reader.c
 *	  Reading the change log from a resume point (see change_log.h).
 *
 * A reader follows the segments by sequence number, reading only what the
 * writer has flushed (a follower's reader: up to the end it adopted); a
 * segment retention removed while it was open is
 * still read through its file descriptor, and a missing next segment is
 * CHANGELOG_TOO_OLD.  An out-of-line unit's record is replaced by the
 * records of its unit file, given the unit's key; one not after the resume
 * point is skipped whole (the transaction describes its tables itself,
 * and the next change of each after it comes with its relation message
 * again: docs/PROTOCOL.md, "Streaming").
 *
 *-------------------------------------------------------------------------
 */
#include "log/change_log_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


ChangeLogReader *
changelog_reader_open(ChangeLog *log, uint64_t after_key, ChangeLogStatus *status)
{
	ChangeLogReader *r;
	int			i;

	if (after_key < changelog_oldest_resume_key(log))
	{
		*status = CHANGELOG_TOO_OLD;
		return NULL;
	}
	r = calloc(1, sizeof(ChangeLogReader));
	if (r == NULL)
	{
		*status = CHANGELOG_ERROR;
		return NULL;
	}
	r->log = log;
	r->fd = -1;
	r->unit_fd = -1;
	r->win_fd = -1;
	r->after_key = after_key;
	r->position = after_key;
	/* the last segment whose units all come after... its prev_key <= L */
	r->seqno = log->segs[0].seqno;
	for (i = 0; i < log->nsegs; i++)
		if (log->segs[i].prev_key <= after_key)
			r->seqno = log->segs[i].seqno;
	r->offset = CHANGELOG_SEGMENT_HEADER_SIZE;
	*status = CHANGELOG_OK;
	return r;
}

void
changelog_reader_close(ChangeLogReader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	if (r->unit_fd >= 0)
		close(r->unit_fd);
	free(r->buf);
	free(r->win);
	free(r);
}

uint64_t
changelog_reader_position(const ChangeLogReader *r)
{
	return r->position;
}

void
changelog_reader_end(const ChangeLogReader *r, ChangeLogEnd *end)
{
	end->oldest_seqno = r->log->segs[0].seqno;
	if (end->oldest_seqno > r->seqno)
		end->oldest_seqno = r->seqno;	/* reading a removed segment */
	end->seqno = r->seqno;
	end->offset = r->offset;
	end->last_key = r->position;
}

static ChangeLogStatus
reader_open_segment(ChangeLogReader *r)
{
	char		path[4096];

	if (changelog_find_segment(r->log, r->seqno) == NULL)
		return CHANGELOG_TOO_OLD;
	changelog_segment_path(r->log, r->seqno, path, sizeof(path));
	r->fd = open(path, O_RDONLY);
	if (r->fd < 0)
		return errno == ENOENT ? CHANGELOG_TOO_OLD : CHANGELOG_ERROR;
	return CHANGELOG_OK;
}

/*
 * len bytes of fd at offset from the read-ahead window, refilled there if
 * they are not all in it; NULL if the file holds fewer before limit (or on
 * an error).  The window never holds bytes past limit, the end of the
 * complete units known: before it the files are only ever appended to, so
 * bytes once read stay right; after it a follower's writer may still be
 * writing, or truncate an unfinished unit at a restart.
 */
static const char *
window_bytes(ChangeLogReader *r, int fd, uint64_t offset, size_t len,
			 uint64_t limit)
{
	ssize_t		n;

	if (fd == r->win_fd && offset >= r->win_off &&
		offset + len <= r->win_off + r->win_len)
		return r->win + (offset - r->win_off);
	if (len > CHANGELOG_READ_AHEAD || offset + len > limit)
		return NULL;
	if (r->win == NULL && (r->win = malloc(CHANGELOG_READ_AHEAD)) == NULL)
		return NULL;
	r->win_fd = -1;
	do
		n = pread(fd, r->win, CHANGELOG_READ_AHEAD, (off_t) offset);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return NULL;
	r->win_fd = fd;
	r->win_off = offset;
	r->win_len = (size_t) n < limit - offset ? (size_t) n : (size_t) (limit - offset);
	return len <= (size_t) n ? r->win : NULL;
}

/* Forget the window (fd is closed; its number may be reused). */
static void
window_forget(ChangeLogReader *r)
{
	r->win_fd = -1;
}

/*
 * Read the record at offset of fd, which ends by limit (pointing into the
 * window, or into r->buf if it is larger); false if torn or corrupt.
 */
static bool
read_record(ChangeLogReader *r, int fd, uint64_t offset, uint64_t limit,
			ChangeLogRecord *rec)
{
	const char *p = window_bytes(r, fd, offset, CHANGELOG_RECORD_HEADER_SIZE, limit);
	unsigned char hdr[CHANGELOG_RECORD_HEADER_SIZE];
	uint32_t	crc;

	if (p == NULL)
		return false;
	memcpy(hdr, p, sizeof(hdr));
	if (!changelog_parse_record_header(hdr, rec, &crc) ||
		offset + sizeof(hdr) + rec->len > limit)
		return false;
	if (rec->len <= CHANGELOG_READ_AHEAD - sizeof(hdr))
	{
		p = window_bytes(r, fd, offset, sizeof(hdr) + rec->len, limit);
		if (p == NULL || changelog_record_crc(hdr, p + sizeof(hdr), rec->len) != crc)
			return false;
		rec->data = p + sizeof(hdr);
		return true;
	}
	if (rec->len > r->bufcap)
	{
		char	   *n = realloc(r->buf, rec->len);

		if (n == NULL)
			return false;
		r->buf = n;
		r->bufcap = rec->len;
	}
	if (!changelog_pread_all(fd, r->buf, rec->len, offset + sizeof(hdr)) ||
		changelog_record_crc(hdr, r->buf, rec->len) != crc)
		return false;
	rec->data = r->buf;
	return true;
}

/* Enter the out-of-line unit that rec (kind CHANGELOG_KIND_SPOOLED) names. */
static ChangeLogStatus
enter_unit(ChangeLogReader *r, const ChangeLogRecord *rec)
{
	char		path[4096];
	uint64_t	records;

	if (!changelog_parse_spooled(rec, rec->data, &records, &r->unit_size))
		return CHANGELOG_ERROR;
	changelog_unit_path(r->log, rec->key, path, sizeof(path));
	r->unit_fd = open(path, O_RDONLY);
	if (r->unit_fd < 0)
		return errno == ENOENT ? CHANGELOG_TOO_OLD : CHANGELOG_ERROR;
	r->unit_key = rec->key;
	r->unit_offset = 0;
	return CHANGELOG_OK;
}

/* The next record of the out-of-line unit being read, or END of it. */
static ChangeLogStatus
read_unit(ChangeLogReader *r, ChangeLogRecord *rec)
{
	if (r->unit_offset >= r->unit_size)
	{
		window_forget(r);
		close(r->unit_fd);
		r->unit_fd = -1;
		return CHANGELOG_END;
	}
	if (!read_record(r, r->unit_fd, r->unit_offset, r->unit_size, rec))
		return CHANGELOG_ERROR;
	r->unit_offset += CHANGELOG_RECORD_HEADER_SIZE + rec->len;
	rec->key = r->unit_key;
	rec->flags = CHANGELOG_OUT_OF_LINE;
	rec->before_resume = false;
	return CHANGELOG_OK;
}

ChangeLogStatus
changelog_read(ChangeLogReader *r, ChangeLogRecord *rec)
{
	for (;;)
	{
		unsigned char hdr[CHANGELOG_RECORD_HEADER_SIZE];
		const Segment *seg = changelog_find_segment(r->log, r->seqno);
		uint64_t	size;
		ChangeLogStatus	st;

		if (r->unit_fd >= 0 && (st = read_unit(r, rec)) != CHANGELOG_END)
			return st;
		if (r->fd < 0 && (st = reader_open_segment(r)) != CHANGELOG_OK)
			return st;
		/* a removed segment can still be read through the open file */
		size = seg ? seg->size : UINT64_MAX;
		if (r->offset + CHANGELOG_RECORD_HEADER_SIZE > size ||
			(seg == NULL && !changelog_pread_all(r->fd, hdr, sizeof(hdr), r->offset)))
		{
			if (r->seqno == r->log->segs[r->log->nsegs - 1].seqno)
				return CHANGELOG_END;
			window_forget(r);
			close(r->fd);
			r->fd = -1;
			r->seqno++;
			r->offset = CHANGELOG_SEGMENT_HEADER_SIZE;
			continue;
		}
		if (!read_record(r, r->fd, r->offset, size, rec))
			return CHANGELOG_ERROR;
		r->offset += sizeof(hdr) + rec->len;
		rec->before_resume = rec->key <= r->after_key;
		if (rec->before_resume && rec->kind != 'R')
			continue;
		if (rec->kind == CHANGELOG_KIND_SPOOLED)
		{
			if ((st = enter_unit(r, rec)) != CHANGELOG_OK)
				return st;
			continue;
		}
		if ((rec->flags & CHANGELOG_LAST_OF_UNIT) && !rec->before_resume)
			r->position = rec->key;
		return CHANGELOG_OK;
	}
}
