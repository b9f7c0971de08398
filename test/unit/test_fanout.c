/*
 * test_fanout.c: unit tests of the fan-out (fanout/): queues, routing,
 * row filters, moves between fan-outs, positions, catch-up, replies, the
 * subscription limit, lagging the subscribers of a streamed transaction.
 * White-box: it reads FoClient fields through fanout_int.h.
 * Built with ASan/UBSan by `make unit`; prints "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/fanout.h"
#include "fanout/fanout_int.h"
#include "protocol/client_protocol.h"
#include "unit.h"
#include "fanout_util.h"

static void
test_fanout(void)
{
	Fanout	   *fo = fanout_create(1200, want_write, NULL);
	FoClient   *a = fanout_client_add(fo, NULL);
	FoClient   *b = fanout_client_add(fo, NULL);
	FoClient   *late;
	char		got[256];
	char		big[900];

	sub(fo, a, "{\"type\":\"subscribe\",\"tables\":[\"public.t\"]}");
	sub(fo, b, "{\"type\":\"subscribe\",\"tables\":[\"u\"],\"ops\":[\"delete\"]}");

	pub(fo, "[\"B\",1,\"0/10\"]", 0x10);
	pub(fo, "[\"R\",1,\"public\",\"t\",[\"id\"],[\"int\"],[0],\"d\"]", 0x10);
	pub(fo, "[\"I\",1,\"0/10\",[1]]", 0x10);
	pub(fo, "[\"R\",2,\"public\",\"u\",[\"id\"],[\"int\"],[0],\"d\"]", 0x10);
	pub(fo, "[\"I\",2,\"0/10\",[1]]", 0x10);
	pub(fo, "[\"D\",2,\"0/10\",[1]]", 0x10);
	pub(fo, "[\"C\",1,\"0/10\",\"0/20\"]", 0x20);
	drain(fo, a, got);
	CHECK(strcmp(got, "BRIC") == 0);
	drain(fo, b, got);
	CHECK(strcmp(got, "BRDC") == 0);
	CHECK(b->sent.lsn == 0x20 && fanout_client_position(b) == 0x20);

	/* a transaction touching nothing of b: b gets nothing at all */
	pub(fo, "[\"B\",2,\"0/30\"]", 0x30);
	pub(fo, "[\"I\",1,\"0/30\",[2]]", 0x30);
	/* a client subscribing mid-transaction starts with the next one */
	late = fanout_client_add(fo, NULL);
	sub(fo, late, "{\"type\":\"subscribe\",\"tables\":[\"*\"]}");
	pub(fo, "[\"I\",1,\"0/30\",[3]]", 0x30);
	pub(fo, "[\"C\",2,\"0/30\",\"0/40\"]", 0x40);
	drain(fo, a, got);
	CHECK(strcmp(got, "BIIC") == 0);
	drain(fo, b, got);
	CHECK(strcmp(got, "") == 0);
	drain(fo, late, got);
	CHECK(strcmp(got, "") == 0);

	/* truncate of both: relation messages for the late client first */
	pub(fo, "[\"B\",3,\"0/50\"]", 0x50);
	pub(fo, "[\"T\",\"0/50\",[1,2],false,false]", 0x50);
	pub(fo, "[\"C\",3,\"0/50\",\"0/60\"]", 0x60);
	drain(fo, late, got);
	CHECK(strcmp(got, "BRRTC") == 0);
	drain(fo, a, got);
	CHECK(strcmp(got, "BTC") == 0);

	/* a changed relation message is sent again */
	pub(fo, "[\"B\",4,\"0/70\"]", 0x70);
	pub(fo, "[\"R\",1,\"public\",\"t\",[\"id\",\"v\"],[\"int\",\"text\"],[0],\"d\"]", 0x70);
	pub(fo, "[\"I\",1,\"0/70\",[1,\"x\"]]", 0x70);
	pub(fo, "[\"C\",4,\"0/70\",\"0/80\"]", 0x80);
	drain(fo, a, got);
	CHECK(strcmp(got, "BRIC") == 0);
	drain(fo, late, got);
	CHECK(strcmp(got, "BRIC") == 0);

	/*
	 * queue limit: a never drains and lags (its queue is kept, nothing more
	 * queued, the worker is to catch it up from the log); late keeps going
	 */
	memset(big, 'x', sizeof(big));
	snprintf(big, sizeof(big), "[\"I\",1,\"0/90\",[1,\"%0800d\"]]", 0);
	pub(fo, "[\"B\",5,\"0/90\"]", 0x90);
	pub(fo, big, 0x90);
	drain(fo, late, got);
	CHECK(strcmp(got, "BI") == 0);
	pub(fo, big, 0x90);
	CHECK(a->lagging && !a->closing && fanout_lagging_count(fo) == 1);
	CHECK(a->skip_txn == 0x90 && a->skip_changes == 1 && a->in_txn &&
		  a->catchup_after == 0x8F);
	drain(fo, late, got);
	CHECK(strcmp(got, "I") == 0);
	pub(fo, "[\"C\",5,\"0/90\",\"0/A0\"]", 0xA0);
	drain(fo, a, got);
	CHECK(strcmp(got, "BI") == 0);	/* its queue, then nothing */
	CHECK(a->in_txn && a->skip_txn == 0x90);	/* kept for the catch-up */
	drain(fo, late, got);
	CHECK(strcmp(got, "C") == 0);
	fanout_close_with_error(fo, a, CP_ERR_SLOW_CONSUMER, "behind");
	CHECK(fanout_lagging_count(fo) == 0);
	drain(fo, a, got);
	CHECK(strcmp(got, "!") == 0);

	/* unsubscribe, then removal while a transaction is open */
	CHECK(fanout_unsubscribe(b, "s1"));
	CHECK(!fanout_unsubscribe(b, "s1"));
	pub(fo, "[\"B\",6,\"0/B0\"]", 0xB0);
	pub(fo, "[\"I\",1,\"0/B0\",[9]]", 0xB0);
	fanout_client_remove(fo, late);
	pub(fo, "[\"I\",1,\"0/B0\",[10]]", 0xB0);
	pub(fo, "[\"C\",6,\"0/B0\",\"0/C0\"]", 0xC0);
	fanout_heartbeat(fo, 0xC0);
	drain(fo, b, got);
	CHECK(strcmp(got, "") == 0);	/* no subscription: no heartbeat */
	CHECK(fanout_client_count(fo) == 2);
	CHECK(writes_wanted > 0);
	fanout_destroy(fo);
}

static void
test_fanout_filters(void)
{
	Fanout	   *fo = fanout_create(1000000, want_write, NULL);
	FoClient   *a = fanout_client_add(fo, NULL);
	FoClient   *b = fanout_client_add(fo, NULL);
	FoClient   *all = fanout_client_add(fo, NULL);
	char		got[256];

	/* a: v > 10 on every table; b: id in (2, 3); all: no filter */
	sub(fo, a, "{\"type\":\"subscribe\",\"tables\":[\"*\"],"
		"\"filter\":{\"col\":\"v\",\"op\":\"gt\",\"value\":10}}");
	sub(fo, b, "{\"type\":\"subscribe\",\"tables\":[\"public.t\"],"
		"\"filter\":{\"col\":\"id\",\"op\":\"in\",\"values\":[2,3]}}");
	sub(fo, all, "{\"type\":\"subscribe\",\"tables\":[\"*\"]}");

	pub(fo, "[\"B\",1,\"0/10\"]", 0x10);
	pub(fo, "[\"R\",1,\"public\",\"t\",[\"id\",\"v\",\"doc\"],"
		"[\"integer\",\"numeric(5,1)\",\"text\"],[0],\"default\"]", 0x10);
	pub(fo, "[\"I\",1,\"0/10\",[1,\"20.0\",\"x\"]]", 0x10);	/* a */
	pub(fo, "[\"I\",1,\"0/10\",[2,\"5.0\",\"x\"]]", 0x10);	/* b */
	pub(fo, "[\"I\",1,\"0/10\",[3,null,\"x\"]]", 0x10);	/* b (a: UNKNOWN) */
	/* update: the new row decides; unchanged TOAST is UNKNOWN */
	pub(fo, "[\"U\",1,\"0/10\",[1,\"1.0\",null]]", 0x10);	/* none */
	pub(fo, "[\"U\",1,\"0/10\",[2,\"11\",null],null,[2]]", 0x10);	/* a, b */
	pub(fo, "[\"U\",1,\"0/10\",[4,null,\"x\"],null,[1]]", 0x10);	/* none */
	/* delete: old key only, so a (on v) never passes */
	pub(fo, "[\"D\",1,\"0/10\",[3]]", 0x10);	/* b */
	pub(fo, "[\"D\",1,\"0/10\",null]", 0x10);	/* none */
	pub(fo, "[\"T\",\"0/10\",[1],false,false]", 0x10);	/* a, b */
	pub(fo, "[\"C\",1,\"0/10\",\"0/20\"]", 0x20);
	/* one parse per filtered change, not one per subscription */
	CHECK(fo->change_parses == 8);
	drain(fo, a, got);
	CHECK(strcmp(got, "BRIUTC") == 0);
	drain(fo, b, got);
	CHECK(strcmp(got, "BRIIUDTC") == 0);
	drain(fo, all, got);
	CHECK(strcmp(got, "BRIIIUUUDDTC") == 0);

	/* a table without column v: one error event for a, table skipped */
	pub(fo, "[\"B\",2,\"0/30\"]", 0x30);
	pub(fo, "[\"R\",2,\"app\",\"u\",[\"id\"],[\"integer\"],[0],\"default\"]", 0x30);
	pub(fo, "[\"I\",2,\"0/30\",[1]]", 0x30);
	pub(fo, "[\"I\",2,\"0/30\",[2]]", 0x30);
	pub(fo, "[\"C\",2,\"0/30\",\"0/40\"]", 0x40);
	drain(fo, a, got);
	CHECK(strcmp(got, "!") == 0);
	CHECK(!a->closing);
	/* ALTER TABLE: a new relation message, the filter compiles now */
	pub(fo, "[\"B\",3,\"0/50\"]", 0x50);
	pub(fo, "[\"R\",2,\"app\",\"u\",[\"id\",\"v\"],[\"integer\",\"bigint\"],[0],\"default\"]", 0x50);
	pub(fo, "[\"I\",2,\"0/50\",[3,11]]", 0x50);
	pub(fo, "[\"I\",2,\"0/50\",[4,9]]", 0x50);
	pub(fo, "[\"C\",3,\"0/50\",\"0/60\"]", 0x60);
	drain(fo, a, got);
	CHECK(strcmp(got, "BRIC") == 0);
	{
		FoMsg	   *m;
		size_t		off;
		char	   *e = cp_table_error(CP_ERR_BAD_FILTER, "s1", "app", "u", "at col: \"x\"", &off);

		CHECK(strcmp(e, "{\"type\":\"error\",\"code\":\"bad_filter\",\"subscription\":\"s1\","
					 "\"table\":\"app.u\",\"message\":\"at col: \\\"x\\\"\"}") == 0);
		free(e);
		CHECK(!fanout_peek(a, &m, &off));
	}
	/* a large change (beyond the reusable arena) is filtered too */
	{
		size_t		n = 100000;
		char	   *big = malloc(n + 64);

		snprintf(big, n + 64, "[\"I\",1,\"0/70\",[2,\"12\",\"%0*d\"]]", (int) n, 0);
		pub(fo, "[\"B\",4,\"0/70\"]", 0x70);
		pub(fo, big, 0x70);
		pub(fo, "[\"C\",4,\"0/70\",\"0/80\"]", 0x80);
		free(big);
		drain(fo, a, got);
		CHECK(strcmp(got, "BIC") == 0);
		drain(fo, b, got);
		CHECK(strcmp(got, "BIC") == 0);
	}

	/*
	 * Idle relations' compiled filters are freed (a dropped table never
	 * sends a change again), and compiled again if a change comes.
	 */
	CHECK(a->subs[0]->nfilters == 2);
	fanout_release_idle_filters(fo);	/* both had changes: kept */
	CHECK(a->subs[0]->nfilters == 2);
	pub(fo, "[\"B\",5,\"0/90\"]", 0x90);
	pub(fo, "[\"I\",1,\"0/90\",[7,\"30\",\"x\"]]", 0x90);
	pub(fo, "[\"C\",5,\"0/90\",\"0/A0\"]", 0xA0);
	fanout_release_idle_filters(fo);	/* app.u was idle */
	CHECK(a->subs[0]->nfilters == 1 && a->subs[0]->filters[0].relid == 1);
	pub(fo, "[\"B\",6,\"0/B0\"]", 0xB0);
	pub(fo, "[\"I\",2,\"0/B0\",[5,12]]", 0xB0);
	pub(fo, "[\"C\",6,\"0/B0\",\"0/C0\"]", 0xC0);
	CHECK(a->subs[0]->nfilters == 2);
	drain(fo, a, got);
	CHECK(strcmp(got, "BICBIC") == 0);	/* no second bad_filter event */
	fanout_destroy(fo);
}

/* The resume_lsn member of the (error) message at the head of c's queue. */
static bool
head_resume_lsn_is(FoClient *c, const char *lsn)
{
	FoMsg	   *m;
	size_t		off;
	char		want[64];

	if (!fanout_peek(c, &m, &off))
		return false;
	snprintf(want, sizeof(want), "\"resume_lsn\":\"%s\"", lsn);
	return strstr((char *) m->payload, want) != NULL;
}

/* A transaction of n inserts into relation rel (and one into rel2 if > 0). */
static void
pub_txn(Fanout *fo, uint64_t lsn, int rel, int n, int rel2)
{
	char		buf[128];

	snprintf(buf, sizeof(buf), "[\"B\",1,\"0/%X\"]", (unsigned) lsn);
	pub(fo, buf, lsn);
	snprintf(buf, sizeof(buf), "[\"I\",%d,\"0/%X\",[1]]", rel, (unsigned) lsn);
	for (int i = 0; i < n; i++)
		pub(fo, buf, lsn);
	if (rel2 > 0)
	{
		snprintf(buf, sizeof(buf), "[\"I\",%d,\"0/%X\",[2]]", rel2, (unsigned) lsn);
		pub(fo, buf, lsn);
	}
	snprintf(buf, sizeof(buf), "[\"C\",1,\"0/%X\",\"0/%X\"]", (unsigned) lsn,
			 (unsigned) lsn + 8);
	pub(fo, buf, lsn);
}

#define REL_A "[\"R\",1,\"public\",\"a\",[\"id\"],[\"int\"],[0],\"d\"]"
#define REL_B "[\"R\",2,\"public\",\"b\",[\"id\"],[\"int\"],[0],\"d\"]"
#define REL_B2 "[\"R\",2,\"public\",\"b\",[\"id\",\"x\"],[\"int\",\"int\"],[0],\"d\"]"

/*
 * A client replayed through a private fan-out, then moved to the live one
 * (resume, snapshot): routing state, begin/commit pairing and relation
 * messages must mean the same in both.
 */
static void
test_fanout_moves(void)
{
	Fanout	   *live = fanout_create(1 << 20, want_write, NULL);
	Fanout	   *priv = fanout_create(1 << 20, want_write, NULL);
	FoClient   *y = fanout_client_add(live, NULL);
	FoClient   *x = fanout_client_add(live, NULL);
	char		got[256];

	sub(live, y, "{\"type\":\"subscribe\",\"tables\":[\"public.b\"]}");
	pub(live, REL_A, 0);
	pub(live, REL_B, 0);

	/*
	 * x replays 300 changes of a and one of b, gets the b row: its mark is
	 * the 301st routed change of the private fan-out.  Live push after a
	 * restart then routes exactly as many before a b row meant for x.
	 */
	fanout_client_move(priv, x);
	CHECK(x->home == priv);
	sub(priv, x, "{\"type\":\"subscribe\",\"tables\":[\"public.b\"]}");
	pub(priv, REL_A, 0);
	pub(priv, REL_B, 0);
	pub_txn(priv, 0x100, 1, 300, 2);
	drain(priv, x, got);
	CHECK(strcmp(got, "BRIC") == 0);
	fanout_client_move(live, x);
	CHECK(x->home == live && fanout_client_count(priv) == 0);
	pub_txn(live, 0x200, 1, 300, 2);
	drain(live, x, got);
	CHECK(strcmp(got, "BIC") == 0);	/* same R bytes: not sent again */
	drain(live, y, got);
	CHECK(strcmp(got, "BRIC") == 0);
	pub_txn(live, 0x300, 2, 1, 0);
	drain(live, x, got);
	CHECK(strcmp(got, "BIC") == 0);

	/* a changed description is sent again after a move */
	fanout_client_move(priv, x);
	pub(priv, REL_B2, 0);
	fanout_client_move(live, x);
	pub_txn(live, 0x400, 2, 1, 0);
	drain(live, x, got);
	CHECK(strcmp(got, "BIC") == 0);	/* live still has the old one */
	pub(live, REL_B2, 0);
	pub_txn(live, 0x500, 2, 1, 0);
	drain(live, x, got);
	CHECK(strcmp(got, "BRIC") == 0);

	/*
	 * Requests act on the fan-out holding the client: an unsubscribe
	 * during a replay stops the replay's stream, and touches nothing live.
	 */
	fanout_client_move(priv, x);
	pub_txn(priv, 0x600, 2, 2, 0);
	CHECK(fanout_unsubscribe(x, "s1"));
	CHECK(x->nsubs == 0);
	pub_txn(priv, 0x700, 2, 2, 0);
	drain(priv, x, got);
	CHECK(strcmp(got, "BIIC") == 0);	/* only what was queued before */
	drain(live, y, got);
	pub_txn(live, 0x800, 2, 1, 0);
	drain(live, y, got);
	CHECK(strcmp(got, "BIC") == 0);

	/* an unsubscribe in the middle of a transaction: no more of it, C kept */
	sub(priv, x, "{\"type\":\"subscribe\",\"tables\":[\"public.b\"]}");
	pub(priv, "[\"B\",1,\"0/900\"]", 0x900);
	pub(priv, "[\"I\",2,\"0/900\",[1]]", 0x900);
	CHECK(fanout_unsubscribe(x, "s2"));
	pub(priv, "[\"I\",2,\"0/900\",[2]]", 0x900);
	pub(priv, "[\"C\",1,\"0/900\",\"0/908\"]", 0x900);
	drain(priv, x, got);
	CHECK(strcmp(got, "BIC") == 0);
	fanout_client_move(live, x);
	fanout_destroy(priv);
	fanout_destroy(live);
}

/* Collect what take_lagging hands over. */
static FoClient *taken;

static void
take_one(FoClient *c, void *arg)
{
	taken = c;
	fanout_client_move((Fanout *) arg, c);
}

/*
 * A live client whose queue fills up in the middle of a transaction lags
 * and is caught up from the log (here: the same messages published again
 * into a paced fan-out): it gets the rest of that transaction, without a
 * second begin, changes it already has or a lost commit, then the next.
 */
static void
test_catch_up(void)
{
	Fanout	   *live = fanout_create(480, want_write, NULL);
	Fanout	   *priv = fanout_create(480, want_write, NULL);
	FoClient   *c = fanout_client_add(live, NULL);
	FoClient   *other = fanout_client_add(live, NULL);
	char		got[256];
	char		row[3][128];
	int			k;

	fanout_set_paced(priv);
	sub(live, c, "{\"type\":\"subscribe\",\"tables\":[\"public.b\"],"
		"\"filter\":{\"col\":\"id\",\"op\":\"neq\",\"value\":2}}");

	/*
	 * Replies past the limit before any transaction was routed live: the
	 * client lags from its own position (its first subscription's).
	 */
	fanout_client_start_at(c, 0x50);
	for (k = 0; k < 4 && !c->lagging; k++)
		fanout_send_private(live, c, "{\"type\":\"pong\",\"id\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", 70);
	CHECK(c->lagging && c->catchup_after == 0x50);
	taken = NULL;
	fanout_take_lagging(live, take_one, priv);
	CHECK(taken == c);
	drain(priv, c, got);
	fanout_client_move(live, c);
	sub(live, other, "{\"type\":\"subscribe\",\"tables\":[\"public.b\"]}");
	for (k = 0; k < 3; k++)
		snprintf(row[k], sizeof(row[k]), "[\"I\",2,\"0/100\",[%d,\"%060d\"]]", k + 1, 0);

	/*
	 * live: R + B + row 1 fit; row 2 is filtered out; row 3 lags (other
	 * drains as it goes)
	 */
	pub(live, REL_B, 0);
	pub(live, "[\"B\",1,\"0/100\"]", 0x100);
	for (k = 0; k < 3; k++)
	{
		pub(live, row[k], 0x100);
		drain(live, other, got);
	}
	pub(live, "[\"C\",1,\"0/100\",\"0/108\"]", 0x100);
	CHECK(c->lagging && c->skip_txn == 0x100 && c->skip_changes == 2);
	drain(live, other, got);
	CHECK(strcmp(got, "C") == 0);
	pub_txn(live, 0x200, 2, 1, 0);	/* c is not served live meanwhile */
	drain(live, other, got);

	/* the worker moves it out, then feeds the log after 0x100 - 1 */
	taken = NULL;
	fanout_take_lagging(live, take_one, priv);
	CHECK(taken == c && c->home == priv && !c->lagging &&
		  fanout_lagging_count(live) == 0);
	pub(priv, REL_B, 0);
	pub(priv, "[\"B\",1,\"0/100\"]", 0x100);
	for (k = 0; k < 3; k++)
		pub(priv, row[k], 0x100);
	pub(priv, "[\"C\",1,\"0/100\",\"0/108\"]", 0x100);
	pub_txn(priv, 0x200, 2, 1, 0);
	drain(priv, c, got);
	CHECK(strcmp(got, "BRII" "C" "BIC") == 0);	/* queue, rest, next */
	CHECK(c->sent.lsn == 0x200);
	fanout_client_move(live, c);
	c->resume_after = 0x200;
	pub_txn(live, 0x300, 2, 1, 0);
	drain(live, c, got);
	CHECK(strcmp(got, "BIC") == 0);

	/* a commit that does not fit: the catch-up gives just the commit */
	pub(live, "[\"B\",1,\"0/400\"]", 0x400);
	pub(live, row[0], 0x400);
	pub(live, row[2], 0x400);
	drain(live, other, got);
	{
		char		big[300];

		snprintf(big, sizeof(big), "[\"C\",1,\"0/400\",\"0/408\",\"%0200d\"]", 0);
		pub(live, big, 0x400);
		CHECK(c->lagging && c->skip_changes == 2 && c->in_txn);
		fanout_take_lagging(live, take_one, priv);
		pub(priv, "[\"B\",1,\"0/400\"]", 0x400);
		pub(priv, row[0], 0x400);
		pub(priv, row[2], 0x400);
		pub(priv, big, 0x400);
	}
	drain(priv, c, got);
	CHECK(strcmp(got, "BIIC") == 0);
	drain(live, other, got);
	fanout_client_move(live, c);
	fanout_destroy(priv);
	fanout_destroy(live);
}

/* Positions given to a client never go backwards. */
static void
test_positions(void)
{
	Fanout	   *fo = fanout_create(1 << 20, want_write, NULL);
	FoClient   *c = fanout_client_add(fo, NULL);
	FoClient   *d = fanout_client_add(fo, NULL);
	char		got[256];

	sub(fo, c, "{\"type\":\"subscribe\",\"tables\":[\"public.b\"]}");
	sub(fo, d, "{\"type\":\"subscribe\",\"tables\":[\"public.b\"]}");
	pub(fo, REL_B, 0);

	/* resumed beyond the stream's end: lower heartbeats are not sent */
	fanout_client_start_at(c, 0x500);
	fanout_heartbeat(fo, 0x400);
	drain(fo, c, got);
	CHECK(strcmp(got, "") == 0);
	drain(fo, d, got);
	CHECK(strcmp(got, "H") == 0 && d->sent.lsn == 0x400);
	fanout_heartbeat(fo, 0x500);
	drain(fo, c, got);
	CHECK(strcmp(got, "H") == 0 && c->sent.lsn == 0x500);

	/* an error after queued commits carries the last of them */
	pub_txn(fo, 0x600, 2, 1, 0);
	pub_txn(fo, 0x700, 2, 1, 0);
	CHECK(c->sent.lsn == 0x500 && fanout_client_position(c) == 0x700);
	fanout_close_with_error(fo, c, CP_ERR_RESUME_TOO_OLD, "trimmed");
	drain(fo, c, got);
	CHECK(strcmp(got, "BRICBIC!") == 0 && c->sent.lsn == 0x700);

	/* a cull drops the queue: the error carries what was written */
	pub_txn(fo, 0x800, 2, 1, 0);
	drain(fo, d, got);
	pub_txn(fo, 0x900, 2, 1, 0);
	CHECK(fanout_client_position(d) == 0x900);
	fo_cull(fo, d, CP_ERR_SLOW_CONSUMER, "slow");
	CHECK(head_resume_lsn_is(d, "0/800"));

	/* after a snapshot: commits are no resume point until the join */
	{
		FoClient   *s = fanout_client_add(fo, NULL);

		sub(fo, s, "{\"type\":\"subscribe\",\"tables\":[\"public.b\"]}");
		fanout_client_await_join(s);
		pub_txn(fo, 0xA00, 2, 1, 0);
		CHECK(fanout_client_position(s) == 0);
		fanout_heartbeat_join(fo, s, 0x990, "s1");
		CHECK(fanout_client_position(s) == 0x990);
		pub_txn(fo, 0xB00, 2, 1, 0);
		drain(fo, s, got);
		CHECK(strcmp(got, "BRICHBIC") == 0 && s->sent.lsn == 0xB00);
	}
	fanout_destroy(fo);
}

/* The head message's text, and pop it. */
static void
take_text(Fanout *fo, FoClient *c, char *out, size_t outsize)
{
	FoMsg	   *m;
	size_t		off;

	out[0] = '\0';
	if (!fanout_peek(c, &m, &off))
		return;
	snprintf(out, outsize, "%.*s", (int) m->len, (char *) m->payload);
	fanout_advance(fo, c, m->len - off);
}

/* What the other modules see of a client: the accessors. */
static void
test_accessors(void)
{
	Fanout	   *fo = fanout_create(4096, want_write, NULL);
	int			user1 = 1,
				user2 = 2;
	FoClient   *a = fanout_client_add(fo, &user1);
	FoClient   *b = fanout_client_add(fo, &user2);
	FoClient   *c;
	ClientRequest req;
	const char *code;
	FoSub	   *s;
	int			n = 0;
	char		got[256];

	CHECK(fanout_client_user(a) == &user1 && fanout_client_user(b) == &user2);
	CHECK(fanout_client_home(a) == fo && !fanout_client_closing(a));
	CHECK(fanout_client_nsubs(a) == 0 && fanout_client_queued_bytes(a) == 0);
	CHECK(fanout_client_stat_slot(a) == -1);
	fanout_client_set_stat_slot(a, 7);
	CHECK(fanout_client_stat_slot(a) == 7 && a->stat_slot == 7);
	fanout_client_set_peer(a, "127.0.0.1", 12345);
	CHECK(strcmp(fanout_client_peer(a), "127.0.0.1") == 0 &&
		  fanout_client_connected_at(a) == 12345);
	for (c = fanout_first_client(fo); c != NULL; c = fanout_next_client(c))
		n++;
	CHECK(n == 2 && n == fanout_client_count(fo));

	CHECK(parse("{\"type\":\"subscribe\",\"tables\":[\"t\"]}", &req, &code));
	s = fanout_subscribe(a, &req, &code);
	client_request_free(&req);
	CHECK(s != NULL && strcmp(fanout_sub_id(s), "s1") == 0);
	CHECK(fanout_client_nsubs(a) == 1);

	/* resume_after, set from outside: live routing skips up to it */
	fanout_client_set_resume_after(a, 0x20);
	CHECK(a->resume_after == 0x20);
	pub(fo, "[\"B\",1,\"0/20\"]", 0x20);
	pub(fo, "[\"R\",1,\"public\",\"t\",[\"id\"],[\"int\"],[0],\"d\"]", 0x20);
	pub(fo, "[\"I\",1,\"0/20\",[1]]", 0x20);
	pub(fo, "[\"C\",1,\"0/20\",\"0/28\"]", 0x28);
	CHECK(fanout_client_queued_bytes(a) == 0);
	pub(fo, "[\"B\",2,\"0/30\"]", 0x30);
	pub(fo, "[\"I\",1,\"0/30\",[2]]", 0x30);
	pub(fo, "[\"C\",2,\"0/30\",\"0/38\"]", 0x38);
	CHECK(fanout_client_queued_bytes(a) > 0);
	drain(fo, a, got);
	CHECK(strcmp(got, "BRIC") == 0);
	CHECK(fanout_client_sent_position(a) == 0x38);
	CHECK(fanout_client_msgs_sent(a) == 4 && fanout_client_bytes_sent(a) > 0);
	CHECK(fanout_msgs_sent(fo) == 4 && fanout_bytes_sent(fo) == fanout_client_bytes_sent(a));

	/* closing is visible from outside */
	fanout_close_with_error(fo, b, CP_ERR_SHUTDOWN, "bye");
	CHECK(fanout_client_closing(b));
	fanout_destroy(fo);
}

/* Replies go through the fan-out: no transport needed. */
static void
test_replies(void)
{
	Fanout	   *fo = fanout_create(4096, want_write, NULL);
	FoClient   *a = fanout_client_add(fo, NULL);
	char		got[512];
	size_t		len = 0;
	char	   *pong;
	int			wanted = writes_wanted;

	fanout_reply(a, "7", "s1", NULL, NULL);
	CHECK(writes_wanted == wanted + 1);
	take_text(fo, a, got, sizeof(got));
	CHECK(strstr(got, "\"ok\"") != NULL && strstr(got, "\"id\":7") != NULL &&
		  strstr(got, "\"subscription\":\"s1\"") != NULL &&
		  strstr(got, "resume_lsn") == NULL);

	fanout_reply(a, "\"x\"", NULL, CP_ERR_BAD_REQUEST, "no good");
	take_text(fo, a, got, sizeof(got));
	CHECK(strstr(got, "\"error\"") != NULL && strstr(got, CP_ERR_BAD_REQUEST) != NULL &&
		  strstr(got, "no good") != NULL && strstr(got, "\"id\":\"x\"") != NULL);
	CHECK(!fanout_client_closing(a));	/* a request error does not close */

	fanout_reply_positioned(a, "1", "s2", true, 0x1A2B);
	take_text(fo, a, got, sizeof(got));
	CHECK(strstr(got, "\"resume_lsn\":\"0/1A2B\"") != NULL);
	fanout_reply_positioned(a, "2", "s3", false, 0x1A2B);
	take_text(fo, a, got, sizeof(got));
	CHECK(strstr(got, "\"resume_lsn\":null") != NULL);

	/* a built reply is queued and freed; NULL queues nothing */
	pong = cp_reply_pong("3", &len);
	fanout_reply_text(a, pong, len);
	take_text(fo, a, got, sizeof(got));
	CHECK(strstr(got, "\"pong\"") != NULL);
	fanout_reply_text(a, NULL, 0);
	CHECK(fanout_client_queued_bytes(a) == 0);

	/* replies are not stream positions */
	CHECK(fanout_client_position(a) == 0 && fanout_client_sent_position(a) == 0);

	/* nothing is queued once the client is closing */
	fanout_close_with_error(fo, a, CP_ERR_SHUTDOWN, "bye");
	take_text(fo, a, got, sizeof(got));
	CHECK(strstr(got, CP_ERR_SHUTDOWN) != NULL);
	fanout_reply(a, "4", NULL, NULL, NULL);
	CHECK(fanout_client_queued_bytes(a) == 0);
	fanout_destroy(fo);
}

/* Subscribe c to public.t<k>; the subscription, or NULL with *code. */
static FoSub *
try_sub(FoClient *c, int k, const char **code)
{
	char		json[128];
	ClientRequest req;
	FoSub	   *s;

	snprintf(json, sizeof(json),
			 "{\"type\":\"subscribe\",\"tables\":[\"public.t%d\"]}", k);
	CHECK(parse(json, &req, code));
	s = fanout_subscribe(c, &req, code);
	client_request_free(&req);
	return s;
}

/* One transaction with an insert into each of public.t1 .. public.t<n>;
 * how many inserts c gets. */
static int
inserts_routed(Fanout *fo, FoClient *c, int n, uint64_t lsn)
{
	char		buf[128];
	char		got[4096];
	int			count = 0;

	snprintf(buf, sizeof(buf), "[\"B\",1,\"0/%X\"]", (unsigned) lsn);
	pub(fo, buf, lsn);
	for (int k = 1; k <= n; k++)
	{
		snprintf(buf, sizeof(buf),
				 "[\"R\",%d,\"public\",\"t%d\",[\"id\"],[\"int\"],[0],\"d\"]", k, k);
		pub(fo, buf, lsn);
		snprintf(buf, sizeof(buf), "[\"I\",%d,\"0/%X\",[1]]", k, (unsigned) lsn);
		pub(fo, buf, lsn);
	}
	snprintf(buf, sizeof(buf), "[\"C\",1,\"0/%X\",\"0/%X\"]", (unsigned) lsn,
			 (unsigned) lsn + 8);
	pub(fo, buf, lsn);
	drain(fo, c, got);
	for (char *p = got; *p; p++)
		count += *p == 'I';
	return count;
}

/*
 * pgsync.max_subscriptions_per_client: a per-fan-out cap on what a client
 * may hold; lowering it keeps what clients hold, the array grows past the
 * old compile-time 32.
 */
static void
test_sub_limit(void)
{
	Fanout	   *fo = fanout_create(1 << 20, want_write, NULL);
	Fanout	   *other = fanout_create(1 << 20, want_write, NULL);
	FoClient   *c = fanout_client_add(fo, NULL);
	const char *code;
	char		desc[256];
	char		id[16];
	int			k;

	CHECK_EQ_INT(fanout_max_subs(fo), FO_DEFAULT_MAX_SUBS);
	fanout_set_max_subs(fo, 3);
	CHECK_EQ_INT(fanout_max_subs(fo), 3);
	for (k = 1; k <= 3; k++)
		CHECK(try_sub(c, k, &code) != NULL);
	code = NULL;
	CHECK(try_sub(c, 4, &code) == NULL);
	CHECK(code != NULL && strcmp(code, CP_ERR_TOO_MANY_SUBS) == 0);
	CHECK(!fanout_client_closing(c) && fanout_client_nsubs(c) == 3);
	CHECK_EQ_INT(inserts_routed(fo, c, 4, 0x10), 3);

	/* lowered below what c holds: c keeps all three, gets nothing new */
	fanout_set_max_subs(fo, 2);
	CHECK_EQ_INT(fanout_client_nsubs(c), 3);
	CHECK_EQ_INT(inserts_routed(fo, c, 4, 0x20), 3);
	CHECK(try_sub(c, 4, &code) == NULL && strcmp(code, CP_ERR_TOO_MANY_SUBS) == 0);
	CHECK(fanout_unsubscribe(c, "s1"));
	CHECK(try_sub(c, 4, &code) == NULL);	/* 2 held, 2 allowed */
	CHECK(fanout_unsubscribe(c, "s2"));
	CHECK(try_sub(c, 4, &code) != NULL);
	CHECK_EQ_INT(inserts_routed(fo, c, 4, 0x30), 2);	/* t3, t4 */

	/* raised past the old fixed array of 32: it grows */
	fanout_set_max_subs(fo, 100);
	for (k = 5; fanout_client_nsubs(c) < 100; k++)
		CHECK(try_sub(c, k, &code) != NULL);
	CHECK(c->subs_cap >= 100);
	CHECK(try_sub(c, k, &code) == NULL && strcmp(code, CP_ERR_TOO_MANY_SUBS) == 0);
	CHECK_EQ_INT(inserts_routed(fo, c, k, 0x40), 100);
	fanout_describe_subs(c, desc, sizeof(desc));
	CHECK(strlen(desc) == sizeof(desc) - 1);

	/* unsubscribe in the middle; moved, a client keeps every subscription */
	snprintf(id, sizeof(id), "s%d", 50);
	CHECK(fanout_unsubscribe(c, id));
	CHECK_EQ_INT(inserts_routed(fo, c, k, 0x50), 99);
	fanout_client_move(other, c);
	CHECK_EQ_INT(fanout_client_nsubs(c), 99);
	CHECK_EQ_INT(inserts_routed(other, c, k, 0x60), 99);
	/* each fan-out has its own cap (the worker copies it to private ones) */
	CHECK(try_sub(c, k, &code) == NULL && strcmp(code, CP_ERR_TOO_MANY_SUBS) == 0);

	/* at least one */
	fanout_set_max_subs(fo, 0);
	CHECK_EQ_INT(fanout_max_subs(fo), 1);
	fanout_destroy(other);
	fanout_destroy(fo);
}

/*
 * A streamed transaction is not routed live: fanout_lag_subscribers() moves
 * to catch-up every client whose patterns name one of its tables, by name
 * alone -- here tables the fan-out has never seen a relation message of --
 * and no other client.
 */
static void
test_lag_by_name(void)
{
	Fanout	   *fo = fanout_create(4096, want_write, NULL);
	FoClient   *exact = fanout_client_add(fo, NULL);
	FoClient   *wild = fanout_client_add(fo, NULL);
	FoClient   *other = fanout_client_add(fo, NULL);
	FoClient   *second = fanout_client_add(fo, NULL);
	FanoutTableName tables[] = {{"public", "big"}, {"app", "log"}};

	sub(fo, exact, "{\"type\":\"subscribe\",\"tables\":[\"public.big\"]}");
	sub(fo, wild, "{\"type\":\"subscribe\",\"tables\":[\"app.*\"]}");
	sub(fo, other, "{\"type\":\"subscribe\",\"tables\":[\"public.small\",\"app.logs\"]}");
	sub(fo, second, "{\"type\":\"subscribe\",\"id\":\"a\",\"tables\":[\"x\"]}");
	sub(fo, second, "{\"type\":\"subscribe\",\"id\":\"b\",\"tables\":[\"big\"]}");
	CHECK(fanout_lag_subscribers(fo, tables, 2) == 3);
	CHECK(exact->lagging && wild->lagging && second->lagging && !other->lagging);
	CHECK(fanout_lagging_count(fo) == 3);
	/* lagging already: not counted again */
	CHECK(fanout_lag_subscribers(fo, tables, 2) == 0);
	CHECK(fanout_lag_subscribers(fo, tables, 0) == 0);
	fanout_destroy(fo);
}

int
main(void)
{
	test_fanout();
	test_fanout_filters();
	test_fanout_moves();
	test_positions();
	test_catch_up();
	test_accessors();
	test_replies();
	test_sub_limit();
	test_lag_by_name();
	return unit_summary();
}
