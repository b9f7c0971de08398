/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *	  Initial snapshot exporter: the launcher API (snapshot.h), the dynamic
 *	  background worker that writes a table's rows to a file under a
 *	  REPEATABLE READ snapshot, and the SQL entry point
 *	  pgsync.snapshot_to_file().
 *
 * The launcher and the worker share one DSM segment: the request (table,
 * path, database, roles, settings) going in; the state, the snapshot taken
 * (xmin, xmax, xip, lsn), the row count and any error coming back.  The
 * worker publishes the snapshot as soon as it has it (state RUNNING), so a
 * consumer can start filtering the stream before the rows are written.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "decoder_options.h"
#include "json_encode.h"
#include "relation_info.h"
#include "snapshot.h"
#include "value_encode.h"

#define SNAPSHOT_MAGIC			0x70677373	/* "pgss" */
#define SNAPSHOT_SETTINGS_LEN	1024
#define SNAPSHOT_ERRMSG_LEN		1024
#define SNAPSHOT_BATCH_ROWS		1000

/* The DSM segment shared by the launcher and the worker. */
typedef struct SnapshotShared
{
	uint32		magic;
	/* request, written by the launcher before the worker starts */
	Oid			relid;
	Oid			dboid;
	Oid			login_roleid;
	Oid			roleid;
	char		path[MAXPGPATH];
	char		settings[SNAPSHOT_SETTINGS_LEN];	/* name\0value\0...\0 */
	uint32		max_xip;

	/* progress and result, written by the worker */
	pg_atomic_uint32 state;		/* PgsyncSnapshotState */
	pg_atomic_uint64 rows;
	int64		peak_rss_kb;	/* VmHWM: includes shared buffers touched */
	int64		peak_anon_kb;	/* largest RssAnon seen after a batch */
	int			sqlerrcode;
	char		errmsg[SNAPSHOT_ERRMSG_LEN];
	uint64		xmin;
	uint64		xmax;
	XLogRecPtr	lsn;
	uint32		nxip;
	uint64		xip[FLEXIBLE_ARRAY_MEMBER];
} SnapshotShared;

struct PgsyncSnapshot
{
	dsm_segment *seg;
	SnapshotShared *shared;
	BackgroundWorkerHandle *bgw;
	char		lost_msg[128];
};

PG_FUNCTION_INFO_V1(pgsync_snapshot_to_file);


/* ---------------------------------------------------------------------
 * Launcher side
 * ---------------------------------------------------------------------
 */

static void
pack_settings(SnapshotShared *sh, const char *const *settings)
{
	size_t		pos = 0;
	int			i;

	memset(sh->settings, 0, sizeof(sh->settings));
	if (settings == NULL)
		return;
	for (i = 0; settings[i] != NULL && settings[i + 1] != NULL; i += 2)
	{
		size_t		nlen = strlen(settings[i]) + 1;
		size_t		vlen = strlen(settings[i + 1]) + 1;

		if (pos + nlen + vlen + 1 > sizeof(sh->settings))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("pgsync: snapshot settings too long")));
		memcpy(sh->settings + pos, settings[i], nlen);
		pos += nlen;
		memcpy(sh->settings + pos, settings[i + 1], vlen);
		pos += vlen;
	}
}

PgsyncSnapshot *
pgsync_snapshot_start(Oid relid, const char *path, Oid dboid,
					  Oid login_roleid, Oid roleid,
					  const char *const *settings)
{
	PgsyncSnapshot *snap = palloc0(sizeof(PgsyncSnapshot));
	uint32		max_xip = (uint32) GetMaxSnapshotXidCount();
	Size		size = add_size(offsetof(SnapshotShared, xip),
								mul_size(max_xip, sizeof(uint64)));
	SnapshotShared *sh;
	BackgroundWorker worker;

	if (strlen(path) + 5 >= MAXPGPATH)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("pgsync: snapshot file path too long")));

	snap->seg = dsm_create(size, 0);
	sh = dsm_segment_address(snap->seg);
	memset(sh, 0, offsetof(SnapshotShared, xip));
	sh->magic = SNAPSHOT_MAGIC;
	sh->relid = relid;
	sh->dboid = dboid;
	sh->login_roleid = login_roleid;
	sh->roleid = roleid;
	strlcpy(sh->path, path, sizeof(sh->path));
	pack_settings(sh, settings);
	sh->max_xip = max_xip;
	pg_atomic_init_u32(&sh->state, PGSYNC_SNAPSHOT_STARTING);
	pg_atomic_init_u64(&sh->rows, 0);
	sh->peak_rss_kb = -1;
	sh->peak_anon_kb = -1;
	snap->shared = sh;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pgsync", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgsync_snapshot_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgsync snapshot of relation %u",
			 relid);
	strlcpy(worker.bgw_type, "pgsync snapshot", BGW_MAXLEN);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(snap->seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &snap->bgw))
	{
		dsm_detach(snap->seg);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("pgsync: could not start a snapshot worker"),
				 errhint("More background worker slots may be needed: raise max_worker_processes.")));
	}
	return snap;
}

/* The worker is gone: if it left no result, say so. */
static PgsyncSnapshotState
final_state(PgsyncSnapshot *snap)
{
	SnapshotShared *sh = snap->shared;
	uint32		state = pg_atomic_read_u32(&sh->state);

	pg_read_barrier();
	if (state == PGSYNC_SNAPSHOT_DONE || state == PGSYNC_SNAPSHOT_FAILED)
		return (PgsyncSnapshotState) state;
	snprintf(snap->lost_msg, sizeof(snap->lost_msg),
			 "pgsync: the snapshot worker exited without a result (see the server log)");
	return PGSYNC_SNAPSHOT_FAILED;
}

PgsyncSnapshotState
pgsync_snapshot_poll(PgsyncSnapshot *snap)
{
	uint32		state = pg_atomic_read_u32(&snap->shared->state);
	pid_t		pid;

	pg_read_barrier();
	if (state == PGSYNC_SNAPSHOT_DONE || state == PGSYNC_SNAPSHOT_FAILED)
		return (PgsyncSnapshotState) state;
	if (GetBackgroundWorkerPid(snap->bgw, &pid) == BGWH_STOPPED)
		return final_state(snap);
	return (PgsyncSnapshotState) state;
}

PgsyncSnapshotState
pgsync_snapshot_wait(PgsyncSnapshot *snap)
{
	BgwHandleStatus status = WaitForBackgroundWorkerShutdown(snap->bgw);

	if (status == BGWH_POSTMASTER_DIED)
		ereport(FATAL,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("postmaster exited during a pgsync snapshot")));
	return final_state(snap);
}

bool
pgsync_snapshot_info(PgsyncSnapshot *snap, SnapshotInfo *info, XLogRecPtr *lsn)
{
	SnapshotShared *sh = snap->shared;
	uint32		state = pg_atomic_read_u32(&sh->state);

	pg_read_barrier();
	if (state != PGSYNC_SNAPSHOT_RUNNING && state != PGSYNC_SNAPSHOT_DONE)
		return false;
	info->xmin = sh->xmin;
	info->xmax = sh->xmax;
	info->nxip = sh->nxip;
	info->xip = sh->xip;
	if (lsn != NULL)
		*lsn = sh->lsn;
	return true;
}

int64
pgsync_snapshot_rows(PgsyncSnapshot *snap)
{
	return (int64) pg_atomic_read_u64(&snap->shared->rows);
}

int64
pgsync_snapshot_peak_rss_kb(PgsyncSnapshot *snap)
{
	if (pg_atomic_read_u32(&snap->shared->state) != PGSYNC_SNAPSHOT_DONE)
		return -1;
	pg_read_barrier();
	return snap->shared->peak_rss_kb;
}

const char *
pgsync_snapshot_error(PgsyncSnapshot *snap, int *sqlerrcode)
{
	SnapshotShared *sh = snap->shared;

	if (pg_atomic_read_u32(&sh->state) == PGSYNC_SNAPSHOT_FAILED)
	{
		pg_read_barrier();
		if (sqlerrcode != NULL)
			*sqlerrcode = sh->sqlerrcode;
		return sh->errmsg;
	}
	if (sqlerrcode != NULL)
		*sqlerrcode = ERRCODE_INTERNAL_ERROR;
	return snap->lost_msg[0] != '\0' ? snap->lost_msg : NULL;
}

void
pgsync_snapshot_release(PgsyncSnapshot *snap)
{
	pid_t		pid;

	if (snap->bgw != NULL &&
		GetBackgroundWorkerPid(snap->bgw, &pid) != BGWH_STOPPED)
		TerminateBackgroundWorker(snap->bgw);
	if (snap->seg != NULL)
		dsm_detach(snap->seg);
	if (snap->bgw != NULL)
		pfree(snap->bgw);
	pfree(snap);
}

void
pgsync_snapshot_make_dir(void)
{
	if (MakePGDirectory("pg_pgsync") < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", "pg_pgsync")));
	if (MakePGDirectory(PGSYNC_SNAPSHOT_DIR) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m",
						PGSYNC_SNAPSHOT_DIR)));
}


/* ---------------------------------------------------------------------
 * Worker side
 * ---------------------------------------------------------------------
 */

typedef struct ExportState
{
	SnapshotShared *sh;
	char		tmp_path[MAXPGPATH];
	FILE	   *file;
	StringInfoData line;
} ExportState;

static void
write_line(ExportState *es, StringInfo line)
{
	appendStringInfoChar(line, '\n');
	if (fwrite(line->data, 1, line->len, es->file) != (size_t) line->len)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write to file \"%s\": %m", es->tmp_path)));
}

static void
apply_settings(SnapshotShared *sh)
{
	const char *p = sh->settings;

	while (*p != '\0')
	{
		const char *name = p;
		const char *value = name + strlen(name) + 1;

		SetConfigOption(name, value, PGC_USERSET, PGC_S_SESSION);
		p = value + strlen(value) + 1;
	}
}

/*
 * A "Name:   1234 kB" line of /proc/self/status (VmHWM: peak resident set
 * size; RssAnon: private memory now), in kB; -1 if unknown.
 */
static int64
read_status_kb(const char *field)
{
	FILE	   *f = AllocateFile("/proc/self/status", "r");
	size_t		flen = strlen(field);
	char		buf[256];
	int64		kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL)
	{
		if (strncmp(buf, field, flen) == 0 && buf[flen] == ':')
		{
			kb = strtol(buf + flen + 1, NULL, 10);
			break;
		}
	}
	FreeFile(f);
	return kb;
}

/*
 * Take the transaction snapshot and publish it (full xids, xip sorted)
 * in shared memory.  The caller has set REPEATABLE READ: this snapshot is
 * the one every later query of the transaction uses.
 */
static Snapshot
take_snapshot(SnapshotShared *sh)
{
	Snapshot	snapshot = GetTransactionSnapshot();
	FullTransactionId next;
	uint64		ref;
	uint32		i;

	if (snapshot->takenDuringRecovery)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pgsync: snapshots cannot be exported during recovery")));
	if (snapshot->xcnt > sh->max_xip)
		elog(ERROR, "pgsync: snapshot has %u running xids, room for %u",
			 snapshot->xcnt, sh->max_xip);

	/* every xid of the snapshot is at most next, and within 2^31 of it */
	next = ReadNextFullTransactionId();
	ref = U64FromFullTransactionId(next);
	sh->xmin = snapshot_widen_xid(ref, snapshot->xmin);
	sh->xmax = snapshot_widen_xid(ref, snapshot->xmax);
	for (i = 0; i < snapshot->xcnt; i++)
		sh->xip[i] = snapshot_widen_xid(ref, snapshot->xip[i]);
	sh->nxip = snapshot_sort_xip(sh->xip, snapshot->xcnt);
	/* anything the snapshot sees committed is in WAL before this point */
	sh->lsn = GetXLogInsertRecPtr();
	pg_write_barrier();
	pg_atomic_write_u32(&sh->state, PGSYNC_SNAPSHOT_RUNNING);
	return snapshot;
}

static void
write_header(ExportState *es, RelationInfo *ri)
{
	SnapshotShared *sh = es->sh;
	SnapshotInfo info = {sh->xmin, sh->xmax, sh->nxip, sh->xip};
	StringInfo	out = &es->line;
	size_t		bound = SNAPSHOT_INFO_JSON_BOUND(sh->nxip);
	char	   *snapjson = palloc(bound);
	size_t		len;
	int			i;

	len = snapshot_info_json(snapjson, bound, &info);
	Assert(len < bound && len > 0);

	resetStringInfo(out);
	appendStringInfo(out, "{\"relid\":%u,\"schema\":", ri->relid);
	json_append_cstring(out, ri->schema);
	appendStringInfoString(out, ",\"table\":");
	json_append_cstring(out, ri->table);
	appendStringInfoString(out, ",\"columns\":[");
	for (i = 0; i < ri->ncols; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, ',');
		json_append_cstring(out, ri->cols[i].name);
	}
	appendStringInfoString(out, "],\"types\":[");
	for (i = 0; i < ri->ncols; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, ',');
		json_append_cstring(out, ri->cols[i].type_name);
	}
	appendStringInfoString(out, "],\"key\":[");
	for (i = 0; i < ri->nkeys; i++)
		appendStringInfo(out, "%s%d", i > 0 ? "," : "", ri->key_cols[i]);
	appendStringInfoString(out, "],\"snapshot\":");
	/* {"xmin":..,"xmax":..,"xip":[..]} with ,"lsn":".." before the brace */
	appendBinaryStringInfo(out, snapjson, (int) len - 1);
	appendStringInfoString(out, ",\"lsn\":");
	json_append_lsn(out, sh->lsn);
	appendStringInfoString(out, "},\"rows\":null}");
	write_line(es, out);
	pfree(snapjson);
}

/* SELECT the live columns, in attnum order, of ONLY the table. */
static char *
build_query(RelationInfo *ri)
{
	StringInfoData q;
	int			i;

	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT ");
	for (i = 0; i < ri->ncols; i++)
		appendStringInfo(&q, "%s%s", i > 0 ? ", " : "",
						 quote_identifier(ri->cols[i].name));
	appendStringInfo(&q, " FROM ONLY %s",
					 quote_qualified_identifier(ri->schema, ri->table));
	return q.data;
}

/* Read the table through an SPI cursor and write one line per row. */
static uint64
write_rows(ExportState *es, RelationInfo *ri, MemoryContext batch_cxt)
{
	StringInfo	out = &es->line;
	SPIPlanPtr	plan;
	Portal		portal;
	uint64		nrows = 0;
	Datum	   *values = palloc(sizeof(Datum) * Max(ri->ncols, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(ri->ncols, 1));

	plan = SPI_prepare(build_query(ri), 0, NULL);
	if (plan == NULL)
		elog(ERROR, "pgsync: SPI_prepare failed: %s",
			 SPI_result_code_string(SPI_result));
	/* read_only: run on the active snapshot, the transaction's */
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);

	for (;;)
	{
		MemoryContext old;
		uint64		i;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, SNAPSHOT_BATCH_ROWS);
		if (SPI_processed == 0)
			break;
		if (SPI_tuptable->tupdesc->natts != ri->ncols)
			elog(ERROR, "pgsync: snapshot query returned %d columns, expected %d",
				 SPI_tuptable->tupdesc->natts, ri->ncols);

		old = MemoryContextSwitchTo(batch_cxt);
		for (i = 0; i < SPI_processed; i++)
		{
			int			c;

			heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
							  values, nulls);
			resetStringInfo(out);
			appendStringInfoChar(out, '[');
			for (c = 0; c < ri->ncols; c++)
			{
				if (c > 0)
					appendStringInfoChar(out, ',');
				if (nulls[c])
					appendStringInfoString(out, "null");
				else
					value_encode(out, &ri->cols[c].enc, values[c]);
			}
			appendStringInfoChar(out, ']');
			write_line(es, out);
		}
		MemoryContextSwitchTo(old);
		nrows += SPI_processed;
		pg_atomic_write_u64(&es->sh->rows, nrows);
		/* private memory peaks at the end of a batch: sample it there */
		es->sh->peak_anon_kb = Max(es->sh->peak_anon_kb,
								   read_status_kb("RssAnon"));
		SPI_freetuptable(SPI_tuptable);
		MemoryContextReset(batch_cxt);
		/* a big row can grow the line buffer: do not keep it grown */
		if (out->maxlen > 1024 * 1024)
		{
			pfree(out->data);
			initStringInfo(out);
		}
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
	return nrows;
}

/* The whole export, in one REPEATABLE READ, READ ONLY transaction. */
static void
export_table(ExportState *es, MemoryContext worker_cxt)
{
	SnapshotShared *sh = es->sh;
	DecoderOptions opts;
	Relation	rel;
	RelationInfo *ri;
	AclResult	aclresult;
	MemoryContext batch_cxt;
	uint64		nrows;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	XactIsoLevel = XACT_REPEATABLE_READ;
	XactReadOnly = true;
	pgstat_report_activity(STATE_RUNNING, "pgsync snapshot");

	if (OidIsValid(sh->roleid) && sh->roleid != GetUserId())
		SetUserIdAndSecContext(sh->roleid, SECURITY_LOCAL_USERID_CHANGE);
	apply_settings(sh);
	value_encode_init(false);

	es->file = AllocateFile(es->tmp_path, PG_BINARY_W);
	if (es->file == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", es->tmp_path)));

	/* lock before the snapshot: the table's shape cannot change under us */
	LockRelationOid(sh->relid, AccessShareLock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(sh->relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", sh->relid)));
	aclresult = pg_class_aclcheck(sh->relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult,
					   get_relkind_objtype(get_rel_relkind(sh->relid)),
					   get_rel_name(sh->relid));
	rel = table_open(sh->relid, NoLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("pgsync: \"%s\" is not a table", RelationGetRelationName(rel)),
				 errdetail("Only ordinary tables can be exported; changes of a partitioned table are streamed per partition.")));

	decoder_options_parse(&opts, NIL);
	relation_info_cache_init(worker_cxt, &opts);
	ri = relation_info_get(rel);

	PushActiveSnapshot(take_snapshot(sh));
	write_header(es, ri);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pgsync: SPI_connect failed");
	batch_cxt = AllocSetContextCreate(worker_cxt, "pgsync snapshot batch",
									  ALLOCSET_DEFAULT_SIZES);
	nrows = write_rows(es, ri, batch_cxt);
	SPI_finish();
	PopActiveSnapshot();
	table_close(rel, NoLock);

	sh->peak_rss_kb = read_status_kb("VmHWM");
	sh->peak_anon_kb = Max(sh->peak_anon_kb, read_status_kb("RssAnon"));
	resetStringInfo(&es->line);
	appendStringInfo(&es->line, "{\"rows\":" UINT64_FORMAT ",\"done\":true,\"peak_rss_kb\":" INT64_FORMAT ",\"peak_anon_kb\":" INT64_FORMAT "}",
					 nrows, sh->peak_rss_kb, sh->peak_anon_kb);
	write_line(es, &es->line);
	if (FreeFile(es->file) != 0)
	{
		es->file = NULL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", es->tmp_path)));
	}
	es->file = NULL;
	if (rename(es->tmp_path, sh->path) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rename file \"%s\" to \"%s\": %m",
						es->tmp_path, sh->path)));
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	pg_atomic_write_u64(&sh->rows, nrows);
}

/* Append the error trailer to the temporary file, if it can be opened. */
static void
write_error_trailer(ExportState *es, const char *message)
{
	StringInfoData line;

	es->file = AllocateFile(es->tmp_path, "a");
	if (es->file == NULL)
		return;
	initStringInfo(&line);
	appendStringInfoString(&line, "{\"error\":");
	json_append_cstring(&line, message);
	appendStringInfoChar(&line, '}');
	appendStringInfoChar(&line, '\n');
	if (fwrite(line.data, 1, line.len, es->file) != (size_t) line.len)
		elog(LOG, "pgsync: could not write the error trailer of \"%s\"",
			 es->tmp_path);
	FreeFile(es->file);
	es->file = NULL;
	pfree(line.data);
}

void
pgsync_snapshot_main(Datum main_arg)
{
	dsm_segment *seg;
	SnapshotShared *sh;
	ExportState es;
	MemoryContext worker_cxt;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no resource owner yet: the mapping lasts until the process exits */
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgsync snapshot: could not map the request (the requester is gone)")));
	sh = dsm_segment_address(seg);
	if (sh->magic != SNAPSHOT_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgsync snapshot: bad magic number in the request")));

	BackgroundWorkerInitializeConnectionByOid(sh->dboid, sh->login_roleid, 0);

	worker_cxt = AllocSetContextCreate(TopMemoryContext, "pgsync snapshot",
									   ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(worker_cxt);
	memset(&es, 0, sizeof(es));
	es.sh = sh;
	snprintf(es.tmp_path, sizeof(es.tmp_path), "%s.tmp", sh->path);
	initStringInfo(&es.line);

	PG_TRY();
	{
		export_table(&es, worker_cxt);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(worker_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		es.file = NULL;			/* closed by the abort */
		write_error_trailer(&es, edata->message);
		sh->sqlerrcode = edata->sqlerrcode;
		strlcpy(sh->errmsg, edata->message, sizeof(sh->errmsg));
		pg_write_barrier();
		pg_atomic_write_u32(&sh->state, PGSYNC_SNAPSHOT_FAILED);
		ereport(LOG,
				(errmsg("pgsync snapshot of relation %u failed: %s",
						sh->relid, edata->message)));
		RESUME_INTERRUPTS();
		proc_exit(1);
	}
	PG_END_TRY();

	pg_write_barrier();
	pg_atomic_write_u32(&sh->state, PGSYNC_SNAPSHOT_DONE);
	proc_exit(0);
}


/* ---------------------------------------------------------------------
 * SQL entry point
 * ---------------------------------------------------------------------
 */

/*
 * pgsync.snapshot_to_file(rel regclass, name text) RETURNS bigint
 *
 * Export rel, as the current role, into $PGDATA/pg_pgsync/snapshots/name
 * through the snapshot worker; wait for it; ERROR with the worker's error
 * if it failed, else return the row count.
 */
Datum
pgsync_snapshot_to_file(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	static const char *const guc_names[] = {
		"DateStyle", "IntervalStyle", "TimeZone", "lc_monetary"
	};
	const char *settings[2 * lengthof(guc_names) + 1];
	PgsyncSnapshot *snap;
	PgsyncSnapshotState state;
	Relation	rel;
	char	   *path;
	int64		rows;
	int			i;

	if (!snapshot_file_name_ok(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgsync: invalid snapshot file name \"%s\"", name),
				 errdetail("A name is 1 to 64 characters among A-Z a-z 0-9 . _ -, does not start with a dot and does not end in \".tmp\".")));
	path = psprintf("%s/%s", PGSYNC_SNAPSHOT_DIR, name);

	/*
	 * The worker takes ACCESS SHARE on the table while we wait for it: if
	 * this transaction holds ACCESS EXCLUSIVE, both would wait forever.
	 */
	rel = try_relation_open(relid, NoLock);
	if (rel != NULL)
	{
		bool		locked = CheckRelationLockedByMe(rel, AccessExclusiveLock,
													 false);

		relation_close(rel, NoLock);
		if (locked)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("pgsync: cannot export a table locked ACCESS EXCLUSIVE by this transaction")));
	}
	pgsync_snapshot_make_dir();

	/* output functions in the worker follow the caller's settings */
	for (i = 0; i < lengthof(guc_names); i++)
	{
		settings[2 * i] = guc_names[i];
		settings[2 * i + 1] = pstrdup(GetConfigOption(guc_names[i], false, false));
	}
	settings[2 * lengthof(guc_names)] = NULL;

	snap = pgsync_snapshot_start(relid, path, MyDatabaseId,
								 GetSessionUserId(), GetUserId(), settings);
	PG_TRY();
	{
		state = pgsync_snapshot_wait(snap);
	}
	PG_CATCH();
	{
		pgsync_snapshot_release(snap);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (state != PGSYNC_SNAPSHOT_DONE)
	{
		int			sqlerrcode;
		char	   *msg = pstrdup(pgsync_snapshot_error(snap, &sqlerrcode));

		pgsync_snapshot_release(snap);
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("%s", msg),
				 errcontext("pgsync snapshot worker")));
	}
	rows = pgsync_snapshot_rows(snap);
	pgsync_snapshot_release(snap);
	PG_RETURN_INT64(rows);
}
