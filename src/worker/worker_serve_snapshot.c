/*-------------------------------------------------------------------------
 *
 * worker_serve_snapshot.c
 *	  Initial snapshot over WebSocket: current rows, then the stream.
 *
 * A client subscribing with "snapshot": true to one table gets, in order:
 *
 *	{"type":"ok",...}
 *	{"type":"snapshot_begin","subscription":"s1","relation":<file header>}
 *	["S",relid,[values]]	one per row passing the subscription's filter
 *							(["S",relid,[values],[[col,bytes],...]] when
 *							values were too large to send)
 *	{"type":"snapshot_end","subscription":"s1","rows":N}
 *	then the change stream: every transaction the snapshot did not see.
 *
 * The rows come from the exporter (snapshot.c: a dynamic background worker
 * reading the table in a REPEATABLE READ snapshot into a file), so the
 * network loop never runs the query.  Meanwhile the client waits in a
 * private fan-out.  The join (docs/SNAPSHOT.md): a committed transaction is
 * in the snapshot iff its xid is below xmin, or below xmax and not in xip.
 * The stream is the change log read from the log's end at the time of the
 * request -- or earlier, if a transaction still running for the snapshot
 * (in xip) had its commit logged before that -- leaving out every
 * transaction the snapshot saw (worker_resume.c does the reading).  Every
 * committed change thus appears exactly once: in the rows or in the stream.
 *
 * A role that may read only some columns of the table (worker_columns.c)
 * gets the header and every row projected onto them, as the stream's
 * relation messages and changes are (fanout_columns.h); its filter is
 * compiled with the other columns unnameable and evaluated on the row as
 * the exporter wrote it, like the stream's.  The column set is the one of
 * the request.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "fanout/fanout_columns.h"
#include "filter/row_filter.h"
#include "guc.h"
#include "json/json_value.h"
#include "snapshot/snapshot.h"
#include "worker/worker_auth.h"
#include "worker/worker_changelog.h"
#include "worker/worker_decode.h"
#include "worker/worker_resume.h"
#include "worker/worker_serve_snapshot.h"

#define SNAPSHOT_STEP_ROWS	1000
#define ROW_DOC_INPUT		(1024 * 1024)
#define ROW_DOC_NODES		65536

typedef struct SnapJob
{
	struct SnapJob *next;
	Fanout	   *priv;			/* holds the client meanwhile */
	Oid			relid_oid;		/* the table */
	PgsyncSnapshot *snap;		/* NULL until the exporter is started */
	bool		exporter_done;	/* it has exited (done or failed) */
	char		path[MAXPGPATH];
	char		sub_id[16];
	uint64		log_end;		/* the log's last commit at the request */
	char	   *filter_json;	/* the subscription's filter, or NULL */
	uint32		columns;		/* what the role may read (FoGrant.columns) */

	/* once the exporter is done */
	FILE	   *file;
	char	   *line;
	size_t		linecap;
	uint32		relid;
	RowFilter  *filter;
	JsonDoc    *row_doc;
	FoColumnView view;			/* with columns: the header's projection */
	char	   *projected;		/* with columns: a projected row */
	size_t		projected_cap;
	int64		rows;
} SnapJob;

static SnapJob *jobs = NULL;
static int	njobs = 0;
static int	file_counter = 0;

void
snapshot_foreach_client(void (*fn) (FoClient *, const char *), const char *arg)
{
	SnapJob    *j;

	for (j = jobs; j != NULL; j = j->next)
	{
		FoClient   *c = j->priv ? fanout_first_client(j->priv) : NULL;

		if (c != NULL)
			fn(c, arg);
	}
}

int
snapshot_count(void)
{
	return njobs;
}

/* The table of a one-table, no-wildcard request, or InvalidOid. */
static Oid
resolve_table(const ClientRequest *req)
{
	char		schema[NAMEDATALEN * 2];
	char		table[NAMEDATALEN * 2];
	const TablePattern *p;
	bool		qualified;
	Oid			relid = InvalidOid;

	if (req->ntables != 1)
		return InvalidOid;
	p = &req->patterns[0];
	qualified = !(p->schema.len == 1 && p->schema.ptr[0] == '*');
	if (!pattern_slice_literal(p->table, table, sizeof(table)) ||
		(qualified && !pattern_slice_literal(p->schema, schema, sizeof(schema))))
		return InvalidOid;

	StartTransactionCommand();
	decode_use_current_catalog();	/* as of now, not as decoding left it */
	relid = RangeVarGetRelid(makeRangeVar(qualified ? schema : NULL, table, -1),
							 NoLock, true);
	CommitTransactionCommand();
	return relid;
}

/*
 * What the client's principal may read of relid: the column set
 * (FoGrant.columns) and whether a row policy applies; or the reason it may
 * read nothing.  Outside a transaction.
 */
static const char *
read_columns(uint32 principal, Oid relid, uint32 *columns, bool *rows)
{
	const char *denied;

	StartTransactionCommand();
	decode_use_current_catalog();
	denied = worker_auth_denies(principal, relid, columns, rows);
	CommitTransactionCommand();
	return denied;
}

/*
 * The exporter's settings: the worker's output settings, so snapshot rows
 * encode like its stream, and the client's claims for row-level security
 * policies (request.jwt.claims, as the stream's policies see them).
 */
static const char *const *
exporter_settings(const char *claims)
{
	static const char *names[] = {"DateStyle", "IntervalStyle", "TimeZone",
	"lc_monetary", "extra_float_digits"};
	static const char *settings[2 * lengthof(names) + 3];
	int			i;

	for (i = 0; i < lengthof(names); i++)
	{
		/*
		 * GetConfigOption() gives non-string settings in one static buffer:
		 * copy each, once per value (the previous copy is freed).
		 */
		if (settings[2 * i + 1] != NULL)
			pfree((char *) settings[2 * i + 1]);
		settings[2 * i] = names[i];
		settings[2 * i + 1] = MemoryContextStrdup(TopMemoryContext,
												  GetConfigOption(names[i], false, false));
	}
	settings[2 * i] = "request.jwt.claims";
	settings[2 * i + 1] = claims;
	settings[2 * i + 2] = NULL;
	return settings;
}

static void
job_free(SnapJob *j)
{
	if (j->snap != NULL)
		pgsync_snapshot_release(j->snap);
	if (j->file != NULL)
		fclose(j->file);
	unlink(j->path);
	{
		char		tmp[MAXPGPATH + 8];

		snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
		unlink(tmp);
	}
	free(j->line);
	free(j->filter_json);
	if (j->filter != NULL)
		row_filter_free(j->filter);
	if (j->row_doc != NULL)
		json_doc_free(j->row_doc);
	fanout_column_view_free(&j->view);
	free(j->projected);
	free(j);
	njobs--;
}

void
snapshot_request(Fanout *live, FoClient *c, ClientRequest *req)
{
	SnapJob    *j;
	volatile Oid relid = InvalidOid;
	const char *volatile denied = NULL;
	uint32		columns = 0;
	bool		rows = false;
	const char *sub_id;
	MemoryContext old = CurrentMemoryContext;

	if (req->has_resume || fanout_client_nsubs(c) > 0 || fanout_client_home(c) != live)
	{
		fanout_reply(c, req->id_json, NULL, CP_ERR_BAD_REQUEST,
						"a snapshot is only for a connection's first subscription, without resume_lsn");
		return;
	}
	if (worker_changelog() == NULL)
	{
		fanout_reply(c, req->id_json, NULL, CP_ERR_INTERNAL,
						"the change log is not open yet: retry");
		return;
	}
	PG_TRY();
	{
		relid = resolve_table(req);
		if (OidIsValid(relid))
			denied = read_columns(fanout_client_principal(c), relid,
								  &columns, &rows);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		FlushErrorState();
		AbortOutOfAnyTransaction();
		relid = InvalidOid;
	}
	PG_END_TRY();
	if (OidIsValid(relid) && denied == NULL && columns != 0 && rows)
		denied = "an initial snapshot for a role that may read only some columns of a table with row-level security is not supported yet";
	if (OidIsValid(relid) && denied != NULL)
	{
		fanout_reply(c, req->id_json, NULL, CP_ERR_PERMISSION_DENIED, denied);
		return;
	}
	if (!OidIsValid(relid))
	{
		fanout_reply(c, req->id_json, NULL, CP_ERR_BAD_REQUEST,
						"a snapshot needs exactly one existing table, named without wildcards");
		return;
	}

	j = calloc(1, sizeof(SnapJob));
	if (j == NULL || (req->filter_json && !(j->filter_json = strdup(req->filter_json))))
	{
		free(j);
		fanout_reply(c, req->id_json, NULL, CP_ERR_INTERNAL, "out of memory");
		return;
	}
	njobs++;
	j->relid_oid = relid;
	j->columns = columns;
	snprintf(j->path, sizeof(j->path), "%s/%s/ws-%d-%d.snap", DataDir,
			 PGSYNC_SNAPSHOT_DIR, MyProcPid, ++file_counter);

	j->priv = resume_private_subscribe(live, c, req, &sub_id);
	if (j->priv == NULL)
	{
		job_free(j);
		return;
	}
	strlcpy(j->sub_id, sub_id, sizeof(j->sub_id));
	/* no resume point until the snapshot joins the stream */
	fanout_reply_positioned(c, req->id_json, sub_id, false, 0);
	j->next = jobs;
	jobs = j;
}

/* Queue a control or row message to the job's client. */
static void
send_text(SnapJob *j, FoClient *c, const char *text, size_t len)
{
	fanout_send_private(j->priv, c, text, len);
}

/*
 * Read the file's header, compile the filter against its columns, and
 * announce the snapshot.  false (with an error queued) on failure.
 */
static bool
start_rows(SnapJob *j, FoClient *c)
{
	ssize_t		n;
	JsonDoc    *doc;
	const JsonValue *hdr;
	StringInfoData msg;

	j->file = fopen(j->path, "r");
	if (j->file == NULL ||
		(n = getline(&j->line, &j->linecap, j->file)) <= 1)
	{
		fanout_close_with_error(j->priv, c, CP_ERR_SNAPSHOT_FAILED,
								"cannot read the snapshot file");
		return false;
	}
	j->line[--n] = '\0';
	doc = json_doc_create(n, ROW_DOC_NODES, 64);
	hdr = doc ? json_parse(doc, j->line, n, NULL) : NULL;
	j->row_doc = json_doc_create(ROW_DOC_INPUT, ROW_DOC_NODES, 64);
	if (hdr == NULL || j->row_doc == NULL)
	{
		json_doc_free(doc);
		fanout_close_with_error(j->priv, c, CP_ERR_SNAPSHOT_FAILED,
								"bad snapshot file header");
		return false;
	}
	if (json_object_get_cstr(hdr, "relid") == NULL)
	{
		json_doc_free(doc);
		fanout_close_with_error(j->priv, c, CP_ERR_SNAPSHOT_FAILED,
								"bad snapshot file header");
		return false;
	}
	j->relid = (uint32) json_object_get_cstr(hdr, "relid")->num;
	if (j->columns != 0 &&
		!fanout_column_view_of_header(&j->view, j->columns, j->line, n))
	{
		json_doc_free(doc);
		fanout_close_with_error(j->priv, c, CP_ERR_SNAPSHOT_FAILED,
								"cannot apply the role's column privileges to the snapshot");
		return false;
	}

	if (j->filter_json != NULL)
	{
		/* the filter, compiled against the columns the header gives */
		RowFilterColumn *cols = palloc(sizeof(RowFilterColumn) * ROW_FILTER_MAX_COLUMNS);
		int		   *keys = palloc(sizeof(int) * ROW_FILTER_MAX_COLUMNS);
		int			nkeys;
		int			ncols = row_filter_column_description(json_object_get_cstr(hdr, "columns"),
														  json_object_get_cstr(hdr, "types"),
														  json_object_get_cstr(hdr, "key"),
														  cols, keys, &nkeys,
														  ROW_FILTER_MAX_COLUMNS);
		JsonDoc    *fdoc = json_doc_create(strlen(j->filter_json), ROW_DOC_NODES, 64);
		const JsonValue *fv = fdoc ? json_parse(fdoc, j->filter_json,
												strlen(j->filter_json), NULL) : NULL;
		RowFilterError err;

		pfree(keys);
		if (ncols < 0)
		{
			pfree(cols);
			json_doc_free(fdoc);
			json_doc_free(doc);
			fanout_close_with_error(j->priv, c, CP_ERR_SNAPSHOT_FAILED,
									"bad snapshot file header");
			return false;
		}
		if (j->columns != 0)
			fanout_column_view_mask(&j->view, cols, ncols);
		j->filter = fv ? row_filter_compile(fv, cols, ncols, &err) : NULL;
		json_doc_free(fdoc);
		pfree(cols);
		if (j->filter == NULL)
		{
			json_doc_free(doc);
			fanout_close_with_error(j->priv, c, CP_ERR_BAD_FILTER,
									fv ? err.message : "bad filter");
			return false;
		}
	}
	json_doc_free(doc);

	initStringInfo(&msg);
	appendStringInfo(&msg, "{\"type\":\"snapshot_begin\",\"subscription\":\"%s\",\"relation\":",
					 j->sub_id);
	if (j->columns != 0)
	{
		size_t		len;
		char	   *relation = fanout_column_view_header(&j->view, j->line, n, &len);

		if (relation == NULL)
		{
			pfree(msg.data);
			fanout_close_with_error(j->priv, c, CP_ERR_SNAPSHOT_FAILED,
									"cannot apply the role's column privileges to the snapshot");
			return false;
		}
		appendBinaryStringInfo(&msg, relation, len);
		free(relation);
	}
	else
		appendStringInfoString(&msg, j->line);
	appendStringInfoChar(&msg, '}');
	send_text(j, c, msg.data, msg.len);
	pfree(msg.data);
	return true;
}

/*
 * Queue row (an "S" message) to the job's client, projected onto the
 * columns its role may read.  false (error queued) if it cannot be.
 */
static bool
send_row(SnapJob *j, FoClient *c, const char *row, size_t len)
{
	size_t		cap = FO_PROJECTION_BOUND(len);
	size_t		n = (size_t) -1;

	if (j->columns == 0)
	{
		send_text(j, c, row, len);
		return true;
	}
	if (cap > j->projected_cap)
	{
		free(j->projected);
		j->projected_cap = 0;
		if ((j->projected = malloc(cap)) != NULL)
			j->projected_cap = cap;
	}
	if (j->projected != NULL)
		n = fanout_column_view_change(&j->view, row, len, j->projected, cap);
	if (n == (size_t) -1)
	{
		fanout_close_with_error(j->priv, c, CP_ERR_SNAPSHOT_FAILED,
								j->projected ? "a snapshot row does not fit its header" :
								"out of memory");
		return false;
	}
	send_text(j, c, j->projected, n);
	return true;
}

/*
 * Does this row pass the subscription's filter?  row is the whole "S"
 * message, so values left out as too large are UNKNOWN to the filter.
 */
static bool
row_passes(SnapJob *j, const char *row, size_t len)
{
	JsonDoc    *doc = j->row_doc;
	JsonDoc    *big = NULL;
	const JsonValue *v;
	bool		pass;

	if (j->filter == NULL)
		return true;
	if (len > ROW_DOC_INPUT)
		doc = big = json_doc_create(len, (uint32) Min(len, (size_t) 1 << 24), 64);
	v = doc ? json_parse(doc, row, len, NULL) : NULL;
	pass = v != NULL &&
		row_filter_eval_change(j->filter, v, NULL, 0) == ROW_FILTER_TRUE;
	if (big)
		json_doc_free(big);
	return pass;
}

/*
 * The stream after the snapshot starts at the log's end at the request,
 * or before the commit of any transaction the snapshot still saw running
 * whose commit was logged already.
 */
static uint64
stream_start(SnapJob *j, const SnapshotInfo *info)
{
	uint64		start = j->log_end;
	uint32		i;

	for (i = 0; i < info->nxip; i++)
	{
		XLogRecPtr	k = worker_changelog_recent_commit((TransactionId) info->xip[i]);

		if (k != InvalidXLogRecPtr && k - 1 < start)
			start = k - 1;
	}
	return start;
}

/* Send rows while the queue allows; true when the job is over. */
static bool
send_rows(Fanout *live, SnapJob *j, FoClient *c)
{
	size_t		limit = fanout_queue_limit(live) / 2;
	StringInfoData msg;
	int			n;

	initStringInfo(&msg);
	for (n = 0; n < SNAPSHOT_STEP_ROWS && fanout_client_queued_bytes(c) < limit; n++)
	{
		ssize_t		len = getline(&j->line, &j->linecap, j->file);

		if (len <= 1 || j->line[0] == '{')
		{
			SnapshotInfo info;
			XLogRecPtr	lsn;
			uint64		start;

			/* the trailer: the rows are all out */
			resetStringInfo(&msg);
			appendStringInfo(&msg, "{\"type\":\"snapshot_end\",\"subscription\":\"%s\",\"rows\":" INT64_FORMAT "}",
							 j->sub_id, j->rows);
			send_text(j, c, msg.data, msg.len);
			pfree(msg.data);
			if (!pgsync_snapshot_info(j->snap, &info, &lsn))
			{
				fanout_close_with_error(j->priv, c, CP_ERR_SNAPSHOT_FAILED,
										"the snapshot has no visibility information");
				return false;
			}
			start = stream_start(j, &info);
			if (!resume_after_snapshot(j->priv, c, j->sub_id, start, &info, lsn))
			{
				fanout_close_with_error(j->priv, c, CP_ERR_SNAPSHOT_FAILED,
										"the change log no longer holds the snapshot's starting point");
				return false;
			}
			j->priv = NULL;		/* the replay owns it now */
			return true;
		}
		j->line[--len] = '\0';
		resetStringInfo(&msg);
		appendStringInfo(&msg, "[\"S\",%u,%s]", j->relid, j->line);
		if (!row_passes(j, msg.data, msg.len))
			continue;
		if (!send_row(j, c, msg.data, msg.len))
		{
			pfree(msg.data);
			return false;
		}
		j->rows++;
	}
	pfree(msg.data);
	return false;
}

/* Exporters started and not finished yet. */
static int
exporters_running(void)
{
	SnapJob    *j;
	int			n = 0;

	for (j = jobs; j != NULL; j = j->next)
		if (j->snap != NULL && !j->exporter_done)
			n++;
	return n;
}

/*
 * Start the job's exporter (at most pgsync.max_snapshots run at once: each
 * takes a max_worker_processes slot).  false, with an error queued, if it
 * could not start.
 */
static bool
start_exporter(SnapJob *j, FoClient *c)
{
	MemoryContext old = CurrentMemoryContext;
	volatile bool ok = true;
	Oid			role = BOOTSTRAP_SUPERUSERID;
	const char *claims = "";

	/*
	 * The exporter reads as the client's role, with its claims: SELECT
	 * privilege and row-level security apply as to a query of that role.
	 * A role that may read only some columns could not SELECT the whole
	 * row: the exporter reads as the bootstrap superuser and the rows are
	 * projected here (such a snapshot is refused above where RLS applies).
	 */
	if (fanout_client_principal(c) != 0 && j->columns == 0 &&
		!worker_auth_principal(fanout_client_principal(c), &role, &claims))
	{
		fanout_close_with_error(j->priv, c, CP_ERR_PERMISSION_DENIED,
								"the client's role is not checked yet");
		return false;
	}
	/* the stream will start no later than here: the snapshot comes after */
	j->log_end = worker_changelog_last_key();
	PG_TRY();
	{
		pgsync_snapshot_make_dir();
		j->snap = pgsync_snapshot_start(j->relid_oid, j->path, MyDatabaseId,
										InvalidOid, role,
										exporter_settings(claims));
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(old);
		ed = CopyErrorData();
		FlushErrorState();
		fanout_close_with_error(j->priv, c, CP_ERR_SNAPSHOT_FAILED, ed->message);
		FreeErrorData(ed);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* Advance one job; true when it is over (handed to the replay, or gone). */
static bool
job_step(Fanout *live, SnapJob *j)
{
	FoClient   *c = fanout_first_client(j->priv);
	PgsyncSnapshotState st;

	if (c == NULL)
	{
		fanout_destroy(j->priv);	/* the client left */
		j->priv = NULL;
		return true;
	}
	if (fanout_client_closing(c))
		return false;			/* an error is on its way out */
	if (fanout_client_nsubs(c) == 0)
	{
		/* it unsubscribed: the snapshot is cancelled, nothing more of it */
		fanout_client_move(live, c);
		return true;
	}
	if (j->snap == NULL)
	{
		if (exporters_running() >= pgsync_max_snapshots ||
			!start_exporter(j, c))
			return false;		/* waits its turn, or its error is queued */
	}
	if (j->file == NULL)
	{
		st = pgsync_snapshot_poll(j->snap);
		if (st == PGSYNC_SNAPSHOT_DONE || st == PGSYNC_SNAPSHOT_FAILED)
			j->exporter_done = true;
		if (st == PGSYNC_SNAPSHOT_FAILED)
		{
			int			sqlerrcode;

			fanout_close_with_error(j->priv, c, CP_ERR_SNAPSHOT_FAILED,
									pgsync_snapshot_error(j->snap, &sqlerrcode));
			return false;
		}
		if (st != PGSYNC_SNAPSHOT_DONE || !start_rows(j, c))
			return false;
	}
	return send_rows(live, j, c);
}

void
snapshot_step(Fanout *live)
{
	SnapJob   **link = &jobs;

	while (*link != NULL)
	{
		SnapJob    *j = *link;

		if (job_step(live, j))
		{
			*link = j->next;
			if (j->priv != NULL)
				fanout_destroy(j->priv);
			job_free(j);
		}
		else
			link = &j->next;
	}
}
