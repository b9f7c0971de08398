/*-------------------------------------------------------------------------
 *
 * worker_serve.h
 *	  Serving WebSocket clients: the half of the main loop that the worker
 *	  and each network worker run alike.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_SERVE_H
#define PGSYNC_WORKER_SERVE_H

#include <uv.h>

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "fanout/fanout.h"

/*
 * A serving process's setup: its libuv loop (initialized here), a fan-out
 * (returned), its long-lived memory context; then the WaitEventSet its
 * main loop sleeps on: the latch, postmaster death and the libuv loop.
 */
extern Fanout *serve_init(uv_loop_t *loop, MemoryContext mcxt);
extern WaitEventSet *serve_wait_event_set(void);

/*
 * Top of a main loop: false once a shutdown was requested; on SIGHUP the
 * configuration file is read again and apply() (then the TLS files) run.
 */
extern bool serve_check_signals(void (*apply) (void));

/* Bottom of a main loop: sleep up to timeout ms, then interrupts. */
extern void serve_sleep(WaitEventSet *wes, long timeout);

/* Listen if not listening yet and an attempt is due. */
extern void serve_try_listen(TimestampTz now, bool stream_ready);
extern bool serve_listening(void);

/* The settings a reload may change; SIGHUP's TLS reload. */
extern void serve_apply_settings(void);
extern void serve_reload_tls(void);

/*
 * After the stream's new messages were routed and sent: parked requests,
 * role rechecks, lagging clients, snapshots and replays, heartbeats (at
 * heartbeat_lsn, the resume point everything routed reaches), idle
 * filters.
 */
extern void serve_step(TimestampTz now, XLogRecPtr heartbeat_lsn);

/* timeout shortened to what serving needs next (ms). */
extern long serve_timeout(long timeout, TimestampTz now);

/* Close every client with a shutting_down error and stop listening. */
extern void serve_shutdown(void);

/* Errors of setup steps: shared status and (when new) the server log. */
extern void worker_report_error(const char *what, const char *msg,
								const char *hint);
extern void worker_clear_error(void);
/* In a PG_CATCH: abort, release, report. */
extern void worker_recover_from_error(const char *what);

extern long worker_ms_until(TimestampTz when, TimestampTz now);

#endif							/* PGSYNC_WORKER_SERVE_H */
