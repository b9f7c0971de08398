/*-------------------------------------------------------------------------
 *
 * change_log_follow.c
 *	  The end of the log the writer publishes, and followers: read-only
 *	  views of a log another process writes (see change_log.h, "Followers").
 *
 * The writer keeps its visible end up to date as bytes reach the files
 * (publish_end() in change_log.c); changelog_visible_end() hands it out.
 * A follower is a ChangeLog with no write buffer and no file open for
 * writing: its segment list is learnt from the segment headers between
 * the end's oldest segment and its tail, and the tail's size is the end's
 * offset, so that its readers (change_log_reader.c, unchanged) stop at the
 * last complete unit.  Segments before the tail are final: the writer
 * starts a segment only after the last unit of the one before.
 *
 * Nothing here takes a lock: the caller hands over the end (e.g. under a
 * spinlock in shared memory) and calls changelog_follow_update() between
 * reads.  Readers look their segment up by number at every read, so the
 * segment list may be reallocated under them.
 *
 *-------------------------------------------------------------------------
 */
#include "log/change_log_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

bool
changelog_refuse_follower(ChangeLog *log)
{
	if (log->follower)
		changelog_set_error(log, "cannot write a change log opened as a follower");
	return log->follower;
}

void
changelog_visible_end(const ChangeLog *log, ChangeLogEnd *end)
{
	*end = log->visible;
	end->oldest_seqno = log->segs[0].seqno;
}

/* Is end a possible successor of the end the follower adopted? */
static bool
end_valid(ChangeLog *log, const ChangeLogEnd *end)
{
	const ChangeLogEnd *cur = &log->visible;

	if (end->oldest_seqno > end->seqno || end->offset < CHANGELOG_SEGMENT_HEADER_SIZE)
	{
		changelog_set_error(log, "invalid change log end: segments %" PRIu64
							" to %" PRIu64 ", offset %" PRIu64,
							end->oldest_seqno, end->seqno, end->offset);
		return false;
	}
	if (log->nsegs > 0 &&
		(end->seqno < cur->seqno || end->last_key < cur->last_key ||
		 (end->seqno == cur->seqno && end->offset < cur->offset)))
	{
		changelog_set_error(log, "change log end %" PRIu64 "/%" PRIu64
							" is behind the one adopted, %" PRIu64 "/%" PRIu64,
							end->seqno, end->offset, cur->seqno, cur->offset);
		return false;
	}
	return true;
}

/* Forget the segments below seqno. */
static void
forget_below(ChangeLog *log, uint64_t seqno)
{
	int			n = 0;

	while (n < log->nsegs && log->segs[n].seqno < seqno)
		n++;
	changelog_forget_segments(log, n);
}

/*
 * Learn the segments up to end->seqno, and the final size of the former
 * tail.  A segment missing below the tail was removed by retention after
 * end was published: so were all before it.
 */
static ChangeLogStatus
learn_segments(ChangeLog *log, const ChangeLogEnd *end)
{
	uint64_t	seqno = end->oldest_seqno;

	if (log->nsegs > 0 && log->segs[log->nsegs - 1].seqno > seqno)
		seqno = log->segs[log->nsegs - 1].seqno;
	for (; seqno <= end->seqno; seqno++)
	{
		Segment    *known = changelog_find_segment(log, seqno);
		Segment		seg;
		ChangeLogStatus st;

		if (known != NULL && seqno == end->seqno)
			break;				/* the tail still: its size is end's */
		st = changelog_read_segment_header(log, seqno, &seg);
		if (st == CHANGELOG_TOO_OLD && seqno < end->seqno)
		{
			forget_below(log, seqno + 1);
			continue;
		}
		if (st != CHANGELOG_OK)
			return CHANGELOG_ERROR;
		if (seqno == end->seqno && seg.size < end->offset)
		{
			changelog_set_error(log, "change log segment %" PRIu64 " is shorter than its end %" PRIu64,
								seqno, end->offset);
			return CHANGELOG_ERROR;
		}
		if (known != NULL)
			known->size = seg.size;
		else if (!changelog_add_segment(log, seg))
		{
			changelog_set_error(log, "out of memory");
			return CHANGELOG_ERROR;
		}
	}
	forget_below(log, end->oldest_seqno);
	return CHANGELOG_OK;
}

ChangeLogStatus
changelog_follow_update(ChangeLog *log, const ChangeLogEnd *end)
{
	ChangeLogStatus st;

	if (!log->follower)
	{
		changelog_set_error(log, "the writer of a change log cannot follow it");
		return CHANGELOG_BAD_ORDER;
	}
	if (!end_valid(log, end))
		return CHANGELOG_BAD_ORDER;
	if ((st = learn_segments(log, end)) != CHANGELOG_OK)
		return st;
	log->segs[log->nsegs - 1].size = end->offset;
	log->visible = *end;
	log->last_key = end->last_key;
	return CHANGELOG_OK;
}

ChangeLog *
changelog_follow_open(const char *dir, const ChangeLogEnd *end, char *err, size_t errlen)
{
	ChangeLog  *log = calloc(1, sizeof(ChangeLog));

	if (log == NULL || (log->dir = strdup(dir)) == NULL)
	{
		free(log);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	log->follower = true;
	log->fd = -1;
	if (changelog_follow_update(log, end) != CHANGELOG_OK)
	{
		snprintf(err, errlen, "%s", log->err);
		changelog_close(log);
		return NULL;
	}
	return log;
}
