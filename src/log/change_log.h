/*-------------------------------------------------------------------------
 *
 * change_log.h
 *	  Durable, segmented log of decoded messages, for gapless delivery.
 *
 * The worker appends every message it decodes; clients read the log from
 * any position still retained.  Pure C (POSIX files, no postgres.h), so it
 * can be unit-tested and fuzzed alone.
 *
 * Units.  Messages come in units: a transaction (begin .. commit) or one
 * non-transactional logical message.  Each unit has a key: the end LSN of
 * its commit record, or the end LSN of the message record.  Keys strictly
 * increase along the log.  "Resume after L" means: every unit whose key is
 * greater than L.  A unit never spans two segments, and recovery after a
 * crash truncates an incomplete unit at the tail, so a unit is in the log
 * whole or not at all.
 *
 * Files.  dir/NNNNNNNNNNNNNNNN.seg (hex sequence number), each starting with
 * a header that records the key of the last unit before it (prev_key) and
 * its creation time.  Records: a 24-byte header (length, CRC-32C, key,
 * relation oid, kind, flags) and the message bytes.
 *
 * Out-of-line units.  A large transaction is decoded while it is still
 * being written (streaming of in-progress transactions) and staged in a
 * spool file (changelog_spool_*), in the log's record format, one per
 * transaction.  A subtransaction's abort truncates the spool back to a
 * mark; the transaction's abort discards it.  At commit the spool becomes
 * part of a unit without being copied: changelog_append_spool() renames it
 * to dir/KKKKKKKKKKKKKKKK.unit (the unit's key in hex) and appends one
 * record of kind CHANGELOG_KIND_SPOOLED naming it; readers return the
 * unit file's records in its place, with the unit's key.  The unit file
 * is made durable (and the directory) before the segment at the next
 * changelog_sync(); recovery drops a unit whose file is missing or torn,
 * and every spool or unit file no retained unit refers to.  Retention
 * removes a unit file with the segment that names it.
 *
 * Durability.  changelog_sync() makes every appended record durable (write +
 * fdatasync, and the directory after a new segment).  The worker confirms
 * the replication slot only up to changelog_durable_key(): after a crash,
 * decoding restarts at or before that point, and units already in the log
 * (key <= changelog_last_key()) are skipped by the caller, so nothing is lost or
 * doubled.
 *
 * Followers.  Other processes read the log through a follower: a read-only
 * ChangeLog over the same directory (changelog_follow_open), which reads
 * up to an end the writer publishes (changelog_visible_end, handed over by
 * the caller, e.g. in shared memory) and moves on when given a newer one
 * (changelog_follow_update).  The writer's visible end is the end of the
 * last complete unit whose bytes, and unit file, are all written to the
 * files: what is still in the write buffer, and a unit still open (even
 * if some of its records were written through), is not visible.  A
 * follower does no recovery and never writes; its readers work as in the
 * writer (a segment retention removed is read through the open file) and
 * read only up to the end adopted.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_CHANGE_LOG_H
#define PGSYNC_CHANGE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Record flags */
#define CHANGELOG_FIRST_OF_UNIT	0x01
#define CHANGELOG_LAST_OF_UNIT	0x02
/* Set by readers (never stored) on the records of an out-of-line unit. */
#define CHANGELOG_OUT_OF_LINE	0x04

/* The kind of the record that stands for an out-of-line unit's records. */
#define CHANGELOG_KIND_SPOOLED	'X'

#define CHANGELOG_RECORD_HEADER_SIZE 24
#define CHANGELOG_SEGMENT_HEADER_SIZE 32

/* Largest message accepted (PostgreSQL values are at most 1 GB each). */
#define CHANGELOG_MAX_RECORD_SIZE ((uint32_t) 0x7FFFFFFF)

typedef enum ChangeLogStatus
{
	CHANGELOG_OK = 0,
	CHANGELOG_END = 1,				/* reader: nothing more for now */
	CHANGELOG_ERROR = -1,			/* I/O or corruption: see error text */
	CHANGELOG_TOO_OLD = -2,			/* resume point no longer retained */
	CHANGELOG_BAD_ORDER = -3			/* key not increasing, unit not open, ... */
} ChangeLogStatus;

typedef struct ChangeLogOptions
{
	size_t		segment_size;	/* start a new segment past this size */
	size_t		write_buffer_size;	/* bytes buffered before write() */
	bool		no_sync;		/* skip fsync (tests, benchmarks) */
	uint64_t	initial_key;	/* new log: everything after this is in it */
} ChangeLogOptions;

typedef struct ChangeLogRecord
{
	uint64_t	key;			/* the unit's key */
	uint32_t	relid;			/* relation oid, 0 if none */
	uint8_t		kind;			/* message kind: 'B', 'I', 'C', 'M', ... */
	uint8_t		flags;			/* CHANGELOG_FIRST_OF_UNIT, CHANGELOG_LAST_OF_UNIT */
	uint32_t	len;
	const char *data;			/* valid until the next changelog_read() */
	bool		before_resume;	/* a relation message of a unit not after
								 * the resume point (see changelog_read) */
} ChangeLogRecord;

typedef struct ChangeLog ChangeLog;
typedef struct ChangeLogReader ChangeLogReader;
typedef struct ChangeLogSpool ChangeLogSpool;

/* What another process may read: every complete unit written to the files. */
typedef struct ChangeLogEnd
{
	uint64_t	oldest_seqno;	/* oldest segment retained */
	uint64_t	seqno;			/* segment holding the end */
	uint64_t	offset;			/* end of the last complete unit written, in
								 * that segment */
	uint64_t	last_key;		/* key of that unit (0 if none) */
} ChangeLogEnd;

/* A point in a spool, to truncate back to (a subtransaction's start). */
typedef struct ChangeLogSpoolMark
{
	uint64_t	bytes;
	uint64_t	records;
} ChangeLogSpoolMark;

/*
 * Open (creating if needed) the log in dir.  Recovers from a crash:
 * verifies the tail segment's records and truncates it after the last
 * complete unit.  Returns NULL with a message in err on failure.
 */
extern ChangeLog *changelog_open(const char *dir, const ChangeLogOptions *opts,
							char *err, size_t errlen);
extern void changelog_close(ChangeLog *log);

/*
 * The end followers may read up to (see "Followers").  On a follower: the
 * end it adopted (oldest_seqno: the oldest segment it knows).
 */
extern void changelog_visible_end(const ChangeLog *log, ChangeLogEnd *end);

/*
 * A read-only view of a log another process writes, up to *end.  No
 * recovery, no writes: changelog_append, _flush, _sync, _retain,
 * _spool_create and _append_spool return CHANGELOG_BAD_ORDER (or NULL, 0)
 * with an error.  changelog_last_key() is end->last_key,
 * changelog_durable_key() 0 (unknown), changelog_total_bytes() counts the
 * segments only.  Segments the writer removed since it published end are
 * skipped.  Returns NULL with a message in err on failure.
 */
extern ChangeLog *changelog_follow_open(const char *dir, const ChangeLogEnd *end,
										char *err, size_t errlen);

/*
 * Adopt a newer end published by the writer: learn the new segments (their
 * headers), forget those below end->oldest_seqno (or removed since), read
 * the tail up to end->offset; segments before the tail are complete.
 * Readers open on the follower continue.  CHANGELOG_BAD_ORDER if end is
 * behind the one adopted (or not a follower), CHANGELOG_ERROR if a segment
 * cannot be read.
 */
extern ChangeLogStatus changelog_follow_update(ChangeLog *log, const ChangeLogEnd *end);

/*
 * Append one message.  The first record of a unit has CHANGELOG_FIRST_OF_UNIT,
 * the last CHANGELOG_LAST_OF_UNIT (both for a one-record unit).  All records of a
 * unit carry the same key, greater than the previous unit's.
 */
extern ChangeLogStatus changelog_append(ChangeLog *log, uint64_t key, uint32_t relid,
							  uint8_t kind, uint8_t flags,
							  const void *data, uint32_t len);

/*
 * Spools (see "Out-of-line units").  changelog_spool_create() starts an
 * empty spool for transaction xid (replacing any left over); NULL on error
 * (changelog_error()).  Records appended are buffered and written out in
 * the background (no fsync).  changelog_spool_discard() removes it (an
 * abort); changelog_append_spool() makes it part of the unit being
 * appended (key, opened by a record with CHANGELOG_FIRST_OF_UNIT), at this
 * point of it, and frees the spool whatever the result.
 */
extern ChangeLogSpool *changelog_spool_create(ChangeLog *log, uint32_t xid);
extern ChangeLogStatus changelog_spool_append(ChangeLogSpool *spool,
											  uint32_t relid, uint8_t kind,
											  const void *data, uint32_t len);
extern ChangeLogSpoolMark changelog_spool_mark(const ChangeLogSpool *spool);
extern ChangeLogStatus changelog_spool_truncate(ChangeLogSpool *spool,
												ChangeLogSpoolMark mark);
extern void changelog_spool_discard(ChangeLogSpool *spool);
extern ChangeLogStatus changelog_append_spool(ChangeLog *log, uint64_t key,
											  ChangeLogSpool *spool);

/* Write buffered records to the file (readers see them; no fsync). */
extern ChangeLogStatus changelog_flush(ChangeLog *log);

/* Write buffered records and fdatasync; afterwards they survive a crash. */
extern ChangeLogStatus changelog_sync(ChangeLog *log);

/* Key of the last complete unit appended (0 if none). */
extern uint64_t changelog_last_key(const ChangeLog *log);

/* Key of the last complete unit made durable by changelog_sync(). */
extern uint64_t changelog_durable_key(const ChangeLog *log);

/* Oldest resume point still served: resuming after L works iff L >= this. */
extern uint64_t changelog_oldest_resume_key(const ChangeLog *log);

/* Sequence number of the segment being written (changes on rotation). */
extern uint64_t changelog_current_segment(const ChangeLog *log);

/* Total bytes in segment and unit files. */
extern uint64_t changelog_total_bytes(const ChangeLog *log);

/*
 * Remove the oldest segments while the log is over max_bytes, or while the
 * data in them is older than max_age_secs (0 = no limit).  The newest
 * segment is never removed.  Returns the number of segments removed.
 */
extern int	changelog_retain(ChangeLog *log, uint64_t max_bytes,
						int64_t max_age_secs, time_t now);

/*
 * Read units with key > after_key.  Returns NULL and sets *status to
 * CHANGELOG_TOO_OLD if after_key is older than the retained log.
 */
extern ChangeLogReader *changelog_reader_open(ChangeLog *log, uint64_t after_key,
									ChangeLogStatus *status);
extern void changelog_reader_close(ChangeLogReader *reader);

/*
 * Next record, or CHANGELOG_END when the reader has reached what has been
 * written so far (call again later), CHANGELOG_TOO_OLD when retention removed
 * the segment the reader needed next.  Records of units not after the
 * resume point are skipped, except relation messages (kind 'R'), returned
 * with before_resume set: a consumer needs the relation descriptions in
 * effect at the resume point.  (The writer puts the description of every
 * known relation at the start of each segment, so reading from the start
 * of the resume point's segment finds them all.)
 */
extern ChangeLogStatus changelog_read(ChangeLogReader *reader, ChangeLogRecord *rec);

/* Key of the last complete unit the reader returned. */
extern uint64_t changelog_reader_position(const ChangeLogReader *reader);

/*
 * Where the reader is, as an end a follower can adopt (e.g. one that
 * serves only what this reader has passed on): meaningful between units,
 * after a record with CHANGELOG_LAST_OF_UNIT or at CHANGELOG_END on a
 * follower; last_key is changelog_reader_position().
 */
extern void changelog_reader_end(const ChangeLogReader *reader, ChangeLogEnd *end);

/* The last error message of the log. */
extern const char *changelog_error(const ChangeLog *log);

/* CRC-32C of a buffer (exposed for tests). */
extern uint32_t changelog_crc32c(uint32_t crc, const void *data, size_t len);

#endif							/* PGSYNC_CHANGE_LOG_H */
