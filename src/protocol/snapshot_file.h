/*-------------------------------------------------------------------------
 *
 * snapshot_file.h
 *	  Pure helpers for initial snapshots (no postgres.h): the join rule
 *	  between a snapshot and the change stream, 32-to-64-bit xid widening,
 *	  the JSON of the snapshot description, and snapshot file names.
 *
 * The snapshot file format and the join rule are specified in snapshot.h
 * and docs/SNAPSHOT.md.  Everything here is testable without a server
 * (test/unit/test_snapshot_file.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_SNAPSHOT_FILE_H
#define PGSYNC_SNAPSHOT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What an MVCC snapshot says about committed transactions, with 64-bit
 * ("full") transaction ids: epoch in the high 32 bits, xid in the low 32.
 * xip lists the top-level transactions that were running (or committed but
 * not yet visible) when the snapshot was taken; it must be sorted
 * ascending (snapshot_sort_xip) and every element is in [xmin, xmax).
 */
typedef struct SnapshotInfo
{
	uint64_t	xmin;			/* every xid below is finished */
	uint64_t	xmax;			/* every xid at or above is invisible */
	uint32_t	nxip;
	const uint64_t *xip;		/* sorted ascending */
} SnapshotInfo;

/*
 * The join rule: is (the work of) the committed transaction with full xid
 * `xid` contained in the snapshot?  True iff xid < xmin, or xid < xmax and
 * xid is not in xip.  The change stream that follows the snapshot must
 * deliver exactly the committed transactions for which this is false.
 */
extern bool snapshot_xid_visible(const SnapshotInfo *s, uint64_t xid);

/*
 * Widen a 32-bit xid (as carried by the change stream's B and C messages)
 * to the full xid nearest to `reference` (within 2^31 either way) whose low
 * 32 bits are xid: the logic of PostgreSQL's FullTransactionIdFromAllowableAt.
 * Use the snapshot's xmin as reference: every transaction the stream
 * delivers around the snapshot is far closer than 2^31 to it.  The special
 * xids 0, 1, 2 (invalid, bootstrap, frozen) stay as they are (epoch 0), and
 * a result below 3 is taken to be in the next epoch (there is no epoch -1).
 */
extern uint64_t snapshot_widen_xid(uint64_t reference, uint32_t xid);

/* snapshot_xid_visible() of a 32-bit xid widened next to s->xmin. */
extern bool snapshot_xid32_visible(const SnapshotInfo *s, uint32_t xid);

/* Sort xip ascending and drop duplicates; returns the new count. */
extern uint32_t snapshot_sort_xip(uint64_t *xip, uint32_t n);

/*
 * Write s as the JSON object {"xmin":X,"xmax":X,"xip":[X,...]} into buf
 * (bufsize bytes, NUL-terminated if bufsize > 0).  Returns the length the
 * full text needs, like snprintf: if that is >= bufsize the text was cut.
 */
extern size_t snapshot_info_json(char *buf, size_t bufsize,
								 const SnapshotInfo *s);

/* Bytes needed by snapshot_info_json() for a snapshot with nxip xids. */
#define SNAPSHOT_INFO_JSON_BOUND(nxip) (48 + 2 * 20 + (size_t) (nxip) * 21)

/*
 * Is name acceptable as a snapshot file name under the snapshot directory
 * (pg_pgsync/snapshots)?  1 to 64 characters from [A-Za-z0-9._-], not
 * starting with a dot, not ending in ".tmp" (the in-progress suffix).
 */
extern bool snapshot_file_name_ok(const char *name);

#endif							/* PGSYNC_SNAPSHOT_FILE_H */
