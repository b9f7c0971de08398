/*-------------------------------------------------------------------------
 *
 * worker_status.c
 *	  What the worker shows in shared memory for the pgsync.status and
 *	  pgsync.clients views (sql_status.c reads it): one line per client,
 *	  live or replaying or taking a snapshot, and the worker's totals.
 *	  Each serving process (the worker, or each network worker) writes its
 *	  own clients' lines, in its own range of the shared client table, and
 *	  its own totals; the decoding worker writes the decoding and log
 *	  figures.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

#include "log/change_log.h"
#include "net/ws_server.h"
#include "shared_state.h"
#include "worker/worker_changelog.h"
#include "worker/worker_decode.h"
#include "worker/worker_resume.h"
#include "worker/worker_serve_snapshot.h"
#include "worker/worker_status.h"

static int	serve_index = 0;	/* 0: the worker; 1 + i: network worker i */
static int	slot_base = 0;		/* this process's range of the client table */

void
worker_status_set_serving(int index)
{
	serve_index = index;
	slot_base = index == 0 ? 0 : (index - 1) * pgsync_shared->max_clients;
	LWLockAcquire(pgsync_shared->lock, LW_EXCLUSIVE);
	memset(&pgsync_shared->serve[serve_index], 0, sizeof(PgsyncServeStat));
	pgsync_shared->serve[serve_index].pid = MyProcPid;
	LWLockRelease(pgsync_shared->lock);
}

/* At exit: this process's clients and totals are gone. */
void
worker_status_forget_serving(void)
{
	LWLockAcquire(pgsync_shared->client_lock[serve_index], LW_EXCLUSIVE);
	for (int i = 0; i < pgsync_shared->max_clients; i++)
		pgsync_shared->clients[slot_base + i].in_use = false;
	LWLockRelease(pgsync_shared->client_lock[serve_index]);
	LWLockAcquire(pgsync_shared->lock, LW_EXCLUSIVE);
	memset(&pgsync_shared->serve[serve_index], 0, sizeof(PgsyncServeStat));
	LWLockRelease(pgsync_shared->lock);
}

/* One client's line of pgsync.clients; phase is NULL for live push. */
static void
publish_client(FoClient *c, const char *phase)
{
	PgsyncClientStat *st;

	if (fanout_client_stat_slot(c) < 0)
		return;
	st = &pgsync_shared->clients[slot_base + fanout_client_stat_slot(c)];
	/* the text only when it changed: thousands of idle clients cost nothing */
	if (!st->in_use || st->subs_changes != fanout_client_subs_changes(c) ||
		st->phase != phase)
	{
		strlcpy(st->peer, fanout_client_peer(c), PGSYNC_PEER_LEN);
		fanout_describe_subs(c, st->subscriptions, PGSYNC_SUBS_LEN);
		if (phase != NULL)
		{
			size_t		n = strlen(st->subscriptions);

			snprintf(st->subscriptions + n, PGSYNC_SUBS_LEN - n, " (%s)", phase);
		}
		st->subs_changes = fanout_client_subs_changes(c);
		st->phase = phase;
	}
	st->in_use = true;
	st->worker_pid = MyProcPid;
	st->last_lsn_sent = fanout_client_sent_position(c);
	st->queued_bytes = fanout_client_queued_bytes(c);
	st->msgs_sent = fanout_client_msgs_sent(c);
	st->bytes_sent = fanout_client_bytes_sent(c);
	st->connected_since = (TimestampTz) fanout_client_connected_at(c);
}

void
worker_status_publish(Fanout *fanout, bool serving, bool decoding)
{
	int			slot;
	FoClient   *c;
	PgsyncServeStat *serve = &pgsync_shared->serve[serve_index];

	if (serving)
	{
		LWLockAcquire(pgsync_shared->client_lock[serve_index], LW_EXCLUSIVE);
		while ((slot = ws_server_take_released_slot()) >= 0)
			pgsync_shared->clients[slot_base + slot].in_use = false;
		for (c = fanout_first_client(fanout); c != NULL; c = fanout_next_client(c))
			publish_client(c, NULL);
		resume_foreach_client(publish_client, "replaying the change log");
		snapshot_foreach_client(publish_client, "initial snapshot");
		LWLockRelease(pgsync_shared->client_lock[serve_index]);
	}
	LWLockAcquire(pgsync_shared->lock, LW_EXCLUSIVE);
	if (!serving)
		goto decoding;
	serve->pid = MyProcPid;
	serve->nclients = fanout_client_count(fanout) + resume_count() +
		snapshot_count();
	serve->msgs_sent = fanout_msgs_sent(fanout);
	serve->bytes_sent = fanout_bytes_sent(fanout);
decoding:
	if (decoding)
	{
		pgsync_shared->decode_lsn = decode_position();
		pgsync_shared->confirmed_lsn = decode_confirmed();
		pgsync_shared->msgs_decoded = fanout_msgs_published(fanout);
		if (worker_changelog() != NULL)
		{
			pgsync_shared->log_bytes = changelog_total_bytes(worker_changelog());
			pgsync_shared->log_oldest_lsn = changelog_oldest_resume_key(worker_changelog());
			pgsync_shared->log_last_lsn = changelog_last_key(worker_changelog());
		}
	}
	LWLockRelease(pgsync_shared->lock);
}
