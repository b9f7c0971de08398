/*-------------------------------------------------------------------------
 *
 * ws_fd_budget.c
 *	  The worker's file descriptor budget.
 *
 * The worker is a PostgreSQL backend that also holds thousands of client
 * sockets.  PostgreSQL's fd.c keeps its own files (relations, WAL
 * segments, slot state, logical snapshots, spill files) under max_safe_fds,
 * which the postmaster computed from the soft open-file limit it had when
 * it started, and opens them with the plain open(): if the sockets have
 * used up the process's limit, such an open fails with EMFILE and the
 * worker ERRORs and exits, dropping every client.  And lws, when accept()
 * fails with EMFILE, logs and returns with the listening socket still
 * readable: a busy loop and a log flood.
 *
 * So the descriptors are split, once, when the server starts:
 *
 *	soft limit (raised to the hard limit at the worker's start)
 *	  = open at that time                 (stdio, postmaster pipes, latch...)
 *	  + WS_FD_SLACK                        (lws and libuv, the wait set, the
 *	                                        change log's writer)
 *	  + max_safe_fds + PG_FD_SLOP          (fd.c's files, its slop for code
 *	                                        that opens files behind its back)
 *	  + the budget                         (clients)
 *
 * The budget counts every accepted socket from accept() on, handshake
 * or not (lws's WSI_CREATE/WSI_DESTROY), plus one descriptor per admitted
 * client for the file it may read while catching up (a change log segment,
 * worker_resume.c, or a snapshot file, worker_serve_snapshot.c), which those
 * modules open outside fd.c.  A socket accepted beyond it is refused at
 * once (ws_server.c answers 503 and closes it), so accept() always has a
 * descriptor, and never takes one of PostgreSQL's.  pgsync.max_clients is
 * clamped to budget / WS_FD_PER_CLIENT.
 *
 * When the limit is too low for even WS_FD_MIN_BUDGET (a hard limit of
 * 1024), fd.c's share is narrowed instead, down to WS_FD_PG_MIN files, by
 * reporting the difference as external descriptors (ReserveExternalFD):
 * fd.c then closes its least recently used files sooner.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <limits.h>
#include <sys/resource.h>

#include "storage/fd.h"
#include "utils/timestamp.h"

#include "net/ws_fd_budget.h"

#define WS_FD_RAISE_CAP		262144	/* lws sizes two tables by the limit */
#define WS_FD_SLACK			32
#define PG_FD_SLOP			10	/* fd.c's NUM_RESERVED_FDS */
#define WS_FD_PER_CLIENT	2	/* its socket, the file it may read */
#define WS_FD_MIN_BUDGET	256
#define WS_FD_PG_MIN		64
#define WS_FD_GUARD			16	/* never accept into the last ones */
#define WS_REFUSAL_LOG_MS	10000

static int	fd_limit = 0;		/* soft RLIMIT_NOFILE */
static int	raised_from = 0;	/* the soft limit before raising, or 0 */
static int	budget = 0;
static int	max_clients = 0;	/* pgsync.max_clients, clamped */
static int	nsockets = 0;
static int	nclients = 0;
static int	reserved_external = 0;	/* fd.c's share narrowed by this */
static int	refused = 0;		/* since the last log line */
static TimestampTz last_refusal_log = 0;

void
ws_fd_budget_raise_limit(void)
{
	struct rlimit rl;
	rlim_t		target;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	target = rl.rlim_max;
	if (target == RLIM_INFINITY || target > WS_FD_RAISE_CAP)
		target = WS_FD_RAISE_CAP;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < target)
	{
		rlim_t		before = rl.rlim_cur;

		rl.rlim_cur = target;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			raised_from = (int) before;
	}
}

/* Descriptors open in this process now. */
static int
count_open_fds(void)
{
	DIR		   *d = opendir("/proc/self/fd");
	struct dirent *de;
	int			n = 0;

	if (d == NULL)
		return 64;				/* a guess on the safe side */
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;				/* the directory's own */
}

int
ws_fd_budget_setup(int max_clients_setting)
{
	struct rlimit rl;
	int			base = count_open_fds();
	int			pg_share = max_safe_fds + PG_FD_SLOP;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
		rl.rlim_cur > INT_MAX)
		fd_limit = INT_MAX;
	else
		fd_limit = (int) rl.rlim_cur;

	/* a previous start's narrowing is recomputed */
	for (; reserved_external > 0; reserved_external--)
		ReleaseExternalFD();

	budget = fd_limit - base - WS_FD_SLACK - pg_share;
	if (budget < WS_FD_MIN_BUDGET && max_safe_fds > WS_FD_PG_MIN)
	{
		int			give = Min(WS_FD_MIN_BUDGET - budget,
							   max_safe_fds - WS_FD_PG_MIN);

		for (int i = 0; i < give; i++)
			ReserveExternalFD();
		reserved_external = give;
		budget += give;
		ereport(LOG,
				(errmsg("pgsync: open-file limit of %d is low: PostgreSQL's files in the worker are limited to %d to leave descriptors to clients",
						fd_limit, max_safe_fds - give)));
	}
	budget = Max(budget, 0);
	nsockets = nclients = refused = 0;

	max_clients = Min(max_clients_setting, budget / WS_FD_PER_CLIENT);
	if (max_clients < max_clients_setting)
		ereport(WARNING,
				(errmsg("pgsync: pgsync.max_clients (%d) lowered to %d by the open-file limit",
						max_clients_setting, max_clients),
				 errdetail("The worker's open-file limit is %d (hard limit %ld); %d are kept for PostgreSQL's own files and %d were open; each client counts for its socket and for the log or snapshot file it may read.",
						   fd_limit,
						   rl.rlim_max == RLIM_INFINITY ? -1L : (long) rl.rlim_max,
						   pg_share + WS_FD_SLACK, base),
				 errhint("Raise the server's hard limit on open files (ulimit -Hn, LimitNOFILE=).")));
	ereport(LOG,
			(errmsg("pgsync: file descriptor budget: %d sockets, %d clients (open-file limit %d%s)",
					budget, max_clients, fd_limit,
					raised_from > 0 ? psprintf(", raised from %d", raised_from) : "")));
	return max_clients;
}

void
ws_fd_budget_socket_opened(void)
{
	nsockets++;
}

void
ws_fd_budget_socket_closed(void)
{
	if (nsockets > 0)
		nsockets--;
}

/* Count a refusal; log how many at most every WS_REFUSAL_LOG_MS. */
static void
note_refusal(const char *why)
{
	TimestampTz now = GetCurrentTimestamp();

	refused++;
	if (!TimestampDifferenceExceeds(last_refusal_log, now, WS_REFUSAL_LOG_MS))
		return;
	ereport(LOG,
			(errmsg("pgsync: refused %d WebSocket connection%s: %s (%d sockets open, %d clients)",
					refused, refused == 1 ? "" : "s", why, nsockets, nclients)));
	refused = 0;
	last_refusal_log = now;
}

bool
ws_fd_budget_may_accept(int fd)
{
	if (nsockets + nclients >= budget)
	{
		note_refusal("file descriptor budget used up");
		return false;
	}
	if (fd_limit - fd <= WS_FD_GUARD)
	{
		/* descriptors are taken lowest first: fd means fd + 1 are open */
		note_refusal("out of file descriptors");
		return false;
	}
	return true;
}

bool
ws_fd_budget_admit(void)
{
	if (nclients >= max_clients || nsockets + nclients + 1 > budget)
		return false;
	nclients++;
	return true;
}

void
ws_fd_budget_release(void)
{
	if (nclients > 0)
		nclients--;
}
