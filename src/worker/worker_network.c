/*-------------------------------------------------------------------------
 *
 * worker_network.c
 *	  A network worker: serves WebSocket clients from the change log.
 *
 * With pgsync.network_workers = N > 0 the postmaster starts N of them
 * beside the worker, which then only decodes and writes the log.  Each
 * listens on pgsync.port with SO_REUSEPORT (the kernel spreads new
 * connections over them), follows the log (worker_follow.c) into its own
 * fan-out, and runs the same serving half of the loop as the worker
 * (worker_serve.c): resume, catch-up, snapshots, heartbeats and the views
 * work the same on every one.  They share nothing but the log's files and
 * the published end, so each scales with a core of its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <uv.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "fanout/fanout.h"
#include "guc.h"
#include "net/ws_fd_budget.h"
#include "pgsync.h"
#include "shared_state.h"
#include "worker/worker.h"
#include "worker/worker_follow.h"
#include "worker/worker_serve.h"
#include "worker/worker_status.h"

#define FOLLOW_BUDGET_MS		20	/* clients serviced at least this often */
#define IDLE_TIMEOUT_MS			1000	/* the worker sets our latch */
#define STATUS_INTERVAL_MS		200
#define START_RETRY_MS			100 /* the log is not published yet */

static uv_loop_t loop;
static int	network_index;

void
pgsync_register_network_workers(void)
{
	BackgroundWorker bgw;

	for (int i = 0; i < pgsync_network_workers; i++)
	{
		memset(&bgw, 0, sizeof(bgw));
		bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
		bgw.bgw_restart_time = 1;
		snprintf(bgw.bgw_library_name, BGW_MAXLEN, "pgsync");
		snprintf(bgw.bgw_function_name, BGW_MAXLEN, "pgsync_network_worker_main");
		snprintf(bgw.bgw_name, BGW_MAXLEN, "pgsync network worker %d", i + 1);
		snprintf(bgw.bgw_type, BGW_MAXLEN, "pgsync network worker");
		bgw.bgw_main_arg = Int32GetDatum(i);
		RegisterBackgroundWorker(&bgw);
	}
}

static void
network_exit_cb(int code, Datum arg)
{
	pg_atomic_write_u32(&pgsync_shared->network_procno[network_index], 0);
	worker_status_forget_serving();
}

static void
service_cb(void)
{
	uv_run(&loop, UV_RUN_NOWAIT);
}

void
pgsync_network_worker_main(Datum arg)
{
	MemoryContext mcxt;
	WaitEventSet *wes;
	Fanout	   *fanout;
	TimestampTz next_status = 0;
	TimestampTz next_start_attempt = 0;

	network_index = DatumGetInt32(arg);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	if (pgsync_shared == NULL)
		elog(ERROR, "pgsync: shared memory not initialized");

	mcxt = AllocSetContextCreate(TopMemoryContext, "pgsync network worker",
								 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(mcxt);
	BackgroundWorkerInitializeConnection(pgsync_database, NULL, 0);
	pgstat_report_appname("pgsync network worker");
	ws_fd_budget_raise_limit();

	fanout = serve_init(&loop, mcxt);
	serve_apply_settings();
	before_shmem_exit(network_exit_cb, (Datum) 0);
	worker_status_set_serving(1 + network_index);
	pg_atomic_write_u32(&pgsync_shared->network_procno[network_index],
						MyProc->pgprocno + 1);
	serve_try_listen(GetCurrentTimestamp(), false);

	wes = serve_wait_event_set();

	for (;;)
	{
		TimestampTz now;
		bool		more = false;
		long		timeout;

		if (!serve_check_signals(serve_apply_settings))
			break;
		now = GetCurrentTimestamp();
		serve_try_listen(now, follow_started());
		if (!follow_started() && now >= next_start_attempt)
		{
			(void) follow_start();
			next_start_attempt = TimestampTzPlusMilliseconds(now, START_RETRY_MS);
		}
		if (follow_started())
			more = follow_pass(fanout, FOLLOW_BUDGET_MS, service_cb);

		uv_run(&loop, UV_RUN_NOWAIT);
		now = GetCurrentTimestamp();
		serve_step(now, follow_heartbeat_lsn());
		if (now >= next_status)
		{
			worker_status_publish(fanout, true, false);
			next_status = TimestampTzPlusMilliseconds(now, STATUS_INTERVAL_MS);
		}
		/* the heartbeat and replies may have queued writes */
		uv_run(&loop, UV_RUN_NOWAIT);

		if (more)
			timeout = 0;
		else
		{
			timeout = IDLE_TIMEOUT_MS;
			timeout = Min(timeout, worker_ms_until(next_status, now));
			if (!follow_started())
				timeout = Min(timeout, START_RETRY_MS);
			timeout = serve_timeout(timeout, now);
		}
		serve_sleep(wes, timeout);
	}

	serve_shutdown();
	ereport(LOG, (errmsg("pgsync: network worker stopping")));
	proc_exit(1);
}
