/*
 * pgsync_load.c: pgsync-load's main: threads, signals, "ready", the end.
 *
 * The main thread starts the loops (loop.c), then waits on a signalfd
 * (SIGUSR2, SIGTERM, SIGINT) and stdin: it prints "ready C" once every
 * connection is settled, and on a signal or EOF on stdin stops the
 * loops, merges their counters and prints the results (report.c).  The
 * open-file soft limit is raised to the hard limit first: one process
 * holds every client socket.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "options.h"
#include "report.h"

static void
raise_nofile(int clients)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max != RLIM_INFINITY && (long long) rl.rlim_max < (long long) clients + 64)
		fprintf(stderr, "pgsync-load: open-file limit %llu is below %d clients: "
				"the rest will fail (raise ulimit -Hn)\n",
				(unsigned long long) rl.rlim_max, clients);
}

int
main(int argc, char **argv)
{
	Options		opt;
	Loop	   *loops;
	sigset_t	sigs;
	int			sfd;
	bool		announced = false;
	Counters	total = {0};
	static Hist hist;

	options_parse(&opt, argc, argv);
	raise_nofile(opt.clients);
	srandom((unsigned) time(NULL) ^ (unsigned) getpid());
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);	/* inherited by the loops */
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

	loops = calloc((size_t) opt.threads, sizeof(Loop));
	for (int i = 0; i < opt.threads; i++)
	{
		if (!loop_init(&loops[i], &opt, i, opt.threads))
		{
			perror("pgsync-load: setting up a loop");
			return 1;
		}
		pthread_create(&loops[i].thread, NULL, loop_run, &loops[i]);
	}

	for (;;)
	{
		struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
		int			ready;
		char		buf[512];

		if (poll(pf, 2, announced ? -1 : 20) < 0 && errno != EINTR)
			break;
		if (pf[0].revents & POLLIN)
			break;
		if (pf[1].revents & (POLLIN | POLLHUP))
		{
			ssize_t		n = read(0, buf, sizeof(buf));

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;
		}
		if (pf[1].revents & POLLNVAL)
			break;				/* stdin closed: as EOF */
		if (!announced && loop_settled(&ready) >= opt.clients)
		{
			loop_set_all_ready();
			printf("ready %d\n", ready);
			fflush(stdout);
			announced = true;
		}
	}

	loop_set_stop();
	for (int i = 0; i < opt.threads; i++)
	{
		loop_wake(&loops[i]);
		pthread_join(loops[i].thread, NULL);
		loop_finish(&loops[i]);
		hist_merge(&hist, &loops[i].hist);
		total.connected += loops[i].c.connected;
		total.ready += loops[i].c.ready;
		total.closed += loops[i].c.closed;
		total.errors += loops[i].c.errors;
		total.messages += loops[i].c.messages;
		total.rows += loops[i].c.rows;
		total.bytes += loops[i].c.bytes;
		total.clients_with_rows += loops[i].c.clients_with_rows;
		if (loops[i].c.first_msg_us &&
			(!total.first_msg_us || loops[i].c.first_msg_us < total.first_msg_us))
			total.first_msg_us = loops[i].c.first_msg_us;
		if (loops[i].c.last_msg_us > total.last_msg_us)
			total.last_msg_us = loops[i].c.last_msg_us;
	}
	report_json(stdout, opt.clients, &total, &hist);
	if (opt.hist_out && !report_hist_csv(opt.hist_out, &hist))
		return 1;
	return 0;
}
