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

static Size
shared_size(void)
{
	return add_size(offsetof(PgsyncShared, clients),
					mul_size(sizeof(PgsyncClientStat), pgsync_max_clients));
}

static void
pgsync_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
	RequestNamedLWLockTranche("pgsync", 1);
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
		pgsync_shared->lock = &(GetNamedLWLockTranche("pgsync"))->lock;
		pg_atomic_init_u32(&pgsync_shared->worker_procno, 0);
		pg_atomic_init_u64(&pgsync_shared->last_commit_end, 0);
		pgsync_shared->max_clients = pgsync_max_clients;
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
