/*
 * loop.h: one event loop (a thread) driving a share of the connections.
 *
 * Each Loop owns its connections, its epoll set and its counters; no
 * lock is taken while messages flow.  What crosses threads: the count of
 * settled connections (ready or failed) and the "all ready" and "stop"
 * flags, all atomics behind the functions below.
 */
#ifndef LOADCLIENT_LOOP_H
#define LOADCLIENT_LOOP_H

#include <pthread.h>
#include <stdint.h>

#include "hist.h"
#include "options.h"

typedef struct Conn Conn;

typedef struct Counters
{
	uint64_t	connected;		/* handshakes completed */
	uint64_t	ready;			/* first reply received (or no --subscribe) */
	uint64_t	closed;			/* closed by the server after the handshake */
	uint64_t	errors;			/* failed before ready, or broke the protocol */
	uint64_t	messages;		/* complete messages after "ready" */
	uint64_t	rows;			/* of which rows (latency mode) */
	uint64_t	bytes;			/* their payload bytes */
	int64_t		first_msg_us;	/* arrival of the first / last of them */
	int64_t		last_msg_us;
	uint64_t	clients_with_rows;	/* filled by loop_finish() */
} Counters;

typedef struct Loop
{
	const Options *opt;
	int			id;
	int			first_client;	/* global index of conns[0] */
	int			nclients;
	int			window;			/* connections in progress at once */
	Conn	   *conns;
	int			epfd;
	int			wake_fd;		/* eventfd: loop_stop() */
	int			next;			/* next connection to open */
	int			in_progress;
	int64_t		start_us;
	Counters	c;
	Hist		hist;
	uint8_t    *rx;				/* shared receive buffer */
	pthread_t	thread;
} Loop;

/* Set up loop id of nloops (its share of opt->clients); false on error. */
extern bool loop_init(Loop *l, const Options *opt, int id, int nloops);
extern void *loop_run(void *arg);
/* Wake a running loop so that it sees the stop flag. */
extern void loop_wake(Loop *l);
/* After the thread ended: per-connection totals into l->c. */
extern void loop_finish(Loop *l);

/* cross-thread state */
extern int	loop_settled(int *ready);	/* settled connections; *ready of them */
extern void loop_set_all_ready(void);
extern void loop_set_stop(void);

#endif
