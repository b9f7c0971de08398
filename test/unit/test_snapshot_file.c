/*-------------------------------------------------------------------------
 *
 * test_snapshot_file.c
 *	  Unit tests of src/protocol/snapshot_file.c: the snapshot/stream join rule,
 *	  32-to-64-bit xid widening across epochs, xip sorting, the snapshot's
 *	  JSON and snapshot file names.
 *
 *-------------------------------------------------------------------------
 */
#include "protocol/snapshot_file.h"
#include "unit.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define EPOCH(e) ((uint64_t) (e) << 32)

static void
test_visible(void)
{
	uint64_t	xip[] = {105, 107, 120};
	SnapshotInfo s = {100, 130, 3, xip};

	/* below xmin: always visible (finished before the snapshot) */
	CHECK(snapshot_xid_visible(&s, 3));
	CHECK(snapshot_xid_visible(&s, 99));
	/* xmin itself: visible unless in xip (xmin is normally xip[0]) */
	CHECK(snapshot_xid_visible(&s, 100));
	CHECK(snapshot_xid_visible(&s, 104));
	CHECK(!snapshot_xid_visible(&s, 105));
	CHECK(snapshot_xid_visible(&s, 106));
	CHECK(!snapshot_xid_visible(&s, 107));
	CHECK(!snapshot_xid_visible(&s, 120));
	CHECK(snapshot_xid_visible(&s, 129));
	/* at or above xmax: never visible */
	CHECK(!snapshot_xid_visible(&s, 130));
	CHECK(!snapshot_xid_visible(&s, 131));
	CHECK(!snapshot_xid_visible(&s, EPOCH(1) + 5));
}

static void
test_visible_empty_xip(void)
{
	SnapshotInfo s = {200, 200, 0, NULL};

	CHECK(snapshot_xid_visible(&s, 199));
	CHECK(!snapshot_xid_visible(&s, 200));
	CHECK(!snapshot_xid_visible(&s, 201));
}

static void
test_visible_many(void)
{
	uint64_t	xip[100];
	SnapshotInfo s;
	int			i;
	int			wrong = 0;

	for (i = 0; i < 100; i++)
		xip[i] = EPOCH(7) + 1000 + 2 * (uint64_t) i;	/* even xids */
	s.xmin = EPOCH(7) + 1000;
	s.xmax = EPOCH(7) + 1300;
	s.nxip = 100;
	s.xip = xip;
	for (i = 900; i < 1400; i++)
	{
		uint64_t	x = EPOCH(7) + (uint64_t) i;
		bool		expect = i < 1000 ||
			(i < 1300 && (i >= 1200 || (i % 2) == 1));

		if (snapshot_xid_visible(&s, x) != expect)
			wrong++;
		if (snapshot_xid32_visible(&s, (uint32_t) x) != expect)
			wrong++;
	}
	CHECK_EQ_INT(wrong, 0);
}

static void
test_widen(void)
{
	/* same epoch, both directions */
	CHECK_EQ_INT(snapshot_widen_xid(EPOCH(2) + 1000, 1000), EPOCH(2) + 1000);
	CHECK_EQ_INT(snapshot_widen_xid(EPOCH(2) + 1000, 900), EPOCH(2) + 900);
	CHECK_EQ_INT(snapshot_widen_xid(EPOCH(2) + 1000, 5000), EPOCH(2) + 5000);
	/* reference just after a wraparound, xid just before it: previous epoch */
	CHECK_EQ_INT(snapshot_widen_xid(EPOCH(3) + 10, 0xFFFFFFF0u),
				 EPOCH(2) + 0xFFFFFFF0u);
	/* reference just before a wraparound, xid just after: next epoch */
	CHECK_EQ_INT(snapshot_widen_xid(EPOCH(3) + 0xFFFFFFF0u, 20),
				 EPOCH(4) + 20);
	/* up to 2^31 - 1 ahead and 2^31 behind */
	CHECK_EQ_INT(snapshot_widen_xid(EPOCH(5) + 100, 100 + 0x7FFFFFFFu),
				 EPOCH(5) + 100 + 0x7FFFFFFFu);
	CHECK_EQ_INT(snapshot_widen_xid(EPOCH(5) + 0x80000100u, 0x100),
				 EPOCH(5) + 0x100);
	/* epoch 0: there is no epoch -1, so a "behind" xid is in the future */
	CHECK_EQ_INT(snapshot_widen_xid(10, 0xFFFFFFF0u), 0xFFFFFFF0u);
	CHECK_EQ_INT(snapshot_widen_xid(10, 3), 3);
	CHECK_EQ_INT(snapshot_widen_xid(3, 4), 4);
	/* special xids stay as they are */
	CHECK_EQ_INT(snapshot_widen_xid(EPOCH(9) + 50, 0), 0);
	CHECK_EQ_INT(snapshot_widen_xid(EPOCH(9) + 50, 1), 1);
	CHECK_EQ_INT(snapshot_widen_xid(EPOCH(9) + 50, 2), 2);
}

static void
test_visible_across_epoch(void)
{
	/* snapshot straddling a wraparound of the 32-bit counter */
	uint64_t	xip[] = {EPOCH(1) + 0xFFFFFFFEu, EPOCH(2) + 4};
	SnapshotInfo s = {EPOCH(1) + 0xFFFFFFFEu, EPOCH(2) + 10, 2, xip};

	CHECK(snapshot_xid32_visible(&s, 0xFFFFFFFDu));	/* before xmin */
	CHECK(!snapshot_xid32_visible(&s, 0xFFFFFFFEu));	/* running */
	CHECK(snapshot_xid32_visible(&s, 0xFFFFFFFFu));	/* committed */
	CHECK(snapshot_xid32_visible(&s, 3));	/* new epoch, committed */
	CHECK(!snapshot_xid32_visible(&s, 4));	/* new epoch, running */
	CHECK(snapshot_xid32_visible(&s, 9));
	CHECK(!snapshot_xid32_visible(&s, 10));	/* xmax */
	CHECK(!snapshot_xid32_visible(&s, 11));
}

static void
test_sort_xip(void)
{
	uint64_t	xip[] = {9, 3, EPOCH(1), 7, 3, 9, 4};
	uint32_t	n = snapshot_sort_xip(xip, 7);

	CHECK_EQ_INT(n, 5);
	CHECK_EQ_INT(xip[0], 3);
	CHECK_EQ_INT(xip[1], 4);
	CHECK_EQ_INT(xip[2], 7);
	CHECK_EQ_INT(xip[3], 9);
	CHECK_EQ_INT(xip[4], EPOCH(1));
	CHECK_EQ_INT(snapshot_sort_xip(xip, 0), 0);
}

static void
test_json(void)
{
	uint64_t	xip[] = {EPOCH(1) + 5, 18446744073709551615ULL};
	SnapshotInfo s = {EPOCH(1) + 5, 18446744073709551615ULL, 2, xip};
	SnapshotInfo e = {740, 740, 0, NULL};
	char		buf[SNAPSHOT_INFO_JSON_BOUND(2)];
	char		small[10];
	size_t		n;

	n = snapshot_info_json(buf, sizeof(buf), &s);
	CHECK_EQ_STR(buf, "{\"xmin\":4294967301,\"xmax\":18446744073709551615,"
				 "\"xip\":[4294967301,18446744073709551615]}");
	CHECK_EQ_INT(n, strlen(buf));
	CHECK(n < sizeof(buf));

	n = snapshot_info_json(buf, sizeof(buf), &e);
	CHECK_EQ_STR(buf, "{\"xmin\":740,\"xmax\":740,\"xip\":[]}");

	/* cut like snprintf, still NUL-terminated, full length returned */
	n = snapshot_info_json(small, sizeof(small), &e);
	CHECK_EQ_INT(n, strlen("{\"xmin\":740,\"xmax\":740,\"xip\":[]}"));
	CHECK_EQ_STR(small, "{\"xmin\":7");
	CHECK_EQ_INT(snapshot_info_json(NULL, 0, &e), n);
}

static void
test_names(void)
{
	char		long_name[80];

	CHECK(snapshot_file_name_ok("snap1"));
	CHECK(snapshot_file_name_ok("client-42_orders.jsonl"));
	CHECK(!snapshot_file_name_ok(""));
	CHECK(!snapshot_file_name_ok(".hidden"));
	CHECK(!snapshot_file_name_ok(".."));
	CHECK(!snapshot_file_name_ok("a/b"));
	CHECK(!snapshot_file_name_ok("../x"));
	CHECK(!snapshot_file_name_ok("/etc/passwd"));
	CHECK(!snapshot_file_name_ok("x y"));
	CHECK(!snapshot_file_name_ok("x.tmp"));
	CHECK(snapshot_file_name_ok("x.tmp2"));
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	CHECK(snapshot_file_name_ok(long_name));
	long_name[64] = 'a';
	long_name[65] = '\0';
	CHECK(!snapshot_file_name_ok(long_name));
}

int
main(void)
{
	test_visible();
	test_visible_empty_xip();
	test_visible_many();
	test_widen();
	test_visible_across_epoch();
	test_sort_xip();
	test_json();
	test_names();
	return unit_summary();
}
