/*-------------------------------------------------------------------------
 *
 * ws_fd_budget.h
 *	  The worker's file descriptor budget: how many client sockets it may
 *	  hold without starving PostgreSQL's own files (docs/WEBSOCKET.md,
 *	  "Limits").
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WS_FD_BUDGET_H
#define PGSYNC_WS_FD_BUDGET_H

/*
 * At the worker's start: raise the soft RLIMIT_NOFILE to the hard limit
 * (capped), before anything sizes itself by it.
 */
extern void ws_fd_budget_raise_limit(void);

/*
 * When the server starts: compute the budget from the limit, the
 * descriptors open now and PostgreSQL's share (max_safe_fds); returns
 * max_clients clamped to it (with a WARNING when clamped).
 */
extern int	ws_fd_budget_setup(int max_clients);

/* Accepted sockets, counted from accept() to close(). */
extern void ws_fd_budget_socket_opened(void);
extern void ws_fd_budget_socket_closed(void);

/*
 * May the socket just accepted (fd) be kept?  false: refuse it (counted
 * and logged at most every few seconds).
 */
extern bool ws_fd_budget_may_accept(int fd);

/* A session becomes a client (true) or not; and gives that back. */
extern bool ws_fd_budget_admit(void);
extern void ws_fd_budget_release(void);

#endif							/* PGSYNC_WS_FD_BUDGET_H */
