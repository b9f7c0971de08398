/*
 * test_stream_msg.c: unit tests of protocol/stream_msg.c, the
 * classification of the plugin's compact messages.
 * Built with ASan/UBSan by `make unit`; prints "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/stream_msg.h"
#include "unit.h"

static void
test_stream_msg(void)
{
	StreamMsgInfo info;
	const char *r = "[\"R\",16384,\"public\",\"t\\\"q\",[\"id\"],[\"integer\"],[0],\"default\"]";
	const char *t = "[\"T\",\"0/1\",[1,2,3],false,false]";

	CHECK(stream_msg_classify("[\"I\",42,\"0/1\",[1]]", 18, &info) &&
		  info.op == 'I' && info.relid == 42);
	CHECK(stream_msg_classify(r, strlen(r), &info) && info.relid == 16384 &&
		  strcmp(info.table, "t\"q") == 0);
	stream_msg_info_free(&info);
	CHECK(stream_msg_classify(t, strlen(t), &info) && info.nrelids == 3 &&
		  info.relids[2] == 3);
	stream_msg_info_free(&info);
	CHECK(stream_msg_classify("[\"B\",1]", 7, &info) && info.op == 'B');
	CHECK(!stream_msg_classify("{\"op\":\"I\"}", 10, &info));
	CHECK(!stream_msg_classify("[\"I\",x]", 7, &info));
}

/* ---- fanout ---- */

int
main(void)
{
	test_stream_msg();
	return unit_summary();
}
