/*-------------------------------------------------------------------------
 *
 * worker_changelog.c
 *	  The worker's durable change log: what decoding produced, on disk.
 *
 * See worker_changelog.h.  Messages arrive in compact format, one transaction at
 * a time (the worker decodes without non-transactional messages), so a
 * unit is begin .. commit, keyed by the commit LSN the begin message
 * carries: ["B",xid,"X/X",ts].
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/file_perm.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "guc.h"
#include "json/json_encode.h"
#include "shared_state.h"
#include "worker/worker_changelog.h"

#define LOG_PARENT_DIR "pg_pgsync"
#define LOG_DIR LOG_PARENT_DIR "/log"

/* Relation messages held back while duplicate transactions are skipped. */
#define MAX_PENDING_RELATIONS 1024

static ChangeLog *changelog = NULL;
static bool skipping = false;	/* inside a transaction already logged */
static uint64 unit_key = 0;		/* key of the transaction being appended */
static char *pending_rel[MAX_PENDING_RELATIONS];
static uint32 pending_rel_len[MAX_PENDING_RELATIONS];
static int	npending_rel = 0;

/* The latest relation message of every relation, for new segments. */
typedef struct LatestRelation
{
	uint32		relid;			/* hash key */
	char	   *msg;
	uint32		len;
} LatestRelation;

static HTAB *latest_relations = NULL;

/*
 * The xids and commit LSNs of the last transactions appended, to find
 * where to start the stream after an initial snapshot: a transaction still
 * in the snapshot's xip list may have its commit already in the log.
 */
#define RECENT_XIDS 65536
static uint32 recent_xid[RECENT_XIDS];
static uint64 recent_key[RECENT_XIDS];
static uint32 recent_next = 0;

ChangeLog *
worker_changelog(void)
{
	return changelog;
}

/*
 * Remove the segment files of a log that no longer continues the slot
 * (see worker_changelog.h), then fsync the directory.  Called before the slot
 * goes away or is replaced, so a crash in between leaves an empty log
 * beside the old slot, never the old log beside a new slot.
 */
int
worker_changelog_discard(void)
{
	char		path[MAXPGPATH];
	DIR		   *dir;
	struct dirent *de;
	int			n = 0;

	if (changelog != NULL)
		elog(ERROR, "pgsync: cannot discard the change log while it is open");
	/* network workers following it start over (worker_follow.c) */
	pgsync_forget_log_end();
	snprintf(path, sizeof(path), "%s/%s", DataDir, LOG_DIR);
	dir = AllocateDir(path);
	if (dir == NULL && errno == ENOENT)
		return 0;
	while ((de = ReadDir(dir, path)) != NULL)
	{
		char		file[MAXPGPATH];
		size_t		namelen = strlen(de->d_name);

		/* segments, out-of-line units and spools (change_log.h) */
		if (!(namelen > 4 && strcmp(de->d_name + namelen - 4, ".seg") == 0) &&
			!(namelen > 5 && strcmp(de->d_name + namelen - 5, ".unit") == 0) &&
			!(namelen > 6 && strcmp(de->d_name + namelen - 6, ".spool") == 0))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (unlink(file) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not remove file \"%s\": %m", file)));
		n++;
	}
	FreeDir(dir);
	if (n > 0 && enableFsync)
		fsync_fname(path, true);
	return n;
}

void
worker_changelog_open(XLogRecPtr initial_key)
{
	ChangeLogOptions opts = {0};
	char		path[MAXPGPATH];
	char		err[512];

	if (changelog != NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", DataDir, LOG_PARENT_DIR);
	if (MakePGDirectory(path) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("pgsync: could not create directory \"%s\": %m", path)));
	snprintf(path, sizeof(path), "%s/%s", DataDir, LOG_DIR);
	opts.segment_size = (size_t) pgsync_log_segment_kb * 1024;
	opts.write_buffer_size = 256 * 1024;
	opts.no_sync = !enableFsync;
	opts.initial_key = initial_key;
	changelog = changelog_open(path, &opts, err, sizeof(err));
	if (changelog == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("pgsync: could not open the change log: %s", err)));
	ereport(LOG,
			(errmsg("pgsync: change log at \"%s\": %llu bytes, transactions after %X/%X up to %X/%X",
					path, (unsigned long long) changelog_total_bytes(changelog),
					LSN_FORMAT_ARGS(changelog_oldest_resume_key(changelog)),
					LSN_FORMAT_ARGS(changelog_last_key(changelog)))));
}

/* The commit LSN in a compact begin message: ["B",xid|null,"X/X",...]. */
static uint64
begin_message_key(const char *data, size_t len)
{
	const char *p = data + 5;	/* past ["B", */
	const char *end = data + len;
	const char *q;
	uint64		lsn;

	while (p < end && *p != ',')
		p++;
	if (p + 2 >= end || p[1] != '"')
		elog(ERROR, "pgsync: malformed begin message");
	p += 2;
	q = memchr(p, '"', end - p);
	if (q == NULL || !json_parse_lsn(p, q - p, &lsn))
		elog(ERROR, "pgsync: malformed begin message");
	return lsn;
}

/* The xid of a compact begin message ["B",xid,...] (0 if null). */
static uint32
begin_message_xid(const char *data, size_t len)
{
	uint32		xid = 0;
	size_t		i;

	for (i = 5; i < len && data[i] >= '0' && data[i] <= '9'; i++)
		xid = xid * 10 + (data[i] - '0');
	return xid;
}

/* The relation oid of ["R",oid,...], ["I",oid,...], ...; 0 for others. */
static uint32
message_relid(char op, const char *data, size_t len)
{
	uint32		relid = 0;
	size_t		i;

	if (op != 'R' && op != 'I' && op != 'U' && op != 'D')
		return 0;
	for (i = 5; i < len && data[i] >= '0' && data[i] <= '9'; i++)
		relid = relid * 10 + (data[i] - '0');
	return relid;
}

static void
check(ChangeLogStatus st)
{
	if (st != CHANGELOG_OK)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("pgsync: change log: %s", changelog_error(changelog))));
}

static void
remember_relation(const char *data, size_t len)
{
	uint32		relid = message_relid('R', data, len);
	LatestRelation *lr;
	bool		found;

	if (latest_relations == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint32);
		ctl.entrysize = sizeof(LatestRelation);
		latest_relations = hash_create("pgsync latest relations", 64, &ctl,
									   HASH_ELEM | HASH_BLOBS);
	}
	lr = hash_search(latest_relations, &relid, HASH_ENTER, &found);
	if (found)
		pfree(lr->msg);
	lr->msg = MemoryContextAlloc(TopMemoryContext, len);
	memcpy(lr->msg, data, len);
	lr->len = (uint32) len;
}

/*
 * A new segment starts with the description of every relation known, so a
 * reader resuming anywhere in it finds the relation messages it needs
 * without reading older segments (which retention may have removed).
 */
static void
write_latest_relations(void)
{
	HASH_SEQ_STATUS status;
	LatestRelation *lr;

	if (latest_relations == NULL)
		return;
	hash_seq_init(&status, latest_relations);
	while ((lr = hash_seq_search(&status)) != NULL)
		check(changelog_append(changelog, unit_key, lr->relid, 'R', 0, lr->msg, lr->len));
}

static void
hold_relation_message(const char *data, size_t len)
{
	if (npending_rel == MAX_PENDING_RELATIONS)
		elog(ERROR, "pgsync: too many relation messages held back");
	pending_rel[npending_rel] = MemoryContextAlloc(TopMemoryContext, len);
	memcpy(pending_rel[npending_rel], data, len);
	pending_rel_len[npending_rel] = (uint32) len;
	npending_rel++;
}

static void
write_held_relation_messages(void)
{
	int			i;

	for (i = 0; i < npending_rel; i++)
	{
		check(changelog_append(changelog, unit_key,
						  message_relid('R', pending_rel[i], pending_rel_len[i]),
						  'R', 0, pending_rel[i], pending_rel_len[i]));
		pfree(pending_rel[i]);
	}
	npending_rel = 0;
}

/*
 * A begin message: start its transaction's unit, unless it is in the log
 * already (then skip it to its commit).  Returns whether it was started.
 */
static bool
begin_unit(const char *data, size_t len)
{
	uint64		segment = changelog_current_segment(changelog);

	unit_key = begin_message_key(data, len);
	skipping = unit_key <= changelog_last_key(changelog);
	if (skipping)
		return false;
	check(changelog_append(changelog, unit_key, 0, 'B', CHANGELOG_FIRST_OF_UNIT, data, len));
	worker_changelog_note_commit(begin_message_xid(data, len), unit_key);
	if (changelog_current_segment(changelog) != segment)
		write_latest_relations();
	write_held_relation_messages();
	return true;
}

bool
worker_changelog_append_streamed(const char *data, size_t len,
								 ChangeLogSpool *spool)
{
	if (!begin_unit(data, len))
	{
		changelog_spool_discard(spool);
		return false;
	}
	check(changelog_append_spool(changelog, unit_key, spool));
	return true;
}

ChangeLogSpool *
worker_changelog_spool(uint32 xid)
{
	ChangeLogSpool *spool = changelog_spool_create(changelog, xid);

	if (spool == NULL)
		check(CHANGELOG_ERROR);
	return spool;
}

void
worker_changelog_spool_append(ChangeLogSpool *spool, const char *data,
							  size_t len)
{
	check(changelog_spool_append(spool, message_relid(data[2], data, len),
								 data[2], data, len));
}

void
worker_changelog_spool_truncate(ChangeLogSpool *spool, ChangeLogSpoolMark mark)
{
	check(changelog_spool_truncate(spool, mark));
}

uint32
worker_changelog_message_relid(const char *data, size_t len)
{
	return len > 5 ? message_relid(data[2], data, len) : 0;
}

bool
worker_changelog_append(const char *data, size_t len)
{
	char		op = len > 3 ? data[2] : '?';

	if (len < 5 || data[0] != '[' || data[1] != '"')
		elog(ERROR, "pgsync: unexpected message from the output plugin");

	if (op == 'B')
		return begin_unit(data, len);
	if (op == 'R')
		remember_relation(data, len);
	if (skipping)
	{
		if (op == 'R')
			hold_relation_message(data, len);
		if (op == 'C')
			skipping = false;
		return false;
	}
	check(changelog_append(changelog, unit_key, message_relid(op, data, len), op,
					  op == 'C' ? CHANGELOG_LAST_OF_UNIT : 0, data, len));
	return true;
}

void
worker_changelog_flush(void)
{
	check(changelog_flush(changelog));
}

/*
 * Tell the network workers how far they may follow the log: the complete
 * units written to its files.  routed_lsn: every transaction committed
 * before it is among them; heartbeat_lsn: the resume point a heartbeat
 * carries once they are all routed.  They are woken when there is more to
 * read.
 */
void
worker_changelog_publish_end(XLogRecPtr routed_lsn, XLogRecPtr heartbeat_lsn)
{
	static ChangeLogEnd last_published;
	PgsyncLogEnd e;

	memset(&e, 0, sizeof(e));
	changelog_visible_end(changelog, &e.end);
	e.routed_lsn = routed_lsn;
	e.heartbeat_lsn = heartbeat_lsn;
	/* a unit open (passes end between units, but): only what is before it */
	if (unit_key > changelog_last_key(changelog))
		e.routed_lsn = e.heartbeat_lsn = e.end.last_key;
	pgsync_publish_log_end(&e);
	if (memcmp(&e.end, &last_published, sizeof(e.end)) != 0)
	{
		last_published = e.end;
		pgsync_wake_network_workers();
	}
}

/*
 * A network worker's log: the one the decoding worker writes, followed up
 * to what its passes routed (worker_follow.c).  The functions above that
 * read the log (worker_changelog(), worker_changelog_last_key(), the
 * recent commits) then describe what this process routed.
 */
void
worker_changelog_set_follower(ChangeLog *log)
{
	changelog = log;
}

const char *
worker_changelog_dir(void)
{
	static char path[MAXPGPATH];

	snprintf(path, sizeof(path), "%s/%s", DataDir, LOG_DIR);
	return path;
}

void
worker_changelog_sync(void)
{
	check(changelog_sync(changelog));
}

void
worker_changelog_retain(void)
{
	int			n = changelog_retain(changelog,
								(uint64) pgsync_log_retention_mb * 1024 * 1024,
								(int64) pgsync_log_retention_age_s,
								time(NULL));

	if (n > 0)
		ereport(DEBUG1,
				(errmsg("pgsync: removed %d change log segments; transactions after %X/%X remain",
						n, LSN_FORMAT_ARGS(changelog_oldest_resume_key(changelog)))));
}

void
worker_changelog_note_commit(uint32 xid, XLogRecPtr key)
{
	recent_xid[recent_next % RECENT_XIDS] = xid;
	recent_key[recent_next % RECENT_XIDS] = key;
	recent_next++;
}

XLogRecPtr
worker_changelog_recent_commit(TransactionId xid)
{
	uint32		n = Min(recent_next, RECENT_XIDS);
	uint32		i;

	for (i = 0; i < n; i++)
		if (recent_xid[i] == xid && xid != InvalidTransactionId)
			return recent_key[i];
	return InvalidXLogRecPtr;
}

uint32
worker_changelog_message_xid(const char *data, size_t len)
{
	return begin_message_xid(data, len);
}

XLogRecPtr
worker_changelog_last_unit_key(void)
{
	return unit_key;
}

XLogRecPtr
worker_changelog_last_key(void)
{
	return changelog ? changelog_last_key(changelog) : InvalidXLogRecPtr;
}
