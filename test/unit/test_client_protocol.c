/*
 * test_client_protocol.c: unit tests of protocol/client_protocol.c, the
 * parser of client requests and builder of control replies.
 * Built with ASan/UBSan by `make unit`; prints "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/client_protocol.h"
#include "unit.h"

static bool
parse(const char *s, ClientRequest *req, const char **code)
{
	char		msg[256];

	return client_request_parse(s, strlen(s), req, code, msg, sizeof(msg));
}

/* Parse a request from a buffer that is wiped afterwards. */
static bool
parse_wiped(const char *s, ClientRequest *req, const char **code)
{
	char	   *copy = strdup(s);
	char		msg[256];
	bool		ok = client_request_parse(copy, strlen(copy), req, code, msg,
										  sizeof(msg));

	memset(copy, 'X', strlen(copy));
	free(copy);
	return ok;
}

/* The JSON side of requests: escapes, limits, malformed texts. */
static void
test_request_json(void)
{
	ClientRequest req;
	const char *code;
	static const char *const bad_json[] = {
		"", "[1,]", "{\"a\" 1}", "\"\\ud800\"", "\"\xff\"", "01", "[] x",
		"{\"type\":\"ping\",}", "{\"type\":\"ping\"} {}",
	};
	char		deep[200];

	for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++)
	{
		CHECK(!parse(bad_json[i], &req, &code) && strcmp(code, CP_ERR_BAD_JSON) == 0);
		client_request_free(&req);
	}
	memset(deep, '[', 100);
	memset(deep + 100, ']', 99);
	deep[199] = '\0';
	CHECK(!parse(deep, &req, &code) && strcmp(code, CP_ERR_BAD_JSON) == 0);
	client_request_free(&req);

	/* everything kept is copied out of the input (escaped or not) */
	CHECK(parse_wiped(" {\"type\":\"subscribe\",\"id\":\"r\\u00e9\\ud83d\\ude00\","
					  "\"tables\":[\"pub\\u006cic.t\",\"app.*\"],"
					  "\"filter\":{ \"col\" : \"n\\\"q\", \"op\":\"eq\",\"value\":1.50 }} ",
					  &req, &code));
	CHECK(req.ntables == 2 && strcmp(req.tables[0], "public.t") == 0 &&
		  strcmp(req.tables[1], "app.*") == 0);
	CHECK(table_pattern_match(&req.patterns[0], "public", "t"));
	CHECK(strcmp(req.id_json, "\"r\xc3\xa9\xf0\x9f\x98\x80\"") == 0);
	CHECK(strcmp(req.filter_json,
				 "{\"col\":\"n\\\"q\",\"op\":\"eq\",\"value\":1.50}") == 0);
	client_request_free(&req);
	CHECK(parse_wiped("{\"type\":\"unsubscribe\",\"subscription\":\"s\\u0031\",\"id\":-1.5e3}",
					  &req, &code));
	CHECK(strcmp(req.subscription, "s1") == 0 && strcmp(req.id_json, "-1.5e3") == 0);
	client_request_free(&req);
	/* "filter": null is no filter; unknown members are ignored */
	CHECK(parse("{\"type\":\"subscribe\",\"tables\":[\"t\"],\"filter\":null,\"x\":[{}]}",
				&req, &code) && req.filter_json == NULL && req.ops == CP_OP_ALL);
	client_request_free(&req);
	{
		char		longid[200];

		snprintf(longid, sizeof(longid), "{\"type\":\"ping\",\"id\":\"%0130d\"}", 0);
		CHECK(!parse(longid, &req, &code) && strcmp(code, CP_ERR_BAD_REQUEST) == 0 &&
			  req.id_json == NULL);
		client_request_free(&req);
	}
	CHECK(!parse("{\"type\":\"subscribe\",\"tables\":[\"a\\u0000b\"]}", &req, &code) &&
		  strcmp(code, CP_ERR_BAD_REQUEST) == 0);
	client_request_free(&req);
	CHECK(!parse("{\"type\":7}", &req, &code) && strcmp(code, CP_ERR_BAD_REQUEST) == 0);
	client_request_free(&req);
}

static void
test_client_protocol(void)
{
	ClientRequest req;
	const char *code;
	char	   *text;
	size_t		len;

	CHECK(parse("{\"type\":\"subscribe\",\"id\":\"r1\",\"tables\":[\"public.orders\",\"app.*\"],"
				"\"ops\":[\"insert\",\"update\"],\"filter\":{\"x\":1}}", &req, &code));
	CHECK(req.type == CREQ_SUBSCRIBE && req.ntables == 2);
	CHECK(strcmp(req.id_json, "\"r1\"") == 0);
	CHECK(req.ops == (CP_OP_INSERT | CP_OP_UPDATE));
	CHECK(strcmp(req.filter_json, "{\"x\":1}") == 0);
	CHECK(table_pattern_match(&req.patterns[1], "app", "items"));
	CHECK(!table_pattern_match(&req.patterns[0], "public", "items"));
	client_request_free(&req);

	CHECK(!parse("nope", &req, &code) && strcmp(code, CP_ERR_BAD_JSON) == 0);
	client_request_free(&req);
	CHECK(!parse("[]", &req, &code) && strcmp(code, CP_ERR_BAD_JSON) == 0);
	client_request_free(&req);
	CHECK(!parse("{\"type\":\"x\",\"id\":5}", &req, &code) &&
		  strcmp(code, CP_ERR_UNKNOWN_TYPE) == 0 && strcmp(req.id_json, "5") == 0);
	client_request_free(&req);
	CHECK(!parse("{\"type\":\"subscribe\"}", &req, &code) && strcmp(code, CP_ERR_BAD_REQUEST) == 0);
	client_request_free(&req);
	CHECK(!parse("{\"type\":\"subscribe\",\"tables\":[\"a,b\"]}", &req, &code) &&
		  strcmp(code, CP_ERR_BAD_REQUEST) == 0);
	client_request_free(&req);
	CHECK(!parse("{\"type\":\"subscribe\",\"tables\":[\"t\"],\"ops\":[]}", &req, &code));
	client_request_free(&req);
	CHECK(!parse("{\"type\":\"subscribe\",\"tables\":[\"t\"],\"id\":{}}", &req, &code));
	client_request_free(&req);
	CHECK(parse("{\"type\":\"unsubscribe\",\"subscription\":\"s1\"}", &req, &code) &&
		  req.id_json == NULL && strcmp(req.subscription, "s1") == 0);
	client_request_free(&req);
	CHECK(parse("{\"type\":\"ping\"}", &req, &code) && req.type == CREQ_PING);
	client_request_free(&req);

	test_request_json();

	text = cp_reply_error("\"r1\"", "bad_json", "quote \" and \n", "0/10", &len);
	CHECK(strcmp(text, "{\"type\":\"error\",\"id\":\"r1\",\"code\":\"bad_json\","
				 "\"message\":\"quote \\\" and \\n\",\"resume_lsn\":\"0/10\"}") == 0);
	CHECK(len == strlen(text));
	free(text);
	text = cp_heartbeat(0x100000010ULL, NULL, &len);
	CHECK(strcmp(text, "{\"type\":\"heartbeat\",\"lsn\":\"1/10\"}") == 0);
	free(text);
	text = cp_heartbeat(0x10, "s1", &len);
	CHECK(strcmp(text, "{\"type\":\"heartbeat\",\"lsn\":\"0/10\",\"snapshot_joined\":\"s1\"}") == 0);
	free(text);
	text = cp_reply_ok("7", "s1", "\"0/10\"", &len);
	CHECK(strcmp(text, "{\"type\":\"ok\",\"id\":7,\"subscription\":\"s1\",\"resume_lsn\":\"0/10\"}") == 0);
	free(text);
	text = cp_reply_ok(NULL, "s1", NULL, &len);
	CHECK(strcmp(text, "{\"type\":\"ok\",\"subscription\":\"s1\"}") == 0);
	free(text);
	{
		PatternSlice s = {"my\\.t", 5};
		char		out[16];

		CHECK(pattern_slice_literal(s, out, sizeof(out)) && strcmp(out, "my.t") == 0);
		s.ptr = "t*";
		s.len = 2;
		CHECK(!pattern_slice_literal(s, out, sizeof(out)));
	}
}

int
main(void)
{
	test_client_protocol();
	return unit_summary();
}
