/*
 * test_rate_limit.c: unit tests of protocol/rate_limit.c, the request
 * rate limit of a connection, driven by a fake clock (microseconds).
 * Built with ASan/UBSan by `make unit`; prints "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/rate_limit.h"
#include "unit.h"

#define SEC 1000000ULL
#define T0	(1000 * SEC)		/* a monotonic clock is far from 0 */

typedef struct Tally
{
	int			ok;
	int			refused;		/* with or without a notice */
	int			notices;
	int			closed;
	uint64_t	closed_at;		/* clock of the first RATE_CLOSE */
} Tally;

/* n requests evenly spread over [start, start + span) */
static void
send_at(RateLimit *rl, int rate, uint64_t start, uint64_t span, int n,
		Tally *t)
{
	for (int i = 0; i < n; i++)
	{
		uint64_t	now = start + span * i / n;

		switch (rate_limit_take(rl, rate, now))
		{
			case RATE_OK:
				t->ok++;
				break;
			case RATE_REFUSE_NOTIFY:
				t->notices++;
				/* fall through */
			case RATE_REFUSE:
				t->refused++;
				break;
			case RATE_CLOSE:
				if (t->closed++ == 0)
					t->closed_at = now;
				return;			/* the connection is gone */
		}
	}
}

static void
test_burst_and_refill(void)
{
	RateLimit	rl;
	Tally		t = {0};

	/* a new connection may send a burst of twice the rate at once */
	memset(&rl, 0, sizeof(rl));
	send_at(&rl, 100, T0, 0, 200, &t);
	CHECK_EQ_INT(t.ok, 200);
	CHECK_EQ_INT(rate_limit_take(&rl, 100, T0), RATE_REFUSE_NOTIFY);
	CHECK_EQ_INT(rate_limit_take(&rl, 100, T0), RATE_REFUSE);
	/* one request back every 1/rate second */
	CHECK_EQ_INT(rate_limit_take(&rl, 100, T0 + 9999), RATE_REFUSE);
	CHECK_EQ_INT(rate_limit_take(&rl, 100, T0 + 10000), RATE_OK);
	CHECK_EQ_INT(rate_limit_take(&rl, 100, T0 + 10000), RATE_REFUSE);
	/* a second later: a new notice, and a refill of 100 */
	memset(&t, 0, sizeof(t));
	send_at(&rl, 100, T0 + 10000 + SEC, 0, 150, &t);
	CHECK_EQ_INT(t.ok, 100);
	CHECK_EQ_INT(t.notices, 1);
	CHECK_EQ_INT(t.refused, 50);
	CHECK_EQ_INT(t.closed, 0);

	/* idle for an hour: full again, no more than the burst */
	memset(&t, 0, sizeof(t));
	send_at(&rl, 100, T0 + 3600 * SEC, 0, 300, &t);
	CHECK_EQ_INT(t.ok, 200);
	CHECK_EQ_INT(t.refused, 100);
}

/* A client at exactly the rate, or with bursts within it, is never refused. */
static void
test_well_behaved(void)
{
	RateLimit	rl;
	Tally		t = {0};

	memset(&rl, 0, sizeof(rl));
	send_at(&rl, 100, T0, 60 * SEC, 6000, &t);
	CHECK_EQ_INT(t.ok, 6000);
	/* 150 at once every second: 100 a second on average */
	memset(&t, 0, sizeof(t));
	for (int s = 0; s < 30; s++)
		send_at(&rl, 100, T0 + 61 * SEC + s * 3 * SEC / 2, 0, 150, &t);
	CHECK_EQ_INT(t.ok, 4500);
	CHECK_EQ_INT(t.refused, 0);
}

/*
 * Throttled, not closed: 4 times the rate for 10 s gets the rate (plus
 * the burst) served, one notice per second at most, and stays open.
 */
static void
test_throttled(void)
{
	RateLimit	rl;
	Tally		t = {0};

	memset(&rl, 0, sizeof(rl));
	send_at(&rl, 100, T0, 10 * SEC, 4000, &t);
	CHECK_EQ_INT(t.closed, 0);
	CHECK_MSG(t.ok >= 1195 && t.ok <= 1201, "ok %d", t.ok);
	CHECK_MSG(t.notices >= 9 && t.notices <= 11, "notices %d", t.notices);
	CHECK_EQ_INT(t.ok + t.refused, 4000);

	/* 10 times the rate, sustained, is still only throttled */
	memset(&rl, 0, sizeof(rl));
	memset(&t, 0, sizeof(t));
	send_at(&rl, 100, T0, 30 * SEC, 30000, &t);
	CHECK_EQ_INT(t.closed, 0);
}

/* Floods are closed: the faster, the sooner. */
static void
test_flood_closes(void)
{
	RateLimit	rl;
	Tally		t = {0};

	/* 20 times the rate: closed after about a second */
	memset(&rl, 0, sizeof(rl));
	send_at(&rl, 100, T0, 3 * SEC, 6000, &t);
	CHECK_EQ_INT(t.closed, 1);
	CHECK_MSG(t.closed_at - T0 >= 950000 && t.closed_at - T0 <= 1050000,
			  "closed after %llu us", (unsigned long long) (t.closed_at - T0));
	CHECK_EQ_INT(t.notices, 1);	/* the notice came first */
	CHECK(t.ok >= 200 && t.ok <= 301);

	/* 20,000 as fast as possible (20 ms): closed at request 1,000 or so */
	memset(&rl, 0, sizeof(rl));
	memset(&t, 0, sizeof(t));
	send_at(&rl, 100, T0, 20000, 20000, &t);
	CHECK_EQ_INT(t.closed, 1);
	CHECK_MSG(t.ok + t.refused >= 1000 && t.ok + t.refused <= 1020,
			  "served or refused %d before the close", t.ok + t.refused);
	CHECK_EQ_INT(t.ok, 200);
	CHECK_EQ_INT(t.notices, 1);

	/* a burst of exactly ten times the rate at once is not a flood */
	memset(&rl, 0, sizeof(rl));
	memset(&t, 0, sizeof(t));
	send_at(&rl, 100, T0, 0, 1000, &t);
	CHECK_EQ_INT(t.closed, 0);
	CHECK_EQ_INT(rate_limit_take(&rl, 100, T0), RATE_CLOSE);
}

/* The rate is read at every call: a reload applies at once. */
static void
test_reload(void)
{
	RateLimit	rl;
	Tally		t = {0};

	/* no limit: anything goes */
	memset(&rl, 0, sizeof(rl));
	send_at(&rl, 0, T0, 0, 100000, &t);
	CHECK_EQ_INT(t.ok, 100000);

	/* a limit set later starts with a full bucket */
	memset(&t, 0, sizeof(t));
	send_at(&rl, 10, T0 + 1, 0, 30, &t);
	CHECK_EQ_INT(t.ok, 20);
	CHECK_EQ_INT(t.notices, 1);

	/* lowered from 100 to 5: the bucket holds at most 10 at once */
	memset(&rl, 0, sizeof(rl));
	memset(&t, 0, sizeof(t));
	send_at(&rl, 100, T0, 0, 1, &t);
	send_at(&rl, 5, T0 + 1, 0, 20, &t);
	CHECK_EQ_INT(t.ok, 11);

	/* raised: refills at the new rate */
	memset(&t, 0, sizeof(t));
	send_at(&rl, 1000, T0 + 1 + SEC, 0, 2500, &t);
	CHECK_EQ_INT(t.ok, 1000);	/* one second at 1000/s */
	CHECK_EQ_INT(t.closed, 0);

	/* the largest rate does not overflow over a long idle time */
	memset(&rl, 0, sizeof(rl));
	memset(&t, 0, sizeof(t));
	send_at(&rl, RATE_MAX_PER_SECOND, T0, 0, 10, &t);
	send_at(&rl, RATE_MAX_PER_SECOND * 2, UINT64_MAX / 2, 0, 10, &t);
	CHECK_EQ_INT(t.ok, 20);
}

/* A clock that goes backwards credits nothing and breaks nothing. */
static void
test_clock_backwards(void)
{
	RateLimit	rl;
	Tally		t = {0};

	memset(&rl, 0, sizeof(rl));
	send_at(&rl, 10, T0, 0, 20, &t);
	CHECK_EQ_INT(t.ok, 20);
	CHECK_EQ_INT(rate_limit_take(&rl, 10, T0 - SEC), RATE_REFUSE_NOTIFY);
	CHECK_EQ_INT(rate_limit_take(&rl, 10, T0 - 2 * SEC), RATE_REFUSE_NOTIFY);
	CHECK_EQ_INT(rate_limit_take(&rl, 10, T0 + 100000), RATE_OK);
}

int
main(void)
{
	test_burst_and_refill();
	test_well_behaved();
	test_throttled();
	test_flood_closes();
	test_reload();
	test_clock_backwards();
	return unit_summary();
}
