/*
 * fanout_util.h: helpers of the fan-out unit tests (test_fanout.c,
 * test_fanout_access.c): parse a request, publish a plugin message,
 * drain a client's queue into a string of ops, subscribe.
 */
#ifndef PGSYNC_TEST_FANOUT_UTIL_H
#define PGSYNC_TEST_FANOUT_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/fanout.h"
#include "fanout/fanout_int.h"
#include "protocol/client_protocol.h"
#include "unit.h"

static inline bool
parse(const char *s, ClientRequest *req, const char **code)
{
	char		msg[256];

	return client_request_parse(s, strlen(s), req, code, msg, sizeof(msg));
}

static int	writes_wanted = 0;

static inline void
want_write(FoClient *c, void *arg)
{
	writes_wanted++;
}

static inline void
pub(Fanout *fo, const char *s, uint64_t lsn)
{
	CHECK(fanout_publish(fo, s, strlen(s), lsn));
}

/* Drain a client's queue into a string of ops ("BRIC"), '!' for errors. */
static inline void
drain(Fanout *fo, FoClient *c, char *out)
{
	FoMsg	   *m;
	size_t		off;
	int			n = 0;

	while (fanout_peek(c, &m, &off))
	{
		out[n++] = m->op ? m->op : (strstr((char *) m->payload, "\"error\"") ? '!' : '?');
		fanout_advance(fo, c, m->len - off);
	}
	out[n] = '\0';
}

static inline void
sub(Fanout *fo, FoClient *c, const char *json)
{
	ClientRequest req;
	const char *code;

	CHECK(parse(json, &req, &code));
	CHECK(c->home == fo);
	CHECK(fanout_subscribe(c, &req, &code) != NULL);
	client_request_free(&req);
}

#endif							/* PGSYNC_TEST_FANOUT_UTIL_H */
