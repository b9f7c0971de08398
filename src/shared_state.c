/*-------------------------------------------------------------------------
 *
 * shared_state.c
 *	  Shared memory of pgsync and the commit wake-up of the worker.
 *
 * Every backend of a server that preloads pgsync registers a transaction
 * callback: after a commit that wrote a commit record (XactLastCommitEnd
 * moved), it raises last_commit_end and sets the worker's latch, so the
 * worker decodes the commit right away instead of polling.  With
 * synchronous_commit = off the WAL may not be flushed yet when the latch
 * is set: the worker then sees last_commit_end ahead of the flush pointer
 * and retries after a short timeout (worker.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "shared_state.h"

PgsyncShared *pgsync_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static XLogRecPtr last_seen_commit_end = InvalidXLogRecPtr;

int
pgsync_serving_processes(void)
{
	return pgsync_network_workers > 0 ? pgsync_network_workers : 1;
}

int
pgsync_range_server(int r)
{
	return pgsync_network_workers > 0 ? 1 + r : 0;
}

static Size
shared_size(void)
{
	return add_size(offsetof(PgsyncShared, clients),
					mul_size(sizeof(PgsyncClientStat),
							 mul_size(pgsync_max_clients,
									  pgsync_serving_processes())));
}

static void
pgsync_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
	RequestNamedLWLockTranche("pgsync", 2 + PGSYNC_MAX_NETWORK_WORKERS);
}

static void
pgsync_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pgsync_shared = ShmemInitStruct("pgsync", shared_size(), &found);
	if (!found)
	{
		memset(pgsync_shared, 0, shared_size());
		pgsync_shared->lock = &(GetNamedLWLockTranche("pgsync"))[0].lock;
		for (int i = 0; i < 1 + PGSYNC_MAX_NETWORK_WORKERS; i++)
			pgsync_shared->client_lock[i] = &(GetNamedLWLockTranche("pgsync"))[1 + i].lock;
		pg_atomic_init_u32(&pgsync_shared->worker_procno, 0);
		pg_atomic_init_u64(&pgsync_shared->last_commit_end, 0);
		for (int i = 0; i < PGSYNC_MAX_NETWORK_WORKERS; i++)
			pg_atomic_init_u32(&pgsync_shared->network_procno[i], 0);
		SpinLockInit(&pgsync_shared->log_end_mutex);
		pgsync_shared->max_clients = pgsync_max_clients;
		pgsync_shared->nclient_slots = pgsync_max_clients * pgsync_serving_processes();
		strlcpy(pgsync_shared->state, pgsync_port == 0 ? "disabled" : "starting",
				PGSYNC_STATE_LEN);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Wake the worker after a commit that wrote WAL. */
static void
pgsync_xact_callback(XactEvent event, void *arg)
{
	XLogRecPtr	end = XactLastCommitEnd;
	uint32		procno;
	uint64		cur;

	if (event != XACT_EVENT_COMMIT || pgsync_shared == NULL ||
		end == last_seen_commit_end || end == InvalidXLogRecPtr)
		return;
	last_seen_commit_end = end;

	/* raise last_commit_end to end */
	cur = pg_atomic_read_u64(&pgsync_shared->last_commit_end);
	while (cur < end &&
		   !pg_atomic_compare_exchange_u64(&pgsync_shared->last_commit_end,
										   &cur, end))
		;

	procno = pg_atomic_read_u32(&pgsync_shared->worker_procno);
	if (procno != 0 && procno - 1 < ProcGlobal->allProcCount)
		SetLatch(&ProcGlobal->allProcs[procno - 1].procLatch);
}

void
pgsync_shared_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgsync_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgsync_shmem_startup;
	RegisterXactCallback(pgsync_xact_callback, NULL);
}

void
pgsync_publish_log_end(const PgsyncLogEnd *end)
{
	SpinLockAcquire(&pgsync_shared->log_end_mutex);
	pgsync_shared->log_end.valid = true;
	pgsync_shared->log_end.end = end->end;
	pgsync_shared->log_end.routed_lsn = end->routed_lsn;
	pgsync_shared->log_end.heartbeat_lsn = end->heartbeat_lsn;
	SpinLockRelease(&pgsync_shared->log_end_mutex);
}

void
pgsync_read_log_end(PgsyncLogEnd *end)
{
	SpinLockAcquire(&pgsync_shared->log_end_mutex);
	*end = pgsync_shared->log_end;
	SpinLockRelease(&pgsync_shared->log_end_mutex);
}

/* The log is about to be removed: followers must start over. */
void
pgsync_forget_log_end(void)
{
	if (pgsync_shared == NULL)
		return;
	SpinLockAcquire(&pgsync_shared->log_end_mutex);
	pgsync_shared->log_end.valid = false;
	pgsync_shared->log_end.generation++;
	SpinLockRelease(&pgsync_shared->log_end_mutex);
	pgsync_wake_network_workers();
}

void
pgsync_wake_network_workers(void)
{
	for (int i = 0; i < pgsync_network_workers; i++)
	{
		uint32		procno = pg_atomic_read_u32(&pgsync_shared->network_procno[i]);

		if (procno != 0 && procno - 1 < ProcGlobal->allProcCount)
			SetLatch(&ProcGlobal->allProcs[procno - 1].procLatch);
	}
}

void
pgsync_set_state(const char *state)
{
	if (pgsync_shared == NULL)
		return;
	LWLockAcquire(pgsync_shared->lock, LW_EXCLUSIVE);
	strlcpy(pgsync_shared->state, state, PGSYNC_STATE_LEN);
	LWLockRelease(pgsync_shared->lock);
}

void
pgsync_set_error(const char *msg)
{
	if (pgsync_shared == NULL)
		return;
	LWLockAcquire(pgsync_shared->lock, LW_EXCLUSIVE);
	strlcpy(pgsync_shared->last_error, msg ? msg : "", PGSYNC_ERROR_LEN);
	pgsync_shared->last_error_time = msg ? GetCurrentTimestamp() : 0;
	LWLockRelease(pgsync_shared->lock);
}
