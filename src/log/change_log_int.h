/*-------------------------------------------------------------------------
 *
 * change_log_int.h
 *	  Internals shared by change_log.c (writing, recovery, retention),
 *	  change_log_reader.c (reading), change_log_spool.c (out-of-line units)
 *	  and change_log_follow.c (followers).  Not for other modules: use
 *	  change_log.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_CHANGE_LOG_INT_H
#define PGSYNC_CHANGE_LOG_INT_H

#include <string.h>

#include "log/change_log.h"

typedef struct Segment
{
	uint64_t	seqno;
	uint64_t	prev_key;		/* key of the last unit before this segment */
	int64_t		created;		/* unix time */
	uint64_t	size;			/* bytes written to the file so far (a
								 * follower: up to its end) */
} Segment;

struct ChangeLog
{
	char	   *dir;
	bool		follower;		/* read-only view of another process's log */
	ChangeLogOptions opts;
	Segment    *segs;			/* by seqno; the last one is written to */
	int			nsegs;
	int			segcap;
	int			fd;				/* the last segment, open for writing */
	char	   *wbuf;
	size_t		wlen;
	bool		in_unit;
	uint64_t	unit_key;		/* key of the unit being appended */
	uint64_t	unit_start;		/* where it starts in the last segment */
	ChangeLogEnd visible;		/* what followers may read (oldest_seqno
								 * unused: segs[0]) */
	uint64_t	last_key;		/* last complete unit appended */
	uint64_t	durable_key;	/* last complete unit fsynced */
	bool		dir_dirty;		/* a segment was created or removed */
	int		   *unsynced_units; /* fds of unit files not fsynced yet */
	int			nunsynced_units;
	int			unsynced_cap;
	uint64_t	unit_bytes;		/* bytes in unit files */
	char		err[512];
};

/*
 * A reader reads ahead this much of a segment or unit file at a time: a
 * record per pread() cost a catch-up of 200,000 rows most of the worker's
 * time in the kernel.  Allocated while a reader reads, freed with it.
 */
#define CHANGELOG_READ_AHEAD (64 * 1024)

struct ChangeLogReader
{
	ChangeLog  *log;
	uint64_t	after_key;
	uint64_t	seqno;			/* segment being read */
	int			fd;
	uint64_t	offset;
	char	   *buf;
	size_t		bufcap;
	/* read-ahead: bytes [win_off, win_off + win_len) of win_fd */
	char	   *win;			/* CHANGELOG_READ_AHEAD bytes, or NULL */
	int			win_fd;			/* -1: nothing held */
	uint64_t	win_off;
	size_t		win_len;
	uint64_t	position;
	/* inside an out-of-line unit: its file, read up to unit_size */
	int			unit_fd;
	uint64_t	unit_key;
	uint64_t	unit_offset;
	uint64_t	unit_size;
};

/* The payload of a CHANGELOG_KIND_SPOOLED record: the unit file's extent. */
#define CHANGELOG_SPOOLED_PAYLOAD_SIZE 16

static inline void
put_u32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void
put_u64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static inline uint32_t
get_u32(const unsigned char *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t
get_u64(const unsigned char *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
	return v;
}

extern void changelog_set_error(ChangeLog *log, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern bool changelog_write_all(int fd, const void *data, size_t len);
extern bool changelog_sync_dir(ChangeLog *log);
extern void changelog_segment_path(const ChangeLog *log, uint64_t seqno, char *path,
						 size_t len);
extern bool changelog_pread_all(int fd, void *data, size_t len, uint64_t offset);
extern Segment *changelog_find_segment(const ChangeLog *log, uint64_t seqno);
extern ChangeLogStatus changelog_read_segment_header(ChangeLog *log, uint64_t seqno,
													 Segment *seg);
extern bool changelog_add_segment(ChangeLog *log, Segment seg);
extern void changelog_forget_segments(ChangeLog *log, int n);
extern bool changelog_parse_record_header(const unsigned char *buf, ChangeLogRecord *rec,
								uint32_t *crc);
extern uint32_t changelog_record_crc(const unsigned char *hdr, const void *payload,
						   uint32_t len);

/* change_log_spool.c: unit files */
extern void changelog_unit_path(const ChangeLog *log, uint64_t key, char *path,
					  size_t len);
extern bool changelog_parse_spooled(const ChangeLogRecord *rec, const void *payload,
						  uint64_t *records, uint64_t *bytes);
extern bool changelog_unit_intact(const ChangeLog *log, uint64_t key,
						uint64_t records, uint64_t bytes);
extern bool changelog_units_cleanup(ChangeLog *log, bool keep_after_last);
extern bool changelog_units_sync(ChangeLog *log);

/* change_log_follow.c: true, with the error set, if log is a follower */
extern bool changelog_refuse_follower(ChangeLog *log);

#endif							/* PGSYNC_CHANGE_LOG_INT_H */
