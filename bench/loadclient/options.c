/*
 * options.c: parsing pgsync-load's command line (options.h).
 *
 * The URL must be ws://IPv4-or-name:port/...; a name is resolved once,
 * here (no per-connection lookups).  --source-addrs takes a range
 * "127.0.0.1-127.0.0.8" or a comma list, or both mixed.
 */
#include "options.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(void)
{
	fprintf(stderr,
			"usage: pgsync-load URL --clients N [--threads T] [--source-addrs LIST]\n"
			"         [--subscribe JSON_TEXT] [--header 'Name: value']... [--mode latency|count]\n"
			"         [--hist-out FILE] [--connect-batch K] [--protocol NAME] [--timeout SECS]\n"
			"\n"
			"Opens N WebSocket clients to URL (ws://host:port/path?query), sends each the\n"
			"--subscribe text (if any) and waits for its first reply; prints \"ready C\" once\n"
			"every client is ready or failed.  Counts messages (and in latency mode rows and\n"
			"their latency) from then on; on SIGUSR2, SIGTERM or EOF on stdin prints one JSON\n"
			"line of results and exits 0.  See bench/README.md, \"bench/loadclient\".\n"
			"\n"
			"  --threads T          event loops (default 1)\n"
			"  --source-addrs LIST  bind each socket to one of these source addresses in\n"
			"                       turn: 127.0.0.1-127.0.0.8 or a,b,c (default: the kernel's)\n"
			"  --mode latency       (default) a message holding a timestamp\n"
			"                       YYYY-MM-DD HH:MM:SS[.ffffff][zone] is a row; latency =\n"
			"                       arrival - that timestamp (UTC unless a zone says otherwise)\n"
			"  --mode count         messages and bytes only\n"
			"  --hist-out FILE      latency histogram as CSV lower_us,upper_us,count\n"
			"  --connect-batch K    at most K connections in progress at once (default 1000)\n"
			"  --protocol NAME      ask for this subprotocol (default: none)\n"
			"  --timeout SECS       a client not ready after SECS fails (default 120)\n");
	exit(2);
}

static void
die(const char *what, const char *arg)
{
	fprintf(stderr, "pgsync-load: %s: %s\n", what, arg);
	exit(2);
}

static void
add_source(Options *o, struct in_addr a)
{
	o->sources = realloc(o->sources, sizeof(*o->sources) * (o->nsources + 1));
	if (o->sources == NULL)
		die("out of memory", "source addresses");
	o->sources[o->nsources++] = a;
}

/* "a.b.c.d-a.b.c.e" or "a.b.c.d", comma separated */
static void
parse_sources(Options *o, const char *list)
{
	char	   *copy = strdup(list),
			   *save = NULL;

	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		char	   *dash = strchr(item, '-');
		struct in_addr lo,
					hi;

		if (dash)
			*dash = '\0';
		if (inet_pton(AF_INET, item, &lo) != 1 ||
			(dash && inet_pton(AF_INET, dash + 1, &hi) != 1))
			die("bad --source-addrs", list);
		if (!dash)
			hi = lo;
		if (ntohl(hi.s_addr) < ntohl(lo.s_addr) || ntohl(hi.s_addr) - ntohl(lo.s_addr) > 65535)
			die("bad --source-addrs range", list);
		for (uint32_t a = ntohl(lo.s_addr); a <= ntohl(hi.s_addr); a++)
			add_source(o, (struct in_addr) {htonl(a)});
	}
	free(copy);
}

static void
parse_url(Options *o, const char *url)
{
	const char *p,
			   *slash,
			   *colon;
	char		host[256],
				port[16] = "80";
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM},
			   *res;
	size_t		hl;

	if (strncmp(url, "ws://", 5) != 0)
		die("only ws:// URLs are supported", url);
	p = url + 5;
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	colon = memchr(p, ':', (size_t) (slash - p));
	hl = (size_t) ((colon ? colon : slash) - p);
	if (hl == 0 || hl >= sizeof(host))
		die("bad host in URL", url);
	memcpy(host, p, hl);
	host[hl] = '\0';
	if (colon)
	{
		size_t		pl = (size_t) (slash - colon - 1);

		if (pl == 0 || pl >= sizeof(port))
			die("bad port in URL", url);
		memcpy(port, colon + 1, pl);
		port[pl] = '\0';
	}
	if (getaddrinfo(host, port, &hints, &res) != 0)
		die("cannot resolve", host);
	memcpy(&o->dest, res->ai_addr, sizeof(o->dest));
	freeaddrinfo(res);
	o->host_port = strndup(p, (size_t) (slash - p));
	o->target = strdup(*slash ? slash : "/");
}

void
options_parse(Options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"clients", required_argument, NULL, 'n'},
		{"threads", required_argument, NULL, 't'},
		{"source-addrs", required_argument, NULL, 's'},
		{"subscribe", required_argument, NULL, 'S'},
		{"header", required_argument, NULL, 'H'},
		{"mode", required_argument, NULL, 'm'},
		{"hist-out", required_argument, NULL, 'o'},
		{"connect-batch", required_argument, NULL, 'b'},
		{"protocol", required_argument, NULL, 'p'},
		{"timeout", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			ch;

	memset(o, 0, sizeof(*o));
	o->threads = 1;
	o->latency = true;
	o->connect_batch = 1000;
	o->timeout_s = 120;
	o->clients = -1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		switch (ch)
		{
			case 'n':
				o->clients = atoi(optarg);
				break;
			case 't':
				o->threads = atoi(optarg);
				break;
			case 's':
				parse_sources(o, optarg);
				break;
			case 'S':
				o->subscribe = optarg;
				break;
			case 'H':
				if (strchr(optarg, ':') == NULL || strpbrk(optarg, "\r\n"))
					die("--header wants 'Name: value'", optarg);
				o->headers = realloc(o->headers, sizeof(char *) * (o->nheaders + 1));
				o->headers[o->nheaders++] = optarg;
				break;
			case 'm':
				if (strcmp(optarg, "latency") == 0)
					o->latency = true;
				else if (strcmp(optarg, "count") == 0)
					o->latency = false;
				else
					die("--mode is latency or count", optarg);
				break;
			case 'o':
				o->hist_out = optarg;
				break;
			case 'b':
				o->connect_batch = atoi(optarg);
				break;
			case 'p':
				o->protocol = optarg;
				break;
			case 'T':
				o->timeout_s = atoi(optarg);
				break;
			default:
				usage();
		}
	}
	if (optind != argc - 1 || o->clients < 0 || o->threads < 1 || o->threads > 64 ||
		o->connect_batch < 1 || o->timeout_s < 1)
		usage();
	o->url = argv[optind];
	parse_url(o, o->url);
	if (o->connect_batch < o->threads)
		o->connect_batch = o->threads;
}
