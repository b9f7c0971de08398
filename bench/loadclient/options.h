/*
 * options.h: pgsync-load's command line, parsed once into Options.
 *
 * Owns the contract other benchmarks depend on (bench/push,
 * bench/connections, bench/e2e): see usage() in options.c.  Options
 * may be added; existing ones keep their meaning.
 */
#ifndef LOADCLIENT_OPTIONS_H
#define LOADCLIENT_OPTIONS_H

#include <netinet/in.h>
#include <stdbool.h>

typedef struct Options
{
	const char *url;
	struct sockaddr_in dest;	/* the URL's host (IPv4) and port */
	char	   *host_port;		/* the Host header: "host:port" */
	char	   *target;			/* "/path?query" */
	int			clients;
	int			threads;
	struct in_addr *sources;	/* --source-addrs, or none (the kernel picks) */
	int			nsources;
	const char *subscribe;		/* text frame sent after the handshake */
	char	  **headers;		/* "Name: value" lines */
	int			nheaders;
	const char *protocol;		/* Sec-WebSocket-Protocol to ask for */
	bool		latency;		/* --mode latency (else count) */
	const char *hist_out;
	int			connect_batch;	/* connections in progress at once, all threads */
	int			timeout_s;		/* connect + handshake + first reply */
} Options;

/* Parse argv into *o; prints usage and exits 2 on a bad command line. */
extern void options_parse(Options *o, int argc, char **argv);

#endif
