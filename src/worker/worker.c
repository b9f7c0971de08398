/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The pgsync background worker: setup, main loop, signals.
 *
 * One process decodes on one thread: it decodes the slot in process
 * (worker_decode.c), appends to the change log (worker_changelog.c) and
 * routes each message to client queues (fanout.c).  Unless network
 * workers serve the clients (pgsync.network_workers, worker_network.c,
 * which follow the log this process publishes), it also serves WebSocket
 * clients with the serving half of the loop (worker_serve.c:
 * libwebsockets on a libuv loop owned here).  The main loop waits on a
 * WaitEventSet of MyLatch, postmaster death and uv_backend_fd();
 * committing backends set MyLatch (shared_state.c).  Each iteration:
 * decode what is flushed (time bounded), run the libuv loop once without
 * blocking, write the log (and publish its end to network workers), then
 * serve: parked subscribe requests, replays, heartbeats; the shared
 * status.
 *
 * When the slot cannot be created or used (wal_level, output_plugin_
 * libraries, no free slot, ...) the worker keeps serving WebSocket clients,
 * reports the error in pgsync.status and the log, and retries every few
 * seconds.  Fatal errors exit the process; the postmaster restarts it
 * after bgw_restart_time.  SIGTERM closes clients with a "shutting_down"
 * error and exits with code 1 so the postmaster restarts it unless the
 * server itself is shutting down.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <uv.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/slot.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "executor/spi.h"

#include "debug/lat_probe.h"
#include "fanout/fanout.h"
#include "guc.h"
#include "net/ws_fd_budget.h"
#include "net/ws_auth.h"
#include "net/ws_server.h"
#include "net/ws_tls.h"
#include "pgsync.h"
#include "protocol/client_protocol.h"
#include "shared_state.h"
#include "worker/slot_watch.h"
#include "worker/worker.h"
#include "worker/worker_auth.h"
#include "worker/worker_changelog.h"
#include "worker/worker_decode.h"
#include "worker/worker_resume.h"
#include "worker/worker_serve_snapshot.h"
#include "worker/worker_status.h"
#include "worker/worker_stream.h"
#include "worker/worker_serve.h"


#define DECODE_BUDGET_MS		20	/* network serviced at least this often */
#define IDLE_TIMEOUT_MS			250 /* safety net for WAL without wake-up */
#define STATUS_INTERVAL_MS		200
#define SETUP_RETRY_MS			5000

static uv_loop_t loop;
static Fanout *fanout = NULL;
static TimestampTz next_setup_attempt = 0;
static TimestampTz next_status = 0;
static TimestampTz next_log_sync = 0;
static bool log_dirty = false;	/* appended or decoded since the last sync */
static bool serving = true;		/* serves clients: no network workers */
static MemoryContext worker_mcxt = NULL;

void
pgsync_register_worker(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 1;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "pgsync");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "pgsync_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "pgsync worker");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "pgsync worker");
	RegisterBackgroundWorker(&bgw);
}

static void
worker_exit_cb(int code, Datum arg)
{
	if (pgsync_shared == NULL)
		return;
	pg_atomic_write_u32(&pgsync_shared->worker_procno, 0);
	if (serving)
		worker_status_forget_serving();
	LWLockAcquire(pgsync_shared->lock, LW_EXCLUSIVE);
	pgsync_shared->worker_pid = 0;
	strlcpy(pgsync_shared->state, "stopped", PGSYNC_STATE_LEN);
	LWLockRelease(pgsync_shared->lock);
}

/*
 * PostgreSQL invalidated the slot (max_slot_wal_keep_size): the WAL it
 * needed is gone, decoding cannot continue from it.  The log goes first,
 * then the slot (see worker_changelog_discard()); ensure_slot() then creates a
 * new one, and the log starts anew at its position.
 */
static void
replace_lost_slot(void)
{
	int			n = worker_changelog_discard();

	ereport(WARNING,
			(errmsg("pgsync: replication slot \"%s\" was invalidated; replacing it with a new slot and a new change log",
					pgsync_slot_name),
			 errdetail("PostgreSQL removed WAL the slot needed (max_slot_wal_keep_size). Transactions committed until the new slot is created are not streamed; %d change log segments were removed, and clients resuming from before the new slot get resume_too_old.", n),
			 errhint("Raise max_slot_wal_keep_size, or find out why the worker fell behind (pgsync.status).")));
	ReplicationSlotDrop(pgsync_slot_name, true);
}

/*
 * Create the slot if missing or invalidated; ERROR if it exists but does
 * not fit.  A log without its slot is removed first.
 */
static void
ensure_slot(void)
{
	ReplicationSlot *slot;
	bool		exists = false;
	Oid			dboid = InvalidOid;
	NameData	plugin;
	SlotWatch	w;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(pgsync_slot_name, false);
	if (slot != NULL)
	{
		exists = true;
		SpinLockAcquire(&slot->mutex);
		dboid = slot->data.database;
		plugin = slot->data.plugin;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);

	if (exists &&
		(dboid != MyDatabaseId || strcmp(NameStr(plugin), "pgsync") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgsync: replication slot \"%s\" exists but is not a pgsync slot of database \"%s\" (plugin \"%s\")",
						pgsync_slot_name, pgsync_database, NameStr(plugin)),
				 errhint("Drop it or set pgsync.slot_name to another name.")));
	if (exists && slot_watch_read(pgsync_slot_name, &w))
	{
		/* warn before using it: a worker failing right after still warns */
		slot_watch_warn(pgsync_slot_name, &w);
		if (!w.invalidated)
			return;
		replace_lost_slot();
	}
	else if (worker_changelog_discard() > 0)
		ereport(WARNING,
				(errmsg("pgsync: replication slot \"%s\" is missing; removed the change log that led up to it",
						pgsync_slot_name),
				 errdetail("A new slot starts a new log. Clients resuming from before now get resume_too_old.")));

	pgsync_set_state("creating slot");
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(pgsync_slot_name)};

		if (SPI_execute_with_args("SELECT pg_catalog.pg_create_logical_replication_slot($1::name, 'pgsync')",
								  1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "pgsync: could not create replication slot \"%s\"", pgsync_slot_name);
	}
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	ereport(LOG, (errmsg("pgsync: created logical replication slot \"%s\"",
						 pgsync_slot_name)));
}

/*
 * Each message of the output plugin: into the durable log first, then to
 * the live clients.  Messages of a transaction already in the log (decoding
 * restarted behind the log's end after a crash) are not sent again; their
 * relation messages still update the fan-out's relation table.  Every
 * message of a transaction carries its commit LSN (the log's unit key) as
 * its LSN: that is the resume point a client is given.
 *
 * A transaction decoded while in progress (worker_stream.c) reaches no
 * client before its commit, its relation messages included: the plugin
 * describes its tables inside it, and again to the first change of each
 * outside it after its commit (output_plugin.c).  At its commit it joins the log
 * as an out-of-line unit, and the live clients subscribed to a table it
 * touches catch up from the log (fanout_lag_subscribers()): routing it
 * live would cost its size before the next commit could go out.  Its
 * begin and commit go through the fan-out, routing nothing, to keep its
 * transaction count and last commit.
 */
static void
sink_cb(const char *data, size_t len, XLogRecPtr lsn)
{
	char		op = len > 3 ? data[2] : '?';
	bool		fresh;
	ChangeLogSpool *spool = NULL;
	FanoutTableName *tables;
	int			ntables;

	log_dirty = true;
	if (stream_consume(data, len))
		return;
	if (op == 'B')
		spool = stream_take(worker_changelog_message_xid(data, len), &tables,
							&ntables);
	if (spool != NULL)
	{
		fresh = worker_changelog_append_streamed(data, len, spool);
		if (fresh)
			fanout_lag_subscribers(fanout, tables, ntables);
		stream_tables_free(tables, ntables);
	}
	else
		fresh = worker_changelog_append(data, len);
	if (fresh || op == 'R')
		fanout_publish(fanout, data, len, worker_changelog_last_unit_key());
}

/*
 * Make the log durable and confirm the slot behind it, at most every
 * pgsync.log_sync_interval: clients get changes before the fsync, and a
 * crash in between only means those transactions are decoded again and
 * recognised by their commit LSN as already logged.
 *
 * The slot moves to the decoding position also when nothing was appended
 * (an idle database while others write): every transaction of this
 * database committed before that position is in the log already, and
 * one still in progress is decoded again from restart_lsn, which
 * PostgreSQL keeps before its first change.  So restart_lsn follows at
 * the next running-xacts record and the slot pins only the WAL decoding
 * has not passed yet (docs/OPERATIONS.md).
 */
static void
sync_log_and_confirm(TimestampTz now, bool force)
{
	XLogRecPtr	pos;

	if (!decode_started() || (!force && now < next_log_sync))
		return;
	pos = decode_position();
	if (log_dirty)
	{
		worker_changelog_flush();
		worker_changelog_sync();
		log_dirty = false;
	}
	else if (pos <= decode_confirmed())
		return;
	decode_confirm(pos);
	next_log_sync = TimestampTzPlusMilliseconds(now, pgsync_log_sync_interval_ms);
}

/*
 * The resume point heartbeats carry: every transaction of this database
 * committed at or before it has been logged and routed.  Between passes
 * that is everything whose commit record starts before the decoding
 * position, so position - 1 (a commit record may start exactly there),
 * or the log's last transaction if that is higher.
 */
static XLogRecPtr
heartbeat_lsn(void)
{
	XLogRecPtr	last = worker_changelog_last_key();
	XLogRecPtr	pos = decode_position();

	if (decode_started() && worker_changelog() != NULL && pos > last + 1)
		return pos - 1;
	return last;
}

static void
service_cb(void)
{
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void
try_start_decoding(void)
{
	MemoryContextSwitchTo(worker_mcxt);
	PG_TRY();
	{
		ensure_slot();
		decode_start(pgsync_slot_name, sink_cb, service_cb, DECODE_BUDGET_MS);
		worker_changelog_open(decode_confirmed() > 0 ? decode_confirmed() - 1 : 0);
		pgsync_set_state("streaming");
		/* a listening error stays shown until the server listens */
		if (serve_listening() || !serving)
			worker_clear_error();
	}
	PG_CATCH();
	{
		worker_recover_from_error("cannot use replication slot");
		decode_forget();
		pgsync_set_state("waiting for slot");
	}
	PG_END_TRY();
	MemoryContextSwitchTo(worker_mcxt);
}

/* The slot's WAL retention: its time of last move, and the WARNING. */
static void
watch_slot(void)
{
	SlotWatch	w;

	if (slot_watch_read(pgsync_slot_name, &w) && w.is_pgsync)
		slot_watch_warn(pgsync_slot_name, &w);
}

static void
apply_reloadable_settings(void)
{
	char		work_mem[32];

	/* the reorder buffer reads it at every change: takes effect at once */
	snprintf(work_mem, sizeof(work_mem), "%dkB", pgsync_decoding_work_mem_kb);
	SetConfigOption("logical_decoding_work_mem", work_mem, PGC_SUSET,
					PGC_S_OVERRIDE);
	serve_apply_settings();
}

void
pgsync_worker_main(Datum arg)
{
	WaitEventSet *wes;

	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	if (pgsync_shared == NULL)
		elog(ERROR, "pgsync: shared memory not initialized");
	if (pgsync_port == 0)
		slot_watch_main();

	worker_mcxt = AllocSetContextCreate(TopMemoryContext, "pgsync worker",
										ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(worker_mcxt);

	before_shmem_exit(worker_exit_cb, (Datum) 0);
	LWLockAcquire(pgsync_shared->lock, LW_EXCLUSIVE);
	pgsync_shared->worker_pid = MyProcPid;
	pgsync_shared->started_at = GetCurrentTimestamp();
	strlcpy(pgsync_shared->state, "connecting", PGSYNC_STATE_LEN);
	LWLockRelease(pgsync_shared->lock);
	pg_atomic_write_u32(&pgsync_shared->worker_procno, MyProc->pgprocno + 1);

	BackgroundWorkerInitializeConnection(pgsync_database, NULL, 0);
	pgstat_report_appname("pgsync worker");
	/* with network workers (worker_network.c), they serve the clients */
	serving = pgsync_network_workers == 0;
	if (serving)
		ws_fd_budget_raise_limit();

	fanout = serve_init(&loop, worker_mcxt);
	apply_reloadable_settings();
	if (serving)
	{
		worker_status_set_serving(0);
		serve_try_listen(GetCurrentTimestamp(), false);
	}

	wes = serve_wait_event_set();

	for (;;)
	{
		TimestampTz now;
		bool		more = false;
		long		timeout;

		if (!serve_check_signals(apply_reloadable_settings))
			break;

		now = GetCurrentTimestamp();
		if (serving)
			serve_try_listen(now, decode_started());
		if (!decode_started() && now >= next_setup_attempt)
		{
			try_start_decoding();
			next_setup_attempt = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															 SETUP_RETRY_MS);
		}

		lat_probe_decode_start();
		if (decode_started())
		{
			PG_TRY();
			{
				more = decode_pass(DECODE_BUDGET_MS);
			}
			PG_CATCH();
			{
				/* record it for pgsync.status, then exit: restarted */
				MemoryContextSwitchTo(worker_mcxt);
				{
					ErrorData  *ed = CopyErrorData();

					pgsync_set_error(ed->message);
					FreeErrorData(ed);
				}
				PG_RE_THROW();
			}
			PG_END_TRY();
		}

		lat_probe_decode_end();

		/*
		 * Send first (ws_server_flush() runs inside uv_run), then write
		 * the log: neither its write() nor its periodic fsync delays the
		 * push.
		 */
		uv_run(&loop, UV_RUN_NOWAIT);
		lat_probe_sent();
		if (decode_started())
		{
			/* readers see what was appended; durable on the sync interval */
			worker_changelog_flush();
			if (pgsync_network_workers > 0)
				worker_changelog_publish_end(decode_position(), heartbeat_lsn());
			sync_log_and_confirm(GetCurrentTimestamp(), false);
		}
		now = GetCurrentTimestamp();
		if (serving)
			serve_step(now, heartbeat_lsn());
		if (now >= next_status)
		{
			if (decode_started())
			{
				worker_changelog_retain();
				stream_discard_ended();
			}
			worker_status_publish(fanout, serving, true);
			watch_slot();
			next_status = TimestampTzPlusMilliseconds(now, STATUS_INTERVAL_MS);
		}
		/* the heartbeat and replies may have queued writes */
		uv_run(&loop, UV_RUN_NOWAIT);

		lat_probe_iteration_end();
		/* how long may we sleep? */
		if (more)
			timeout = 0;
		else
		{
			XLogRecPtr	commit = pg_atomic_read_u64(&pgsync_shared->last_commit_end);
			long		wal_wait = decode_wait_for_wal(commit, now);

			timeout = IDLE_TIMEOUT_MS;
			if (wal_wait >= 0)
				timeout = wal_wait;
			if (log_dirty || (decode_started() &&
							  decode_position() > decode_confirmed()))
				timeout = Min(timeout, worker_ms_until(next_log_sync, now));
			timeout = Min(timeout, worker_ms_until(next_status, now));
			if (!decode_started())
				timeout = Min(timeout, SETUP_RETRY_MS);
			if (serving)
				timeout = serve_timeout(timeout, now);
		}

		serve_sleep(wes, timeout);
	}

	sync_log_and_confirm(GetCurrentTimestamp(), true);
	if (pgsync_network_workers > 0 && decode_started())
		worker_changelog_publish_end(decode_position(), heartbeat_lsn());
	pgsync_set_state("stopping");
	if (serving)
		serve_shutdown();
	ereport(LOG, (errmsg("pgsync: worker stopping")));
	proc_exit(1);
}
