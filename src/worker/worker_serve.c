/*-------------------------------------------------------------------------
 *
 * worker_serve.c
 *	  Serving WebSocket clients: listening, the requests parked by
 *	  ws_server.c, replays and snapshots, heartbeats, shutdown.
 *
 * The worker runs this half of its loop beside decoding (worker.c); a
 * network worker runs it beside following the change log
 * (worker_network.c).  Either way the stream's messages reach the
 * process's fan-out before serve_step(), at transaction boundaries, and
 * worker_changelog() is the log as far as they were routed: a
 * subscription's first resume point, a replay's hand-over and a
 * snapshot's start are all taken against it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <uv.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "utils/guc.h"
#include "replication/slot.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "debug/lat_probe.h"
#include "guc.h"
#include "net/ws_auth.h"
#include "net/ws_server.h"
#include "net/ws_tls.h"
#include "protocol/client_protocol.h"
#include "shared_state.h"
#include "worker/worker_auth.h"
#include "worker/worker_changelog.h"
#include "worker/worker_resume.h"
#include "worker/worker_serve.h"
#include "worker/worker_serve_snapshot.h"
#include "worker/worker_status.h"
#include "worker/worker_subscribe.h"

#define SETUP_RETRY_MS			5000
#define LOCK_RETRY_MS			10	/* a subscribe waits for a table lock */
#define FILTER_IDLE_MS			60000	/* compiled filters of idle tables */

static uv_loop_t *loop;
static Fanout *fanout;
static MemoryContext worker_mcxt;
static bool listening = false;
static TimestampTz next_listen_attempt = 0;
static TimestampTz next_heartbeat = 0;
static TimestampTz next_filter_release = 0;
static bool lock_waits = false;	/* a parked subscribe waits for a lock */
static int	replaying_seen = 0;	/* replays and snapshots after the last step */
static char last_logged_error[PGSYNC_ERROR_LEN];

Fanout *
serve_init(uv_loop_t *l, MemoryContext mcxt)
{
	loop = l;
	worker_mcxt = mcxt;
	if (uv_loop_init(loop) != 0)
		ereport(ERROR, (errmsg("pgsync: could not initialize the libuv loop")));
	fanout = fanout_create((size_t) pgsync_client_queue_kb * 1024, NULL, NULL);
	if (fanout == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return fanout;
}

WaitEventSet *
serve_wait_event_set(void)
{
	WaitEventSet *wes = CreateWaitEventSet(TopMemoryContext, 3);

	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, uv_backend_fd(loop), NULL, NULL);
	return wes;
}

bool
serve_check_signals(void (*apply) (void))
{
	if (ShutdownRequestPending)
		return false;
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		apply();
		serve_reload_tls();
	}
	return true;
}

void
serve_sleep(WaitEventSet *wes, long timeout)
{
	WaitEvent	events[3];

	(void) WaitEventSetWait(wes, timeout, events, 3, PG_WAIT_EXTENSION);
	lat_probe_woken();
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

bool
serve_listening(void)
{
	return listening;
}

/* Record an error: shared status, and the log when it changes. */
void
worker_report_error(const char *what, const char *msg, const char *hint)
{
	char		buf[PGSYNC_ERROR_LEN];

	snprintf(buf, sizeof(buf), "%s: %s%s%s", what, msg,
			 hint ? " HINT: " : "", hint ? hint : "");
	pgsync_set_error(buf);
	if (strcmp(buf, last_logged_error) != 0)
	{
		ereport(WARNING, (errmsg("pgsync: %s", buf)));
		strlcpy(last_logged_error, buf, sizeof(last_logged_error));
	}
}

void
worker_clear_error(void)
{
	pgsync_set_error(NULL);
	last_logged_error[0] = '\0';
}

/* Catch an error in the setup steps: abort, release, report. */
void
worker_recover_from_error(const char *what)
{
	ErrorData  *ed;

	MemoryContextSwitchTo(worker_mcxt);
	ed = CopyErrorData();
	FlushErrorState();
	AbortOutOfAnyTransaction();
	if (MyReplicationSlot != NULL)
		ReplicationSlotRelease();
	ReplicationSlotCleanup();
	worker_report_error(what, ed->message, ed->hint);
	FreeErrorData(ed);
}

static void
try_listen(bool stream_ready)
{
	const char *err = NULL;

	/* the files are read again at every attempt: fixed, they are used */
	if (!worker_auth_listen_allowed(pgsync_listen_address, &err) ||
		(pgsync_ssl && !ws_tls_load(pgsync_ssl_cert_file, pgsync_ssl_key_file, &err)))
	{
		worker_report_error("cannot start WebSocket server", err, NULL);
		return;
	}
	if (ws_server_start(loop, pgsync_listen_address, pgsync_port, fanout,
						pgsync_max_clients, pgsync_network_workers > 0, &err))
	{
		listening = true;
		ereport(LOG, (errmsg("pgsync: WebSocket server listening on %s:%d%s",
							 pgsync_listen_address, pgsync_port,
							 ws_tls_enabled() ? " (TLS)" : ""),
					  pgsync_auth == PGSYNC_AUTH_TRUST ?
					  errdetail("pgsync.auth = trust: clients are not authenticated and read every table.") : 0));
		/* the error that kept it from listening is over */
		if (stream_ready)
			worker_clear_error();
		return;
	}
	worker_report_error("cannot start WebSocket server", err, NULL);
}

void
serve_try_listen(TimestampTz now, bool stream_ready)
{
	if (listening || now < next_listen_attempt)
		return;
	try_listen(stream_ready);
	next_listen_attempt = TimestampTzPlusMilliseconds(now, SETUP_RETRY_MS);
}

/*
 * A plain subscription, in live push.  The connection's first one gives it
 * its first resume point: the last transaction logged, everything after
 * which the subscription gets (the live fan-out is between transactions
 * here, everything logged was routed).
 */
static void
subscribe_live(FoClient *c, ClientRequest *req)
{
	bool		first = fanout_client_nsubs(c) == 0 && worker_changelog() != NULL;
	const char *code = NULL;
	FoSub	   *sub;

	Assert(!fanout_in_transaction(fanout));
	sub = fanout_subscribe(c, req, &code);
	if (sub == NULL)
	{
		char		msg[160] = "cannot subscribe";

		if (strcmp(code, CP_ERR_TOO_MANY_SUBS) == 0)
			snprintf(msg, sizeof(msg),
					 "this connection holds %d subscriptions; pgsync.max_subscriptions_per_client is %d",
					 fanout_client_nsubs(c), fanout_max_subs(fanout));
		fanout_reply(c, req->id_json, NULL, code, msg);
	}
	else if (!first)
		fanout_reply(c, req->id_json, fanout_sub_id(sub), NULL, NULL);
	else
	{
		fanout_client_start_at(c, worker_changelog_last_key());
		fanout_reply_positioned(c, req->id_json, fanout_sub_id(sub), true,
								   fanout_client_position(c));
	}
}

/*
 * Validate and activate the subscribe requests parked by ws_server.c.
 *
 * A request waits, parked again, when:
 *	- its client is still replaying the log or taking a snapshot (held by a
 *	  private fan-out): a subscription starts with the next transaction
 *	  decoded, which only means something in live push; its ok then marks
 *	  where it starts;
 *	- checking it would wait for a table lock (worker_subscribe.c): it is
 *	  checked again on a later iteration, while everyone else is served;
 *	- an earlier request of the same client waits: a client's requests are
 *	  answered in order.
 * Returns true if some request waits for a lock (the loop then polls).
 */
#define MAX_HELD_CLIENTS 64

static bool
process_pending(void)
{
	WsPending  *p = ws_server_take_pending();
	FoClient   *held[MAX_HELD_CLIENTS];
	int			nheld = 0;
	bool		lock_wait = false;

	while (p != NULL)
	{
		WsPending  *next = p->next;
		const char *code = NULL;
		char		msg[512];
		bool		would_wait = false;
		bool		hold = fanout_client_home(p->client) != fanout || nheld == MAX_HELD_CLIENTS;

		if (p->kind == WS_PENDING_ROLE)
		{
			/* before any request of the client (ws_auth.c) */
			PG_TRY();
			{
				worker_auth_check_role(p->client, p->role, p->claims);
			}
			PG_CATCH();
			{
				worker_recover_from_error("checking a client's role");
				ws_server_refuse_role(p->client, "could not check the role");
			}
			PG_END_TRY();
			MemoryContextSwitchTo(worker_mcxt);
			ws_pending_free(p);
			p = next;
			continue;
		}
		for (int i = 0; i < nheld && !hold; i++)
			hold = held[i] == p->client;
		if (!hold)
		{
			PG_TRY();
			{
				StartTransactionCommand();
				code = subscribe_check(&p->req, fanout_client_principal(p->client),
									   msg, sizeof(msg), &would_wait);
				CommitTransactionCommand();
			}
			PG_CATCH();
			{
				worker_recover_from_error("checking a subscription");
				code = CP_ERR_INTERNAL;
				snprintf(msg, sizeof(msg), "could not check the subscription");
			}
			PG_END_TRY();
			MemoryContextSwitchTo(worker_mcxt);
			lock_wait |= would_wait;
		}
		if (hold || would_wait)
		{
			if (nheld < MAX_HELD_CLIENTS)
				held[nheld++] = p->client;
			ws_server_park_again(p);
			p = next;
			continue;
		}

		if (code == NULL && p->req.want_snapshot)
			snapshot_request(fanout, p->client, &p->req);
		else if (code == NULL && p->req.has_resume)
			resume_start(fanout, p->client, &p->req);
		else if (code == NULL)
			subscribe_live(p->client, &p->req);
		else
			fanout_reply(p->client, p->req.id_json, NULL, code, msg);
		ws_pending_free(p);
		p = next;
	}
	return lock_wait;
}

void
serve_apply_settings(void)
{
	fanout_set_queue_limit(fanout, (size_t) pgsync_client_queue_kb * 1024);
	fanout_set_max_subs(fanout, pgsync_max_subs_per_client);
	ws_server_set_max_message((size_t) pgsync_max_message_kb * 1024);
	worker_auth_configure();
	ws_auth_set_max_per_role(pgsync_max_clients_per_role);
	ws_server_set_request_rate(pgsync_max_requests_per_second);
	ws_server_set_allowed_origins(pgsync_allowed_origins);
	ws_server_set_timeouts(pgsync_handshake_timeout_s, pgsync_idle_timeout_s);
	ws_tls_set_plain_from((WsPlainFrom) pgsync_ssl_plain_from);
}

/* SIGHUP while serving with TLS: new handshakes get the files' credential. */
void
serve_reload_tls(void)
{
	const char *err = NULL;

	if (!listening || !ws_tls_enabled())
		return;
	if (ws_tls_load(pgsync_ssl_cert_file, pgsync_ssl_key_file, &err))
		ereport(LOG, (errmsg("pgsync: TLS certificate and key reloaded")));
	else
		ereport(WARNING,
				(errmsg("pgsync: TLS certificate and key not reloaded: %s", err),
				 errdetail("The previous certificate and key stay in use.")));
}

void
serve_step(TimestampTz now, XLogRecPtr heartbeat_lsn)
{
	lock_waits = process_pending();
	worker_auth_recheck_roles(fanout);
	/* clients whose queue filled up catch up from the log */
	if (fanout_lagging_count(fanout) > 0)
		resume_catch_up_lagging(fanout);
	/*
	 * Clients that start replaying or taking a snapshot show it in
	 * pgsync.clients at once, before the first step: a short catch-up
	 * would otherwise fall between two status ticks.
	 */
	if (resume_count() + snapshot_count() > replaying_seen)
		worker_status_publish(fanout, true, false);
	if (snapshot_count() > 0)
		snapshot_step(fanout);
	if (resume_count() > 0)
		resume_step(fanout);
	replaying_seen = resume_count() + snapshot_count();

	now = GetCurrentTimestamp();
	if (pgsync_heartbeat_interval_ms > 0 && now >= next_heartbeat)
	{
		if (next_heartbeat != 0)
			fanout_heartbeat(fanout, heartbeat_lsn);
		next_heartbeat = TimestampTzPlusMilliseconds(now, pgsync_heartbeat_interval_ms);
	}
	if (now >= next_filter_release)
	{
		/* tables without a change since the last time: dropped, idle */
		fanout_release_idle_filters(fanout);
		next_filter_release = TimestampTzPlusMilliseconds(now, FILTER_IDLE_MS);
	}
}

long
worker_ms_until(TimestampTz when, TimestampTz now)
{
	long		secs;
	int			usecs;

	if (when <= now)
		return 0;
	TimestampDifference(now, when, &secs, &usecs);
	return secs * 1000 + usecs / 1000 + 1;
}

long
serve_timeout(long timeout, TimestampTz now)
{
	int			uvt;

	if (pgsync_heartbeat_interval_ms > 0)
		timeout = Min(timeout, worker_ms_until(next_heartbeat, now));
	/* a subscribe waits for a table lock: ask again soon */
	if (lock_waits)
		timeout = Min(timeout, LOCK_RETRY_MS);
	/* replaying clients are fed as their queues drain */
	if (resume_count() > 0 || snapshot_count() > 0)
		timeout = Min(timeout, 1);
	if (!listening)
		timeout = Min(timeout, worker_ms_until(next_listen_attempt, now));
	uvt = uv_backend_timeout(loop);
	if (uvt >= 0 && uv_loop_alive(loop))
		timeout = Min(timeout, Max(uvt, 1));
	return timeout;
}

void
serve_shutdown(void)
{
	TimestampTz deadline;

	if (listening)
	{
		ws_server_stop(CP_ERR_SHUTDOWN, "the pgsync worker is stopping");
		/* give the error messages a moment to go out */
		deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 200);
		while (GetCurrentTimestamp() < deadline &&
			   fanout_client_count(fanout) > 0)
		{
			uv_run(loop, UV_RUN_NOWAIT);
			pg_usleep(5000);
		}
		ws_server_destroy(loop);
	}
}
