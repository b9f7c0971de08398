/*-------------------------------------------------------------------------
 *
 * change_log_int.h
 *	  Internals shared by change_log.c (writing, recovery, retention) and
 *	  change_log_reader.c (reading).  Not for other modules: use
 *	  change_log.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_CHANGE_LOG_INT_H
#define PGSYNC_CHANGE_LOG_INT_H

#include "log/change_log.h"

typedef struct Segment
{
	uint64_t	seqno;
	uint64_t	prev_key;		/* key of the last unit before this segment */
	int64_t		created;		/* unix time */
	uint64_t	size;			/* bytes written to the file so far */
} Segment;

struct ChangeLog
{
	char	   *dir;
	ChangeLogOptions opts;
	Segment    *segs;			/* by seqno; the last one is written to */
	int			nsegs;
	int			segcap;
	int			fd;				/* the last segment, open for writing */
	char	   *wbuf;
	size_t		wlen;
	bool		in_unit;
	uint64_t	unit_key;		/* key of the unit being appended */
	uint64_t	last_key;		/* last complete unit appended */
	uint64_t	durable_key;	/* last complete unit fsynced */
	bool		dir_dirty;		/* a segment was created or removed */
	char		err[512];
};

struct ChangeLogReader
{
	ChangeLog  *log;
	uint64_t	after_key;
	uint64_t	seqno;			/* segment being read */
	int			fd;
	uint64_t	offset;
	char	   *buf;
	size_t		bufcap;
	uint64_t	position;
};

extern void changelog_segment_path(const ChangeLog *log, uint64_t seqno, char *path,
						 size_t len);
extern bool changelog_pread_all(int fd, void *data, size_t len, uint64_t offset);
extern Segment *changelog_find_segment(const ChangeLog *log, uint64_t seqno);
extern bool changelog_parse_record_header(const unsigned char *buf, ChangeLogRecord *rec,
								uint32_t *crc);
extern uint32_t changelog_record_crc(const unsigned char *hdr, const void *payload,
						   uint32_t len);

#endif							/* PGSYNC_CHANGE_LOG_INT_H */
