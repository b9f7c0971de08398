/*-------------------------------------------------------------------------
 *
 * snapshot_exporter.c
 *	  The snapshot worker: a dynamic background worker that reads one table
 *	  under a REPEATABLE READ, READ ONLY snapshot, as the requesting role,
 *	  and writes its rows to a file (format in snapshot.h), publishing the
 *	  snapshot and its result in the launcher's DSM segment.
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

#include "guc.h"
#include "json/json_encode.h"
#include "pgsync.h"
#include "plugin/decoder_options.h"
#include "plugin/message_encode.h"
#include "plugin/relation_info.h"
#include "plugin/value_encode.h"
#include "snapshot/snapshot.h"
#include "snapshot/snapshot_int.h"

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

	len = snapshot_info_json(snapjson, bound, &info);
	Assert(len < bound && len > 0);

	resetStringInfo(out);
	appendStringInfo(out, "{\"relid\":%u,\"schema\":", ri->relid);
	json_append_cstring(out, ri->schema);
	appendStringInfoString(out, ",\"table\":");
	json_append_cstring(out, ri->table);
	appendStringInfoChar(out, ',');
	encode_column_description(out, ri, true);
	appendStringInfoString(out, ",\"snapshot\":");
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

/*
 * One row line: the values as a JSON array, as in a compact insert.  A
 * value too large to send (pgsync.max_value_bytes, and the message limit
 * of decoder_options.h) is null in the array, and the array is followed by
 * ",[[column index, bytes],...]": the line is then the rest of the message
 * ["S",relid,<line>] the worker sends (docs/PROTOCOL.md).
 */
static void
write_row(StringInfo out, RelationInfo *ri, Datum *values, bool *nulls,
		  int64 *sizes)
{
	int			noversized = 0;
	int			c;

	appendStringInfoChar(out, '[');
	for (c = 0; c < ri->ncols; c++)
	{
		int64		limit = Min((int64) pgsync_max_value_bytes,
								(int64) PGSYNC_MESSAGE_VALUES_MAX - out->len);

		sizes[c] = 0;
		if (c > 0)
			appendStringInfoChar(out, ',');
		if (nulls[c])
			appendStringInfoString(out, "null");
		else if (!value_encode_limited(out, &ri->cols[c].enc, values[c],
									   limit, &sizes[c]))
		{
			sizes[c] = Max(sizes[c], 1);
			noversized++;
			appendStringInfoString(out, "null");
		}
		else
			sizes[c] = 0;
	}
	appendStringInfoChar(out, ']');
	if (noversized == 0)
		return;
	appendStringInfoString(out, ",[");
	for (c = 0; c < ri->ncols; c++)
	{
		if (sizes[c] == 0)
			continue;
		appendStringInfo(out, "[%d," INT64_FORMAT "]%s", c, sizes[c],
						 --noversized > 0 ? "," : "");
	}
	appendStringInfoChar(out, ']');
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
	int64	   *sizes = palloc(sizeof(int64) * Max(ri->ncols, 1));

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
			heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
							  values, nulls);
			resetStringInfo(out);
			write_row(out, ri, values, nulls, sizes);
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
				 errmsg("pgsync: could not map the snapshot request (the requester is gone)")));
	sh = dsm_segment_address(seg);
	if (sh->magic != SNAPSHOT_MAGIC)
		elog(ERROR, "pgsync: bad magic number in the snapshot request");

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
				(errmsg("pgsync: snapshot of relation %u failed: %s",
						sh->relid, edata->message)));
		RESUME_INTERRUPTS();
		proc_exit(1);
	}
	PG_END_TRY();

	pg_write_barrier();
	pg_atomic_write_u32(&sh->state, PGSYNC_SNAPSHOT_DONE);
	proc_exit(0);
}
