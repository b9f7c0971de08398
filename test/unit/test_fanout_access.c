/*
 * test_fanout_access.c: unit tests of the fan-out's access checks
 * (fanout_access.c): asked when matches are built, not per change; a
 * wildcard skips silently, a literal table gets one permission_denied
 * event; revocation and re-grant.  Built with ASan/UBSan by `make unit`.
 */
#include "fanout_util.h"

/* access check for test_access: principal 7 may read relation 1 only,
 * unless revoked; principal 8 may read nothing */
static bool revoked = false;
static int	access_asks = 0;

static void
may_read(uint32_t principal, uint32_t relid, FoGrant *grant, void *arg)
{
	access_asks++;
	grant->readable = principal == 7 && relid == 1 && !revoked;
}

static void
test_access(void)
{
	Fanout	   *fo = fanout_create(1000000, want_write, NULL);
	FoClient   *r = fanout_client_add(fo, NULL);	/* principal 7, wildcard */
	FoClient   *lit = fanout_client_add(fo, NULL);	/* principal 7, literal */
	FoClient   *none = fanout_client_add(fo, NULL); /* principal 8 */
	FoClient   *free_ = fanout_client_add(fo, NULL);	/* unrestricted */
	char		got[256];
	int			asks;

	fanout_set_access_check(may_read, NULL);
	fanout_client_set_principal(r, 7);
	fanout_client_set_principal(lit, 7);
	fanout_client_set_principal(none, 8);
	CHECK(fanout_client_principal(free_) == 0);
	sub(fo, r, "{\"type\":\"subscribe\",\"tables\":[\"public.*\"]}");
	sub(fo, lit, "{\"type\":\"subscribe\",\"tables\":[\"public.t\",\"public.u\"]}");
	sub(fo, none, "{\"type\":\"subscribe\",\"tables\":[\"public.*\"]}");
	sub(fo, free_, "{\"type\":\"subscribe\",\"tables\":[\"public.*\"]}");

	/* one transaction over t (readable) and u (not) */
	pub(fo, "[\"B\",1,\"0/10\"]", 0x10);
	pub(fo, "[\"R\",1,\"public\",\"t\",[\"id\"],[\"integer\"],[0],\"default\"]", 0x10);
	pub(fo, "[\"R\",2,\"public\",\"u\",[\"id\"],[\"integer\"],[0],\"default\"]", 0x10);
	pub(fo, "[\"I\",1,\"0/10\",[1]]", 0x10);
	pub(fo, "[\"I\",2,\"0/10\",[1]]", 0x10);
	pub(fo, "[\"I\",2,\"0/10\",[2]]", 0x10);
	pub(fo, "[\"C\",1,\"0/10\",\"0/20\"]", 0x20);
	drain(fo, r, got);
	CHECK(strcmp(got, "BRIC") == 0);	/* u skipped silently: a wildcard */
	drain(fo, lit, got);
	CHECK(strcmp(got, "BRI!C") == 0);	/* u named literally: one event */
	drain(fo, none, got);
	CHECK(strcmp(got, "") == 0);
	drain(fo, free_, got);
	CHECK(strcmp(got, "BRIRIIC") == 0);

	/* asked when matches are built, not per change */
	asks = access_asks;
	pub(fo, "[\"B\",2,\"0/30\"]", 0x30);
	pub(fo, "[\"I\",1,\"0/30\",[2]]", 0x30);
	pub(fo, "[\"I\",1,\"0/30\",[3]]", 0x30);
	pub(fo, "[\"C\",2,\"0/30\",\"0/40\"]", 0x40);
	CHECK(access_asks == asks);
	drain(fo, lit, got);
	CHECK(strcmp(got, "BIIC") == 0);

	/* revoked: the next change is not sent, one event per subscription */
	revoked = true;
	fanout_access_changed();
	pub(fo, "[\"B\",3,\"0/50\"]", 0x50);
	pub(fo, "[\"I\",1,\"0/50\",[4]]", 0x50);
	pub(fo, "[\"I\",1,\"0/50\",[5]]", 0x50);
	pub(fo, "[\"C\",3,\"0/50\",\"0/60\"]", 0x60);
	drain(fo, r, got);
	CHECK(strcmp(got, "BIIC!") == 0);	/* txn 2, then the event */
	drain(fo, lit, got);
	CHECK(strcmp(got, "!") == 0);
	drain(fo, free_, got);
	CHECK(strcmp(got, "BIICBIIC") == 0);
	/* granted again: silently back */
	revoked = false;
	fanout_access_changed();
	pub(fo, "[\"B\",4,\"0/70\"]", 0x70);
	pub(fo, "[\"I\",1,\"0/70\",[6]]", 0x70);
	pub(fo, "[\"C\",4,\"0/70\",\"0/80\"]", 0x80);
	drain(fo, r, got);
	CHECK(strcmp(got, "BIC") == 0);
	fanout_set_access_check(NULL, NULL);
	fanout_destroy(fo);
}

int
main(void)
{
	test_access();
	return unit_summary();
}
